"""results/document.py: the document, its schema, atomic writes, resume keys and the
summary."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bench.model import RunRecord, Variant, Workload
from results import document
from results.errors import ResultsError
from results.metrics import Metric, named

MACHINE: dict[str, Any] = {
    "cpu_model": "Intel(R) Xeon(R) CPU @ 2.20GHz", "cores": 2, "memory_bytes": 25 * 2**30,
    "kernel": "6.1.0-27-amd64", "distribution": "Debian GNU/Linux 12 (bookworm)",
    "cgroup_mode": "hybrid", "acceleration": {"mode": "tcg", "reason": "KVM vCPU never ran"},
    "versions": {"python": "3.11.2", "runc": "1.1.5", "qemu": None},
}

CPU = Workload("cpu", "sysbench", (
    Variant("cpu.single", ("sysbench", "cpu", "run"), lambda out: {},
            (*named("events_per_s"), Metric("latency_ms", "ms", "lower", "a test's own"))),
))


def _run(target: str, rep: int, eps: float | None, *, ok: bool = True,
         variant: str = "cpu.single") -> RunRecord:
    metrics = {} if eps is None else {"events_per_s": eps}
    return RunRecord(workload="cpu", variant=variant, target=target, repetition=rep, ok=ok,
                     metrics=metrics, wall_s=1.5, exit_code=0 if ok else 1,
                     error="" if ok else "no events line", output="" if ok else "garbage",
                     accounting={"cpu_ns": {"start": 0, "end": 10}}, started_at=1.7e9 + rep)


def make_doc() -> dict[str, Any]:
    doc = document.new_document(
        profile="quick", argv=["isobench", "bench", "--profile", "quick"], repeat=3, seed=0,
        machine=MACHINE, workloads=[CPU], session_id="s1", started_at="2026-11-28T10:00:00Z",
        targets={"native": {"available": True, "reason": ""},
                 "container": {"available": True, "reason": ""},
                 "vm": {"available": False, "reason": "KVM unusable; TCG disabled"}})
    for rep, (n, c) in enumerate([(10, 9), (11, 10), (12, 11)]):
        document.add_run(doc, _run("native", rep, n))
        document.add_run(doc, _run("container", rep, c))
    document.add_run(doc, _run("container", 3, None, ok=False))
    return doc


# -- shape and schema --------------------------------------------------------------------------

def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = json.loads(document.SCHEMA_PATH.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_new_document_shape() -> None:
    doc = make_doc()
    assert doc["schema_version"] == document.SCHEMA_VERSION == 1
    assert doc["session"] == {"id": "s1", "started_at": "2026-11-28T10:00:00Z",
                              "finished_at": None, "profile": "quick",
                              "argv": ["isobench", "bench", "--profile", "quick"], "repeat": 3,
                              "seed": 0, "complete": False}
    assert doc["workloads"] == {"cpu": {"variants": {"cpu.single": {"metrics": {
        "events_per_s": {"unit": "events/s", "better": "higher"},
        "latency_ms": {"unit": "ms", "better": "lower"}}}}}}
    assert doc["targets"]["vm"] == {"available": False, "reason": "KVM unusable; TCG disabled"}
    document.validate(doc)


def test_finish_marks_the_session() -> None:
    doc = make_doc()
    document.finish(doc)
    assert doc["session"]["complete"] is True and doc["session"]["finished_at"].endswith("Z")
    document.validate(doc)


def test_defaults_are_valid() -> None:
    doc = document.new_document(profile="full", argv=[], repeat=0, seed=1, machine=MACHINE)
    document.validate(doc)
    assert doc["session"]["id"] and doc["session"]["started_at"].endswith("Z")


def _broken(mutate: Any) -> dict[str, Any]:
    doc = make_doc()
    mutate(doc)
    return doc


@pytest.mark.parametrize(("mutate", "where"), [
    (lambda d: d.pop("machine"), "'machine' is a required property"),
    (lambda d: d["session"].update(complete="yes"), "$.session.complete"),
    (lambda d: d["session"].pop("seed"), "'seed' is a required property"),
    (lambda d: d["machine"]["acceleration"].update(mode="hvf"), "$.machine.acceleration.mode"),
    (lambda d: d["machine"].update(cgroup_mode="v3"), "$.machine.cgroup_mode"),
    (lambda d: d["runs"][0].update(ok=1), "$.runs[0].ok"),
    (lambda d: d["runs"][1]["metrics"].update(events_per_s="fast"),
     "$.runs[1].metrics.events_per_s"),
    (lambda d: d["runs"][2].pop("target"), "'target' is a required property"),
    (lambda d: d["workloads"]["cpu"]["variants"]["cpu.single"]["metrics"]["latency_ms"]
     .update(better="up"), "$.workloads.cpu.variants.cpu.single.metrics.latency_ms.better"),
    (lambda d: d["targets"]["vm"].pop("reason"), "'reason' is a required property"),
    (lambda d: d["summary"]["cpu"]["cpu.single"]["events_per_s"]["native"].update(n=0),
     "$.summary.cpu.cpu.single.events_per_s.native.n"),
    (lambda d: d.update(extra_key=1), "Additional properties"),
])
def test_validate_rejects_broken_documents(mutate: Any, where: str) -> None:
    with pytest.raises(ResultsError) as err:
        document.validate(_broken(mutate))
    message = str(err.value)
    assert where in message and "\n" not in message


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_validate_rejects_unknown_schema_versions(version: Any) -> None:
    doc = make_doc()
    doc["schema_version"] = version
    with pytest.raises(ResultsError, match="unknown schema_version"):
        document.validate(doc)


def test_validate_rejects_non_objects() -> None:
    with pytest.raises(ResultsError, match="not a results document"):
        document.validate([1, 2])


# -- files --------------------------------------------------------------------------------------

def test_round_trip(tmp_path: Path) -> None:
    doc = make_doc()
    path = tmp_path / "out" / "results.json"
    document.write_atomic(path, doc)
    assert document.load(path) == doc
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # root and its group only
    assert os.listdir(path.parent) == ["results.json"]


def test_a_run_record_is_stored_field_for_field(tmp_path: Path) -> None:
    record = _run("native", 0, 10.0)
    doc = make_doc()
    document.add_run(doc, record)
    document.write_atomic(tmp_path / "r.json", doc)
    loaded = document.load(tmp_path / "r.json")
    assert loaded["runs"][-1] == dataclasses.asdict(record)


def test_failed_serialization_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    document.write_atomic(path, make_doc())
    before = path.read_bytes()
    doc = make_doc()
    doc["runs"][-1]["extra"] = {"sample": object()}  # json.dump fails after writing the rest
    with pytest.raises(TypeError):
        document.write_atomic(path, doc)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["results.json"]  # no temp file left behind


def test_failed_rename_leaves_the_old_file(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "results.json"
    path.write_text("old")

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(document.os, "replace", refuse)
    with pytest.raises(OSError):
        document.write_atomic(path, make_doc())
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["results.json"]


def test_non_finite_metrics_are_refused() -> None:
    doc = make_doc()
    with pytest.raises(ValueError, match="events_per_s"):
        document.add_run(doc, _run("native", 9, float("nan")))
    assert ("cpu", "cpu.single", "native", 9) not in document.completed_keys(doc)


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(ResultsError, match=f"{missing}: no such results file"):
        document.load(missing)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(ResultsError, match=f"{garbage}: not JSON"):
        document.load(garbage)
    future = tmp_path / "future.json"
    future.write_text(json.dumps({**make_doc(), "schema_version": 2}))
    with pytest.raises(ResultsError, match=f"{future}: unknown schema_version 2"):
        document.load(future)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"schema_version": 1, "session": {}}))
    with pytest.raises(ResultsError, match=f"{partial}: invalid results: .*required"):
        document.load(partial)
    with pytest.raises(ResultsError, match="is a directory"):
        document.load(tmp_path)


# -- resume ------------------------------------------------------------------------------------

def test_completed_keys_for_resume() -> None:
    doc = make_doc()
    ok = {("cpu", "cpu.single", t, r) for t in ("native", "container") for r in range(3)}
    assert document.completed_keys(doc) == ok | {("cpu", "cpu.single", "container", 3)}
    assert document.completed_keys(doc, include_failed=False) == ok


def test_a_retried_run_replaces_the_earlier_one() -> None:
    doc = make_doc()
    document.add_run(doc, _run("container", 3, 12.0))
    runs = [r for r in doc["runs"] if document.run_key(r) == ("cpu", "cpu.single", "container", 3)]
    assert len(runs) == 1 and runs[0]["ok"]
    assert doc["summary"]["cpu"]["cpu.single"]["events_per_s"]["container"]["n"] == 4


# -- summary -----------------------------------------------------------------------------------

def test_summary_numbers() -> None:
    summary = make_doc()["summary"]["cpu"]["cpu.single"]["events_per_s"]
    assert list(summary) == ["native", "container"]
    native, container = summary["native"], summary["container"]
    # native 10, 11, 12: quartiles at 10.5 and 11.5; sample stdev 1
    assert {k: native[k] for k in ("n", "median", "q1", "q3", "iqr", "min", "max")} == {
        "n": 3, "median": 11, "q1": 10.5, "q3": 11.5, "iqr": 1, "min": 10, "max": 12}
    assert native["cv"] == pytest.approx(1 / 11)
    # native's ratio to itself is 1; with three runs no interval is stored, as everywhere
    assert (native["ratio_to_native"], native["ci_low"], native["ci_high"]) == (1.0, None, None)
    # the failed fourth repetition does not count
    assert (container["n"], container["median"], container["iqr"]) == (3, 10, 1)
    assert container["cv"] == pytest.approx(1 / 10)
    assert container["ratio_to_native"] == pytest.approx(10 / 11)
    # three repetitions a side cannot carry a CI (results.stats.MIN_CI_N): none is stored
    assert (container["ci_low"], container["ci_high"]) == (None, None)
    assert container["paired"] is True and container["contended_excluded"] == 0


def _five_rounds(doc: dict[str, Any], contended: set[tuple[str, int]] = frozenset()  # type: ignore[assignment]
                 ) -> None:
    for rep in range(5):
        for target, eps in (("native", 100.0 + rep), ("container", 98.0 + rep)):
            run = _run(target, rep, eps)
            run.contended = (target, rep) in contended
            document.add_run(doc, run)


def test_a_contended_run_is_kept_but_left_out_of_the_summary() -> None:
    doc = document.new_document(profile="quick", argv=[], repeat=5, seed=0, machine=MACHINE)
    _five_rounds(doc, {("container", 4)})
    cell = doc["summary"]["cpu"]["cpu.single"]["events_per_s"]["container"]
    assert len(doc["runs"]) == 10 and doc["runs"][-1]["contended"] is True
    # 98..101 counted, 102 (contended) not: n 4, no CI, and the left-out run counted
    assert (cell["n"], cell["max"], cell["contended_excluded"]) == (4, 101.0, 1)
    assert (cell["ci_low"], cell["ci_high"]) == (None, None)
    # the rounds no longer pair up one to one: the ratio is unpaired
    assert cell["paired"] is False
    assert document.run_values(doc)[("cpu", "cpu.single", "events_per_s", "container")] == [
        98.0, 99.0, 100.0, 101.0]
    document.validate(doc)


def test_keep_contended_counts_them() -> None:
    doc = document.new_document(profile="quick", argv=[], repeat=5, seed=0, machine=MACHINE)
    doc["session"]["keep_contended"] = True
    _five_rounds(doc, {("container", 4)})
    cell = doc["summary"]["cpu"]["cpu.single"]["events_per_s"]["container"]
    assert (cell["n"], cell["max"], cell["contended_excluded"]) == (5, 102.0, 0)
    assert cell["paired"] is True and cell["ci_low"] is not None
    assert cell["ratio_to_native"] == pytest.approx(100 / 102)
    assert cell["ci_low"] <= cell["ratio_to_native"] <= cell["ci_high"]
    # asked explicitly, the reader can count them either way
    assert len(document.run_values(doc, keep_contended=False)[
        ("cpu", "cpu.single", "events_per_s", "container")]) == 4
    document.validate(doc)


def test_rounds_pair_only_one_to_one() -> None:
    pairs = document.paired_by_round([(0, 1.0), (1, 2.0)], [(1, 20.0), (0, 10.0)])
    assert pairs == ([1.0, 2.0], [10.0, 20.0])
    assert document.paired_by_round([(0, 1.0), (1, 2.0)], [(0, 10.0)]) is None
    assert document.paired_by_round([(0, 1.0), (0, 2.0)], [(0, 10.0), (1, 1.0)]) is None


def test_no_ratio_without_a_working_native() -> None:
    doc = document.new_document(profile="quick", argv=[], repeat=2, seed=0, machine=MACHINE)
    document.add_run(doc, _run("container", 0, 9.0))
    document.add_run(doc, _run("native", 0, None, ok=False))
    cell = doc["summary"]["cpu"]["cpu.single"]["events_per_s"]["container"]
    assert (cell["ratio_to_native"], cell["ci_low"], cell["ci_high"]) == (None, None, None)
    assert "native" not in doc["summary"]["cpu"]["cpu.single"]["events_per_s"]
    document.validate(doc)


def test_incremental_summary_matches_a_full_recompute() -> None:
    doc = make_doc()
    document.add_run(doc, _run("native", 0, 3.0, variant="cpu.all"))
    document.add_run(doc, _run("container", 0, 2.5, variant="cpu.all"))
    incremental = json.dumps(doc["summary"])
    document.recompute_summary(doc)
    assert json.dumps(doc["summary"]) == incremental  # same numbers, same order
    assert doc["summary"]["cpu"]["cpu.all"]["events_per_s"]["container"]["ratio_to_native"] \
        == pytest.approx(2.5 / 3.0)


def test_summary_is_deterministic() -> None:
    assert make_doc()["summary"] == make_doc()["summary"]


def test_results_path_takes_a_file_or_a_session_directory(tmp_path: Path) -> None:
    """One rule for `isobench compare` and `isobench report`: a directory means its
    results.json (reports/out/latest), anything else must exist."""
    with pytest.raises(ResultsError, match=f"{tmp_path}: no results.json in this directory"):
        document.results_path(tmp_path)
    (tmp_path / "results.json").write_text("{}")
    assert document.results_path(tmp_path) == tmp_path / "results.json"
    assert document.results_path(str(tmp_path / "results.json")) == tmp_path / "results.json"
    with pytest.raises(ResultsError, match="nope.json: no such results file or directory"):
        document.results_path(tmp_path / "nope.json")


def test_a_missing_reading_is_null_and_no_value(tmp_path: Path) -> None:
    """A metric the target could not read (None) is stored as null, validates, round-trips,
    and is left out of the summary: it is not a 0."""
    doc = make_doc()
    for rep, value in enumerate((64.0, None, 66.0)):
        document.add_run(doc, RunRecord("limits", "limits.memory_64m", "runc", rep, ok=True,
                                        metrics={"peak_mib": value, "oom_kills": None}))
    document.validate(doc)
    document.write_atomic(tmp_path / "r.json", doc)
    stored = json.loads((tmp_path / "r.json").read_text())
    runs = [r for r in stored["runs"] if r["variant"] == "limits.memory_64m"]
    assert [r["metrics"] for r in runs] == [{"peak_mib": 64.0, "oom_kills": None},
                                            {"peak_mib": None, "oom_kills": None},
                                            {"peak_mib": 66.0, "oom_kills": None}]
    assert '"oom_kills": null' in (tmp_path / "r.json").read_text()
    loaded = document.load(tmp_path / "r.json")
    cells = loaded["summary"]["limits"]["limits.memory_64m"]
    assert set(cells) == {"peak_mib"}  # no values at all: no cell, rather than a 0
    assert (cells["peak_mib"]["runc"]["n"], cells["peak_mib"]["runc"]["median"]) == (2, 65.0)


def test_files_written_before_null_readings_still_load() -> None:
    old = json.loads((Path(__file__).parent / "fixtures" / "results" /
                      "v1_tcg_all_targets.json").read_text())
    memory = [r for r in old["runs"] if r["variant"] == "limits.memory_64m"]
    assert memory and all(isinstance(v, int | float) for r in memory
                          for v in r["metrics"].values())
    document.validate(old)


def test_repetitions_from_one_boot_are_not_paired_by_round() -> None:
    doc = document.new_document(profile="quick", argv=[], repeat=5, seed=0, machine=MACHINE)
    for rep in range(5):
        document.add_run(doc, _run("native", rep, 100.0 + rep))
        vm = _run("vm", rep, 50.0 + rep)
        vm.reps_per_boot = 5  # one after another in one guest, not beside native's round
        document.add_run(doc, vm)
    cell = doc["summary"]["cpu"]["cpu.single"]["events_per_s"]["vm"]
    assert cell["n"] == 5 and cell["paired"] is False and cell["ci_low"] is not None
    assert document.shared_boot_cells(doc) == {("cpu", "cpu.single", "vm")}
    document.validate(doc)
    # a boot per repetition (reps_per_boot 1, or absent in older documents) still pairs
    for run in doc["runs"]:
        run["reps_per_boot"] = 1 if run["target"] == "vm" else None
    document.recompute_summary(doc)
    assert doc["summary"]["cpu"]["cpu.single"]["events_per_s"]["vm"]["paired"] is True
