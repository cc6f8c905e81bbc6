"""The `container` target: isobench's own runtime, the workload's image, --network none; a
command's scratch area is a volume on the host disk, or (a "layer" job) a directory of the
container's own root, so its writes land in the overlay's upper directory."""

from __future__ import annotations

import secrets
import time

from bench.collectors import MemoryProbe, Sampler, cgroup_reader, sample_reader
from bench.targets.base import LAYER_SCRATCH, SCRATCH, TIMEOUT_EXIT, Job, Outcome, Target
from runtime.cgroups import open_cgroup
from runtime.containers import ContainerState, is_alive
from runtime.limits import Limits
from runtime.spec import ContainerSpec


class ContainerTarget(Target):
    name = "container"

    def unavailable(self) -> str | None:
        return self.cgroup_problem()

    def run(self, job: Job) -> Outcome:
        layer = job.scratch == "layer"
        volume = f"bench-scratch-{secrets.token_hex(6)}" \
            if job.wants_scratch and not layer else None
        argv = job.command(LAYER_SCRATCH if layer else SCRATCH)
        c = self.rt.create(ContainerSpec(job.image, argv, network="none",
                                         limits=job.limits or Limits(),
                                         volumes=[f"{volume}:{SCRATCH}"] if volume else []))
        try:
            t0 = time.perf_counter()
            cg = open_cgroup(c.cgroup)
            with Sampler(cgroup_reader(cg), job.sample_hz, sample_reader(cg)) as sampler:
                self.rt.start(c, attach=False)
                probe = MemoryProbe(lambda: self.rt.get(c.id).state.monitor_pid).start() \
                    if job.process_memory else None
                code = self.rt.wait(c.id, timeout=job.timeout)
                if code is None:
                    left = self.rt.get(c.id).state
                    if left.status != "running" or not is_alive(left.monitor_pid,
                                                                left.monitor_start):
                        # not a timeout: the monitor is gone and nobody recorded the exit
                        raise RuntimeError(
                            f"the container's monitor ended without recording an exit "
                            f"(status {left.status}{': ' + left.error if left.error else ''})")
                    self.rt.kill(c.id)
                    code = TIMEOUT_EXIT
                wall = time.perf_counter() - t0
                record = self.rt.get(c.id)
                accounting = sampler.finish(record.state.stats)
                accounting.instance = instance_window(record.state)
            streams: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
            for stream, data in self.rt.logs(c.id):
                streams[stream].append(data)
            out, err = b"".join(streams["stdout"]), b"".join(streams["stderr"])
            extra: dict[str, object] = {"oom_killed": record.state.oom_killed}
            if probe is not None:
                extra["monitor_memory"] = probe.finish()
            return Outcome(code, out.decode(errors="replace"), err.decode(errors="replace"),
                           wall, accounting.to_dict(), extra)
        finally:
            try:
                self.rt.remove(c.id, force=True, volumes=True)
            finally:
                if volume:
                    self.rt.volumes.remove(volume, users=[])


def instance_window(state: ContainerState) -> dict[str, float]:
    """What the contention guard needs beyond the sampler's window, which holds the start
    and the teardown too: the command's own lifetime (exec to exit), and the CPU the
    container's monitor used outside the cgroup (its setup, relay and teardown)."""
    window: dict[str, float] = {}
    if state.started_at is not None and state.finished_at is not None:
        window["command_s"] = max(0.0, state.finished_at - state.started_at)
    if state.monitor_cpu_s is not None:
        window["launcher_cpu_s"] = state.monitor_cpu_s
    return window
