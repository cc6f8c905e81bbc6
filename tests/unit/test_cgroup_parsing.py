"""cgroup parsers fed real-format text, and both backends writing into a temp-dir cgroupfs.

The v1 samples were captured on the hybrid Debian 12 / kernel 6.18 build machines; the v2 ones
follow a pure-v2 Debian 12 host (kernel 6.1). No root needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.cgroups import CgroupError, CgroupStats, V1Cgroup, V2Cgroup, open_cgroup
from runtime.cgroups import v1 as v1_mod
from runtime.cgroups.base import parse_flat_keyed
from runtime.cgroups.detect import mode_from_mounts, parse_mountinfo, v1_mounts_from
from runtime.cgroups.v1 import cpu_from_cpuacct_stat, memory_from_stat, parse_blkio
from runtime.cgroups.v2 import io_max_lines, parse_io_stat, shares_to_weight
from runtime.limits import DeviceRate, Limits

# --- mountinfo ------------------------------------------------------------------------------

HYBRID_MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""

V2_MOUNTINFO = """\
22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
23 28 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
28 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
26 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 \
rw,nsdelegate,memory_recursiveprot
"""

# systemd-era v1 host (CentOS 7 style): co-mounted controllers, no unified hierarchy.
V1_MOUNTINFO = """\
25 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
26 25 0:22 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup \
rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
28 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup \
cgroup rw,cpu,cpuacct
29 25 0:25 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup \
rw,memory
30 25 0:26 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:13 - cgroup \
cgroup rw,net_cls,net_prio
31 25 0:27 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup \
rw,cpuset
32 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,pids
"""


def test_mode_of_this_hybrid_host() -> None:
    mounts = parse_mountinfo(HYBRID_MOUNTINFO)
    assert mode_from_mounts(mounts) == "hybrid"
    found = v1_mounts_from(mounts)
    assert found["memory"] == "/sys/fs/cgroup/memory"
    assert set(found) == {
        "cpu",
        "cpuacct",
        "cpuset",
        "memory",
        "devices",
        "freezer",
        "blkio",
        "pids",
    }


def test_mode_of_pure_v2_host() -> None:
    mounts = parse_mountinfo(V2_MOUNTINFO)
    assert mode_from_mounts(mounts) == "v2"
    assert mode_from_mounts(mounts, root="/sys/fs/cgroup/") == "v2"
    assert v1_mounts_from(mounts) == {}


def test_mode_of_v1_host_with_comounts() -> None:
    mounts = parse_mountinfo(V1_MOUNTINFO)
    assert mode_from_mounts(mounts) == "v1"
    found = v1_mounts_from(mounts)
    assert found["cpu"] == found["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"
    assert "blkio" not in found  # not mounted there; name=systemd and net_cls are not ours
    assert set(found) == {"cpu", "cpuacct", "memory", "cpuset", "pids"}


def test_no_hierarchy_is_an_error() -> None:
    with pytest.raises(CgroupError, match="no cgroup hierarchy mounted at /elsewhere"):
        mode_from_mounts(parse_mountinfo(HYBRID_MOUNTINFO), root="/elsewhere")


def test_mountinfo_unescapes_and_skips_junk() -> None:
    text = "99 1 0:50 / /mnt/with\\040space rw - cgroup2 none rw\nnot a mountinfo line\n"
    [mount] = parse_mountinfo(text)
    assert mount.mount_point == "/mnt/with space"
    assert mount.fstype == "cgroup2"


def test_open_cgroup_reads_given_mountinfo(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(V1_MOUNTINFO)
    cg = open_cgroup("isobench/abc", mountinfo=str(info))
    assert isinstance(cg, V1Cgroup)
    assert cg.paths()["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct/isobench/abc"
    info.write_text(V2_MOUNTINFO)
    v2 = open_cgroup("isobench/abc", mountinfo=str(info))
    assert isinstance(v2, V2Cgroup)
    assert v2.paths() == {"unified": "/sys/fs/cgroup/isobench/abc"}


# --- v1 stat files (captured on the hybrid build host) ----------------------------------------

V1_MEMORY_STAT = """\
cache 16547840
rss 2256896
rss_huge 0
shmem 9166848
mapped_file 7069696
dirty 241664
writeback 0
swap 0
pgpgin 17810
pgpgout 13257
inactive_anon 0
active_anon 1531904
inactive_file 1273856
active_file 6107136
unevictable 9891840
hierarchical_memory_limit 9223372036854771712
hierarchical_memsw_limit 9223372036854771712
total_cache 1329364992
total_rss 63483904
total_rss_huge 0
total_shmem 9166848
total_swap 0
"""

V1_OOM_CONTROL = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"

V1_IO_SERVICE_BYTES = """\
254:0 Read 21880832
254:0 Write 21188608
254:0 Sync 43069440
254:0 Async 0
254:0 Discard 0
254:0 Total 43069440
8:16 Read 4096
8:16 Write 0
8:16 Sync 4096
8:16 Async 0
8:16 Discard 0
8:16 Total 4096
Total 43073536
"""

V1_IO_SERVICED = """\
254:0 Read 242
254:0 Write 94
254:0 Sync 336
254:0 Async 0
254:0 Discard 0
254:0 Total 336
Total 336
"""


def test_parse_blkio_sums_devices_and_skips_totals() -> None:
    assert parse_blkio(V1_IO_SERVICE_BYTES) == {
        "Read": 21880832 + 4096,
        "Write": 21188608,
        "Sync": 43069440 + 4096,
        "Async": 0,
        "Discard": 0,
    }
    assert parse_blkio("Total 0\n") == {}


def test_v1_memory_prefers_hierarchical_totals() -> None:
    stat = parse_flat_keyed(V1_MEMORY_STAT)
    assert stat["hierarchical_memory_limit"] == 9223372036854771712
    assert memory_from_stat(stat) == (63483904, 1329364992)
    local_only = {"rss": 5, "rss_huge": 2, "cache": 7}
    assert memory_from_stat(local_only) == (5, 7)


def test_cpuacct_stat_ticks_to_ns() -> None:
    ticks = parse_flat_keyed("user 5490\nsystem 5780\n")
    assert cpu_from_cpuacct_stat(ticks, user_hz=100) == (54_900_000_000, 57_800_000_000)
    assert cpu_from_cpuacct_stat({}, user_hz=100) == (None, None)


# --- v2 stat files ------------------------------------------------------------------------------

V2_CPU_STAT = """\
usage_usec 113176438
user_usec 55118648
system_usec 58057790
core_sched.force_idle_usec 0
nr_periods 120
nr_throttled 7
throttled_usec 81234
nr_bursts 0
burst_usec 0
"""

V2_MEMORY_STAT = """\
anon 1744830464
file 2863435776
kernel 233566208
kernel_stack 11698176
pagetables 29675520
sec_pagetables 0
percpu 3024
sock 4096
vmalloc 0
shmem 41410560
zswap 0
zswapped 0
file_mapped 492400640
file_dirty 1392640
file_writeback 0
swapcached 0
anon_thp 234881024
file_thp 0
shmem_thp 0
inactive_anon 1651212288
active_anon 131502080
inactive_file 1719988224
active_file 1102036992
unevictable 32768
slab_reclaimable 175808080
slab_unreclaimable 13178352
slab 188986432
workingset_refault_anon 0
workingset_refault_file 1134
pgfault 44183625
pgmajfault 2810
thp_fault_alloc 2030
thp_collapse_alloc 69
"""

V2_MEMORY_EVENTS = "low 0\nhigh 0\nmax 41\noom 2\noom_kill 2\noom_group_kill 0\n"

V2_IO_STAT = """\
254:0 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0
8:0 rbytes=90112 wbytes=0 rios=22 wios=0 dbytes=0 dios=0
"""


def test_parse_io_stat_sums_devices() -> None:
    io = parse_io_stat(V2_IO_STAT)
    assert io["rbytes"] == 1459200 + 90112
    assert io["wbytes"] == 314773504
    assert io["rios"] == 214
    assert io["wios"] == 353
    assert parse_io_stat("") == {}


def test_flat_keyed_keeps_only_numeric_pairs() -> None:
    cpu = parse_flat_keyed(V2_CPU_STAT)
    assert cpu["usage_usec"] == 113176438
    assert cpu["core_sched.force_idle_usec"] == 0
    assert parse_flat_keyed("frozen 1\nbroken line here\nweird x\n") == {"frozen": 1}


def test_shares_to_weight_matches_runc() -> None:
    assert shares_to_weight(2) == 1
    assert shares_to_weight(1024) == 39
    assert shares_to_weight(262144) == 10000


def test_io_max_lines_join_read_and_write_per_device() -> None:
    sda, sdb = (8, 0), (8, 16)
    read = (DeviceRate(*sda, 1048576, "/dev/sda"),)
    write = (DeviceRate(*sda, 2097152, "/dev/sda"), DeviceRate(*sdb, 5, "/dev/sdb"))
    assert io_max_lines(read, write) == ["8:0 rbps=1048576 wbps=2097152", "8:16 wbps=5"]


def test_cgroup_stats_round_trip() -> None:
    stats = CgroupStats(cpu_total_ns=5, memory_peak=7, oom_kills=0)
    data = stats.to_dict()
    assert data["cpu_total_ns"] == 5 and data["io_read_bytes"] is None
    assert CgroupStats.from_dict(data) == stats
    assert CgroupStats.from_dict({"cpu_total_ns": 1, "unknown": 2}) == CgroupStats(cpu_total_ns=1)


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
    make_v2_tree(tmp_path)
    V2Cgroup(NAME, str(tmp_path)).create()
    for level in (tmp_path, tmp_path / "isobench"):
        assert (level / "cgroup.subtree_control").read_text() == "+cpu +memory +io +pids"


def test_v2_create_skips_enabled_and_unavailable(tmp_path: Path) -> None:
    make_v2_tree(tmp_path)
    (tmp_path / "cgroup.controllers").write_text("hugetlb\n")  # like the hybrid hosts' /unified
    (tmp_path / "isobench" / "cgroup.subtree_control").write_text("cpu memory io pids\n")
    V2Cgroup(NAME, str(tmp_path)).create()
    assert (tmp_path / "cgroup.subtree_control").read_text() == "\n"
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
