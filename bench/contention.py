"""The contention guard: did a run get the machine it asked for?

On a shared 2-core host a run can receive a fraction of the CPU it asked for, and a ratio to
native then measures how much CPU each target was given, not what isolation costs (seen
here: cpu.all received 0.6-1.6 of its 2 CPU-seconds per second, and runc read as 1.9x
*faster* than native). So every run records, over the window its cgroup was accounted:

- the CPU it received (its cgroup's CPU time) against the CPU it asked for: threads x wall,
  capped by a CPU limit it was given on purpose (`--cpus`), for the variants that are
  CPU-bound (a disk run waits on I/O and asks for no CPU);
- the host's busy and steal time (psutil.cpu_times) and load average across the window;
- the other processes' CPU: the host's busy time minus what the run received, minus the
  kernel's threads (writeback and other work a disk run causes outside its cgroup: a
  2 s disk.seqwrite kept flush workers at 0.10-0.15 of a core here, and flagged itself),
  reported apart as `kernel_cores`, and minus the harness's own (this process and its
  threads: the sampler, the runtime's setup done in-process), which is the measurement's
  cost, reported apart as `harness_cores`; and minus the CPU of the container's own
  monitor (its setup, relay and teardown, outside the cgroup, recorded by the monitor
  itself), the instance's cost, reported apart as `launcher_cores`. `runc` itself, which
  records nothing, counts as another process.

Where the target knows the command's own lifetime (a container: exec to exit), the CPU asked
for is over that span, not the whole window: a 1 s tiny run's window also holds the
container's start and its monitor's teardown (~0.15 s), and read as 82-89 % received (measured, s7).

A run is `contended` when it received < 90 % of what it asked for, or something else (other
processes, or the hypervisor's steal) took > 10 % of a core on average. The harness re-runs
a contended scheduled run at most twice and keeps the last; what stays contended is kept,
flagged, and left out of ratios and verdicts unless --keep-contended.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psutil

RECEIVED_MIN = 0.90         # of the CPU asked for
OTHERS_MAX_CORES = 0.10     # other processes' (or steal's) CPU, in cores, averaged
RERUNS = 2                  # a contended scheduled run is tried at most this many more times
# Below this window nothing is judged, only recorded: a 25 ms start-up run's "others" is the
# launcher under test itself (runc runs outside the cgroup), and one scheduler tick of any
# daemon is a tenth of a core over so short a window.
MIN_WINDOW_S = 1.0


def _harness_cpu_s() -> float:
    # this process only: a waited-for child's usage would include the workload's own CPU
    # when the workload is that child (native's sh, runc's container)
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


_PF_KTHREAD = 0x00200000
_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def _kernel_threads_cpu_s() -> float:
    """CPU time of the kernel's own threads (kworkers, flushers, kswapd...): /proc/*/stat
    with PF_KTHREAD in its flags. About 200 small reads, a few ms, twice per run."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
        except OSError:
            continue  # gone meanwhile
        # after "pid (comm)": state is fields[0], flags fields[6], utime/stime fields[11:13]
        if len(fields) > 12 and int(fields[6]) & _PF_KTHREAD:
            total += int(fields[11]) + int(fields[12])
    return total * _TICK_S


def host_snapshot() -> dict[str, float]:
    """The host's cumulative CPU times (seconds, all CPUs), the harness's own, and the load
    now."""
    t = psutil.cpu_times()
    # user includes guest time on Linux; iowait is idle waiting, not work
    busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
    return {"t": time.monotonic(), "busy_s": busy, "steal_s": getattr(t, "steal", 0.0),
            "harness_s": _harness_cpu_s(), "kernel_s": _kernel_threads_cpu_s(),
            "load1": os.getloadavg()[0]}


def host_window(start: Mapping[str, float], end: Mapping[str, float]) -> dict[str, float]:
    """What the host did between two snapshots."""
    return {"wall_s": end["t"] - start["t"], "busy_s": end["busy_s"] - start["busy_s"],
            "steal_s": end["steal_s"] - start["steal_s"],
            "harness_s": end.get("harness_s", 0.0) - start.get("harness_s", 0.0),
            "kernel_s": end.get("kernel_s", 0.0) - start.get("kernel_s", 0.0),
            "load1_start": start["load1"], "load1_end": end["load1"],
            "cpus": float(psutil.cpu_count() or 1)}


