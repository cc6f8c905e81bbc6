"""The history database (results/history) and `isobench history`, each test run against
SQLite and against a real PostgreSQL server started from Debian's binaries
(tests/pgserver.py): ingest in one transaction, refusal of a bad file with the database
unchanged, idempotent re-ingest, trends, and regressions that agree with `isobench compare`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from isobench import cli
from reports import history as report_history
from reports import render
from reports.formatting import fmt_ratio
from results.errors import ResultsError
from results.history.schema import machine_row
from results.history.store import ADDED, REPLACED, UNCHANGED, HistoryStore
from tests.pgserver import PgServer, pg_server
from tests.unit.test_report_history import TIGHT, WORKLOADS
from tests.unit.test_report_support import doc, fixture, run

ENGINES = ("sqlite", "postgresql")


@pytest.fixture(scope="module")
def postgres() -> Iterator[PgServer]:
    with pg_server() as server:
        yield server


@pytest.fixture(params=ENGINES)
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty history database of each engine."""
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite")
    return request.getfixturevalue("postgres").create_database()


def session(values: dict[str, list[float]], *, session_id: str, started_at: str
            ) -> dict[str, Any]:
    """One container run per repetition, with every metric's value of that repetition."""
    n = len(next(iter(values.values())))
    runs = [run("cpu", "cpu.single", "container", {m: values[m][i] for m in values}, rep=i)
            for i in range(n)]
    return doc(*runs, session_id=session_id, started_at=started_at, workloads=WORKLOADS)


def three_sessions() -> list[dict[str, Any]]:
    """Two sessions on one machine (the second 20 % slower), a third on another machine."""
    a = session({"events_per_s": TIGHT, "latency_avg_ms": TIGHT}, session_id="s-a",
                started_at="2026-11-26T10:00:00Z")
    b = session({"events_per_s": [v * 0.8 for v in TIGHT],
                 "latency_avg_ms": [v * 0.8 for v in TIGHT]}, session_id="s-b",
                started_at="2026-11-27T10:00:00Z")
    other = copy.deepcopy(a)
    other["session"].update(id="s-other", started_at="2026-11-28T10:00:00Z")
    other["machine"]["cores"] = 64
    return [a, b, other]


