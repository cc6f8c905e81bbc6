"""The session: the same workloads on every available target, interleaved, accounted and
written to one results document after every run (so an interrupted session keeps what
finished, and --resume continues it)."""

from __future__ import annotations

import random
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.machine import machine_metadata
from bench.model import ParseError, RunRecord, Variant, Workload
from bench.schedule import interleave, warmup_plan
from bench.targets import Job, Outcome, Target
from results import document
from runtime.api import Runtime

IMAGES_DIR = Path(__file__).parent / "images"
OUTPUT_KEPT = 4000  # characters of a failed run's output kept in the results


@dataclass(frozen=True)
class Profile:
    name: str
    repeat: int
    warmup: int
    seconds: int          # duration of each timed tool run
    startup_runs: int
    footprint_seconds: int
    density_containers: int
    density_vms: int
    vm_repeat: int          # a TCG boot takes ~20 s here: the VM gets fewer repetitions
    sample_hz: float = 10.0


# quick: 14 min 55 s here with 2 density VMs (2 cores, TCG, 13 boots of ~20 s): one VM
# fewer keeps it inside the 15 minutes `make bench` promises.
PROFILES = {
    "quick": Profile("quick", repeat=3, warmup=1, seconds=2, startup_runs=5,
                     footprint_seconds=8, density_containers=8, density_vms=1, vm_repeat=1),
    "full": Profile("full", repeat=10, warmup=2, seconds=10, startup_runs=30,
                    footprint_seconds=30, density_containers=40, density_vms=4, vm_repeat=5),
    # for the tests: everything once, as short as the tools allow
    "tiny": Profile("tiny", repeat=1, warmup=0, seconds=1, startup_runs=1,
                    footprint_seconds=2, density_containers=2, density_vms=1, vm_repeat=1),
}


def repetitions(profile: Profile, target: str, wanted: int) -> int:
    return min(wanted, profile.vm_repeat) if target == "vm" else wanted


def image_tag(name: str) -> str:
    return f"isobench-{name}"


class Harness:
    def __init__(self, rt: Runtime, targets: dict[str, Target], workloads: list[Workload],
                 profile: Profile, out: Path, *, doc: dict[str, Any] | None = None,
                 seed: int | None = None, argv: list[str] | None = None,
                 progress: Callable[[str], None] | None = None) -> None:
        self.rt = rt
        self.all_targets = targets
        self.workloads = workloads
        self.profile = profile
        self.out = out
        self.path = out / "results.json"
        self.seed = seed if seed is not None else random.randrange(1 << 31)
        self.progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))
        self.doc = doc
        self.argv = argv or []
        self.targets: dict[str, Target] = {}

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
        from runtime.image.builder import Builder

        names = sorted({w.image for w in self.workloads})
        builder = Builder(self.rt, out=lambda _line: None)
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
        self.doc["targets"] = self._availability()
        for w in self.workloads:
            document.declare_workload(self.doc, w)
        self.build_images()
        self._save()
        done = document.completed_keys(self.doc)
        try:
            self._command_workloads(done)
            from bench import scenarios

            for w in self.workloads:
                if not w.variants:
                    scenarios.run(w.name, self, done)
        except BaseException:
            document.finish(self.doc, complete=False)  # what finished is kept; --resume goes on
            self._save()
            raise
        document.finish(self.doc, complete=True)
        document.recompute_summary(self.doc)
        self._save()
        return self.doc

    def _save(self) -> None:
        document.write_atomic(self.path, self.doc)

    def record(self, rec: RunRecord) -> None:
        document.add_run(self.doc, rec)  # also refreshes that variant's summary
        self._save()

    def _command_workloads(self, done: set[tuple[str, str, str, int]]) -> None:
        variants = [(w, v) for w in self.workloads for v in w.variants]
        if not variants:
            return
        names = {v.name: (w, v) for w, v in variants}
        targets = list(self.targets)
        warm = [(v, t, r) for v, t, r in warmup_plan(targets, list(names),
                                                       self.profile.warmup, self.seed)
                if t != "vm"]  # a boot is its own warm-up
        plan = [(v, t, r) for v, t, r in interleave(targets, list(names),
                                                      self.profile.repeat, self.seed)
                if r < repetitions(self.profile, t, self.profile.repeat)]
        total = len(plan)
        started = time.monotonic()
        for variant_name, target, _rep in warm:
            w, v = names[variant_name]
            self.progress(f"warm-up {v.name} on {target}")
            self.execute(w, v, target, rep=-1)
        for index, (variant_name, target, rep) in enumerate(plan, 1):
            w, v = names[variant_name]
            if (w.name, v.name, target, rep) in done:
                continue
            eta = (time.monotonic() - started) / max(index - 1, 1) * (total - index + 1)
            self.progress(f"[{index}/{total}] {v.name} on {target} rep {rep + 1}"
                          f"{f'  ETA {eta:.0f}s' if index > 1 else ''}")
            self.record(self.execute(w, v, target, rep))

    def execute(self, w: Workload, v: Variant, target: str, rep: int) -> RunRecord:
        job = Job(image=image_tag(w.image), argv=v.argv(**self.placeholders(target)),
                  sample_hz=self.profile.sample_hz)
        return self.run_job(w.name, v.name, target, rep, job, v.parse)

    def placeholders(self, target: str) -> dict[str, Any]:
        import os

        return {"threads": os.cpu_count() or 1, "seconds": self.profile.seconds,
                "scratch": "{scratch}"}

    def run_job(self, workload: str, variant: str, target: str, rep: int, job: Job,
                parse: Callable[[str], dict[str, float]] | None,
                quiet: bool = False) -> RunRecord:
        """One run; `quiet` when a non-zero exit is the expected outcome (limits)."""
        rec = RunRecord(workload, variant, target, rep, ok=False, started_at=time.time())
        try:
            outcome = self.targets[target].run(job)
        except Exception as e:  # noqa: BLE001 - one failed run must not end the session
            rec.error = f"{type(e).__name__}: {e}"
            rec.output = traceback.format_exc()[-OUTPUT_KEPT:]
            self.progress(f"  failed: {rec.error}")
            return rec
        fill(rec, outcome)
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


def fill(rec: RunRecord, outcome: Outcome) -> None:
    rec.wall_s, rec.exit_code = outcome.wall_s, outcome.exit_code
    rec.accounting, rec.extra = outcome.accounting, outcome.extra


def as_dict(rec: RunRecord) -> dict[str, Any]:
    return asdict(rec)


def select(names: str | None, valid: Iterable[str], what: str) -> list[str]:
    valid = list(valid)
    if not names:
        return valid
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in valid]
    if unknown:
        from runtime.errors import InvalidArgument

        raise InvalidArgument(f"unknown {what}: {', '.join(unknown)} (valid: {', '.join(valid)})")
    return chosen
