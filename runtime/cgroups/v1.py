"""cgroup v1 backend: one directory per controller hierarchy (runc's fs/ manager)."""

from __future__ import annotations

import os

from runtime.cgroups.base import (
    FREEZE_TIMEOUT_S,
    Cgroup,
    CgroupError,
    CgroupStats,
    make_dir,
    read_int,
    read_keyed,
    read_text,
    wait_for,
    write_text,
)
from runtime.cgroups.blockdev import on_whole_disks
from runtime.cgroups.devices import DeviceRule
from runtime.limits import DeviceRate, Limits

NS_PER_S = 1_000_000_000


def parse_blkio(text: str) -> dict[str, int]:
    """blkio 'MAJ:MIN Op N' lines -> {op: N summed over devices}; 'Total' lines are skipped."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] != "Total" and parts[2].isdigit():
            out[parts[1]] = out.get(parts[1], 0) + int(parts[2])
    return out


def cpu_from_cpuacct_stat(stat: dict[str, int], user_hz: int) -> tuple[int | None, int | None]:
    """cpuacct.stat counts USER_HZ ticks: (user_ns, system_ns)."""
    scale = NS_PER_S // user_hz

    def ns(key: str) -> int | None:
        return stat[key] * scale if key in stat else None

    return ns("user"), ns("system")


def memory_from_stat(stat: dict[str, int]) -> tuple[int | None, int | None]:
    """(anon, file) bytes from memory.stat, hierarchical totals when present.

    rss already counts transparent huge pages (rss_huge is a subset), so it is not added.
    """
    anon = stat.get("total_rss", stat.get("rss"))
    file = stat.get("total_cache", stat.get("cache"))
    return anon, file


class V1Cgroup(Cgroup):
    """`mounts` maps controller -> hierarchy mount point; co-mounted controllers share one."""

    def __init__(self, name: str, mounts: dict[str, str]) -> None:
        super().__init__(name)
        self.mounts = dict(mounts)
        self._paths = {c: os.path.join(m, self.name) for c, m in self.mounts.items()}
        # Computed once: add_pid runs in a freshly forked child and should only write.
        self._procs = [os.path.join(d, "cgroup.procs") for d in dict.fromkeys(self._paths.values())]

    def paths(self) -> dict[str, str]:
        return dict(self._paths)

    def procs_paths(self) -> list[str]:
        return list(self._procs)

    def _file(self, controller: str, filename: str, purpose: str) -> str:
        if controller not in self._paths:
            message = f"cgroup v1: {controller} controller not mounted ({purpose} needs it)"
            raise CgroupError(message)
        path = os.path.join(self._paths[controller], filename)
        if not os.path.exists(path):
            raise CgroupError(f"cgroup v1: {path} does not exist (needed by {purpose})")
        return path

    def create(self) -> None:
        for mount in dict.fromkeys(self.mounts.values()):
            self._make_levels(mount, copy_cpuset=mount == self.mounts.get("cpuset"))

    def _make_levels(self, mount: str, copy_cpuset: bool) -> None:
        parent = mount
        for part in self.name.split("/"):
            level = os.path.join(parent, part)
            make_dir(level)
            if copy_cpuset:
                # A new cpuset starts with no cpus/mems, and attaching to it fails with ENOSPC.
                for filename in ("cpuset.cpus", "cpuset.mems"):
                    self._inherit(parent, level, filename)
            parent = level

    @staticmethod
    def _inherit(parent: str, level: str, filename: str) -> None:
        own = read_text(os.path.join(level, filename))
        if own is not None and own.strip():
            return
        value = read_text(os.path.join(parent, filename))
        if value is None or not value.strip():
            raise CgroupError(f"cgroup v1: cannot read {os.path.join(parent, filename)}")
        write_text(os.path.join(level, filename), value.strip())

    def set_limits(self, limits: Limits) -> None:
        if limits.memory_bytes is not None:
            self._set_memory(limits.memory_bytes)
        if limits.cpu_quota_us is not None:
            write_text(self._file("cpu", "cpu.cfs_period_us", "--cpus"), str(limits.cpu_period_us))
            write_text(self._file("cpu", "cpu.cfs_quota_us", "--cpus"), str(limits.cpu_quota_us))
        if limits.cpu_shares is not None:
            write_text(self._file("cpu", "cpu.shares", "--cpu-shares"), str(limits.cpu_shares))
        if limits.pids_max is not None:
            write_text(self._file("pids", "pids.max", "--pids-limit"), str(limits.pids_max))
        self._set_rates("read", limits.device_read_bps)
        self._set_rates("write", limits.device_write_bps)

    def _set_memory(self, limit: int) -> None:
        mem = self._file("memory", "memory.limit_in_bytes", "--memory")
        memsw = os.path.join(self._paths["memory"], "memory.memsw.limit_in_bytes")
        if not os.access(memsw, os.W_OK):
            write_text(mem, str(limit))
            return
        # The kernel keeps memsw >= limit at every step, so the order depends on the direction.
        current_memsw = read_int(memsw)
        if current_memsw is not None and current_memsw < limit:
            write_text(memsw, str(limit))
            write_text(mem, str(limit))
        else:
            write_text(mem, str(limit))
            write_text(memsw, str(limit))  # equal to the limit: no swap

    def _set_rates(self, direction: str, rates: tuple[DeviceRate, ...]) -> None:
        if not rates:
            return
        filename = f"blkio.throttle.{direction}_bps_device"
        path = self._file("blkio", filename, f"--device-{direction}-bps")
        for rate in on_whole_disks(rates):
            write_text(path, f"{rate.major}:{rate.minor} {rate.bytes_per_sec}\n", append=True)

    def set_devices(self, rules: tuple[DeviceRule, ...]) -> bool:
        """Deny everything, then allow each rule (as runc); a new cgroup starts with its
        parent's list, so allowing "a" is enough for --privileged."""
        deny = self._file("devices", "devices.deny", "device access control")
        allow = self._file("devices", "devices.allow", "device access control")
        if any(r.kind == "a" for r in rules):
            write_text(allow, "a")
            return True
        write_text(deny, "a")
        for rule in rules:
            write_text(allow, rule.v1_line(), append=True)
        return True

    def _read(self, controller: str, filename: str) -> str:
        # An unmounted controller yields "", which reads as an absent file.
        base = self._paths.get(controller)
        return os.path.join(base, filename) if base else ""

    def stats(self) -> CgroupStats:
        stats = CgroupStats()
        self._cpu_stats(stats)
        stats.memory_current = read_int(self._read("memory", "memory.usage_in_bytes"))
        stats.memory_peak = read_int(self._read("memory", "memory.max_usage_in_bytes"))
        memory_stat = read_keyed(self._read("memory", "memory.stat"))
        if memory_stat is not None:
            stats.memory_anon, stats.memory_file = memory_from_stat(memory_stat)
        oom = read_keyed(self._read("memory", "memory.oom_control"))
        stats.oom_kills = None if oom is None else oom.get("oom_kill")
        self._io_stats(stats)
        stats.pids_current = read_int(self._read("pids", "pids.current"))
        return stats

    def _cpu_stats(self, stats: CgroupStats) -> None:
        stats.cpu_total_ns = read_int(self._read("cpuacct", "cpuacct.usage"))
        stats.cpu_user_ns = read_int(self._read("cpuacct", "cpuacct.usage_user"))
        stats.cpu_system_ns = read_int(self._read("cpuacct", "cpuacct.usage_sys"))
        if stats.cpu_user_ns is None or stats.cpu_system_ns is None:
            ticks = read_keyed(self._read("cpuacct", "cpuacct.stat"))
            if ticks is not None:
                user_hz = os.sysconf("SC_CLK_TCK")
                stats.cpu_user_ns, stats.cpu_system_ns = cpu_from_cpuacct_stat(ticks, user_hz)

    def _io_stats(self, stats: CgroupStats) -> None:
        def blkio(kind: str) -> dict[str, int] | None:
            for suffix in ("_recursive", ""):
                text = read_text(self._read("blkio", f"blkio.throttle.{kind}{suffix}"))
                if text is not None:
                    return parse_blkio(text)
            return None

        io_bytes, io_ops = blkio("io_service_bytes"), blkio("io_serviced")
        if io_bytes is not None:
            stats.io_read_bytes = io_bytes.get("Read", 0)
            stats.io_write_bytes = io_bytes.get("Write", 0)
        if io_ops is not None:
            stats.io_read_ops = io_ops.get("Read", 0)
            stats.io_write_ops = io_ops.get("Write", 0)

    def _can_freeze(self) -> bool:
        return "freezer" in self._paths

    def _set_freezer(self, state: str) -> None:
        path = self._file("freezer", "freezer.state", "freeze/thaw")

        # FREEZING is transient; re-writing the target state pushes stragglers along (as runc does).
        def reached() -> bool:
            write_text(path, state)
            return (read_text(path) or "").strip() == state

        if not wait_for(reached, FREEZE_TIMEOUT_S):
            raise CgroupError(f"cgroup v1: {path} did not reach {state}")

    def freeze(self) -> None:
        self._set_freezer("FROZEN")

    def thaw(self) -> None:
        self._set_freezer("THAWED")
