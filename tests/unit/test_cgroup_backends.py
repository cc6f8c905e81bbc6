"""Both cgroup backends writing into, and reading from, a temp-dir cgroupfs laid out as the
kernel lays out /sys/fs/cgroup, its stat files filled with the captured samples of
test_cgroup_parsing.py. No root needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.cgroups import CgroupError, CgroupStats, V1Cgroup, V2Cgroup
from runtime.cgroups import v1 as v1_mod
from runtime.limits import DeviceRate, Limits
from tests.unit.test_cgroup_parsing import (
    V1_IO_SERVICE_BYTES,
    V1_IO_SERVICED,
    V1_MEMORY_STAT,
    V1_OOM_CONTROL,
    V2_CPU_STAT,
    V2_IO_STAT,
    V2_MEMORY_EVENTS,
    V2_MEMORY_STAT,
)

# --- a temp-dir v1 tree laid out like /sys/fs/cgroup on the build hosts ----------------------

V1_FILES = {
    "cpu": ["cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares"],
    "cpuacct": ["cpuacct.usage", "cpuacct.usage_user", "cpuacct.usage_sys", "cpuacct.stat"],
    "cpuset": ["cpuset.cpus", "cpuset.mems"],
    "memory": [
        "memory.limit_in_bytes",
        "memory.memsw.limit_in_bytes",
        "memory.usage_in_bytes",
        "memory.max_usage_in_bytes",
        "memory.stat",
        "memory.oom_control",
    ],
    "pids": ["pids.max", "pids.current"],
    "blkio": [
        "blkio.throttle.read_bps_device",
        "blkio.throttle.write_bps_device",
        "blkio.throttle.io_service_bytes_recursive",
        "blkio.throttle.io_serviced_recursive",
    ],
    "freezer": ["freezer.state"],
    "devices": ["devices.list"],
}
NAME = "isobench/c0ffee"


def make_v1_tree(root: Path, controllers: dict[str, list[str]] = V1_FILES) -> dict[str, str]:
    """What the kernel would show: every level of NAME with its controller's (empty) files."""
    mounts = {}
    for controller, files in controllers.items():
        mount = root / controller
        for level in (mount, mount / "isobench", mount / NAME):
            level.mkdir(parents=True, exist_ok=True)
            for filename in [*files, "cgroup.procs"]:
                (level / filename).touch()
        mounts[controller] = str(mount)
    if "cpuset" in controllers:
        (root / "cpuset" / "cpuset.cpus").write_text("0-1\n")
        (root / "cpuset" / "cpuset.mems").write_text("0\n")
    memsw = root / "memory" / NAME / "memory.memsw.limit_in_bytes"
    if memsw.exists():
        memsw.write_text("9223372036854771712\n")
    return mounts


@pytest.fixture
def v1_tree(tmp_path: Path) -> tuple[Path, V1Cgroup]:
    return tmp_path, V1Cgroup(NAME, make_v1_tree(tmp_path))


def test_v1_create_copies_cpuset_into_every_new_level(v1_tree: tuple[Path, V1Cgroup]) -> None:
    root, cg = v1_tree
    cg.create()
    for level in (root / "cpuset" / "isobench", root / "cpuset" / NAME):
        assert (level / "cpuset.cpus").read_text() == "0-1"
        assert (level / "cpuset.mems").read_text() == "0"
    # Only cpuset needs the copy.
    assert not (root / "memory" / NAME / "cpuset.cpus").exists()


def test_v1_create_keeps_a_configured_cpuset(v1_tree: tuple[Path, V1Cgroup]) -> None:
    root, cg = v1_tree
    (root / "cpuset" / "isobench" / "cpuset.cpus").write_text("1\n")
    cg.create()
    assert (root / "cpuset" / "isobench" / "cpuset.cpus").read_text() == "1\n"
    assert (root / "cpuset" / NAME / "cpuset.cpus").read_text() == "1"


