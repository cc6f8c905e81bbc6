"""Where the API start's milliseconds go: `python -m bench.tools.startup --phases N`.

The runtime's functions on the start path are wrapped, in this process only, by timers
that append `label pid start_ns end_ns` lines to one file (O_APPEND: the caller, the forked
monitor and the container's PID 1 all write there; CLOCK_MONOTONIC is system-wide, so their
stamps compare). Each run's lines become per-phase durations; the medians over N runs are
the profile. Wrapping costs a few µs per call, so the phases add up to a little more than
an unwrapped start.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from results.stats import median

# (label, module path, attribute path): what is timed, in start order. Labels starting
# with "monitor." run in the monitor, "init." in the container's PID 1 before its exec.
TIMED = (
    ("create", "runtime.api", "Runtime.create"),
    ("start.seccomp_program", "runtime.security", "Hardening.program"),
    ("start.cgroup_create", "runtime.cgroups.v1", "V1Cgroup.create"),
    ("start.cgroup_limits", "runtime.cgroups.v1", "V1Cgroup.set_limits"),
    ("start.cgroup_devices", "runtime.cgroups.v1", "V1Cgroup.set_devices"),
    ("start.plug", "runtime.attachments", "Attachments.plug"),
    ("iptables", "runtime.firewall", "_run"),  # -save and -restore, at attach and detach
    ("start.plug.ip_batch", "runtime.network", "ip_batch"),
    ("start.launch", "runtime.launcher", "start"),
    ("monitor.spawn", "runtime.launcher", "_spawn"),  # its cgroup join included (s8)
    ("monitor.cgroup_join", "runtime.init", "join_cgroups"),  # overlaps PID 1's set-up
    ("init.cgroup_join", "runtime.init", "reset_signals"),  # see CGROUP_JOIN below
    ("init.unshare", "runtime.syscalls", "LinuxSyscalls.unshare"),
    ("init.rootfs", "runtime.rootfs", "build_rootfs"),
    ("init.rootfs.mount", "runtime.syscalls", "LinuxSyscalls.mount"),
    ("init.rootfs.pivot", "runtime.rootfs", "enter_root"),
    ("init.cgroup_wait", "runtime.init", "await_cgroup"),  # what the join adds to PID 1's
    ("init.become", "runtime.init", "become"),
    ("init.become.seccomp", "runtime.security", "load_seccomp"),
    ("init.become.exec", "runtime.init", "exec_command"),
    ("monitor.namespaces", "runtime.launcher", "namespace_inodes"),
    ("monitor.save_record", "runtime.containers", "ContainerStore.save"),
    ("wait", "runtime.launcher", "wait_attached"),
    ("monitor.stats", "runtime.cgroups.v1", "V1Cgroup.stats"),
    ("monitor.cgroup_destroy", "runtime.cgroups.v1", "V1Cgroup.destroy"),
    ("monitor.unplug", "runtime.attachments", "Attachments.unplug"),
    ("monitor.unplug.ip", "runtime.network", "_run"),
    ("monitor.unplug.firewall", "runtime.firewall", "release"),
    ("monitor.remove_record", "runtime.containers", "ContainerStore.remove"),
)
# reset_signals() is the first thing PID 1 does; where PID 1 joins its cgroup itself (the
# runtime before s8, and `exec`), the cgroup.procs writes follow it until the first
# setns/unshare: "init.cgroup_join" is measured from its end to unshare's start.
CGROUP_JOIN = "init.cgroup_join"
# Calls that exec (never return): a line with end 0 is written as they begin.
MARKED = ("init.become", "init.become.exec")


def _resolve(module: str, attr: str) -> tuple[Any, str]:
    obj: Any = __import__(module, fromlist=["_"])
    parts = attr.split(".")
    for part in parts[:-1]:
        obj = getattr(obj, part)
    return obj, parts[-1]


_fds: dict[int, int] = {}  # pid -> its descriptor of the file


def _append(path: str, line: str) -> None:
    # One descriptor per process, opened at its first line: the monitor closes every
    # descriptor it was not handed, and PID 1 cannot reach the path once in its own root.
    pid = os.getpid()
    if pid not in _fds:
        _fds[pid] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    os.write(_fds[pid], line.encode())


def _wrap(fn: Callable[..., Any], label: str, path: str) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.monotonic_ns()
        # PID 1 execs inside become(): its line is written before the call, with end = 0
        if label in MARKED:
            _append(path, f"{label} {os.getpid()} {t0} 0\n")
        try:
            return fn(*args, **kwargs)
        finally:
            _append(path, f"{label} {os.getpid()} {t0} {time.monotonic_ns()}\n")
    return timed


@contextmanager
def timers(path: str) -> Iterator[None]:
    """Wrap every TIMED function while inside; lines go to `path`."""
    saved = []
    try:
        for label, module, attr in TIMED:
            try:
                owner, name = _resolve(module, attr)
                getattr(owner, name)
            except AttributeError:
                continue  # not in this version of the runtime (the profile of an older one)
            own = name in vars(owner)  # else inherited: restored by deleting the wrapper
            original = getattr(owner, name)
            saved.append((owner, name, original if own else None))
            setattr(owner, name, _wrap(original, label, path))
        yield
    finally:
        for owner, name, original in reversed(saved):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        for fd in _fds.values():
            os.close(fd)  # only this process's stays in the table; the children's are gone
        _fds.clear()


def durations(lines: list[str], t_start: int, t_end: int) -> dict[str, float]:
    """One run's phases in ms (calls of a label summed): the lines between t_start and t_end."""
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    by_pid: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for line in lines:
        label, pid, a, b = line.split()
        t0, t1 = int(a), int(b)
        if t_start <= t0 <= t_end and t1:
            spans[label].append((t0, t1))
            by_pid[label, pid].append((t0, t1))
    out = {label: sum(t1 - t0 for t0, t1 in s) / 1e6 for label, s in spans.items()}
    out.pop(CGROUP_JOIN, None)
    for (label, pid), s in by_pid.items():  # PID 1's: reset_signals' end to its unshare
        if label == CGROUP_JOIN and ("init.unshare", pid) in by_pid:
            joined = min(t1 for _, t1 in s)
            out[CGROUP_JOIN] = (min(t0 for t0, _ in by_pid["init.unshare", pid]) - joined) / 1e6
    become = [int(a) for label, _p, a, b in (ln.split() for ln in lines)
              if label == "init.become" and b == "0" and t_start <= int(a) <= t_end]
    if become and "start.launch" in spans:  # exec'd to "started" told to the caller
        out["monitor.exec_to_told"] = (spans["start.launch"][0][1] - max(become)) / 1e6
    out["total"] = (t_end - t_start) / 1e6
    return out