@dataclass(frozen=True)
class Assessment:
    wall_s: float                   # the window: the cgroup's start and end readings
    asked_cpu_s: float | None       # None: the run is not CPU-bound (or its threads unknown)
    received_cpu_s: float | None    # None: its cgroup's CPU time was not read
    others_cores: float | None      # other processes' CPU over the window, in cores
    harness_cores: float            # the harness's own (sampler, in-process setup), in cores
    launcher_cores: float           # the instance's monitor, outside its cgroup, in cores
    command_s: float | None         # the command's own lifetime, where the target knows it
    kernel_cores: float             # the kernel's threads (writeback...), in cores
    steal_cores: float | None
    load1: float | None             # the higher of the start and end 1-minute load
    reasons: tuple[str, ...]

    @property
    def contended(self) -> bool:
        return bool(self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {"wall_s": self.wall_s, "asked_cpu_s": self.asked_cpu_s,
                "received_cpu_s": self.received_cpu_s,
                "received_fraction": (self.received_cpu_s / self.asked_cpu_s
                                      if self.asked_cpu_s and self.received_cpu_s is not None
                                      else None),
                "others_cores": self.others_cores, "harness_cores": self.harness_cores,
                "launcher_cores": self.launcher_cores, "command_s": self.command_s,
                "kernel_cores": self.kernel_cores,
                "steal_cores": self.steal_cores,
                "load1": self.load1, "reasons": list(self.reasons)}


def asked_cpu(threads: int | None, wall_s: float, cpu_limit: float | None) -> float | None:
    """CPU-seconds a run asks for: threads x wall, no more than its CPU limit allows."""
    if threads is None or wall_s <= 0:
        return None
    cores = float(threads) if cpu_limit is None else min(float(threads), cpu_limit)
    return cores * wall_s


def assess(accounting: Mapping[str, Any], threads: int | None,
           cpu_limit: float | None = None, *, judge_others: bool = True
           ) -> Assessment | None:
    """The guard's reading of one run's accounting (None: no host window was recorded).

    judge_others False: the other processes' CPU is recorded but flags nothing (a VM: QEMU's
    CPU before it joins our cgroup is charged to libvirt's, so its "others" hold part of the
    run itself until the VM's accounting window is fixed)."""
    host = accounting.get("host")
    if not isinstance(host, Mapping) or not host.get("wall_s"):
        return None
    wall = float(host["wall_s"])
    used = (accounting.get("delta") or {}).get("cpu_total_ns")
    if used is None and accounting.get("start") is None:  # a fresh cgroup began at 0
        used = (accounting.get("end") or {}).get("cpu_total_ns")
    received = float(used) / 1e9 if isinstance(used, int | float) else None
    instance = accounting.get("instance") or {}
    command = instance.get("command_s")
    command = min(wall, float(command)) if isinstance(command, int | float) else None
    asked = asked_cpu(threads, wall if command is None else command, cpu_limit)
    harness = max(0.0, float(host.get("harness_s", 0.0)))
    kernel = max(0.0, float(host.get("kernel_s", 0.0)))
    launcher = max(0.0, float(instance.get("launcher_cpu_s", 0.0)))
    others = (max(0.0, float(host["busy_s"]) - received - harness - kernel - launcher) / wall
              if received is not None else None)
    steal = float(host["steal_s"]) / wall
    reasons = []
    judged = wall >= MIN_WINDOW_S
    if judged and asked and received is not None and received < RECEIVED_MIN * asked:
        reasons.append(f"received {received / asked:.0%} of the CPU it asked for "
                       f"({received:.2f} of {asked:.2f} CPU-s)")
    if judged and judge_others and others is not None and others > OTHERS_MAX_CORES:
        reasons.append(f"other processes used {others:.2f} of a core")
    if judged and steal > OTHERS_MAX_CORES:
        reasons.append(f"the hypervisor stole {steal:.2f} of a core")
    load = max(float(host["load1_start"]), float(host["load1_end"]))
    return Assessment(wall, asked, received, others, harness / wall, launcher / wall, command,
                      kernel / wall, steal, load, tuple(reasons))
