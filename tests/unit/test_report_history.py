"""reports/history.py and results/compare.py: the regression rule `isobench compare` uses,
direction-aware, 5 % threshold, non-overlapping bootstrap CIs; loading a history directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reports import history
from results import compare as rules
from results.document import run_values
from results.stats import bootstrap_median_ci
from tests.unit.test_report_support import doc, fixture, run

TIGHT = [100.0, 101.0, 99.0, 100.5, 99.5]
WORKLOADS = {"cpu": {"variants": {"cpu.single": {"metrics": {
    "events_per_s": {"unit": "events/s", "better": "higher"},
    "latency_avg_ms": {"unit": "ms", "better": "lower"}}}}}}


def session(values: dict[str, list[float]], *, session_id: str, started_at: str,
            machine: dict[str, Any] | None = None) -> dict[str, Any]:
    runs = [run("cpu", "cpu.single", "container", {metric: v}, rep=i)
            for metric, series in values.items() for i, v in enumerate(series)]
    return doc(*runs, session_id=session_id, started_at=started_at, workloads=WORKLOADS,
               machine=machine)


@pytest.mark.parametrize(("better", "base", "new", "verdict"), [
    ("higher", TIGHT, [v * 0.8 for v in TIGHT], rules.REGRESSED),
    ("higher", TIGHT, [v * 1.2 for v in TIGHT], rules.IMPROVED),
    ("lower", TIGHT, [v * 1.2 for v in TIGHT], rules.REGRESSED),
    ("lower", TIGHT, [v * 0.8 for v in TIGHT], rules.IMPROVED),
    ("higher", TIGHT, [v * 0.97 for v in TIGHT], rules.SAME),
    ("higher", TIGHT, [v * 1.04 for v in TIGHT], rules.SAME),
    (None, TIGHT, [v * 0.5 for v in TIGHT], rules.UNKNOWN),
    ("higher", TIGHT, [], rules.ONLY_BASE),
])
def test_compare_values(better: str | None, base: list[float], new: list[float],
                        verdict: str) -> None:
    assert rules.compare_values(better, base, new, resamples=400).verdict == verdict


def test_a_large_change_inside_the_noise_is_not_a_regression() -> None:
    base = [100.0, 60.0, 140.0, 80.0, 120.0]
    new = [85.0, 50.0, 120.0, 70.0, 100.0]          # median -15 %, CIs overlap
    change = rules.compare_values("higher", base, new, resamples=400)
    assert change.change == pytest.approx(-0.15)
    assert change.verdict == rules.NOISE


def test_threshold_is_strictly_more_than_five_percent() -> None:
    new = [v * 0.95 for v in TIGHT]                 # exactly -5 %: not beyond the threshold
    assert rules.compare_values("higher", TIGHT, new, resamples=400).verdict == rules.SAME


def test_bootstrap_median_ci_contains_the_median_and_is_deterministic() -> None:
    a = bootstrap_median_ci([1, 2, 3, 4, 100], resamples=500)
    b = bootstrap_median_ci([1, 2, 3, 4, 100], resamples=500)
    assert a == b
    median, low, high = a
    assert median == 3 and low <= median <= high
    assert bootstrap_median_ci([5.0]) == (5.0, 5.0, 5.0)


def test_regressions_between_documents() -> None:
    base = session({"events_per_s": TIGHT, "latency_avg_ms": TIGHT}, session_id="a",
                   started_at="2026-11-27T10:00:00Z")
    new = session({"events_per_s": [v * 0.8 for v in TIGHT],
                   "latency_avg_ms": [v * 0.8 for v in TIGHT]}, session_id="b",
                  started_at="2026-11-28T10:00:00Z")
    rows = {r.metric: r.change.verdict for r in history.regressions(base, new, resamples=400)}
    assert rows == {"events_per_s": rules.REGRESSED, "latency_avg_ms": rules.IMPROVED}


def write_session(root: Path, name: str, data: Any) -> Path:
    d = root / name
    d.mkdir()
    text = data if isinstance(data, str) else json.dumps(data)
    (d / "results.json").write_text(text)
    return d


def test_load_history_orders_skips_and_excludes_the_current_session(tmp_path: Path) -> None:
    old = session({"events_per_s": TIGHT}, session_id="old", started_at="2026-11-26T10:00:00Z")
    mid = session({"events_per_s": TIGHT}, session_id="mid", started_at="2026-11-27T10:00:00Z")
    now = session({"events_per_s": TIGHT}, session_id="now", started_at="2026-11-28T10:00:00Z")
    write_session(tmp_path, "b-mid", mid)
    write_session(tmp_path, "a-old", old)
    write_session(tmp_path, "c-now", now)
    write_session(tmp_path, "d-broken", "{not json")
    (tmp_path / "latest").symlink_to("c-now")
    h = history.load_history(tmp_path, now)
    assert [s.id for s in h.sessions] == ["old", "mid"]
    assert len(h.skipped) == 1
    path, reason = h.skipped[0]
    assert path.endswith("d-broken/results.json") and "not valid JSON" in reason


def test_baseline_is_the_latest_comparable_session(tmp_path: Path) -> None:
    other = {**doc()["machine"], "cores": 64}
    a = session({"events_per_s": TIGHT}, session_id="a", started_at="2026-11-26T10:00:00Z")
    b = session({"events_per_s": TIGHT}, session_id="b", started_at="2026-11-27T10:00:00Z",
                machine=other)
    now = session({"events_per_s": TIGHT}, session_id="now", started_at="2026-11-28T10:00:00Z")
    write_session(tmp_path, "a", a)
    write_session(tmp_path, "b", b)
    base, why = history.baseline(history.load_history(tmp_path, now), now)
    assert base is not None and base.id == "a" and why == []
    only_b = tmp_path / "only-b"
    only_b.mkdir()
    write_session(only_b, "b", b)
    base, why = history.baseline(history.load_history(only_b, now), now)
    assert base is None and why == ["cores 64 vs 2"]


def test_trend_frame_has_one_row_per_session_and_cell() -> None:
    d1, d2 = fixture("no_vm"), fixture("tcg_all_targets")
    frame = history.trend_frame([("one", run_values(d1)), ("two", run_values(d2))])
    cpu = frame[(frame["variant"] == "cpu.single") & (frame["metric"] == "events_per_s")]
    assert set(cpu["session"]) == {0, 1}
    assert set(cpu[cpu["session"] == 1]["target"]) == {"native", "container", "runc", "vm"}
    assert (frame["low"] <= frame["median"]).all() and (frame["median"] <= frame["high"]).all()
    assert "limits" not in set(frame["workload"]) and "evidence" not in set(frame["workload"])