def profile(run: Callable[[], None], runs: int, path: str,
            between: Callable[[], None] = lambda: None) -> dict[str, dict[str, float]]:
    """Run `run` `runs` times under the timers: per label, the median ms and n. `between`
    runs after each, outside its span (what began then is not counted: a teardown after
    the exit was reported)."""
    per_run: list[dict[str, float]] = []
    with timers(path):
        for _ in range(runs):
            t0 = time.monotonic_ns()
            run()
            per_run.append({"_t0": t0, "_t1": time.monotonic_ns()})
            between()
    with open(path) as f:
        lines = f.read().splitlines()
    table: dict[str, list[float]] = defaultdict(list)
    for r in per_run:
        for label, ms in durations(lines, int(r["_t0"]), int(r["_t1"])).items():
            table[label].append(ms)
    order = [label for label, _, _ in TIMED] + ["monitor.exec_to_told", "total"]
    return {label: {"n": len(table[label]), "median_ms": median(table[label])}
            for label in order if table.get(label)}


def format_profile(prof: dict[str, dict[str, float]]) -> str:
    lines = [f"{'phase':<24} {'n':>4} {'median ms':>10}"]
    for label, s in prof.items():
        lines.append(f"{label:<24} {int(s['n']):>4} {s['median_ms']:>10.2f}")
    return "\n".join(lines)
