"""results.compare's family step and options pinned (mutation testing after the rule was
rewritten for issue 14: Holm's edge, alpha, the thresholds given two ways, contended runs,
Monte Carlo cells, and which CI a from-zero cell shows)."""

from __future__ import annotations

from typing import Any

import pytest

from results import compare as rules
from results.compare import Thresholds, holm
from tests.unit.test_mutants_compare import MACHINE

BASE = [100.0, 101.0, 99.0, 100.5, 99.5]


def _doc(values: dict[str, list[float]], *, contended: dict[str, int] | None = None,
         metric: str = "events_per_s") -> dict[str, Any]:
    runs = []
    for target, xs in values.items():
        for i, x in enumerate(xs):
            runs.append({"ok": True, "workload": "cpu", "variant": "cpu.single",
                         "target": target, "repetition": i, "metrics": {metric: x},
                         "contended": i < (contended or {}).get(target, 0)})
    return {"schema_version": 1, "machine": MACHINE, "workloads": {},
            "session": {"keep_contended": False}, "runs": runs}


def test_holm_rejects_a_p_value_equal_to_its_level() -> None:
    # Holm (1979): reject while p(i) <= alpha / (m - i + 1)
    assert holm([0.05], 0.05) == [(True, 0.95)]
    assert holm([0.025, 0.05], 0.05) == [(True, 0.975), (True, 0.95)]
    assert holm([0.0500001], 0.05) == [(False, 0.95)]


def test_alpha_reaches_the_family_step() -> None:
    # a rise whose p-value lies between 0.05 and 0.5: rejected only at the looser alpha
    new = [104.0, 106.0, 107.0, 105.5, 106.5]
    strict = rules.compare_values("higher", BASE, new, 0.05, resamples=400)
    loose = rules.compare_values("higher", BASE, new, 0.05, resamples=400, alpha=0.5)
    assert strict.p_value is not None and 0.05 < strict.p_value < 0.5
    assert (strict.verdict, loose.verdict) == (rules.NOISE, rules.IMPROVED)
    base_doc, new_doc = _doc({"native": BASE}), _doc({"native": new})
    assert rules.compare(base_doc, new_doc, resamples=400).rows[0].verdict == rules.NOISE
    loose_result = rules.compare(base_doc, new_doc, resamples=400, alpha=0.5)
    assert loose_result.rows[0].verdict == rules.IMPROVED
    assert loose_result.alpha == 0.5 and loose_result.as_dict()["alpha"] == 0.5


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5])
def test_alpha_must_lie_strictly_between_0_and_1(alpha: float) -> None:
    with pytest.raises(ValueError, match=rf"^alpha must be between 0 and 1, not {alpha}$"):
        rules.compare(_doc({"native": BASE}), _doc({"native": BASE}), alpha=alpha)


def test_a_bare_threshold_applies_beside_a_thresholds_object() -> None:
    # a 12 % rise: beyond 5 %, inside 20 %; the object names another metric only
    new = [112.0, 113.0, 111.0, 112.5, 111.5]
    given = Thresholds({"latency_avg_ms": 0.5}, None)
    row = rules.compare(_doc({"native": BASE}), _doc({"native": new}), threshold=0.2,
                        thresholds=given, resamples=400).rows[0]
    assert (row.threshold, row.verdict) == (0.2, rules.SAME)
    # and the object's own overrides still win for their metric
    row = rules.compare(_doc({"native": BASE}, metric="latency_avg_ms"),
                        _doc({"native": new}, metric="latency_avg_ms"), threshold=0.01,
                        thresholds=given, resamples=400).rows[0]
    assert row.threshold == 0.5


def test_contended_runs_count_only_when_kept_and_are_counted_when_left_out() -> None:
    base = _doc({"native": [50.0, 50.0] + BASE}, contended={"native": 2})
    new = _doc({"native": [50.0] + BASE}, contended={"native": 1})
    left_out = rules.compare(base, new, resamples=400)
    assert left_out.excluded_contended == 3
    assert (left_out.rows[0].change.base_n, left_out.rows[0].change.new_n) == (5, 5)
    kept = rules.compare(base, new, keep_contended=True, resamples=400)
    assert kept.excluded_contended == 0
    assert (kept.rows[0].change.base_n, kept.rows[0].change.new_n) == (7, 6)