def write(directory: Path, doc: dict[str, Any] | str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    text = doc if isinstance(doc, str) else json.dumps(doc)
    (directory / "results.json").write_text(text)
    return directory


def dump(where: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to see that a refused ingest changed nothing."""
    with HistoryStore.open(where) as store:
        return {table: sorted(map(repr, store.db.query(f"SELECT * FROM {table}")))
                for table in ("machines", "sessions", "runs", "metric_values")}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_is_one_transaction_and_idempotent(where: str, tmp_path: Path) -> None:
    a, b, other = three_sessions()
    with HistoryStore.open(where) as store:
        assert store.ingest([(a, "a"), (b, "b"), (other, "o")]) == [
            ("s-a", ADDED), ("s-b", ADDED), ("s-other", ADDED)]
        counts = store.counts()
        assert counts == {"machines": 2, "sessions": 3, "runs": 15, "metric_values": 30}
        assert store.ingest([(b, "b")]) == [("s-b", UNCHANGED)]
        assert store.counts() == counts
        longer = copy.deepcopy(b)  # the same session, continued: its rows are replaced
        longer["runs"] = longer["runs"][:4]
        assert store.ingest([(longer, "b")]) == [("s-b", REPLACED)]
        assert store.counts()["runs"] == 14
        # a batch whose second session breaks a key (two runs with one repetition) leaves
        # nothing of the batch: the first session's rows are rolled back with it
        broken = copy.deepcopy(a)
        broken["session"]["id"] = "s-broken"
        broken["runs"].append(broken["runs"][0])
        fresh = copy.deepcopy(a)
        fresh["session"]["id"] = "s-fresh"
        before = store.counts()
        with pytest.raises(ResultsError) as refused:
            store.ingest([(fresh, "fresh"), (broken, "broken")])
        assert "\n" not in str(refused.value)
        assert store.counts() == before
        assert [s.id for s in store.sessions()] == ["s-a", "s-b", "s-other"]


def test_a_corrupt_or_half_written_file_is_refused_in_one_line_and_nothing_changes(
        where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b, _ = three_sessions()
    write(tmp_path / "a", a)
    text = json.dumps(b)
    write(tmp_path / "half", text[: len(text) // 2])          # a write cut short
    unfinished = copy.deepcopy(b)
    unfinished["session"]["complete"] = False                # an interrupted session
    write(tmp_path / "unfinished", unfinished)
    write(tmp_path / "b", b)
    assert run_cli(capsys, "history", "ingest", "--history", where, str(tmp_path / "a"))[0] == 0
    before = dump(where)
    for bad in ("half", "unfinished"):
        code, out, err = run_cli(capsys, "history", "ingest", "--history", where,
                                 str(tmp_path / "b"), str(tmp_path / bad))
        assert code == 2 and out == ""
        assert len(err.splitlines()) == 1 and str(tmp_path / bad) in err, err
        assert "Traceback" not in err
        assert dump(where) == before, bad   # b, which was fine, was not kept either
    assert "not JSON" in run_cli(capsys, "history", "ingest", "--history", where,
                                 str(tmp_path / "half"))[2]
    code, out, _ = run_cli(capsys, "history", "ingest", "--history", where, str(tmp_path))
    assert code == 2  # a directory of sessions is all or nothing too
    code, out, _ = run_cli(capsys, "history", "ingest", "--history", where,
                           str(tmp_path / "a"), str(tmp_path / "b"))
    assert (code, out) == (0, "s-a: unchanged\ns-b: added\n")


def test_trend_and_ls(where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b, other = three_sessions()
    b["runs"][1]["contended"] = True          # left out of b's values, as compare does
    with HistoryStore.open(where) as store:
        store.ingest([(a, "a"), (b, "b"), (other, "o")])
        machine_a = store.sessions()[0].machine_id
    code, out, _ = run_cli(capsys, "history", "trend", "cpu.single.events_per_s",
                           "--target", "container", "--machine", machine_a[:6],
                           "--history", where, "--format", "json")
    assert code == 0
    points = json.loads(out)
    assert [(p["session"], p["n"], p["median"]) for p in points] == [
        ("s-a", 5, 100.0), ("s-b", 4, pytest.approx(79.8))]
    code, out, _ = run_cli(capsys, "history", "trend", "events_per_s", "--history", where)
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:4] == ["WORKLOAD", "VARIANT", "METRIC", "TARGET"]
    assert [line.split()[5] for line in lines[1:]] == ["s-a", "s-b", "s-other"]
    assert run_cli(capsys, "history", "trend", "nosuch_metric", "--history", where)[0] == 2
    code, _, err = run_cli(capsys, "history", "ls", "--machine", "zzzz", "--history", where)
    assert code == 2 and "no machine 'zzzz'" in err
    code, out, _ = run_cli(capsys, "history", "ls", "--history", where, "--format", "json")
    listed = json.loads(out)
    assert [(s["id"], s["runs"]) for s in listed] == [("s-a", 5), ("s-b", 5), ("s-other", 5)]
    assert listed[0]["machine"] == listed[1]["machine"] != listed[2]["machine"]


def test_regressions_agree_with_compare(where: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    a, b, other = three_sessions()
    paths = [write(tmp_path / d["session"]["id"], d) for d in (a, b, other)]
    assert run_cli(capsys, "history", "ingest", "--history", where, *map(str, paths))[0] == 0
    compared = run_cli(capsys, "compare", str(paths[0]), str(paths[1]), "--format", "json")
    assert compared[0] == 1  # events_per_s regressed
    # the newest session (s-other) runs on another machine: its baseline would be none
    code, _, err = run_cli(capsys, "history", "regressions", "--history", where)
    assert code == 2 and "no earlier session of a comparable machine" in err
    assert "cores 2 vs 64" in err
    machine = json.loads(run_cli(capsys, "history", "ls", "--history", where,
                                 "--format", "json")[1])[0]["machine"]
    for argv in (["s-b"], ["--machine", machine[:4]]):  # b: the newest of a's machine
        code, out, err = run_cli(capsys, "history", "regressions", *argv, "--history", where,
                                 "--format", "json")
        assert (code, out) == compared[:2], argv
        assert "s-a -> s-b" in err
    verdicts = {(r["metric"], r["verdict"]) for r in json.loads(out)["rows"]}
    assert verdicts == {("events_per_s", "regressed"), ("latency_avg_ms", "improved")}
    # compare --against-history takes the same baseline for b's file
    assert run_cli(capsys, "compare", "--against-history", str(paths[1]), "--history", where,
                   "--format", "json")[:2] == compared[:2]
    code, _, err = run_cli(capsys, "compare", "--against-history", str(paths[0]),
                           "--history", where)
    assert code == 2 and "no earlier session of a comparable machine" in err
    assert run_cli(capsys, "compare", "--against-history", str(paths[0]), str(paths[1]))[0] == 2


def test_the_report_reads_its_history_from_the_database(where: str, tmp_path: Path) -> None:
    a, b, other = three_sessions()
    with HistoryStore.open(where) as store:
        store.ingest([(a, "a"), (other, "o")])
    h = report_history.load_history(where, b)
    try:
        assert [s.id for s in h.sessions] == ["s-a"]  # other started after b
        base, why = report_history.baseline(h, b)
        assert base is not None and base.id == "s-a" and why == []
        assert set(h.values()["s-a"]) == {("cpu", "cpu.single", m, "container")
                                          for m in ("events_per_s", "latency_avg_ms")}
    finally:
        h.close()
    path = write(tmp_path / "b", b) / "results.json"
    out = render.generate(path, formats="html", history_dir=where, out=tmp_path / "report")
    html = Path(out.html).read_text()
    assert 'id="fig-trend-cpu"' in html
    assert "Compared with the most recent comparable session, s-a" in html
    assert '<p class="regressions">' in html


def test_errors_are_one_line_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://me:secret@127.0.0.1:1/none"
    code, _, err = run_cli(capsys, "history", "ls", "--history", url)
    assert code == 2 and len(err.splitlines()) == 1
    assert "secret" not in err and "me:***@127.0.0.1" in err
    with pytest.raises(ResultsError, match="file is not a database"):
        HistoryStore.open(str(Path(__file__)))


@pytest.mark.parametrize(("argv", "routed"), [
    (["history", "busybox"], ["image", "history", "busybox"]),
    (["history", "--no-trunc", "busybox"], ["image", "history", "--no-trunc", "busybox"]),
    (["--debug", "history", "busybox"], ["--debug", "image", "history", "busybox"]),
    (["history", "ls"], ["history", "ls"]),
    (["history", "trend", "x"], ["history", "trend", "x"]),
    (["history", "--help"], ["history", "--help"]),
    (["run", "history"], ["run", "history"]),
])
def test_history_image_stays_dockers_image_history(argv: list[str], routed: list[str]) -> None:
    from isobench.commands.history import route

    assert route(argv) == routed


def test_report_machines_puts_two_machines_side_by_side(
        where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two recorded real sessions of two machines (tests/unit/fixtures/reports/README.md),
    from their files and from the history."""
    amd, xeon = fixture("tcg_all_targets"), fixture("xeon_cpu")
    paths = [write(tmp_path / name, d) for name, d in (("amd", amd), ("xeon", xeon))]
    ids = [machine_row(d["machine"])["id"] for d in (amd, xeon)]
    assert ids[0] != ids[1]
    cell = ("cpu", "cpu.single", "events_per_s", "container")
    expected = [fmt_ratio(c["ratio_to_native"], c["ci_low"], c["ci_high"])
                for c in (d["summary"]["cpu"]["cpu.single"]["events_per_s"]["container"]
                          for d in (amd, xeon))]
    assert run_cli(capsys, "history", "ingest", "--history", where, *map(str, paths))[0] == 0
    for argv, out in ((list(map(str, paths)), tmp_path / "files"),
                      (["--history", where], tmp_path / "db")):
        code, printed, err = run_cli(capsys, "report", "--machines", *argv, "--out", str(out))
        assert code == 0, err
        assert printed.strip() == str(out / "machines.html")
        html = (out / "machines.html").read_text()
        for machine_id in ids:
            assert f"<th>{machine_id}</th>" in html
        row = next(r for r in html.split("<tr")
                   if all(f"<td>{part}" in r for part in cell[:2]) and
                   "container/native" in r and f"<td>{cell[2]}" in r)
        for text in expected:
            assert text in row, (text, row)
        assert "vm/native" in html   # the AMD session ran a VM; the Xeon's shows "–"
    code, _, err = run_cli(capsys, "report", "--machines", str(paths[0]), str(paths[0]),
                           "--out", str(tmp_path / "same"))
    assert code == 1 and "ran on the same machine" in err


def test_report_history_alone_reads_the_default_database(
        where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, _ = three_sessions()
    with HistoryStore.open(where) as store:
        store.ingest([(a, "a")])
    monkeypatch.setenv("ISOBENCH_HISTORY", where)
    path = write(tmp_path / "b", b)
    code, out, err = run_cli(capsys, "report", str(path), "--format", "html", "--history",
                             "--out", str(tmp_path / "report"))
    assert code == 0, err
    html = (tmp_path / "report" / "report.html").read_text()
    assert "Compared with the most recent comparable session, s-a" in html
