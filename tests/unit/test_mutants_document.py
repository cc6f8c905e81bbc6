"""results/document.py: values pinned exactly where `make mutate`
found the other tests let a mutant through."""

from __future__ import annotations

import codecs
import errno
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import pytest

from results import document
from results.errors import ResultsError, UnknownSchemaVersion

MACHINE = {"cpu_model": "X", "cores": 2, "memory_bytes": 1, "kernel": "6.1",
           "distribution": "d", "cgroup_mode": "v2",
           "acceleration": {"mode": None, "reason": ""}, "versions": {}}
FIXED = time.struct_time((2024, 1, 2, 3, 4, 5, 1, 2, 0))


def _doc(**kw: Any) -> dict[str, Any]:
    return document.new_document(profile="quick", argv=["bench"], repeat=3, seed=1,
                                 machine=MACHINE, **kw)


def _run(workload: str, variant: str, target: str, rep: int,
         metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    run: dict[str, Any] = {"workload": workload, "variant": variant, "target": target,
                           "repetition": rep, "ok": True}
    if metrics is not None:
        run["metrics"] = metrics
    return run


def test_timestamps_and_session_ids_are_utc_in_their_formats(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The clock is read as UTC (time.gmtime), never the local time.
    monkeypatch.setattr(time, "gmtime", lambda *a: FIXED)
    monkeypatch.setattr(document.secrets, "token_hex", lambda n: "ab" * n)
    assert document.new_session_id() == "20240102T030405Z-ababab"
    doc = _doc()
    assert doc["session"]["id"] == "20240102T030405Z-ababab"
    assert doc["session"]["started_at"] == "2024-01-02T03:04:05Z"
    document.finish(doc, complete=False)
    assert (doc["session"]["finished_at"], doc["session"]["complete"]) == \
        ("2024-01-02T03:04:05Z", False)


def test_targets_keep_availability_and_an_absent_reason_is_empty() -> None:
    doc = _doc(targets={"native": {"available": 1}, "vm": {"available": 0, "reason": "no kvm"}})
    assert doc["targets"] == {"native": {"available": True, "reason": ""},
                              "vm": {"available": False, "reason": "no kvm"}}


def test_a_run_given_as_a_mapping_is_stored_as_a_copy() -> None:
    doc = _doc()
    run = _run("cpu", "cpu.single", "native", 0, {"events_per_s": 10.0})
    document.add_run(doc, run)
    assert doc["runs"] == [run] and doc["runs"][0] is not run
    document.add_run(doc, _run("cpu", "cpu.single", "native", 1))   # no metrics at all
    assert doc["runs"][1] == _run("cpu", "cpu.single", "native", 1)
    assert doc["summary"]["cpu"]["cpu.single"]["events_per_s"]["native"]["n"] == 1


@pytest.mark.parametrize("bad", [math.nan, math.inf, True, "12"])
def test_a_bad_metric_after_a_missing_reading_is_refused(bad: Any) -> None:
    doc = _doc()
    with pytest.raises(ValueError) as caught:
        document.add_run(doc, _run("cpu", "cpu.single", "native", 0,
                                   {"missing": None, "events_per_s": bad}))
    assert str(caught.value) == ("('cpu', 'cpu.single', 'native', 0): metric events_per_s is "
                                 f"not a finite number: {bad!r}")
    assert doc["runs"] == []


def test_add_run_refreshes_only_its_own_variant() -> None:
    doc = _doc()
    doc["summary"] = {"other": {"v": {"m": {"native": {"kept": True}}}}}
    document.add_run(doc, _run("cpu", "cpu.single", "native", 0, {"events_per_s": 10.0}))
    assert doc["summary"]["other"] == {"v": {"m": {"native": {"kept": True}}}}
    assert list(doc["summary"]) == ["cpu", "other"]


def test_write_atomic_creates_parents_and_writes_one_space_indented_json(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        renames.append((str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    target = tmp_path / "a" / "b" / "results.json"
    document.write_atomic(target, {"a": [1], "é": "ü"})
    assert target.read_bytes() == b'{\n "a": [\n  1\n ],\n "\\u00e9": "\\u00fc"\n}\n'
    [(src, dst)] = renames
    assert dst == str(target)
    tmp = Path(src)   # beside the target, named so a leftover matches ".*.tmp"
    assert tmp.parent == target.parent
    assert tmp.name.startswith(".results.json.") and tmp.name.endswith(".tmp")
    assert tmp.name != ".results.json..tmp"


def test_write_atomic_refuses_nan_and_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    with pytest.raises(ValueError):
        document.write_atomic(target, {"x": math.nan})
    assert list(tmp_path.iterdir()) == []


def test_a_temp_file_already_gone_does_not_hide_the_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def vanish(src: str, dst: str) -> None:
        os.unlink(src)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", vanish)
    with pytest.raises(OSError) as caught:
        document.write_atomic(tmp_path / "results.json", {"a": 1})
    assert caught.value.errno == errno.EIO


def test_load_reads_utf8_whatever_the_locale(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    encodings: list[str | None] = []
    real_open = open

    def spy(file: Any, *args: Any, **kw: Any) -> Any:
        encodings.append(kw.get("encoding"))
        return real_open(file, *args, **kw)

    path = tmp_path / "results.json"
    document.write_atomic(path, _doc())
    monkeypatch.setattr(document, "open", spy, raising=False)
    document.load(path)
    assert encodings and codecs.lookup(encodings[0] or "ascii").name == "utf-8"


@pytest.mark.parametrize(("error", "shown"), [
    (OSError(errno.EIO, "Input/output error"), "Input/output error"),
    (OSError("no strerror"), "no strerror"),
])
def test_load_names_the_file_and_the_os_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              error: OSError, shown: str) -> None:
    def refuse(*args: Any, **kw: Any) -> Any:
        raise error

    monkeypatch.setattr(document, "open", refuse, raising=False)
    with pytest.raises(ResultsError) as caught:
        document.load(tmp_path / "r.json")
    assert str(caught.value) == f"{tmp_path / 'r.json'}: {shown}"


def test_one_line_collapses_space_and_cuts_at_the_limit() -> None:
    assert document._one_line(" a  b\n c ", 5) == "a b c"
    assert document._one_line("abcdef", 6) == "abcdef"
    assert document._one_line("abcdefg", 6) == "abcde…"


def test_a_schema_problem_is_cut_to_160_characters() -> None:
    doc = _doc()
    doc["session"]["repeat"] = "x" * 300
    assert document.schema_problem(doc) == "$.session.repeat: '" + "x" * 158 + "…"


@pytest.mark.parametrize(("doc", "message"), [
    ([], "not a results document (a JSON list)"),
    ({"schema_version": 7}, "unknown schema_version 7 (this isobench reads 1)"),
])
def test_validate_messages(doc: Any, message: str) -> None:
    with pytest.raises(ResultsError) as caught:
        document.validate(doc)
    assert str(caught.value) == message
    if isinstance(caught.value, UnknownSchemaVersion):
        assert (caught.value.version, caught.value.current) == (7, 1)


def test_written_documents_load_back_equal(tmp_path: Path) -> None:
    doc = _doc()
    document.write_atomic(tmp_path / "r.json", doc)
    assert document.load(tmp_path / "r.json") == json.loads(json.dumps(doc))


# -- the summary: its seed, resamples and order ------------------------------------------

NUM = [4.9, 67.2, 76.7, 57.7, 87.7, 32.1, 69.8, 59.8]     # container
DEN = [58.4, 46.2, 84.2, 94.5, 47.9, 66.8, 7.0, 70.4]     # native


def _session(seed: Any, targets: dict[str, list[float]] | None = None) -> dict[str, Any]:
    doc = _doc()
    doc["session"]["seed"] = seed
    for target, values in (targets or {"container": NUM, "native": DEN}).items():
        for rep, value in enumerate(values):
            doc["runs"].append(_run("cpu", "cpu.single", target, rep, {"events_per_s": value}))
    return doc


def _ci(doc: dict[str, Any], target: str = "container") -> tuple[Any, Any, Any]:
    cell = doc["summary"]["cpu"]["cpu.single"]["events_per_s"][target]
    return cell["ratio_to_native"], cell["ci_low"], cell["ci_high"]


EXACT_CI = (0.5496575342465754, 1.502087682672234)   # the exact bootstrap of 8 vs 8 values


def test_summary_cell_defaults_to_2000_resamples_from_seed_0_and_passes_both_on() -> None:
    from results.stats import bootstrap_ratio_ci

    cell = document.summary_cell(NUM, DEN)
    assert (cell["ratio_to_native"], cell["ci_low"], cell["ci_high"]) == \
        (pytest.approx(1.014376996805112), pytest.approx(EXACT_CI[0], rel=1e-12),
         pytest.approx(EXACT_CI[1], rel=1e-12))
    # up to results.stats.EXACT_MAX_N values the bootstrap is exact: no seed changes it
    cell = document.summary_cell(NUM, DEN, seed=7, resamples=50)
    assert (cell["ratio_to_native"], cell["ci_low"], cell["ci_high"]) == \
        bootstrap_ratio_ci(NUM, DEN, seed=7, resamples=50)
    assert cell["ci_low"] == pytest.approx(EXACT_CI[0], rel=1e-12)


@pytest.mark.parametrize("seed", [7, None, 0])
def test_the_summary_bootstraps_rounds_from_the_sessions_seed(seed: Any) -> None:
    """Both targets ran rounds 0..7: the ratio's bootstrap resamples rounds (paired, by
    Monte Carlo from the session's seed, None counting as 0)."""
    from results.stats import bootstrap_ratio_ci

    doc = _session(seed)
    document.recompute_summary(doc)
    cell = doc["summary"]["cpu"]["cpu.single"]["events_per_s"]["container"]
    assert cell["paired"] is True
    expected = bootstrap_ratio_ci(NUM, DEN, paired=True, seed=seed or 0)
    assert _ci(doc) == expected
    assert expected[1:] != bootstrap_ratio_ci(NUM, DEN, paired=True, seed=(seed or 0) + 1)[1:]
    assert _ci(doc, "native") == (1.0, 1.0, 1.0)


def test_unpaired_rounds_give_the_exact_unpaired_bootstrap() -> None:
    # the container's last round is missing: the rounds do not pair up, each side alone
    doc = _session(7, {"container": NUM[:7], "native": DEN})
    document.recompute_summary(doc)
    cell = doc["summary"]["cpu"]["cpu.single"]["events_per_s"]["container"]
    from results.stats import bootstrap_ratio_ci

    assert cell["paired"] is False
    assert _ci(doc) == bootstrap_ratio_ci(NUM[:7], DEN, seed=123)  # exact: no seed matters


def test_the_summary_passes_its_resamples_and_seed_on() -> None:
    from results.stats import bootstrap_ratio_ci

    expected = bootstrap_ratio_ci(NUM, DEN, seed=7, resamples=50, paired=True)
    assert expected != bootstrap_ratio_ci(NUM, DEN, seed=7, resamples=2000, paired=True)
    doc = _session(7)
    document.recompute_summary(doc, resamples=50)
    assert _ci(doc) == expected
    doc = _session(7)
    document.recompute_summary(doc, only=("cpu", "cpu.single"), resamples=50)
    assert _ci(doc) == expected


def test_a_document_without_runs_or_summary_summarizes_to_nothing() -> None:
    assert document.run_values({}) == {}
    doc = _doc()
    del doc["summary"]
    document.recompute_summary(doc)
    assert doc["summary"] == {}


def test_run_values_skip_missing_readings_and_runs_without_metrics() -> None:
    doc = {"runs": [_run("cpu", "v", "native", 0),
                    _run("cpu", "v", "native", 1, {"a": None, "b": 2}),
                    {**_run("cpu", "v", "native", 2, {"b": 3.0}), "ok": False}]}
    assert document.run_values(doc) == {("cpu", "v", "b", "native"): [2.0]}


def test_summary_targets_in_the_fixed_order_then_by_name() -> None:
    doc = _session(0, {t: [1.0, 2.0] for t in
                       ("zeta", "vm", "alpha", "crun", "runc", "container", "native")})
    document.recompute_summary(doc)
    assert list(doc["summary"]["cpu"]["cpu.single"]["events_per_s"]) == \
        ["native", "container", "runc", "crun", "vm", "alpha", "zeta"]


def test_a_full_summary_orders_workloads_by_name_not_by_variant() -> None:
    doc = _doc()
    doc["runs"] = [_run("b", "a.v", "native", 0, {"m": 1.0}),
                   _run("a", "z.v", "native", 0, {"m": 1.0})]
    document.recompute_summary(doc)
    assert list(doc["summary"]) == ["a", "b"]


def test_recomputing_one_variant_drops_its_stale_metrics_only() -> None:
    doc = _session(0)
    doc["summary"] = {"cpu": {"cpu.single": {"gone": {"native": {}}},
                              "cpu.multi": {"kept": {"native": {}}}}}
    document.recompute_summary(doc, only=("cpu", "cpu.single"))
    assert list(doc["summary"]["cpu"]) == ["cpu.multi", "cpu.single"]
    assert list(doc["summary"]["cpu"]["cpu.single"]) == ["events_per_s"]
    assert doc["summary"]["cpu"]["cpu.multi"] == {"kept": {"native": {}}}


# -- the summary's noisy flag, Monte-Carlo seed and round pairing --------------------------------

# CV 12.4 %: over the 10 % of events_per_s (and of an unknown metric), under iops' 15 %
SPREAD = [88.0, 100.0, 112.0, 96.0, 120.0]


@pytest.mark.parametrize(("metric", "noisy"), [("events_per_s", "CV 12 % > 10 %"),
                                               ("iops", None),
                                               ("no_such_metric", "CV 12 % > 10 %")])
def test_the_summary_flags_a_cell_noisy_by_its_metrics_cv_limit(metric: str,
                                                                noisy: str | None) -> None:
    doc = _doc()
    for rep, value in enumerate(SPREAD):
        doc["runs"].append(_run("w", "w.v", "container", rep, {metric: value}))
    document.recompute_summary(doc)
    assert doc["summary"]["w"]["w.v"][metric]["container"]["noisy"] == noisy


def test_unpaired_groups_over_20_values_are_bootstrapped_from_the_sessions_seed() -> None:
    """21 container values against 22 native ones do not pair up, and over EXACT_MAX_N the
    unpaired bootstrap is Monte Carlo: seeded with the session's seed, the given count."""
    from results.stats import bootstrap_ratio_ci

    container = [50.0 + (7 * i % 21) for i in range(21)]
    native = [48.0 + (5 * i % 22) for i in range(22)]
    doc = _session(7, {"container": container, "native": native})
    document.recompute_summary(doc, resamples=50)
    expected = bootstrap_ratio_ci(container, native, seed=7, resamples=50)
    assert expected != bootstrap_ratio_ci(container, native, seed=0, resamples=50)
    assert expected != bootstrap_ratio_ci(container, native, seed=7, resamples=2000)
    assert doc["summary"]["cpu"]["cpu.single"]["events_per_s"]["container"]["paired"] is False
    assert _ci(doc) == expected


def test_rounds_with_a_repeated_repetition_on_one_side_do_not_pair() -> None:
    assert document.paired_by_round([(0, 1.0), (0, 2.0), (1, 3.0)],
                                    [(0, 5.0), (1, 6.0)]) is None
    assert document.paired_by_round([(0, 5.0), (1, 6.0)],
                                    [(0, 1.0), (0, 2.0), (1, 3.0)]) is None
    assert document.paired_by_round([(1, 3.0), (0, 1.0)], [(0, 5.0), (1, 6.0)]) == \
        ([1.0, 3.0], [5.0, 6.0])


def test_a_run_without_a_repetition_is_round_0() -> None:
    doc = _session(0)
    first = next(r for r in doc["runs"] if r["target"] == "container" and r["repetition"] == 0)
    del first["repetition"]                # still round 0: the rounds pair up
    document.recompute_summary(doc)
    assert doc["summary"]["cpu"]["cpu.single"]["events_per_s"]["container"]["paired"] is True


def test_contended_counts_of_a_document_without_runs_is_empty() -> None:
    assert document.contended_counts({}) == {}


def test_the_summary_defaults_to_2000_resamples() -> None:
    # seed 85 puts a bound of this Monte-Carlo bootstrap on a lump edge that a 2001st
    # resample moves (checked below), so only 2000 resamples give this interval
    from results.stats import bootstrap_ratio_ci

    container = [50.0 + (7 * i % 21) for i in range(21)]
    native = [48.0 + (5 * i % 22) for i in range(22)]
    doc = _session(85, {"container": container, "native": native})
    document.recompute_summary(doc)
    expected = bootstrap_ratio_ci(container, native, seed=85, resamples=2000)
    assert expected != bootstrap_ratio_ci(container, native, seed=85, resamples=2001)
    assert _ci(doc) == expected