def test_cells_beyond_the_exact_bootstrap_use_the_resamples_given() -> None:
    base = [100.0 + (i % 5) for i in range(25)]
    new = [130.0 + (i % 5) for i in range(25)]
    row = rules.compare(_doc({"native": base}), _doc({"native": new}), resamples=300).rows[0]
    assert row.verdict == rules.IMPROVED and row.change.ci is not None


def test_a_from_zero_cell_shows_no_ratio_ci_and_a_base_of_one_does() -> None:
    # from 0 the bootstrap is of base / new: no CI of new / base to show
    rise = rules.compare_values("lower", [0.0] * 5, [5.0, 6.0, 5.5, 6.5, 5.0],
                                resamples=400)
    assert rise.verdict == rules.REGRESSED and rise.ci is None
    # a base median of exactly 1 is an ordinary ratio with its CI
    up = rules.compare_values("lower", [1.0, 1.0, 1.0, 1.01, 0.99],
                              [1.5, 1.6, 1.55, 1.45, 1.5], resamples=400)
    assert up.verdict == rules.REGRESSED and up.ci is not None and up.ci[0] > 1.05


def test_the_json_rows_and_totals_are_pinned_whole() -> None:
    """`isobench compare --format json`: every key, and each value from the cell it names."""
    new = [130.0, 131.0, 129.0, 130.5, 129.5]
    result = rules.compare(_doc({"native": BASE, "container": BASE}),
                           _doc({"native": BASE, "container": new},
                                contended={"native": 0}), resamples=400)
    same, up = result.rows
    c = up.change
    assert c.ci is not None and c.confidence is not None and c.p_value is not None
    assert up.as_dict() == {
        "workload": "cpu", "variant": "cpu.single", "metric": "events_per_s",
        "target": "container", "unit": "events/s", "better": "higher", "threshold": 0.05,
        "verdict": rules.IMPROVED, "base": {"n": 5, "median": 100.0},
        "new": {"n": 5, "median": 130.0}, "change": pytest.approx(0.3),
        "ratio": pytest.approx(1.3), "ci": list(c.ci), "confidence": c.confidence,
        "p_value": c.p_value}
    assert same.as_dict()["verdict"] == rules.SAME and same.as_dict()["target"] == "native"
    # a cell with no CI says null
    few = rules.compare(_doc({"runc": BASE[:3]}), _doc({"runc": new[:3]})).rows[0]
    assert few.as_dict()["verdict"] == rules.INSUFFICIENT and few.as_dict()["ci"] is None
    counts = {v: 0 for v in rules.VERDICTS}
    counts.update({rules.SAME: 1, rules.IMPROVED: 1})
    assert result.as_dict() == {
        "alpha": 0.05, "family": 2, "min_n": 5, "threshold": None, "warnings": [],
        "excluded_contended_runs": 0, "counts": counts,
        "rows": [same.as_dict(), up.as_dict()]}


@pytest.mark.parametrize("value", [1.0, 1.5, -0.01, float("nan"), True])
def test_a_threshold_is_a_fraction_in_0_1(value: Any) -> None:
    from results.errors import ResultsError

    with pytest.raises(ResultsError) as caught:
        Thresholds({}, value)
    assert str(caught.value) == f"threshold for all: must be a fraction in [0, 1), not {value!r}"
    with pytest.raises(ResultsError) as caught:
        Thresholds({"cpu.single.events_per_s": value})
    assert str(caught.value) == ("threshold cpu.single.events_per_s: must be a fraction in "
                                 f"[0, 1), not {value!r}")
    assert Thresholds({"events_per_s": 0.0}, 0.999).default == 0.999


def test_an_override_no_cell_matches_is_one_warning_naming_it() -> None:
    result = rules.compare(_doc({"native": BASE}), _doc({"native": BASE}),
                           thresholds=Thresholds({"cpu.single.event_per_s": 0.1,
                                                  "mib_per_s": 0.1, "events_per_s": 0.1}),
                           resamples=400)
    assert result.warnings == [
        "no cell compared matches the threshold for cpu.single.event_per_s, mib_per_s (keys are "
        "workload.variant.metric, variant.metric or metric)"]
