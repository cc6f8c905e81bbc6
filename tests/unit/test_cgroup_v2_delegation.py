"""cgroup v2 delegation as runc does it, against a temp-dir cgroupfs whose writes go through
an emulation of the kernel's rules (one controller per write, ENOENT for a controller the
parent does not offer, EBUSY under the no-internal-processes rule). The same refusals on the
real kernel: tests/integration/test_cgroup2_kernel.py."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from runtime.cgroups import CgroupError, V2Cgroup
from runtime.cgroups import v2 as v2_mod
from runtime.cgroups.base import write_text as real_write_text
from runtime.limits import Limits

NAME = "isobench/c0ffee"
ALL = "cpuset cpu io memory hugetlb pids"
LEAF_FILES = ["cgroup.procs", "cgroup.type", "cpu.stat", "cpu.max", "memory.current",
              "memory.stat", "memory.events", "memory.max", "pids.current", "pids.max",
              "io.stat"]


THREADED = {"cpu", "cpuset", "pids", "perf_event"}  # may be enabled beside processes


class Kernel:
    """What cgroupfs does with a write to cgroup.subtree_control or cgroup.procs (as seen on
    6.1 in a TCG guest: +cpu is accepted in a cgroup holding a process, +memory is EBUSY, and
    then a process can no longer move into a child of it: EOPNOTSUPP)."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str]] = []

    def __call__(self, path: str, data: str, append: bool = False) -> None:
        self.writes.append((path, data))
        level, name = os.path.split(path)
        if name == "cgroup.subtree_control":
            controller = data.strip().lstrip("+")
            offered = Path(level, "cgroup.controllers").read_text().split()
            if controller not in offered:
                raise CgroupError(f"cannot write {data!r} to {path}: No such file or directory",
                                  errno.ENOENT)
            is_root = not Path(level, "cgroup.type").exists()
            busy = Path(level, "cgroup.procs").read_text().split()
            if not is_root and busy and controller not in THREADED:
                raise CgroupError(f"cannot write {data!r} to {path}: Device or resource busy",
                                  errno.EBUSY)
            enabled = Path(path).read_text().split()
            Path(path).write_text(" ".join([*enabled, controller]) + "\n")
            return
        if name == "cgroup.procs":
            parent = Path(level).parent
            if Path(parent, "cgroup.type").exists() and \
                    Path(parent, "cgroup.procs").read_text().split() and \
                    set(Path(parent, "cgroup.subtree_control").read_text().split()) & THREADED:
                raise CgroupError(f"cannot write {data!r} to {path}: Operation not supported",
                                  errno.EOPNOTSUPP)  # the parent is a thread root now
            root = Path(level)
            while (root.parent / "cgroup.procs").exists():
                root = root.parent
            for procs in root.rglob("cgroup.procs"):  # a process is in one cgroup only
                kept = [p for p in procs.read_text().split() if p != data.strip()]
                procs.write_text("\n".join(kept))
            Path(path).write_text(data.strip() + "\n")
            return
        real_write_text(path, data, append)


def tree(root: Path, root_offers: str = ALL, parent_procs: str = "") -> Path:
    """A host root, an `isobench` parent (procs in it: `parent_procs`) and the leaf."""
    for level, typed in ((root, False), (root / "isobench", True)):
        level.mkdir(parents=True, exist_ok=True)
        (level / "cgroup.controllers").write_text(root_offers + "\n")
        (level / "cgroup.subtree_control").write_text("\n")
        (level / "cgroup.procs").write_text("")
        if typed:
            (level / "cgroup.type").write_text("domain\n")
    (root / "isobench" / "cgroup.procs").write_text(parent_procs)
    leaf = root / NAME
    leaf.mkdir()
    for filename in LEAF_FILES:
        (leaf / filename).write_text("")
    return leaf


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> Kernel:
    k = Kernel()
    monkeypatch.setattr(v2_mod, "write_text", k)
    return k


def subtree(level: Path) -> list[str]:
    return (level / "cgroup.subtree_control").read_text().split()


def test_each_controller_is_its_own_write(tmp_path: Path, kernel: Kernel) -> None:
    tree(tmp_path)
    V2Cgroup(NAME, str(tmp_path)).create()
    control = [d for p, d in kernel.writes if p.endswith("subtree_control")]
    assert control == ["+memory", "+io", "+cpu", "+pids"] * 2  # domain controllers first
    assert subtree(tmp_path) == subtree(tmp_path / "isobench") == ["memory", "io", "cpu", "pids"]


def test_a_refused_controller_names_itself_the_cgroup_and_why(tmp_path: Path,
                                                              kernel: Kernel) -> None:
    tree(tmp_path, root_offers="cpu io memory")  # pids bound to v1, say
    with pytest.raises(CgroupError) as info:
        V2Cgroup(NAME, str(tmp_path)).create()
    assert str(info.value) == (
        f"cgroup v2: cannot enable the pids controller in {tmp_path}: the controller is "
        "not in its cgroup.controllers (the parent does not delegate it, or the kernel binds "
        "it to a v1 hierarchy)")
    assert info.value.errno == errno.ENOENT
    # the ones before it were not taken down with it
    assert subtree(tmp_path) == ["memory", "io", "cpu"]


