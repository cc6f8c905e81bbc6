"""results/compare.py: the regression decision's edges and messages, pinned exactly (what
`make mutate` found the other tests let change)."""

from __future__ import annotations

from typing import Any

import pytest

from results import compare as rules
from results import metrics
from results.errors import ResultsError
from results.stats import bootstrap_ratio_ci

MACHINE = {"cpu_model": "X", "cores": 2, "kernel": "6.1", "acceleration": {"mode": "kvm"}}


def _doc(*runs: tuple[str, str, str, str, float], version: int = 1,
         machine: dict[str, Any] | None = None, workloads: dict[str, Any] | None = None
         ) -> dict[str, Any]:
    return {"schema_version": version, "machine": MACHINE if machine is None else machine,
            "workloads": workloads or {},
            "runs": [{"ok": True, "workload": w, "variant": v, "target": t, "metrics": {m: x}}
                     for w, v, m, t, x in runs]}


def test_a_machine_field_that_is_not_a_mapping_reads_as_missing() -> None:
    base = {"machine": {**MACHINE, "acceleration": "kvm"}}
    new = {"machine": MACHINE}
    assert rules.machine_differences(base, new) == ["acceleration None vs 'kvm'"]


def test_differences_name_the_schema_versions_then_the_machine() -> None:
    base = _doc(version=1)
    new = _doc(version=2, machine={**MACHINE, "cores": 4})
    assert rules.differences(base, new) == ["schema_version 1 vs 2", "cores 2 vs 4"]


def test_incomparable_sessions_are_refused_with_every_difference_named() -> None:
    with pytest.raises(ResultsError) as caught:
        rules.check_comparable(_doc(version=1), _doc(version=2))
    assert str(caught.value) == ("refusing to compare: schema_version 1 vs 2; "
                                 "use --force to compare anyway")
    other = {**MACHINE, "cores": 4, "kernel": "6.2"}
    with pytest.raises(ResultsError) as caught:
        rules.check_comparable(_doc(), _doc(machine=other), strict_machine=True)
    assert str(caught.value) == ("refusing to compare: the machines differ (cores 2 vs 4; "
                                 "kernel '6.1' vs '6.2'); use --force to compare anyway")
    # without strict_machine: one warning line, and the comparison goes on
    assert rules.check_comparable(_doc(), _doc(machine=other)) == [
        "the machines differ (cores 2 vs 4; kernel '6.1' vs '6.2'): changes may be the "
        "machine's"]


def test_a_metric_measured_on_one_side_keeps_that_sides_median() -> None:
    assert rules.compare_values("lower", [], [3.0, 1.0, 2.0]) == rules.Change(
        rules.ONLY_NEW, None, 2.0, None, base_n=0, new_n=3)
    assert rules.compare_values("lower", [4.0, 6.0], None) == rules.Change(
        rules.ONLY_BASE, 5.0, None, None, base_n=2, new_n=0)


def test_the_ci_is_the_ratio_bootstrap_at_the_level_judged() -> None:
    base, new = [10.0, 11.0, 12.0, 13.0, 14.0], [20.0, 21.0, 22.0, 23.0, 24.0]
    got = rules.compare_values("lower", base, new)
    assert got.confidence == 0.95 and got.p_value is not None and got.p_value <= 0.05
    assert got.ci == bootstrap_ratio_ci(new, base)[1:]
    assert got.verdict == rules.REGRESSED


def test_the_document_declares_the_direction_of_its_own_cell_only() -> None:
    declared = {"w": {"variants": {"w.v": {"metrics": {"m": {"unit": "u", "better": "higher"}}}}}}
    new = _doc(workloads=declared)
    assert rules.unit_and_direction({}, new, "w", "w.v", "m") == ("u", "higher")
    assert rules.unit_and_direction(new, {}, "w", "w.v", "m") == ("u", "higher")
    assert rules.unit_and_direction({}, new, "w", "w.other", "m") == ("", None)
    assert rules.unit_and_direction({}, new, "x", "w.v", "m") == ("", None)
    assert rules.unit_and_direction({}, new, "w", "w.v", "n") == ("", None)


def test_the_new_documents_direction_wins_over_the_baselines() -> None:
    up = {"w": {"variants": {"w.v": {"metrics": {"m": {"unit": "a", "better": "higher"}}}}}}
    down = {"w": {"variants": {"w.v": {"metrics": {"m": {"unit": "b", "better": "lower"}}}}}}
    assert rules.unit_and_direction(_doc(workloads=down), _doc(workloads=up),
                                    "w", "w.v", "m") == ("a", "higher")


def test_rows_come_in_target_order_then_unknown_targets_by_name() -> None:
    cells = [("w", "w.v", "m", t, 1.0) for t in ("zz", "vm", "aa", "runc", "container", "native")]
    result = rules.compare(_doc(*cells), _doc(*cells), resamples=10)
    assert [r.target for r in result.rows] == ["native", "container", "runc", "vm", "aa", "zz"]


@pytest.mark.parametrize("threshold", [float("inf"), float("nan"), -0.01])
def test_a_threshold_that_is_not_a_finite_non_negative_number_is_refused(threshold: float
                                                                         ) -> None:
    with pytest.raises(ValueError) as caught:
        rules.compare(_doc(), _doc(), threshold)
    assert str(caught.value) == f"threshold must be a non-negative number, not {threshold}"


def test_a_zero_threshold_is_allowed_and_recorded() -> None:
    cells = [("w", "w.v", "m", "native", 1.0)] * 5
    result = rules.compare(_doc(*cells), _doc(*cells), 0.0, resamples=10)
    assert result.threshold == 0.0
    assert [r.threshold for r in result.rows] == [0.0]
    assert result.rows[0].verdict == rules.SAME


def test_each_metric_is_judged_by_its_own_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    own = metrics.Metric("events_per_s", "events/s", "higher", "test", threshold=0.5)
    monkeypatch.setitem(metrics.METRICS, "events_per_s", own)
    base = [("cpu", "cpu.single", "events_per_s", "native", v) for v in [100.0] * 5]
    new = [("cpu", "cpu.single", "events_per_s", "native", v) for v in [70.0] * 5]
    result = rules.compare(_doc(*base), _doc(*new), resamples=10)
    assert result.threshold is None
    assert [(r.threshold, r.verdict) for r in result.rows] == [(0.5, rules.SAME)]


def test_compare_resamples_as_asked_beyond_the_exact_bootstrap() -> None:
    values = [float(v) for v in range(1, 31)]   # beyond EXACT_MAX_N: Monte Carlo
    new = [v * 1.5 for v in values]
    got = rules.compare_values("higher", values, new, resamples=3)
    assert got.confidence == 0.95
    assert got.ci == bootstrap_ratio_ci(new, values, resamples=3)[1:]
    assert got.ci != bootstrap_ratio_ci(new, values)[1:]
