"""What a container's (full Python) monitor does at each event of its command's life: record
the start, restart by the policy, probe its health, tear down at the exit or a failed start.
Runtime builds them per start (Runtime._hooks); launcher calls them in the monitor process."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from runtime import health, launcher, ports
from runtime.attachments import Attachments, Plugged
from runtime.cgroups import Cgroup
from runtime.containers import Container, ContainerStore, now, process_start_time
from runtime.init import ProcessSpec
from runtime.options import RestartPolicy, restart_delay
from runtime.syscalls import Syscalls


def build(sc: Syscalls, c: Container, cg: Cgroup, plugged: Plugged, store: ContainerStore,
          attachments: Attachments, *, finish: Callable[[int], None], stop_marker: Path,
          probe_spec: ProcessSpec | None) -> launcher.MonitorHooks:
    """`finish(code)` tears down after the exit for good; `stop_marker` exists once a stop
    was asked for (no restart then); `probe_spec` runs the health check, None without one."""
    served = [False]

    def on_started(pid: int, namespaces: dict[str, int]) -> None:
        if not served[0]:  # once: a restarted command keeps the network and the proxies
            ports.serve(plugged.listeners, c.state.ip)
            served[0] = True
        c.state.status, c.state.pid, c.state.start_pending = "running", pid, False
        c.state.pid_start = process_start_time(pid)
        c.state.monitor_pid = os.getpid()
        c.state.monitor_start = process_start_time(os.getpid())
        c.state.started_at, c.state.namespaces = now(), namespaces
        store.save(c)

    def on_exited(code: int, _failed: bool) -> None:
        finish(code)

    def on_failed_start(_code: int, _message: str) -> None:
        cg.destroy()
        attachments.unplug(c, remove_anonymous=True)
        store.remove(c)

    policy = RestartPolicy.from_dict(c.config.restart_policy)
    backoff = [0.0]

    def stop_requested() -> bool:
        return stop_marker.exists()

    def next_delay(code: int, ran_for: float) -> float | None:
        if not policy.wants_restart(code, c.state.restart_count, stop_requested()):
            return None
        backoff[0] = restart_delay(backoff[0], ran_for)
        return backoff[0]

    def on_restarting(code: int) -> None:
        """Docker's `Restarting (1)`: the same container, cgroup, network and upper
        layer; RestartCount counts the runs after the first."""
        c.state.status, c.state.exit_code, c.state.finished_at = "restarting", code, now()
        c.state.restart_count += 1
        c.state.pid, c.state.pid_start = 0, 0
        store.save(c)

    check = health.Healthcheck.from_dict(c.config.healthcheck)
    hostname = c.config.hostname

    def prober(pid: int) -> launcher.Prober | None:
        if check is None or probe_spec is None:
            return None
        state = health.HealthState()

        def record(st: health.HealthState) -> None:
            c.state.health = st.to_dict()
            store.save(c)

        record(state)  # `starting`, from the first moment
        return launcher.Prober(
            check, state, c.state.started_at or now(),
            lambda out: launcher.spawn_in(sc, pid, probe_spec, hostname, cg.procs_paths(),
                                          False, out),
            record)

    return launcher.MonitorHooks(on_started, on_exited, on_failed_start,
                                 restart_delay=next_delay, on_restarting=on_restarting,
                                 stop_requested=stop_requested, prober=prober)