def test_v1_create_makes_missing_directories(tmp_path: Path) -> None:
    mounts = {"memory": str(tmp_path / "memory"), "pids": str(tmp_path / "pids")}
    for mount in mounts.values():
        os.mkdir(mount)
    cg = V1Cgroup("a/b/c", mounts)
    assert not cg.exists()
    cg.create()
    assert cg.exists()
    assert (tmp_path / "pids" / "a" / "b" / "c").is_dir()
    cg.destroy()  # empty dirs stand in for cgroups without processes
    assert not (tmp_path / "memory" / "a" / "b" / "c").exists()
    assert (tmp_path / "memory" / "a" / "b").is_dir()  # parents are shared: left in place
    cg.destroy()  # idempotent


def test_v1_set_limits_writes_exact_files(v1_tree: tuple[Path, V1Cgroup]) -> None:
    root, cg = v1_tree
    limits = Limits(
        memory_bytes=256 << 20,
        cpu_quota_us=50000,
        cpu_shares=512,
        pids_max=10,
        device_read_bps=(DeviceRate(254, 0, 10 << 20, "/dev/vda"), DeviceRate(8, 0, 5, "/dev/sda")),
        device_write_bps=(DeviceRate(254, 0, 1 << 20, "/dev/vda"),),
    )
    cg.set_limits(limits)
    leaf = {c: root / c / NAME for c in V1_FILES}
    assert (leaf["memory"] / "memory.limit_in_bytes").read_text() == "268435456"
    assert (leaf["memory"] / "memory.memsw.limit_in_bytes").read_text() == "268435456"
    assert (leaf["cpu"] / "cpu.cfs_period_us").read_text() == "100000"
    assert (leaf["cpu"] / "cpu.cfs_quota_us").read_text() == "50000"
    assert (leaf["cpu"] / "cpu.shares").read_text() == "512"
    assert (leaf["pids"] / "pids.max").read_text() == "10"
    blkio = leaf["blkio"]
    assert (blkio / "blkio.throttle.read_bps_device").read_text() == "254:0 10485760\n8:0 5\n"
    assert (blkio / "blkio.throttle.write_bps_device").read_text() == "254:0 1048576\n"


def test_v1_empty_limits_write_nothing(v1_tree: tuple[Path, V1Cgroup]) -> None:
    root, cg = v1_tree
    cg.set_limits(Limits())
    assert (root / "cpu" / NAME / "cpu.cfs_period_us").read_text() == ""
    assert (root / "pids" / NAME / "pids.max").read_text() == ""


def _record_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    order: list[str] = []
    real = v1_mod.write_text

    def recording(path: str, data: str, append: bool = False) -> None:
        order.append(os.path.basename(path))
        real(path, data, append)

    monkeypatch.setattr(v1_mod, "write_text", recording)
    return order


def test_v1_memory_raise_writes_memsw_first(
    v1_tree: tuple[Path, V1Cgroup], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, cg = v1_tree
    (root / "memory" / NAME / "memory.memsw.limit_in_bytes").write_text("67108864\n")
    order = _record_writes(monkeypatch)
    cg.set_limits(Limits(memory_bytes=128 << 20))
    assert order == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]


def test_v1_memory_lower_writes_limit_first(
    v1_tree: tuple[Path, V1Cgroup], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, cg = v1_tree
    order = _record_writes(monkeypatch)
    cg.set_limits(Limits(memory_bytes=64 << 20))
    assert order == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]


def test_v1_memory_without_swap_accounting(tmp_path: Path) -> None:
    mounts = make_v1_tree(tmp_path, {"memory": ["memory.limit_in_bytes"]})
    V1Cgroup(NAME, mounts).set_limits(Limits(memory_bytes=64 << 20))
    leaf = tmp_path / "memory" / NAME
    assert (leaf / "memory.limit_in_bytes").read_text() == "67108864"
    assert not (leaf / "memory.memsw.limit_in_bytes").exists()


