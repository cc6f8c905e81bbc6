"""Two real tiny `isobench bench` sessions added to the history by bench itself, on SQLite
(the default under the state root) and on a real PostgreSQL server (ISOBENCH_HISTORY):
`history trend` prints both points, `history regressions` agrees with `isobench compare` on
the same pair, and a half-written results file is refused with the database unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from results.history.store import HistoryStore
from tests.integration.conftest import Cli
from tests.pgserver import PgServer, pg_server

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def postgres() -> Iterator[PgServer]:
    with pg_server() as server:
        yield server


def tiny(cli: Cli, seed: int) -> str:
    """A tiny session (cpu on native; contended runs kept, so that a busy host still gives
    every cell its value); the session id bench printed as added to the history."""
    proc = cli("bench", "--profile", "tiny", "--targets", "native", "--workloads", "cpu",
               "--seed", str(seed), "--keep-contended", timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    added = [line.split()[1] for line in proc.stderr.splitlines()
             if line.startswith("history: ")]
    assert len(added) == 1 and proc.stderr.count(" added") == 1, proc.stderr[-2000:]
    return added[0]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_two_real_sessions_in_the_history(cli: Cli, request: pytest.FixtureRequest,
                                          engine: str) -> None:
    cli.env.pop("ISOBENCH_RESULTS", None)
    cli.env.pop("ISOBENCH_HISTORY", None)
    if engine == "postgresql":
        cli.env["ISOBENCH_HISTORY"] = request.getfixturevalue("postgres").create_database()
    where = cli.env.get("ISOBENCH_HISTORY") or str(cli.root / "history.sqlite")
    first, second = tiny(cli, 1), tiny(cli, 2)
    results = cli.root / "results"   # the default results directory, under the state root
    assert (results / "latest").resolve().name == sorted(
        p.name for p in results.iterdir() if not p.is_symlink())[-1]
    assert Path(where).is_file() == (engine == "sqlite")

    proc = cli("history", "ls", "--format", "json", check=True)
    assert [s["id"] for s in json.loads(proc.stdout)] == [first, second]
    proc = cli("history", "trend", "cpu.single.events_per_s", "--target", "native",
               "--format", "json", check=True)
    points = json.loads(proc.stdout)
    assert [(p["session"], p["n"]) for p in points] == [(first, 1), (second, 1)]
    assert all(p["median"] > 0 for p in points)
    text = cli("history", "trend", "cpu.single.events_per_s", check=True).stdout
    assert first in text and second in text

    paths = {}
    for directory in results.iterdir():
        if not directory.is_symlink():
            doc = json.loads((directory / "results.json").read_text())
            paths[doc["session"]["id"]] = directory
    compared = cli("compare", str(paths[first]), str(paths[second]), "--format", "json")
    regressions = cli("history", "regressions", "--format", "json")
    assert compared.returncode in (0, 1), compared.stderr
    assert (regressions.returncode, regressions.stdout) == (compared.returncode,
                                                            compared.stdout)
    assert f"{first} -> {second}" in regressions.stderr
    against = cli("compare", "--against-history", str(paths[second]), "--format", "json")
    assert (against.returncode, against.stdout) == (compared.returncode, compared.stdout)

    # a half-written copy of a third session: refused in one line, nothing written
    with HistoryStore.open(where) as store:
        before = store.counts()
    half = cli.root / "half"
    half.mkdir()
    text = (paths[second] / "results.json").read_text().replace(second, "third")
    (half / "results.json").write_text(text[: len(text) // 2])
    proc = cli("history", "ingest", str(half))
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "not JSON" in proc.stderr
    with HistoryStore.open(where) as store:
        assert store.counts() == before
        assert [s.id for s in store.sessions()] == [first, second]
