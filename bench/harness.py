"""The session: the same workloads on every available target, interleaved, accounted and
written to one results document after every run (so an interrupted session keeps what
finished, and --resume continues it).

The harness schedules the workloads' command variants (interleaved across workloads and
targets, after a warm-up), runs and accounts each, and records every run; a workload that
drives the targets itself does so in its own `run`, given the harness as its `Session`
(bench/model.py). No workload is named here.
"""

from __future__ import annotations

import os
import random
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import contention, setup
from bench.machine import machine_metadata
from bench.model import ParseError, Parser, RunKey, RunRecord, Variant, Workload, image_tag
from bench.profiles import Profile
from bench.progress import LineProgress, SessionProgress, Unit
from bench.schedule import interleave, warmup_plan
from bench.targets import Job, Outcome, Target
from bench.targets.base import is_vm
from results import document
from runtime.api import Runtime
from runtime.errors import InvalidArgument
from runtime.image.builder import Builder
from runtime.image.store import DEFAULT_PATH
from runtime.limits import Limits, cpus_to_quota

IMAGES_DIR = Path(__file__).parent / "images"
OUTPUT_KEPT = 4000  # characters of a failed run's output kept in the results


class Harness:
    """One session; also the `Session` its workloads run in."""

    def __init__(self, rt: Runtime, targets: dict[str, Target], workloads: list[Workload],
                 profile: Profile, out: Path, *, doc: dict[str, Any] | None = None,
                 seed: int | None = None, argv: list[str] | None = None,
                 progress: Callable[[str], None] | SessionProgress | None = None,
                 cpu_limit: float | None = None, keep_contended: bool = False) -> None:
        """`progress`: a SessionProgress (the CLI's renderers), or a callback given every
        event as one line (default: stderr)."""
        self.rt = rt
        self.all_targets = targets
        self.workloads = workloads
        self.profile = profile
        self.out = out
        self.path = out / "results.json"
        self.seed = seed if seed is not None else random.randrange(1 << 31)
        if progress is None or not hasattr(progress, "planned"):
            progress = LineProgress(  # type: ignore[arg-type]
                progress or (lambda line: print(line, file=sys.stderr, flush=True)))
        self.events: SessionProgress = progress  # type: ignore[assignment]
        self.progress = self.events.step  # a workload's line: what happens now
        self.doc = doc
        self.argv = argv or []
        # `--cpus`: a CPU limit on the isolated targets' scheduled runs (native stays the
        # uncapped baseline); the guard counts it as what those runs asked for
        self.cpu_limit = cpu_limit
        self.keep_contended = keep_contended
        self.targets: dict[str, Target] = {}
        self.done: set[RunKey] = set()
        self.unit_ok = True  # every record of the unit running now was ok
        self._units: list[tuple[Workload, Unit, Variant | None]] = []  # this session's
        self._batched: set[RunKey] = set()  # recorded by a batch ahead of their own turn
        self._tools: dict[tuple[str, str], dict[str, Any]] = {}  # (image, tool) -> _tool's

    # ---- setup ----
    def _availability(self) -> dict[str, dict[str, Any]]:
        table = {}
        for name, target in self.all_targets.items():
            reason = target.unavailable()
            table[name] = {"available": reason is None, "reason": reason or ""}
            if reason is None:
                self.targets[name] = target
            else:
                self.progress(f"target {name} skipped: {reason}")
        return table

    def build_images(self) -> None:
        names = sorted({w.image for w in self.workloads})
        builder = Builder(self.rt, progress=self.events.build())
        for name in names:
            self.progress(f"building image {image_tag(name)} (cached after the first time)")
            builder.build(IMAGES_DIR / name, tag=image_tag(name))

    def _document(self) -> dict[str, Any]:
        if self.doc is not None:
            return self.doc
        return document.new_document(profile=self.profile.name, argv=self.argv,
                                     repeat=self.profile.repeat, seed=self.seed,
                                     machine=machine_metadata(self._acceleration()))

    def _acceleration(self) -> dict[str, Any]:
        if "vm" not in self.all_targets:
            return {"mode": None, "reason": "no vm target"}
        try:
            from vm import accel

            decision = accel.choose("auto")
            return {"mode": decision.mode, "reason": decision.reason}
        except Exception as e:  # noqa: BLE001 - a host without libvirt still benchmarks
            return {"mode": None, "reason": f"not probed: {e}"}

    # ---- the session ----
    def run(self) -> dict[str, Any]:
        self.out.mkdir(parents=True, exist_ok=True)
        self.doc = self._document()
        self.doc["session"]["keep_contended"] = self.keep_contended
        self.doc["targets"] = self._availability()
        for w in self.workloads:
            document.declare_workload(self.doc, w)
        self.done = document.completed_keys(self.doc)
        cpu0, wall0 = time.process_time(), time.monotonic()
        units = self.units()
        self._units = units
        self.events.planned(len(units))
        self._record_skips()
        try:
            self.build_images()
            self._save()
            for w, unit, variant in units:
                self._run_unit(w, unit, variant)
            for w in self.workloads:
                if w.units(self) is None:  # a plug-in that runs itself, uncounted
                    w.run(self)
        except BaseException:
            self._harness_cost(cpu0, wall0)
            document.finish(self.doc, complete=False)  # what finished is kept; --resume goes on
            self._save()
            raise
        finally:
            self.events.close()
        self._harness_cost(cpu0, wall0)
        document.finish(self.doc, complete=True)
        document.recompute_summary(self.doc)
        self._save()
        return self.doc

    def _tool(self, job: Job) -> dict[str, Any]:
        """The command's tool as the targets see it (the same image's files on each: see
        setup.image_tool), looked up once per image and tool."""
        key = (job.image, job.argv[0])
        if key not in self._tools:
            image = self.rt.image(job.image)
            path = next((e.split("=", 1)[1] for e in reversed(image.config.Env or [])
                         if e.startswith("PATH=")), DEFAULT_PATH)
            self._tools[key] = setup.image_tool(self.rt.images.lower_dirs(image), path,
                                                job.argv[0])
        return dict(self._tools[key])

    def _harness_cost(self, cpu0: float, wall0: float) -> None:
        """The harness's own CPU over this invocation (every thread of this process: the
        samplers, the contention guard, the bookkeeping); not its children, which are the
        targets' or the tools' and accounted in their cgroups."""
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        self.doc["session"]["harness"] = {"cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
                                          "cpu_fraction": cpu / wall if wall else None}

    def units(self) -> list[tuple[Workload, Unit, Variant | None]]:
        """Every unit of the session, in the order it runs: the scheduled variants'
        warm-ups and runs, then each workload's own (a scheduled unit with its Variant)."""
        units = self._scheduled_units()
        for w in self.workloads:
            units += [(w, u, None) for u in w.units(self) or []]
        return units

    def _run_unit(self, w: Workload, unit: Unit, variant: Variant | None) -> None:
        self.events.started(unit)
        self.unit_ok = True
        if variant is None:
            w.run_unit(self, unit)
        elif unit.rep < 0:
            self.unit_ok = self.run_variant(w, variant, unit.target, rep=-1).ok
        elif self.targets[unit.target].batches:
            self._run_batched(w, variant, unit)
        else:
            self.record(self.run_variant(w, variant, unit.target, unit.rep))
        self.events.finished(unit, self.unit_ok)

    def _run_batched(self, w: Workload, v: Variant, unit: Unit) -> None:
        """A target that batches (the VM: one boot) runs its cell's repetitions together at
        the first one's turn in the interleaved order; the cell's later units find theirs
        recorded already (they still count: the records equal the units)."""
        if (w.name, v.name, unit.target, unit.rep) in self._batched:
            return
        reps = [u.rep for _, u, uv in self._units
                if uv is v and u.target == unit.target and u.rep >= 0]
        self.progress(f"{v.name} on {unit.target} reps "
                      f"{', '.join(str(r + 1) for r in reps)} in one boot")
        for rec in self.run_variant_batch(w, v, unit.target, reps):
            self.record(rec)
            self._batched.add((w.name, v.name, unit.target, rec.repetition))

    def _save(self) -> None:
        document.write_atomic(self.path, self.doc)

    def record(self, rec: RunRecord) -> None:
        self.unit_ok = self.unit_ok and rec.ok
        document.add_run(self.doc, rec)  # also refreshes that variant's summary
        self._save()

    def plan(self, variants: Sequence[str], repetitions: int,
             targets: Sequence[str] | None = None) -> list[tuple[str, str, int]]:
        return interleave(targets or list(self.targets), variants, repetitions, self.seed)

    def cannot_run(self, v: Variant, target: str) -> str | None:
        """Why `target` cannot run `v` in the setup it asks for (its scratch kind), or None."""
        return self.targets[target].cannot_run(v.scratch) if v.needs_scratch else None

    def _record_skips(self) -> None:
        """Each scheduled variant a target cannot run as asked: in the results with its
        reason and said once, not run (and never swapped for another setup)."""
        for w in self.workloads:
            skips = [(v.name, target, reason) for v in w.scheduled_variants()
                     for target in self.targets
                     if (reason := self.cannot_run(v, target)) is not None]
            for variant, target, reason in skips + w.skips(list(self.targets)):
                document.skip_variant(self.doc, w.name, variant, target, reason)
                self.progress(f"{variant} on {target} skipped: {reason}")

    def _scheduled_units(self) -> list[tuple[Workload, Unit, Variant | None]]:
        """The command variants' warm-ups (not on the VM: a boot is its own warm-up) and
        measured runs, interleaved across workloads and targets."""
        variants = [(w, v) for w in self.workloads for v in w.scheduled_variants()]
        if not variants:
            return []
        names = {v.name: (w, v) for w, v in variants}
        targets = list(self.targets)
        units: list[tuple[Workload, Unit, Variant | None]] = []
        for name, target, _round in warmup_plan(targets, list(names), self.profile.warmup,
                                                self.seed):
            w, v = names[name]
            if not is_vm(target) and self.cannot_run(v, target) is None:
                units.append((w, Unit(w.name, name, target, -1, self.profile.warmup), v))
        for name, target, rep in self.plan(list(names), self.profile.repeat):
            w, v = names[name]
            if self.cannot_run(v, target) is not None:
                continue  # listed as skipped, with its reason (_record_skips)
            reps = self.profile.repetitions(target, self.profile.repeat,
                                            shared=self.targets[target].batches)
            if rep < reps and (w.name, name, target, rep) not in self.done:
                units.append((w, Unit(w.name, name, target, rep, reps), v))
        return self._batches_together(units)

    def _batches_together(self, units: list[tuple[Workload, Unit, Variant | None]]
                          ) -> list[tuple[Workload, Unit, Variant | None]]:
        """A batching target's cell runs all its repetitions at its first unit's turn; its
        later units only find theirs recorded. They are moved up right behind that first
        one, so the progress counter and its ETA advance by the whole batch at once, not
        by one unit of a batch's time followed, much later, by instant ones. What runs, and
        when, is unchanged."""
        groups: list[list[tuple[Workload, Unit, Variant | None]]] = []
        cells: dict[tuple[str, str, str], list[tuple[Workload, Unit, Variant | None]]] = {}
        for entry in units:
            unit = entry[1]
            if unit.rep < 0 or not self.targets[unit.target].batches:
                groups.append([entry])
                continue
            key = (unit.workload, unit.variant, unit.target)
            if key not in cells:
                cells[key] = []
                groups.append(cells[key])
            cells[key].append(entry)
        return [entry for group in groups for entry in group]

    def run_variant(self, w: Workload, v: Variant, target: str, rep: int) -> RunRecord:
        """One command variant on one target (rep -1: a warm-up, not recorded).

        A run the contention guard finds contended is run again, at most RERUNS times; the
        last attempt is kept, flagged when it is still contended."""
        job, cpu_threads = self._job(w, v, target)
        for attempt in range(1 + contention.RERUNS):
            rec = self.run_job(w.name, v.name, target, rep, job, v.parse, threads=cpu_threads)
            if rec.contention is not None:
                rec.contention["attempts"] = attempt + 1
            if not rec.contended or rep < 0:
                break
            self.progress(f"  contended ({'; '.join(rec.contention['reasons'])})"  # type: ignore[index]
                          + (": again" if attempt < contention.RERUNS else ": kept, flagged"))
        work_per_cpu(rec, v, self.profile.seconds)
        return rec

    def _job(self, w: Workload, v: Variant, target: str) -> tuple[Job, int | None]:
        """The variant's job on `target`, and the CPUs it keeps busy (None: not judged)."""
        threads = os.cpu_count() or 1
        values = {"threads": threads, "seconds": self.profile.seconds, "scratch": "{scratch}"}
        limits = None
        if self.cpu_limit is not None and target != document.NATIVE:
            limits = Limits(cpu_quota_us=cpus_to_quota(self.cpu_limit))
        job = Job(image=image_tag(w.image), argv=v.argv(**values), limits=limits,
                  sample_hz=self.profile.sample_hz, scratch=v.scratch)
        cpu_threads = (int(v.cpu_threads.format(**values))
                       if v.cpu_threads is not None and not is_vm(target) else None)
        return job, cpu_threads

    def run_variant_batch(self, w: Workload, v: Variant, target: str, reps: list[int]
                          ) -> list[RunRecord]:
        """`reps` of one variant in one instance of `target` (after the profile's warm-up
        in that instance), each read on its own window. The contended ones are run again,
        together in a fresh instance, at most RERUNS times; the last attempt is kept."""
        job, threads = self._job(w, v, target)
        kept: dict[int, RunRecord] = {}
        pending = list(reps)
        for attempt in range(1 + contention.RERUNS):
            started = time.time()
            try:
                outcomes = self.targets[target].run_batch(job, len(pending),
                                                          self.profile.warmup)
            except Exception as e:  # noqa: BLE001 - one failed boot must not end the session
                for rep in pending:
                    rec = RunRecord(w.name, v.name, target, rep, ok=False, started_at=started)
                    kept[rep] = _failed(rec, e, self.progress if rep == pending[0] else None)
                break
            for rep, outcome in zip(pending, outcomes, strict=True):
                rec = RunRecord(w.name, v.name, target, rep, ok=False,
                                started_at=outcome.started_at or started)
                self._read(rec, outcome, job, v.parse, threads=threads)
                if rec.contention is not None:
                    rec.contention["attempts"] = attempt + 1
                kept[rep] = rec
            pending = [r for r in pending if kept[r].contended]
            if not pending:
                break
            self.progress(f"  reps {', '.join(str(r + 1) for r in pending)} contended"
                          + (": again" if attempt < contention.RERUNS else ": kept, flagged"))
        for rec in kept.values():
            work_per_cpu(rec, v, self.profile.seconds)
        return [kept[r] for r in reps]

    def run_job(self, workload: str, variant: str, target: str, rep: int, job: Job,
                parse: Parser | None, quiet: bool = False, threads: int | None = None
                ) -> RunRecord:
        """One run, with the contention guard's reading; `quiet` when a non-zero exit is the
        expected outcome (limits); `threads` the CPUs a CPU-bound run keeps busy."""
        rec = RunRecord(workload, variant, target, rep, ok=False, started_at=time.time())
        if is_vm(target):
            self.progress(f"booting a VM for {variant}")
        try:
            outcome = self.targets[target].run(job)
        except Exception as e:  # noqa: BLE001 - one failed run must not end the session
            return _failed(rec, e, self.progress)
        return self._read(rec, outcome, job, parse, quiet, threads)

    def _read(self, rec: RunRecord, outcome: Outcome, job: Job, parse: Parser | None,
              quiet: bool = False, threads: int | None = None) -> RunRecord:
        """The outcome into `rec`: the contention guard's reading, the parsed metrics."""
        fill(rec, outcome)
        rec.extra["setup"] = setup.describe(rec.target, job,
                                            self.rt.root if self.rt is not None else None,
                                            reps_per_boot=outcome.reps_per_boot)
        if self.rt is not None and job.argv:
            rec.extra["setup"]["tool"] = self._tool(job)
        cap = job.limits.cpu_quota_us / job.limits.cpu_period_us \
            if job.limits and job.limits.cpu_quota_us else None
        # A VM's whole-boot window holds QEMU's CPU from before it joined our cgroup in the
        # "others" (recorded, not judged); a shared boot's repetition is read between marks
        # with QEMU long in the cgroup, so its others are judged as a container's.
        judge_others = not is_vm(rec.target) or "shared_boot" in outcome.extra
        reading = contention.assess(outcome.accounting, threads, cap,
                                    judge_others=judge_others)
        if reading is not None:
            rec.contention, rec.contended = reading.as_dict(), reading.contended
        if outcome.exit_code != 0:
            rec.error = f"exit code {outcome.exit_code}"
        elif parse is not None:
            try:
                rec.metrics = parse(outcome.stdout)
                rec.ok = True
            except ParseError as e:
                rec.error = f"output did not parse: {e}"
        else:
            rec.ok = True
        if not rec.ok:
            rec.output = (outcome.stdout + outcome.stderr)[-OUTPUT_KEPT:]
            if not quiet:
                self.progress(f"  failed: {rec.error}")
        return rec


