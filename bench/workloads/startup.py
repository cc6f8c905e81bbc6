"""startup: launch-to-exit of /bin/true (container: Python API and CLI; runc; VM), and
launch-to-first-output of `echo` (container API, runc; a VM's boot)."""

from __future__ import annotations

import subprocess
import time

from bench import setup
from bench.model import RunRecord, Session, Variant, Workload
from bench.progress import Unit
from bench.targets import Job
from bench.targets.base import is_vm
from bench.timers import StdoutTimer
from bench.workloads.common import BUSYBOX, ISOBENCH, cli_env
from results.metrics import named
from runtime.spec import ContainerSpec

FIRST_OUTPUT = ["echo", "isobench"]
VARIANTS = (
    Variant("startup.true", metrics=named("launch_to_exit_ms", "boot_to_first_output_ms")),
    Variant("startup.cli", metrics=named("launch_to_exit_ms")),
    Variant("startup.first_output",
            metrics=named("launch_to_first_output_ms", "launch_to_exit_ms")),
)


class Startup(Workload):
    def units(self, session: Session) -> list[Unit]:
        reps = session.profile.startup_runs
        # Each is a ~20 s TCG boot here: two in the quick profile (its 15 minutes also hold
        # the VM's net, density and CPU-cap boots), the profile's VM repetitions where more.
        vm_reps = min(reps, max(2, session.profile.vm_repeat))
        units = [Unit("startup", variant, target, rep, vm_reps if is_vm(target) else reps)
                 for variant, target, rep in session.plan(["startup.true"], reps)
                 if not (is_vm(target) and rep >= vm_reps)]
        if "container" in session.targets:
            units += [Unit("startup", "startup.cli", "container", rep, reps)
                      for rep in range(reps)]
        first_output_targets = [t for t in ("container", "runc") if t in session.targets]
        if first_output_targets:
            units += [Unit("startup", variant, target, rep, reps) for variant, target, rep
                      in session.plan(["startup.first_output"], reps, first_output_targets)]
        return [u for u in units
                if ("startup", u.variant, u.target, u.rep) not in session.done]

    def run_unit(self, session: Session, unit: Unit) -> None:
        if unit.variant == "startup.true":
            session.record(_launch_to_exit(session, unit.variant, unit.target, unit.rep))
        elif unit.variant == "startup.cli":
            session.record(_container_cli_start(session, unit.rep))
        elif unit.target == "container":
            session.record(_container_api_first_output(session, unit.rep))
        else:
            session.record(_runc_first_output(session, unit.variant, unit.target, unit.rep))


def _launch_to_exit(session: Session, variant: str, target: str, rep: int) -> RunRecord:
    if target == "container":
        return _container_api_start(session, rep)
    if not is_vm(target):
        return _timed(session, variant, target, rep, Job(BUSYBOX, ["true"], sample_hz=0))
    # `echo`, not `true`: the same one exec in a 20 s boot, and its line on the channel
    # times the boot to first output in the same run.
    rec = _timed(session, variant, target, rep, Job(BUSYBOX, FIRST_OUTPUT, sample_hz=0))
    first = (rec.extra.get("timings") or {}).get("first_output_s")
    if rec.ok and first is not None:
        rec.metrics["boot_to_first_output_ms"] = first * 1000
        rec.extra["command"] = " ".join(FIRST_OUTPUT)
    return rec


def _timed(session: Session, variant: str, target: str, rep: int, job: Job) -> RunRecord:
    rec = session.run_job("startup", variant, target, rep, job, None)
    if rec.ok:
        rec.metrics = {"launch_to_exit_ms": rec.wall_s * 1000}
    return rec


def _runc_first_output(session: Session, variant: str, target: str, rep: int) -> RunRecord:
    job = Job(BUSYBOX, FIRST_OUTPUT, sample_hz=0)
    rec = session.run_job("startup", variant, target, rep, job, None)
    first = rec.extra.get("first_output_s")
    if rec.ok and first is None:
        rec.ok, rec.error = False, "no output seen"
    if rec.ok:
        rec.metrics = {"launch_to_first_output_ms": first * 1000,
                       "launch_to_exit_ms": rec.wall_s * 1000}
        rec.extra["path"] = "runc run, first byte on its stdout pipe"
    return rec


def _container_api_start(session: Session, rep: int) -> RunRecord:
    rec = RunRecord("startup", "startup.true", "container", rep, ok=False, started_at=time.time())
    t0 = time.perf_counter()
    try:
        result = session.rt.run(ContainerSpec(BUSYBOX, ["true"], network="none",
                                              auto_remove=True))
    except Exception as e:  # noqa: BLE001
        rec.error = str(e)
        return rec
    rec.wall_s = time.perf_counter() - t0
    rec.exit_code, rec.ok = result.exit_code, result.exit_code == 0
    rec.metrics = {"launch_to_exit_ms": rec.wall_s * 1000}
    rec.extra = {"path": "python API, fully isolated, --network none",
                 "setup": setup.block("container", timer="Runtime.run of a --rm container "
                                      "(create, start, wait, remove) in this process")}
    return rec


def _container_api_first_output(session: Session, rep: int) -> RunRecord:
    rec = RunRecord("startup", "startup.first_output", "container", rep, ok=False,
                    started_at=time.time())
    try:
        with StdoutTimer() as timer:
            t0 = time.perf_counter()
            result = session.rt.run(ContainerSpec(BUSYBOX, FIRST_OUTPUT, network="none",
                                                  auto_remove=True))
            rec.wall_s = time.perf_counter() - t0
    except Exception as e:  # noqa: BLE001
        rec.error = str(e)
        return rec
    rec.exit_code = result.exit_code
    if result.exit_code != 0 or timer.first is None:
        rec.error = f"exit code {result.exit_code}, output {bytes(timer.data)[:200]!r}"
        return rec
    rec.ok = True
    rec.metrics = {"launch_to_first_output_ms": (timer.first - t0) * 1000,
                   "launch_to_exit_ms": rec.wall_s * 1000}
    rec.extra = {"path": "python API, attached, fully isolated, --network none; first byte "
                         "of the monitor's relay on our stdout (a pipe)",
                 "setup": setup.block("container", timer="Runtime.run, attached → the first "
                                      "byte relayed to our stdout (a pipe), and → exit")}
    return rec


def _container_cli_start(session: Session, rep: int) -> RunRecord:
    rec = RunRecord("startup", "startup.cli", "container", rep, ok=False, started_at=time.time())
    t0 = time.perf_counter()
    proc = subprocess.run([ISOBENCH, "run", "--rm", "--network", "none", BUSYBOX, "true"],
                          env=cli_env(session.rt), capture_output=True, text=True)
    rec.wall_s = time.perf_counter() - t0
    rec.exit_code, rec.ok = proc.returncode, proc.returncode == 0
    rec.metrics = {"launch_to_exit_ms": rec.wall_s * 1000} if rec.ok else {}
    rec.error = proc.stderr.strip()[-500:] if not rec.ok else ""
    rec.extra = {"setup": setup.block("container", timer="`isobench run --rm --network none` "
                                      "launched → its exit (Python's start and imports "
                                      "included: run by the CLI itself, not by "
                                      "`isobench daemon`)")}
    return rec


WORKLOAD = Startup(
    "startup", "bench", VARIANTS,
    "launch-to-exit of /bin/true and launch-to-first-output: containers through the runtime's "
    "Python API and through the CLI, runc with `runc run`, VMs through libvirt.")
