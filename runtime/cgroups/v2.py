"""cgroup v2 backend: one directory in the unified hierarchy (runc's fs2/ manager)."""

from __future__ import annotations

import os

from runtime.cgroups.base import (
    FREEZE_TIMEOUT_S,
    KILL_TIMEOUT_S,
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
from runtime.cgroups.devices import DeviceRule
from runtime.limits import DeviceRate, Limits

NS_PER_US = 1000
# Controllers isobench reads or limits; others (hugetlb, rdma, ...) are left disabled.
WANTED_CONTROLLERS = ("cpu", "memory", "io", "pids")


def shares_to_weight(shares: int) -> int:
    """v1 cpu.shares (2..262144) -> v2 cpu.weight (1..10000), runc's formula."""
    return 1 + ((shares - 2) * 9999) // 262142


def parse_io_stat(text: str) -> dict[str, int]:
    """io.stat 'MAJ:MIN rbytes=N wbytes=N rios=N ...' lines -> each key summed over devices."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        for item in line.split()[1:]:
            key, sep, value = item.partition("=")
            if sep and value.isdigit():
                out[key] = out.get(key, 0) + int(value)
    return out


def io_max_lines(read: tuple[DeviceRate, ...], write: tuple[DeviceRate, ...]) -> list[str]:
    """One io.max line per device, carrying its read and write rates together."""
    per_device: dict[tuple[int, int], list[str]] = {}
    for key, rates in (("rbps", read), ("wbps", write)):
        for r in rates:
            per_device.setdefault((r.major, r.minor), []).append(f"{key}={r.bytes_per_sec}")
    return [f"{maj}:{mnr} {' '.join(items)}" for (maj, mnr), items in per_device.items()]


class V2Cgroup(Cgroup):
    """A cgroup under any cgroup2 mount (the host's root, or a hybrid host's /unified)."""

    def __init__(self, name: str, mount: str = "/sys/fs/cgroup") -> None:
        super().__init__(name)
        self.mount = mount
        self.path = os.path.join(mount, self.name)
        self._procs = os.path.join(self.path, "cgroup.procs")

    def paths(self) -> dict[str, str]:
        return {"unified": self.path}

    def procs_paths(self) -> list[str]:
        return [self._procs]

    def _ancestors(self) -> list[str]:
        """The mount and every level above the leaf, top first."""
        levels, current = [self.mount], self.mount
        for part in self.name.split("/")[:-1]:
            current = os.path.join(current, part)
            levels.append(current)
        return levels

    def create(self) -> None:
        for level in [*self._ancestors()[1:], self.path]:
            make_dir(level)
        self._enable(WANTED_CONTROLLERS)

    def _enable(self, controllers: tuple[str, ...]) -> None:
        """Delegate controllers down to the leaf where the parents have them (best effort:
        a caller that needs one checks for its files afterwards)."""
        for level in self._ancestors():
            available = (read_text(os.path.join(level, "cgroup.controllers")) or "").split()
            enabled = (read_text(os.path.join(level, "cgroup.subtree_control")) or "").split()
            missing = [c for c in controllers if c in available and c not in enabled]
            if not missing:
                continue
            try:
                write_text(
                    os.path.join(level, "cgroup.subtree_control"),
                    " ".join(f"+{c}" for c in missing),
                )
            except CgroupError:
                return  # e.g. a parent with processes of its own: lower levels cannot have it

    def _file(self, controller: str, filename: str) -> str:
        path = os.path.join(self.path, filename)
        if not os.path.exists(path):
            raise CgroupError(f"cgroup v2: {controller} controller not available at {self.path}")
        return path

    def set_limits(self, limits: Limits) -> None:
        needed = tuple(
            c
            for c, wanted in (
                ("memory", limits.memory_bytes is not None),
                ("cpu", limits.cpu_quota_us is not None or limits.cpu_shares is not None),
                ("pids", limits.pids_max is not None),
                ("io", bool(limits.device_read_bps or limits.device_write_bps)),
            )
            if wanted
        )
        self._enable(needed)
        if limits.memory_bytes is not None:
            write_text(self._file("memory", "memory.max"), str(limits.memory_bytes))
            swap = os.path.join(self.path, "memory.swap.max")
            if os.path.exists(swap):
                write_text(swap, "0")
        if limits.cpu_quota_us is not None:
            cpu_max = f"{limits.cpu_quota_us} {limits.cpu_period_us}"
            write_text(self._file("cpu", "cpu.max"), cpu_max)
        if limits.cpu_shares is not None:
            write_text(self._file("cpu", "cpu.weight"), str(shares_to_weight(limits.cpu_shares)))
        if limits.pids_max is not None:
            write_text(self._file("pids", "pids.max"), str(limits.pids_max))
        for line in io_max_lines(limits.device_read_bps, limits.device_write_bps):
            write_text(self._file("io", "io.max"), line + "\n", append=True)

    def set_devices(self, rules: tuple[DeviceRule, ...]) -> bool:
        """v2 has no devices files: a BPF_PROG_TYPE_CGROUP_DEVICE program, as runc. Allowing
        everything attaches nothing (a new cgroup inherits no restriction of ours)."""
        if any(r.kind == "a" for r in rules):
            return True
        from runtime.cgroups import device_bpf  # only v2 hosts pay for its import

        try:
            device_bpf.attach(self.path, rules)
        except OSError as exc:
            raise CgroupError(f"cgroup v2: cannot attach the device filter (BPF) to "
                              f"{self.path}: {exc.strerror}", exc.errno) from None
        return True

    def _f(self, filename: str) -> str:
        return os.path.join(self.path, filename)

    def stats(self) -> CgroupStats:
        stats = CgroupStats()
        cpu = read_keyed(self._f("cpu.stat")) or {}
        stats.cpu_total_ns, stats.cpu_user_ns, stats.cpu_system_ns = (
            cpu[k] * NS_PER_US if k in cpu else None
            for k in ("usage_usec", "user_usec", "system_usec")
        )
        stats.memory_current = read_int(self._f("memory.current"))
        stats.memory_peak = read_int(self._f("memory.peak"))
        memory = read_keyed(self._f("memory.stat"))
        if memory is not None:
            stats.memory_anon, stats.memory_file = memory.get("anon"), memory.get("file")
        events = read_keyed(self._f("memory.events"))
        stats.oom_kills = None if events is None else events.get("oom_kill")
        io_text = read_text(self._f("io.stat"))
        if io_text is not None:
            io = parse_io_stat(io_text)
            stats.io_read_bytes, stats.io_write_bytes, stats.io_read_ops, stats.io_write_ops = (
                io.get(k, 0) for k in ("rbytes", "wbytes", "rios", "wios")
            )
        stats.pids_current = read_int(self._f("pids.current"))
        return stats

    def _events(self) -> dict[str, int]:
        return read_keyed(self._f("cgroup.events")) or {}

    def _set_frozen(self, frozen: bool) -> None:
        want = int(frozen)
        write_text(self._file("freezer", "cgroup.freeze"), str(want))
        if not wait_for(lambda: self._events().get("frozen") == want, FREEZE_TIMEOUT_S):
            raise CgroupError(f"cgroup v2: {self._f('cgroup.events')} never showed frozen {want}")

    def _can_freeze(self) -> bool:
        return os.path.exists(self._f("cgroup.freeze"))  # kernels from 5.2

    def freeze(self) -> None:
        self._set_frozen(True)

    def thaw(self) -> None:
        self._set_frozen(False)

    def kill(self) -> None:
        kill_file = self._f("cgroup.kill")
        if not os.path.exists(kill_file):  # kernels before 5.14
            self._signal_loop()
            return
        write_text(kill_file, "1")
        if not wait_for(lambda: not self.pids(), KILL_TIMEOUT_S):
            raise CgroupError(f"cgroup v2: {self.path} still has processes after cgroup.kill")
