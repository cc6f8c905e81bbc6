"""cgroup v2 backend: one directory in the unified hierarchy (runc's fs2/ manager)."""

from __future__ import annotations

import errno
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
    read_pids,
    read_text,
    wait_for,
    write_text,
)
from runtime.cgroups.blockdev import on_whole_disks
from runtime.cgroups.devices import DeviceRule
from runtime.limits import DeviceRate, Limits

NS_PER_US = 1000
# Controllers isobench reads or limits; others (hugetlb, rdma, ...) are left disabled.
WANTED_CONTROLLERS = ("cpu", "memory", "io", "pids")
# The collectors read these at every leaf: a run without them would record no accounting.
ACCOUNTING_CONTROLLERS = ("cpu", "memory", "pids")
# Controller -> the interface files a leaf must show once it is enabled (accounting and the
# sampler read them; limits write their own, checked when written).
ACCOUNTING_FILES = {
    "cpu": ("cpu.stat",),
    "memory": ("memory.current", "memory.stat", "memory.events"),
    "pids": ("pids.current",),
    "io": ("io.stat",),
}
# Where isobench moves its own process when a cgroup it must delegate from holds it (runc
# and crun do the same with "init" under a container's root cgroup).
SELF_LEAF = "isobench-self"
# Controllers a threaded subtree may use: enabling one in a cgroup that holds a process is
# accepted and makes that cgroup a thread root (kernel's cgroup-v2.rst, "Threads").
THREADED_CONTROLLERS = frozenset({"cpu", "cpuset", "pids", "perf_event"})
# Why the kernel refused `+controller` in cgroup.subtree_control, by errno.
_ENABLE_ERRORS = {
    errno.ENOENT: "the controller is not in its cgroup.controllers (the parent does not "
                  "delegate it, or the kernel binds it to a v1 hierarchy)",
    errno.EBUSY: "the cgroup has processes of its own (cgroup v2's no-internal-processes rule)",
    errno.EOPNOTSUPP: "the cgroup is threaded and the controller is not threaded",
    errno.EACCES: "permission denied (the cgroup is not delegated to this user)",
    errno.EPERM: "permission denied (the cgroup is not delegated to this user)",
}


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


def _split(text: str | None) -> list[str]:
    return (text or "").split()


def enable_error(controller: str, level: str, error: CgroupError) -> CgroupError:
    """One line: which controller, which cgroup, and why the kernel said no."""
    code = error.errno
    why = _ENABLE_ERRORS.get(code or 0) or str(error)
    if code == errno.EBUSY:
        pids = read_pids(os.path.join(level, "cgroup.procs"))
        shown = " ".join(str(p) for p in pids[:5]) + (" ..." if len(pids) > 5 else "")
        why += f"; pids there: {shown}" if pids else ""
    return CgroupError(f"cgroup v2: cannot enable the {controller} controller in {level}: "
                       f"{why}", code)


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
        """Make every level and delegate controllers down to the leaf, as runc's fs2 manager:
        the accounting controllers (and io, where the host has it) must arrive, or the run
        fails now with the controller, the cgroup and the reason, not later with no stats."""
        self.make_levels()
        root_has = set(_split(read_text(os.path.join(self.mount, "cgroup.controllers"))))
        optional = tuple(c for c in WANTED_CONTROLLERS
                         if c not in ACCOUNTING_CONTROLLERS and c in root_has)
        self.enable((*ACCOUNTING_CONTROLLERS, *optional))
        self.check_files((*ACCOUNTING_CONTROLLERS, *optional))

    def make_levels(self) -> None:
        """The directories alone, no controller (a hybrid host's /unified offers none)."""
        for level in [*self._ancestors()[1:], self.path]:
            make_dir(level)

    def enable(self, controllers: tuple[str, ...]) -> None:
        """Enable each controller in every level's cgroup.subtree_control above the leaf, one
        write per controller (one refusal must not take the others with it). Our own process
        leaves a level before the first write there, as runc does: once a threaded controller
        (cpu, pids) is on in a cgroup holding a process, that cgroup is a thread root, and the
        process can no longer move into a domain child (EOPNOTSUPP, seen on 6.1)."""
        for level in self._ancestors():
            enabled = set(_split(read_text(os.path.join(level, "cgroup.subtree_control"))))
            # Domain controllers first: where others' processes sit, the first refusal is then
            # EBUSY naming them, before a threaded one (accepted there) turned that cgroup
            # into a thread root and left it so (seen in the cgroup v2 lane, 6.1).
            missing = sorted((c for c in controllers if c not in enabled),
                             key=lambda c: c in THREADED_CONTROLLERS)
            if missing:
                self._leave(level)
            for controller in missing:
                self._enable_one(level, controller)

    def _enable_one(self, level: str, controller: str) -> None:
        try:
            write_text(os.path.join(level, "cgroup.subtree_control"), f"+{controller}")
        except CgroupError as exc:
            raise enable_error(controller, level, exc) from None

    def _leave(self, level: str) -> None:
        """Move this process out of `level` into a leaf beside our cgroups, so that `level`
        may delegate. Others' processes are theirs to move: enabling then fails with EBUSY
        and names them."""
        # The host's root cgroup (no cgroup.type file) is exempt from the rule; a container's
        # cgroup namespace root is not.
        if not os.path.exists(os.path.join(level, "cgroup.type")) or \
                os.getpid() not in read_pids(os.path.join(level, "cgroup.procs")):
            return
        leaf = os.path.join(level, SELF_LEAF)
        make_dir(leaf)
        try:
            write_text(os.path.join(leaf, "cgroup.procs"), str(os.getpid()))
        except CgroupError as exc:
            raise CgroupError(f"cgroup v2: cannot move isobench (pid {os.getpid()}) out of "
                              f"{level} into {leaf} before delegating: {exc.strerror or exc}",
                              exc.errno) from None

    def check_files(self, controllers: tuple[str, ...]) -> None:
        """Every accounting file of `controllers` exists at the leaf (memory.peak is
        optional: kernels before 5.19 lack it, and the collectors fall back to samples)."""
        for controller in controllers:
            for filename in ACCOUNTING_FILES.get(controller, ()):
                if not os.path.exists(os.path.join(self.path, filename)):
                    raise CgroupError(f"cgroup v2: {self.path} has no {filename} although the "
                                      f"{controller} controller was enabled above it")

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
        self.enable(needed)
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
        for line in io_max_lines(on_whole_disks(limits.device_read_bps),
                                 on_whole_disks(limits.device_write_bps)):
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
