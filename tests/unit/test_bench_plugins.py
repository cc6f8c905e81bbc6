"""Targets and workloads as plug-ins: every workload declares its variants and metrics, and
the harness runs a workload it has never heard of (command variants scheduled and parsed,
anything else through the workload's own `run`), naming none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import workloads
from bench.harness import Harness
from bench.model import Session, Variant, Workload
from bench.profiles import PROFILES
from bench.targets import Job, Outcome, Target
from results import document
from results.metrics import Metric

MACHINE: dict[str, Any] = {
    "cpu_model": "Test CPU", "cores": 2, "memory_bytes": 8 * 2**30, "kernel": "6.1.0-test",
    "distribution": "Debian GNU/Linux 12 (bookworm)", "cgroup_mode": "hybrid",
    "acceleration": {"mode": None, "reason": "no vm target"}, "versions": {"python": "3.11"},
}


@pytest.mark.parametrize("name", workloads.names())
def test_every_workload_declares_variants_and_their_metrics(name: str) -> None:
    w = workloads.get(name)
    assert w.variants and all(v.metrics for v in w.variants)
    for v in w.variants:
        assert v.name.startswith(f"{name}.")
        assert len({m.name for m in v.metrics}) == len(v.metrics)
        assert all(m.better in ("higher", "lower", None) for m in v.metrics)


def test_the_document_declares_only_metrics_with_a_direction() -> None:
    block = document.workload_block(workloads.get("limits"))
    assert block == {"variants": {"limits.cpu_half": {"metrics": {}},
                                  "limits.memory_64m": {"metrics": {}}}}
    startup = document.workload_block(workloads.get("startup"))["variants"]
    assert startup["startup.cli"] == {"metrics": {
        "launch_to_exit_ms": {"unit": "ms", "better": "lower"}}}


class Echo(Target):
    """Runs nothing: prints the job's argv back."""

    name = "native"

    def __init__(self) -> None:
        self.jobs: list[Job] = []

    def run(self, job: Job) -> Outcome:
        self.jobs.append(job)
        return Outcome(0, " ".join(job.argv), "", 0.25)


class Made(Workload):
    """A workload the harness has never heard of: one command variant, one of its own."""

    def run(self, session: Session) -> None:
        for target in session.targets:
            if ("made", "made.own", target, 0) in session.done:
                continue
            session.progress(f"made up on {target}")
            rec = session.run_job("made", "made.own", target, 0, Job("x", ["own"]), None)
            rec.metrics = {"own_ms": rec.wall_s * 1000}
            session.record(rec)


MADE = Made("made", "bench", (
    Variant("made.cmd", ("count", "{seconds}"), lambda out: {"n": float(out.split()[1])},
            (Metric("n", "", "higher", "made: a count"),)),
    Variant("made.own", metrics=(Metric("own_ms", "ms", "lower", "made: its own timing"),
                                 Metric("k", "", None, "made: not a cost"))),
))


def harness(tmp_path: Path, target: Target, said: list[str],
            doc: dict[str, Any] | None = None) -> Harness:
    doc = doc or document.new_document(profile="tiny", argv=[], repeat=1, seed=0,
                                      machine=MACHINE)
    h = Harness(None, {"native": target}, [MADE], PROFILES["tiny"], tmp_path,  # type: ignore[arg-type]
                doc=doc, seed=1, progress=said.append)
    h.build_images = lambda: None  # type: ignore[method-assign]
    return h


def test_the_harness_runs_a_workload_it_does_not_know(tmp_path: Path) -> None:
    target, said = Echo(), []
    doc = harness(tmp_path, target, said).run()
    assert [j.argv for j in target.jobs] == [["count", "1"], ["own"]]
    assert target.jobs[0].image == "isobench-bench"
    runs = {r["variant"]: r for r in doc["runs"]}
    assert runs["made.cmd"]["metrics"] == {"n": 1.0} and runs["made.cmd"]["ok"]
    assert runs["made.own"]["metrics"] == {"own_ms": 250.0}
    assert doc["workloads"]["made"] == {"variants": {
        "made.cmd": {"metrics": {"n": {"unit": "", "better": "higher"}}},
        "made.own": {"metrics": {"own_ms": {"unit": "ms", "better": "lower"}}}}}
    assert doc["session"]["complete"] is True
    assert said == ["[1/1] made.cmd native rep 1/1", "made up on native"]
    assert document.load(tmp_path / "results.json") == doc