def work_per_cpu(rec: RunRecord, v: Variant, seconds: float) -> None:
    """events_per_cpu_s: the events sysbench did per CPU-second its cgroup received, beside
    events_per_s: what each target does with the CPU it got, whatever share of the machine
    that was. Not for the VM: QEMU's CPU includes the boot and the emulation."""
    if not rec.ok or not v.work_per_cpu or is_vm(rec.target):
        return
    rate = rec.metrics.get("events_per_s")
    received = (rec.contention or {}).get("received_cpu_s")
    rec.metrics["events_per_cpu_s"] = \
        rate * seconds / received if rate is not None and received else None


def fill(rec: RunRecord, outcome: Outcome) -> None:
    rec.wall_s, rec.exit_code = outcome.wall_s, outcome.exit_code
    rec.accounting, rec.extra = outcome.accounting, outcome.extra
    rec.reps_per_boot = outcome.reps_per_boot


def _failed(rec: RunRecord, e: Exception, progress: Callable[[str], None] | None) -> RunRecord:
    rec.error = f"{type(e).__name__}: {e}"
    rec.output = traceback.format_exc()[-OUTPUT_KEPT:]
    if progress is not None:
        progress(f"  failed: {rec.error}")
    return rec


def as_dict(rec: RunRecord) -> dict[str, Any]:
    return asdict(rec)


def select(names: str | None, valid: Iterable[str], what: str) -> list[str]:
    valid = list(valid)
    if not names:
        return valid
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in valid]
    if unknown:
        raise InvalidArgument(f"unknown {what}: {', '.join(unknown)} (valid: {', '.join(valid)})")
    return chosen