def test_v1_missing_controller_is_one_clear_line(tmp_path: Path) -> None:
    mounts = make_v1_tree(tmp_path, {"memory": V1_FILES["memory"]})
    cg = V1Cgroup(NAME, mounts)
    with pytest.raises(CgroupError) as info:
        cg.set_limits(Limits(pids_max=5))
    assert str(info.value) == "cgroup v1: pids controller not mounted (--pids-limit needs it)"
    os.remove(tmp_path / "memory" / NAME / "memory.limit_in_bytes")
    with pytest.raises(CgroupError) as info:
        cg.set_limits(Limits(memory_bytes=64 << 20))
    path = tmp_path / "memory" / NAME / "memory.limit_in_bytes"
    assert str(info.value) == f"cgroup v1: {path} does not exist (needed by --memory)"


def test_v1_comounted_controllers_share_one_directory(tmp_path: Path) -> None:
    both = tmp_path / "cpu,cpuacct"
    (both / NAME).mkdir(parents=True)
    (both / NAME / "cgroup.procs").touch()
    (both / NAME / "cpuacct.usage").write_text("1500\n")
    (both / NAME / "cpu.shares").touch()
    cg = V1Cgroup(NAME, {"cpu": str(both), "cpuacct": str(both)})
    assert cg.procs_paths() == [str(both / NAME / "cgroup.procs")]
    cg.add_pid(0)
    assert (both / NAME / "cgroup.procs").read_text() == "0"
    cg.set_limits(Limits(cpu_shares=256))
    assert (both / NAME / "cpu.shares").read_text() == "256"
    assert cg.stats().cpu_total_ns == 1500


def test_v1_add_pid_writes_each_hierarchy(v1_tree: tuple[Path, V1Cgroup]) -> None:
    root, cg = v1_tree
    cg.add_pid(4242)
    assert len(cg.procs_paths()) == len(V1_FILES)
    for controller in V1_FILES:
        assert (root / controller / NAME / "cgroup.procs").read_text() == "4242"


def test_v1_add_pid_error_names_file(tmp_path: Path) -> None:
    cg = V1Cgroup(NAME, {"pids": str(tmp_path)})
    with pytest.raises(CgroupError, match=f"cannot add pid 0 to {tmp_path}/{NAME}/cgroup.procs"):
        cg.add_pid(0)


def test_v1_pids_unions_hierarchies(v1_tree: tuple[Path, V1Cgroup]) -> None:
    root, cg = v1_tree
    (root / "memory" / NAME / "cgroup.procs").write_text("12\n7\n")
    (root / "pids" / NAME / "cgroup.procs").write_text("7\n")
    assert cg.pids() == [7, 12]


def test_v1_stats_from_real_format_files(v1_tree: tuple[Path, V1Cgroup]) -> None:
    root, cg = v1_tree
    files = {
        "cpuacct/cpuacct.usage": "112710288432\n",
        "cpuacct/cpuacct.usage_user": "55103106498\n",
        "cpuacct/cpuacct.usage_sys": "58029877046\n",
        "memory/memory.usage_in_bytes": "2461696\n",
        "memory/memory.max_usage_in_bytes": "8638464\n",
        "memory/memory.stat": V1_MEMORY_STAT,
        "memory/memory.oom_control": V1_OOM_CONTROL,
        "blkio/blkio.throttle.io_service_bytes_recursive": V1_IO_SERVICE_BYTES,
        "blkio/blkio.throttle.io_serviced_recursive": V1_IO_SERVICED,
        "pids/pids.current": "3\n",
    }
    for rel, text in files.items():
        controller, filename = rel.split("/")
        (root / controller / NAME / filename).write_text(text)
    stats = cg.stats()
    assert stats == CgroupStats(
        cpu_total_ns=112710288432,
        cpu_user_ns=55103106498,
        cpu_system_ns=58029877046,
        memory_current=2461696,
        memory_peak=8638464,
        memory_anon=63483904,
        memory_file=1329364992,
        io_read_bytes=21880832 + 4096,
        io_write_bytes=21188608,
        io_read_ops=242,
        io_write_ops=94,
        pids_current=3,
        oom_kills=3,
    )
    assert cg.oom_kills() == 3


