"""`isobench bench`'s session directory (ISOBENCH_RESULTS, else the state root's results/,
never the current directory) and its `latest` link."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from isobench.commands import bench


def _args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"resume": None, "out": None, **kw})


def test_default_session_dir_is_a_utc_stamp_under_the_state_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ISOBENCH_RESULTS", raising=False)
    monkeypatch.setenv("ISOBENCH_ROOT", str(tmp_path / "state"))
    out = bench._out_dir(_args())
    assert out.parent == tmp_path / "state" / "results"
    assert len(out.name) == len("20261128T214748Z") and out.name.endswith("Z")
    monkeypatch.setenv("ISOBENCH_RESULTS", str(tmp_path / "mine"))
    assert bench._out_dir(_args()).parent == tmp_path / "mine"


@pytest.fixture(autouse=True)
def results_in_reports_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """As `make bench` sets it: a relative reports/out, in each test's current directory."""
    monkeypatch.setenv("ISOBENCH_RESULTS", "reports/out")


def test_latest_points_at_the_newest_session_even_on_a_fresh_checkout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no reports/out yet, as in a fresh clone
    first = Path("reports/out/20260101T000000Z")
    first.mkdir(parents=True)
    bench._point_latest(first)
    assert os.readlink("reports/out/latest") == first.name
    second = Path("reports/out/20260102T000000Z")
    second.mkdir()
    bench._point_latest(second)
    assert os.readlink("reports/out/latest") == second.name
    assert not Path("reports/out/.latest.tmp").exists()


def test_an_explicit_out_dir_elsewhere_leaves_latest_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "elsewhere"
    other.mkdir()
    Path("reports/out").mkdir(parents=True)
    bench._point_latest(other)
    assert not Path("reports/out/latest").exists()
    assert bench._out_dir(_args(out=str(other))) == other
    assert bench._out_dir(_args(resume=str(other))) == other


def test_a_finished_session_goes_into_the_history_and_a_failure_is_a_warning(
        tmp_path: Path) -> None:
    import io
    import json

    from rich.console import Console

    from results.history.store import HistoryStore
    from tests.unit.test_report_support import fixture

    session = tmp_path / "session"
    session.mkdir()
    doc = fixture("xeon_cpu")
    (session / "results.json").write_text(json.dumps(doc))
    where = str(tmp_path / "history.sqlite")
    shown = io.StringIO()
    console = Console(file=shown, width=200, highlight=False)
    bench._ingest(session, where, console)
    bench._ingest(session, where, console)
    assert shown.getvalue().splitlines() == [f"history: {doc['session']['id']} added",
                                             f"history: {doc['session']['id']} unchanged"]
    with HistoryStore.open(where) as store:
        assert [s.id for s in store.sessions()] == [doc["session"]["id"]]
    shown.truncate(0)
    shown.seek(0)
    bench._ingest(session, "postgresql://me:pw@127.0.0.1:1/none", console)  # nobody listens
    (line,) = shown.getvalue().splitlines()
    assert line.startswith("isobench: warning: not added to the history: history ")
    assert "pw" not in line