def test_resume_skips_what_a_workload_finds_done(tmp_path: Path) -> None:
    first, said = Echo(), []
    doc = harness(tmp_path, first, said).run()
    again = Echo()
    harness(tmp_path, again, said, doc=doc).run()
    assert again.jobs == []


def test_a_failed_run_of_a_command_variant_is_recorded_not_raised(tmp_path: Path) -> None:
    class Broken(Echo):
        def run(self, job: Job) -> Outcome:
            raise OSError(5, "I/O error")

    said: list[str] = []
    doc = harness(tmp_path, Broken(), said).run()
    failed = [r for r in doc["runs"] if not r["ok"]]
    assert len(failed) == 2 and "  failed: OSError: [Errno 5] I/O error" in said


LAYERED = Workload("layered", "bench", (
    Variant("layered.volume", ("write", "{scratch}"), lambda out: {"n": 1.0},
            (Metric("n", "", "higher", "layered: a count"),), needs_scratch=True),
    Variant("layered.layer", ("write", "{scratch}"), lambda out: {"n": 1.0},
            (Metric("n", "", "higher", "layered: a count"),), needs_scratch=True,
            scratch="layer"),
))


def test_a_variant_a_target_cannot_run_as_asked_is_skipped_with_its_reason(
        tmp_path: Path) -> None:
    """Issue 15: a target that cannot give a variant its setup (the VM has no container layer)
    skips it: the reason in the results and said once, the variant never run there, nor run
    in another setup; the same variant still runs on a target that can."""
    class NoLayer(Echo):
        name = "vm"

        def cannot_run(self, scratch: str) -> str | None:
            return "no container layer here" if scratch == "layer" else None

    native, vm, said = Echo(), NoLayer(), []
    doc = document.new_document(profile="tiny", argv=[], repeat=1, seed=0, machine=MACHINE)
    h = Harness(None, {"native": native, "vm": vm}, [LAYERED], PROFILES["tiny"],  # type: ignore[arg-type]
                tmp_path, doc=doc, seed=1, progress=said.append)
    h.build_images = lambda: None  # type: ignore[method-assign]
    doc = h.run()
    assert [j.scratch for j in vm.jobs] == ["volume"]  # never the layer one, in any setup
    assert sorted(j.scratch for j in native.jobs if j.argv) == ["layer", "volume"]
    assert doc["workloads"]["layered"]["variants"]["layered.layer"]["skipped"] == \
        {"vm": "no container layer here"}
    assert "skipped" not in doc["workloads"]["layered"]["variants"]["layered.volume"]
    assert document.skipped(doc) == [("layered", "layered.layer", "vm",
                                      "no container layer here")]
    assert said.count("layered.layer on vm skipped: no container layer here") == 1
    assert not [r for r in doc["runs"] if r["target"] == "vm" and r["variant"] ==
                "layered.layer"]
    assert document.load(tmp_path / "results.json") == doc  # the schema takes it


def test_net_lists_the_placements_a_target_does_not_have_as_skipped() -> None:
    """net.hostnet is the container's alone, net.usernet the VM's: runc and the VM are not
    silently absent from those rows, each says why."""
    from bench.workloads import net

    skips = {(v, t): reason for v, t, reason in net.WORKLOAD.skips(
        ["native", "container", "runc", "vm"])}
    placed = {(v, t) for v, t, _ in net.NET_PLACEMENTS}
    assert not any(t == "native" for _, t in skips)
    assert ("net.hostnet", "runc") in skips and ("net.usernet", "container") in skips
    assert skips[("net.hostnet", "vm")].startswith("only a container shares the host's")
    assert set(skips).isdisjoint(placed)
    assert set(skips) | placed >= {(v.name, t) for v in net.WORKLOAD.variants
                                   for t in ("container", "runc", "vm")}