def test_v1_stats_fallbacks(tmp_path: Path) -> None:
    mounts = make_v1_tree(
        tmp_path, {"cpuacct": ["cpuacct.usage", "cpuacct.stat"], "blkio": ["blkio.throttle.x"]}
    )
    leaf = tmp_path / "cpuacct" / NAME
    (leaf / "cpuacct.usage").write_text("7\n")
    (leaf / "cpuacct.stat").write_text("user 3\nsystem 2\n")
    (tmp_path / "blkio" / NAME / "blkio.throttle.io_service_bytes").write_text(V1_IO_SERVICE_BYTES)
    stats = V1Cgroup(NAME, mounts).stats()
    hz = os.sysconf("SC_CLK_TCK")
    assert stats.cpu_user_ns == 3 * 1_000_000_000 // hz
    assert stats.cpu_system_ns == 2 * 1_000_000_000 // hz
    assert stats.io_write_bytes == 21188608  # non-recursive file used when recursive is absent
    assert stats.io_read_ops is None  # no io_serviced file at all
    assert stats.memory_current is None and stats.pids_current is None


def test_stats_of_missing_cgroup_are_all_none(tmp_path: Path) -> None:
    assert V1Cgroup("gone", {"memory": str(tmp_path)}).stats() == CgroupStats()
    assert V2Cgroup("gone", str(tmp_path)).stats() == CgroupStats()
    assert V2Cgroup("gone", str(tmp_path)).oom_kills() == 0


# --- a temp-dir cgroup2 tree ------------------------------------------------------------------

V2_LEAF_FILES = [
    "cgroup.procs",
    "cgroup.events",
    "cgroup.freeze",
    "cgroup.kill",
    "cgroup.controllers",
    "cgroup.subtree_control",
    "cpu.max",
    "cpu.weight",
    "cpu.stat",
    "memory.max",
    "memory.swap.max",
    "memory.current",
    "memory.peak",
    "memory.stat",
    "memory.events",
    "pids.max",
    "pids.current",
    "io.max",
    "io.stat",
]