def test_io_is_optional_where_the_host_has_none(tmp_path: Path, kernel: Kernel) -> None:
    tree(tmp_path, root_offers="cpu memory pids")
    V2Cgroup(NAME, str(tmp_path)).create()
    assert subtree(tmp_path / "isobench") == ["memory", "cpu", "pids"]


def test_an_io_limit_needs_io_and_says_so(tmp_path: Path, kernel: Kernel) -> None:
    tree(tmp_path, root_offers="cpu memory pids")
    from runtime.limits import DeviceRate
    with pytest.raises(CgroupError, match=f"cannot enable the io controller in {tmp_path}: "):
        V2Cgroup(NAME, str(tmp_path)).set_limits(
            Limits(device_read_bps=(DeviceRate(8, 0, 1 << 20, "/dev/sda"),)))


def test_others_processes_in_the_parent_are_named(tmp_path: Path, kernel: Kernel) -> None:
    tree(tmp_path, parent_procs="4242\n4243\n")
    with pytest.raises(CgroupError) as info:
        V2Cgroup(NAME, str(tmp_path)).create()
    assert str(info.value) == (
        f"cgroup v2: cannot enable the memory controller in {tmp_path}/isobench: the cgroup "
        "has processes of its own (cgroup v2's no-internal-processes rule); pids there: 4242 "
        "4243")
    assert info.value.errno == errno.EBUSY
    # refused before any threaded controller made their cgroup a thread root
    assert subtree(tmp_path / "isobench") == []


def test_our_own_process_moves_into_a_leaf_first(tmp_path: Path, kernel: Kernel) -> None:
    me = os.getpid()
    tree(tmp_path, parent_procs=f"{me}\n")
    V2Cgroup(NAME, str(tmp_path)).create()
    parent = tmp_path / "isobench"
    assert (parent / "cgroup.procs").read_text().split() == []
    assert (parent / v2_mod.SELF_LEAF / "cgroup.procs").read_text().split() == [str(me)]
    assert subtree(parent) == ["memory", "io", "cpu", "pids"]
    # moved before the first write: the cpu (threaded) write came after, not before
    moves = [i for i, (p, _) in enumerate(kernel.writes) if p.endswith(
        f"{v2_mod.SELF_LEAF}/cgroup.procs")]
    first_parent_write = next(i for i, (p, _) in enumerate(kernel.writes)
                              if p == str(parent / "cgroup.subtree_control"))
    assert moves and moves[0] < first_parent_write


def test_the_emulated_kernel_refuses_a_late_move(tmp_path: Path, kernel: Kernel) -> None:
    """Why the move comes first: what 6.1 did when +cpu preceded it."""
    tree(tmp_path, parent_procs=f"{os.getpid()}\n")
    parent = tmp_path / "isobench"
    kernel(str(parent / "cgroup.subtree_control"), "+cpu")
    (parent / "late").mkdir()
    (parent / "late" / "cgroup.procs").write_text("")
    with pytest.raises(CgroupError, match="Operation not supported"):
        kernel(str(parent / "late" / "cgroup.procs"), str(os.getpid()))


def test_our_process_and_others_fail_with_the_others_named(tmp_path: Path,
                                                           kernel: Kernel) -> None:
    tree(tmp_path, parent_procs=f"{os.getpid()}\n4242\n")
    with pytest.raises(CgroupError, match=r"cannot enable the memory controller .*"
                       r"no-internal-processes rule\); pids there: 4242$"):
        V2Cgroup(NAME, str(tmp_path)).create()


def test_the_host_root_is_exempt_from_the_rule(tmp_path: Path, kernel: Kernel) -> None:
    tree(tmp_path)
    (tmp_path / "cgroup.procs").write_text("1\n2\n")
    V2Cgroup(NAME, str(tmp_path)).create()
    assert subtree(tmp_path) == ["memory", "io", "cpu", "pids"]


@pytest.mark.parametrize("missing", ["memory.current", "pids.current", "cpu.stat", "io.stat"])
def test_a_missing_accounting_file_fails_loudly(tmp_path: Path, kernel: Kernel,
                                                missing: str) -> None:
    leaf = tree(tmp_path)
    (leaf / missing).unlink()
    with pytest.raises(CgroupError) as info:
        V2Cgroup(NAME, str(tmp_path)).create()
    assert str(info.value).startswith(f"cgroup v2: {leaf} has no {missing} although the ")


def test_memory_peak_is_not_required(tmp_path: Path, kernel: Kernel) -> None:
    leaf = tree(tmp_path)
    assert not (leaf / "memory.peak").exists()  # kernels before 5.19
    V2Cgroup(NAME, str(tmp_path)).create()
