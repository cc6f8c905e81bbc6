"""cgroup v2 delegation against the real kernel: the refusals runc works around, provoked.

The hybrid build hosts' /sys/fs/cgroup/unified offers one controller, hugetlb (the rest are
bound to v1): enough to prove, on the real kernel, that a controller is enabled per write,
that a parent holding a process refuses it (EBUSY, the no-internal-processes rule) with the
pid named, that isobench moves its own process into a leaf and then succeeds, and that a
controller bound elsewhere is refused by name (ENOENT). On a pure v2 host the same tests run
against /sys/fs/cgroup with its own controllers."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.cgroups import CgroupError, V2Cgroup
from runtime.cgroups import v2 as v2_mod
from runtime.cgroups.base import remove_tree
from runtime.cgroups.detect import DEFAULT_ROOT, read_mounts

pytestmark = pytest.mark.root

PARENT = "isobench-test-deleg"

# Joins argv[2]'s cgroup, then asks V2Cgroup to delegate hugetlb to a child of it: prints
# where it ended up and what the parent's subtree_control says.
OWN_PROCESS = """
import os, sys
from runtime.cgroups import V2Cgroup
mount, parent = sys.argv[1], sys.argv[2]
with open(os.path.join(mount, parent, "cgroup.procs"), "w") as f:
    f.write(str(os.getpid()))
V2Cgroup(parent + "/leaf", mount).enable(("hugetlb",))
with open("/proc/self/cgroup") as f:
    print([line.strip() for line in f if line.startswith("0::")][0])
with open(os.path.join(mount, parent, "cgroup.subtree_control")) as f:
    print(f.read().strip())
"""


def _mount() -> str:
    if os.geteuid() != 0:
        pytest.skip("needs root to write cgroupfs")
    cgroup2 = {m.mount_point for m in read_mounts("/proc/self/mountinfo") if m.fstype == "cgroup2"}
    for mount in (DEFAULT_ROOT, os.path.join(DEFAULT_ROOT, "unified")):
        if mount in cgroup2:
            return mount
    pytest.skip("no cgroup2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified")


def _controller(mount: str) -> str:
    offered = Path(mount, "cgroup.controllers").read_text().split()
    for c in ("hugetlb", "pids", "memory"):
        if c in offered:
            return c
    pytest.skip(f"{mount} offers no controller to delegate ({offered})")


@pytest.fixture
def mount() -> Iterator[str]:
    """The cgroup2 mount, the controller enabled at its root for the test and then put back
    as found (the host root is exempt from the rule; others may rely on what it had)."""
    mount = _mount()
    controller = _controller(mount)
    control = Path(mount, "cgroup.subtree_control")
    had = controller in control.read_text().split()
    try:
        yield mount
    finally:
        remove_tree(os.path.join(mount, PARENT))
        if not had and controller in control.read_text().split():
            control.write_text(f"-{controller}")
    assert not os.path.exists(os.path.join(mount, PARENT))


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "60"])


def test_a_parent_holding_a_process_refuses_and_is_named(mount: str) -> None:
    controller = _controller(mount)
    name = f"{PARENT}/{secrets.token_hex(4)}"
    cg = V2Cgroup(f"{name}/leaf", mount)
    cg.make_levels()
    other = _sleeper()
    try:
        Path(mount, name, "cgroup.procs").write_text(str(other.pid))
        with pytest.raises(CgroupError) as info:
            cg.enable((controller,))
        assert str(info.value) == (
            f"cgroup v2: cannot enable the {controller} controller in {mount}/{name}: the "
            "cgroup has processes of its own (cgroup v2's no-internal-processes rule); "
            f"pids there: {other.pid}")
        # The level above took the controller; the refused one did not.
        assert controller in Path(mount, PARENT, "cgroup.subtree_control").read_text().split()
        assert Path(mount, name, "cgroup.subtree_control").read_text().split() == []
        assert not Path(mount, name, v2_mod.SELF_LEAF).exists()  # not ours: not moved
    finally:
        other.kill()
        other.wait()


def test_our_own_process_moves_into_a_leaf_then_delegates(mount: str) -> None:
    controller = _controller(mount)
    if controller != "hugetlb":
        pytest.skip("the script delegates hugetlb, the one controller hybrid hosts offer")
    name = f"{PARENT}/{secrets.token_hex(4)}"
    V2Cgroup(f"{name}/leaf", mount).make_levels()
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", OWN_PROCESS, mount, name], cwd=root,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    where, enabled = out.stdout.splitlines()
    assert where == f"0::/{name}/{v2_mod.SELF_LEAF}"
    assert enabled.split() == ["hugetlb"]
    assert (Path(mount, name, "leaf") / "hugetlb.2MB.max").exists()


def test_a_controller_the_mount_does_not_offer_is_refused_by_name(mount: str) -> None:
    offered = Path(mount, "cgroup.controllers").read_text().split()
    missing = next((c for c in ("memory", "cpu", "pids", "io") if c not in offered), None)
    if missing is None:
        pytest.skip(f"{mount} offers every controller: nothing to refuse")
    cg = V2Cgroup(f"{PARENT}/{secrets.token_hex(4)}", mount)
    with pytest.raises(CgroupError) as info:
        cg.create()
    # memory (a domain controller) is asked for before cpu and pids (threaded ones)
    first = next(c for c in ("memory", "cpu", "pids") if c not in offered)
    assert str(info.value) == (
        f"cgroup v2: cannot enable the {first} controller in {mount}: the controller is not "
        "in its cgroup.controllers (the parent does not delegate it, or the kernel binds it "
        "to a v1 hierarchy)")