def make_v2_tree(root: Path, leaf_files: list[str] = V2_LEAF_FILES) -> Path:
    for level in (root, root / "isobench"):
        level.mkdir(parents=True, exist_ok=True)
        (level / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
        (level / "cgroup.subtree_control").write_text("\n")
    leaf = root / NAME
    leaf.mkdir()
    for filename in leaf_files:
        (leaf / filename).touch()
    return leaf


def test_v2_create_delegates_wanted_controllers(tmp_path: Path) -> None:
    # A plain file keeps only the last write: the per-controller writes are counted in
    # test_cgroup_v2_delegation.py against an emulated kernel.
    make_v2_tree(tmp_path)
    V2Cgroup(NAME, str(tmp_path)).create()
    for level in (tmp_path, tmp_path / "isobench"):
        assert (level / "cgroup.subtree_control").read_text() == "+pids"  # threaded: last


def test_v2_create_skips_enabled_controllers(tmp_path: Path) -> None:
    make_v2_tree(tmp_path)
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")  # no io on this host
    (tmp_path / "cgroup.subtree_control").write_text("cpu memory pids\n")
    (tmp_path / "isobench" / "cgroup.subtree_control").write_text("cpu memory io pids\n")
    V2Cgroup(NAME, str(tmp_path)).create()
    assert (tmp_path / "cgroup.subtree_control").read_text() == "cpu memory pids\n"
    assert (tmp_path / "isobench" / "cgroup.subtree_control").read_text() == "cpu memory io pids\n"


def test_v2_set_limits_writes_exact_files(tmp_path: Path) -> None:
    leaf = make_v2_tree(tmp_path)
    cg = V2Cgroup(NAME, str(tmp_path))
    cg.set_limits(
        Limits(
            memory_bytes=256 << 20,
            cpu_quota_us=50000,
            cpu_shares=1024,
            pids_max=10,
            device_read_bps=(DeviceRate(254, 0, 1048576, "/dev/vda"),),
            device_write_bps=(
                DeviceRate(254, 0, 2097152, "/dev/vda"),
                DeviceRate(8, 16, 4096, "/dev/sdb"),
            ),
        )
    )
    assert (leaf / "memory.max").read_text() == "268435456"
    assert (leaf / "memory.swap.max").read_text() == "0"
    assert (leaf / "cpu.max").read_text() == "50000 100000"
    assert (leaf / "cpu.weight").read_text() == "39"
    assert (leaf / "pids.max").read_text() == "10"
    assert (leaf / "io.max").read_text() == "254:0 rbps=1048576 wbps=2097152\n8:16 wbps=4096\n"


def test_v2_missing_controller_is_one_clear_line(tmp_path: Path) -> None:
    # What a cgroup under the hybrid hosts' /sys/fs/cgroup/unified looks like.
    make_v2_tree(tmp_path, ["cgroup.procs", "cgroup.events", "cgroup.freeze", "cpu.stat"])
    cg = V2Cgroup(NAME, str(tmp_path))
    with pytest.raises(CgroupError) as info:
        cg.set_limits(Limits(memory_bytes=64 << 20))
    assert str(info.value) == f"cgroup v2: memory controller not available at {tmp_path}/{NAME}"
    with pytest.raises(CgroupError, match="cgroup v2: pids controller not available"):
        cg.set_limits(Limits(pids_max=3))


def test_v2_swap_max_is_optional(tmp_path: Path) -> None:
    leaf = make_v2_tree(tmp_path, ["memory.max"])
    V2Cgroup(NAME, str(tmp_path)).set_limits(Limits(memory_bytes=64 << 20))
    assert (leaf / "memory.max").read_text() == "67108864"
    assert not (leaf / "memory.swap.max").exists()


def test_v2_stats_from_real_format_files(tmp_path: Path) -> None:
    leaf = make_v2_tree(tmp_path)
    (leaf / "cpu.stat").write_text(V2_CPU_STAT)
    (leaf / "memory.current").write_text("4608622592\n")
    (leaf / "memory.peak").write_text("5368709120\n")
    (leaf / "memory.stat").write_text(V2_MEMORY_STAT)
    (leaf / "memory.events").write_text(V2_MEMORY_EVENTS)
    (leaf / "io.stat").write_text(V2_IO_STAT)
    (leaf / "pids.current").write_text("17\n")
    cg = V2Cgroup(NAME, str(tmp_path))
    assert cg.stats() == CgroupStats(
        cpu_total_ns=113176438000,
        cpu_user_ns=55118648000,
        cpu_system_ns=58057790000,
        memory_current=4608622592,
        memory_peak=5368709120,
        memory_anon=1744830464,
        memory_file=2863435776,
        io_read_bytes=1459200 + 90112,
        io_write_bytes=314773504,
        io_read_ops=214,
        io_write_ops=353,
        pids_current=17,
        oom_kills=2,
    )
    assert cg.oom_kills() == 2


def test_v2_stats_on_a_unified_leaf_without_controllers(tmp_path: Path) -> None:
    leaf = make_v2_tree(tmp_path, ["cgroup.procs", "cpu.stat"])
    (leaf / "cpu.stat").write_text("usage_usec 0\nuser_usec 0\nsystem_usec 0\nnice_usec 0\n")
    stats = V2Cgroup(NAME, str(tmp_path)).stats()
    assert (stats.cpu_total_ns, stats.cpu_user_ns, stats.cpu_system_ns) == (0, 0, 0)
    assert stats.memory_current is None and stats.io_read_bytes is None
    assert stats.pids_current is None and stats.oom_kills is None


def test_v2_add_pid_and_pids(tmp_path: Path) -> None:
    leaf = make_v2_tree(tmp_path)
    cg = V2Cgroup(NAME, str(tmp_path))
    cg.add_pid(0)
    assert (leaf / "cgroup.procs").read_text() == "0"
    (leaf / "cgroup.procs").write_text("31\n30\n")
    assert cg.pids() == [30, 31]
    assert cg.paths() == {"unified": str(leaf)}


@pytest.mark.parametrize("name", ["", "/", "a/../b", ".."])
def test_bad_names_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(CgroupError, match="invalid cgroup name"):
        V2Cgroup(name, str(tmp_path))
