"""results/compare.py is the one rule: `isobench compare` and the report's history section
give the same verdict for every metric, the orchestration workloads' included (before the
results package, compare called startup metrics "direction unknown" and the report flagged
them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from isobench.commands import compare as compare_cli
from reports import history
from results import compare as rules
from results import document, metrics
from results.errors import ResultsError
from results.history.store import HistoryStore
from tests.unit.test_report_support import doc, run

TIGHT = [100.0, 101.0, 99.0, 100.5, 99.5]


def startup_session(values: list[float], session_id: str) -> dict[str, Any]:
    """A session whose startup runs declare no metrics (as the harness writes them)."""
    d = doc(*(run("startup", "startup.true", "container", {"launch_to_exit_ms": v}, rep=i)
              for i, v in enumerate(values)), session_id=session_id)
    assert "startup" not in d["workloads"]
    document.recompute_summary(d)
    return d


@pytest.mark.parametrize(("factor", "verdict"), [
    (1.3, rules.REGRESSED),     # slower start: lower is better
    (0.7, rules.IMPROVED),
    (1.02, rules.SAME),
])
def test_compare_and_the_report_agree_on_a_startup_metric(tmp_path: Path, factor: float,
                                                          verdict: str) -> None:
    base = startup_session(TIGHT, "base")
    new = startup_session([v * factor for v in TIGHT], "new")
    (row,) = rules.compare(base, new).rows
    (reported,) = history.regressions(base, new)
    assert (row.unit, row.better, row.verdict) == ("ms", "lower", verdict)
    assert (reported.unit, reported.better, reported.verdict) == ("ms", "lower", verdict)
    assert reported.change == row.change
    # and the command's exit code says the same
    paths = []
    for name, d in (("base", base), ("new", new)):
        paths.append(str(tmp_path / f"{name}.json"))
        document.write_atomic(paths[-1], d)
    assert compare_cli.main(paths) == (1 if verdict == rules.REGRESSED else 0)


def test_the_report_refuses_the_machines_compare_refuses() -> None:
    base = startup_session(TIGHT, "base")
    for label, path in rules.MACHINE_KEYS:
        new = startup_session(TIGHT, "new")
        block = new["machine"]
        for key in path[:-1]:
            block = block[key]
        block[path[-1]] = "something else"
        why = rules.differences(base, new)
        assert why and why[0].startswith(label)
        with pytest.raises(ResultsError, match="refusing to compare"):
            rules.compare(base, new, strict_machine=True)
        store = HistoryStore.open(":memory:")
        store.ingest([(base, "base")], allow_incomplete=True)
        earlier = history.History(".", store, store.sessions())
        assert history.baseline(earlier, new) == (None, why)
        store.close()


def test_per_metric_thresholds_come_from_the_table() -> None:
    base = startup_session(TIGHT, "base")
    new = startup_session([v * 1.04 for v in TIGHT], "new")   # +4 %: inside 10 %
    (row,) = rules.compare(base, new).rows
    assert row.threshold == metrics.threshold("launch_to_exit_ms") == 0.10
    assert row.verdict == rules.SAME
    (strict,) = rules.compare(base, new, threshold=0.01).rows
    assert (strict.threshold, strict.verdict) == (0.01, rules.REGRESSED)
