"""cgroup parsers fed real-format text: mountinfo, and the v1 and v2 stat files.

The v1 samples were captured on the hybrid Debian 12 / kernel 6.18 build machines; the v2 ones
follow a pure-v2 Debian 12 host (kernel 6.1); test_cgroup_backends.py writes them into its
temp-dir trees. No root needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.cgroups import CgroupError, CgroupStats, V1Cgroup, V2Cgroup, open_cgroup
from runtime.cgroups.base import parse_flat_keyed
from runtime.cgroups.detect import mode_from_mounts, parse_mountinfo, v1_mounts_from
from runtime.cgroups.v1 import cpu_from_cpuacct_stat, memory_from_stat, parse_blkio
from runtime.cgroups.v2 import io_max_lines, parse_io_stat, shares_to_weight
from runtime.limits import DeviceRate

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
