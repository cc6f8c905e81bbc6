"""Collectors: an instance's cgroup read at start and end and sampled in between.

Every target puts what it runs into a cgroup (native: a fresh one of ours; container: the
runtime's; runc: a parent cgroup of ours around runc's; VM: the QEMU process's), so the
same normalized counters (runtime.cgroups.CgroupStats) describe all four. The sampler
measures its own CPU time, so its cost can be reported next to what it measured.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.contention import host_snapshot, host_window
from runtime.cgroups import Cgroup, CgroupStats

SAMPLED = ("cpu_total_ns", "memory_current", "pids_current")


@dataclass
class Accounting:
    start: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    samples: list[list[float]] = field(default_factory=list)  # [t_s, *SAMPLED]
    sampler_cpu_s: float = 0.0
    sampler_wall_s: float = 0.0
    host: dict[str, float] | None = None  # the host's CPU over the same window (contention)
    samples_dropped: int = 0  # reads that failed while the cgroup existed
    sample_error: str | None = None  # the first such failure, as the OS said it
    # the instance's own window, where its target knows it (bench.contention reads it):
    # command_s (exec to exit), launcher_cpu_s (a monitor's CPU outside the cgroup)
    instance: dict[str, float] = field(default_factory=dict)

    def peak(self) -> tuple[int | None, str | None]:
        """The peak memory and where it came from: the kernel's counter (memory.peak,
        memory.max_usage_in_bytes), or the highest sample where the kernel has none (v2
        before 5.19); (None, None) when neither exists."""
        kernel = (self.end or {}).get("memory_peak")
        if kernel is not None:
            return kernel, "kernel"
        column = 1 + SAMPLED.index("memory_current")
        sampled = [s[column] for s in self.samples if s[column] is not None]
        return (int(max(sampled)), "sampled") if sampled else (None, None)

    def to_dict(self) -> dict[str, Any]:
        end = self.end
        peak, source = self.peak()
        if end is not None and source == "sampled":
            end = {**end, "memory_peak": peak}
        return {"start": self.start, "end": end,
                "delta": window_delta(self.start, self.end), "host": self.host,
                "instance": self.instance,
                "memory_peak_source": source,
                "samples_dropped": self.samples_dropped, "sample_error": self.sample_error,
                "sample_fields": ["t_s", *SAMPLED], "samples": self.samples,
                "sampler_cpu_fraction": (self.sampler_cpu_s / self.sampler_wall_s
                                         if self.sampler_wall_s else None)}


DELTA_KEYS = ("cpu_total_ns", "cpu_user_ns", "cpu_system_ns", "io_read_bytes",
              "io_write_bytes", "io_read_ops", "io_write_ops")


def window_delta(start: dict[str, Any] | None, end: dict[str, Any] | None
                 ) -> dict[str, int | None]:
    """What the cumulative counters grew by between two readings of one cgroup (None where
    either reading lacks the counter). No start reading means the cgroup did not exist yet:
    it began at zero."""
    if not end:
        return {}
    start = start or {}
    delta: dict[str, int | None] = {}
    for key in DELTA_KEYS:
        a, b = start.get(key, 0), end.get(key)
        delta[key] = None if a is None or b is None else b - a
    return delta


class Sampler:
    """Reads a cgroup at `hz` on a thread until stopped."""

    def __init__(self, read: Callable[[], CgroupStats | None], hz: float = 10.0,
                 sample: Callable[[], list[int | None] | None] | None = None) -> None:
        self.read = read
        self.sample = sample
        self.period = 1.0 / hz if hz > 0 else None
        self.accounting = Accounting()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._host0: dict[str, float] = {}

    def __enter__(self) -> Sampler:
        stats = self._safe_read()
        self._host0 = host_snapshot()
        self.accounting.start = stats.to_dict() if stats else None
        self._t0 = time.monotonic()
        if self.period:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def _safe_read(self) -> CgroupStats | None:
        try:
            return self.read()
        except OSError:
            return None  # the instance is gone between two samples

    def _loop(self) -> None:
        cpu0, wall0 = time.thread_time(), time.monotonic()
        while not self._stop.wait(self.period):
            try:
                if self.sample is not None:
                    values = self.sample()
                else:
                    stats = self.read()
                    values = [getattr(stats, name) for name in SAMPLED] if stats else None
            except OSError as e:
                # The cgroup is there but a file is not, or cannot be read: counted and
                # named in the result, never dropped without a word.
                values = None
                self.accounting.samples_dropped += 1
                self.accounting.sample_error = self.accounting.sample_error or \
                    f"{e.filename or 'cgroup'}: {e.strerror or e}"
            if values is not None:
                self.accounting.samples.append([round(time.monotonic() - self._t0, 4), *values])
        self.accounting.sampler_cpu_s = time.thread_time() - cpu0
        self.accounting.sampler_wall_s = time.monotonic() - wall0

    def finish(self, final: CgroupStats | dict[str, Any] | None = None) -> Accounting:
        """Stop sampling; `final` is the end reading when the instance's cgroup is gone by
        now (a container's monitor records it at exit)."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        if final is None:
            final = self._safe_read()
        self.accounting.host = host_window(self._host0, host_snapshot())
        self.accounting.end = final.to_dict() if isinstance(final, CgroupStats) else final
        return self.accounting

    def __exit__(self, *exc: object) -> None:
        if not self._stop.is_set():
            self.finish()


def cgroup_reader(cg: Cgroup) -> Callable[[], CgroupStats | None]:
    return lambda: cg.stats() if cg.exists() else None


def _read_int(path: str) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        return int(os.read(fd, 64))
    finally:
        os.close(fd)


def sample_reader(cg: Cgroup) -> Callable[[], list[int | None] | None]:
    """The SAMPLED counters from three small files, not the full stats' dozen or so: keeps
    a 10 Hz sampler's own cost small next to what it measures. None while the cgroup does
    not exist (not made yet, or removed at the end); a file missing from a cgroup that
    exists raises, and the sampler counts it."""
    paths = cg.paths()
    if "unified" in paths:
        base = paths["unified"]

        def v2() -> list[int | None]:
            with open(f"{base}/cpu.stat") as f:
                usage = int(f.readline().split()[1]) * 1000  # usage_usec comes first
            return [usage, _read_int(f"{base}/memory.current"), _read_int(f"{base}/pids.current")]
        read, dirs = v2, [base]
    else:
        files = (f"{paths['cpuacct']}/cpuacct.usage", f"{paths['memory']}/memory.usage_in_bytes",
                 f"{paths['pids']}/pids.current")
        read, dirs = (lambda: [_read_int(f) for f in files]), [os.path.dirname(f) for f in files]

    def sample() -> list[int | None] | None:
        try:
            return read()
        except FileNotFoundError:
            if not all(os.path.isdir(d) for d in dirs):
                return None  # no cgroup (yet, or any more): nothing to sample
            raise
    return sample


def process_memory(pid: int) -> dict[str, int] | None:
    """A host process's RSS, PSS and USS in bytes (psutil's memory_full_info, from its
    smaps); None once it has gone. The container monitor lives outside the container's
    cgroup, so its memory is read here, beside the cgroup's."""
    import psutil  # only the few callers pay for its import

    try:
        info = psutil.Process(pid).memory_full_info()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return {"rss": info.rss, "pss": info.pss, "uss": info.uss}


def monitor_memory(rt: Any, cid: str) -> dict[str, int] | None:
    """The memory of a running container's monitor (its `Runtime` record names it)."""
    pid = rt.get(cid).state.monitor_pid
    return process_memory(pid) if pid else None


class MemoryProbe:
    """Reads a process's memory once, `delay_s` after start() (the instance idle by then),
    on a thread of its own, while the caller waits for the instance."""

    def __init__(self, pid: Callable[[], int], delay_s: float = 1.0) -> None:
        self.pid, self.delay_s = pid, delay_s
        self.result: dict[str, int] | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._stop = threading.Event()

    def _read(self) -> None:
        if not self._stop.wait(self.delay_s):
            pid = self.pid()
            self.result = process_memory(pid) if pid else None

    def start(self) -> MemoryProbe:
        self._thread.start()
        return self

    def finish(self) -> dict[str, int] | None:
        self._stop.set()
        self._thread.join()
        return self.result
