"""The history database under load: ingest time and size of N synthetic sessions, and the
latency of `isobench history trend`, on SQLite and on PostgreSQL.

    .venv/bin/python -m bench.tools.history_load --sessions 100 \\
        --shape tests/unit/fixtures/reports/tcg_all_targets.json --repetitions 5 \\
        [--postgres postgresql://user@/db?host=/tmp/dir]

The sessions are copies of a real session's shape (--shape: its workloads, variants,
metrics and targets), each run repeated --repetitions times (the quick profile runs 5 on the
host targets) with values jittered by a seeded ±5 %, a new id and one day between sessions.
Ingest is timed for the whole batch, one session per transaction as `isobench bench` does
it; the trend latency is the wall time of the `isobench history trend` command (start-up
included, median of --trend-runs) and of the query alone, in process.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from results.document import load
from results.history.store import HistoryStore
from results.stats import median

ISOBENCH = str(Path(sys.executable).with_name("isobench"))
METRIC = "cpu.single.events_per_s"


def synthetic(shape: dict[str, Any], n: int, repetitions: int, seed: int = 0
              ) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = time.mktime(time.strptime("2026-01-01T00:00:00Z", "%Y-%m-%dT%H:%M:%SZ"))
    out = []
    for i in range(n):
        doc = copy.deepcopy(shape)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + i * 86400))
        doc["session"].update(id=f"synthetic-{i:04d}", started_at=stamp, finished_at=stamp,
                              complete=True)
        runs = []
        for run in shape["runs"]:
            for rep in range(repetitions):
                copied = copy.deepcopy(run)
                copied["repetition"] = rep
                copied["metrics"] = {m: (v * rng.uniform(0.95, 1.05) if v is not None else None)
                                     for m, v in run.get("metrics", {}).items()}
                runs.append(copied)
        doc["runs"] = runs
        out.append(doc)
    return out


def size_bytes(where: str, store: HistoryStore) -> int:
    if store.db.kind == "sqlite":
        return os.path.getsize(where)
    return int(store.db.query("SELECT pg_database_size(current_database())")[0][0])


def measure(where: str, docs: list[dict[str, Any]], trend_runs: int) -> dict[str, Any]:
    with HistoryStore.open(where) as store:
        began = time.perf_counter()
        for doc in docs:
            store.ingest([(doc, "synthetic")])
        ingest_s = time.perf_counter() - began
        counts = store.counts()
        size = size_bytes(where, store)
        queries = []
        for _ in range(trend_runs):
            began = time.perf_counter()
            store.values(metric=METRIC)
            queries.append(time.perf_counter() - began)
    commands = []
    for _ in range(trend_runs):
        began = time.perf_counter()
        subprocess.run([ISOBENCH, "history", "trend", METRIC, "--history", where],
                       check=True, capture_output=True)
        commands.append(time.perf_counter() - began)
    return {"sessions": len(docs), "rows": counts, "ingest_s": round(ingest_s, 3),
            "ingest_ms_per_session": round(ingest_s / len(docs) * 1000, 1),
            "size_bytes": size, "trend_query_ms_median": round(median(queries) * 1000, 1),
            "trend_command_ms_median": round(median(commands) * 1000, 1), "n": trend_runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--shape", default="tests/unit/fixtures/reports/tcg_all_targets.json")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--trend-runs", type=int, default=7)
    parser.add_argument("--postgres", metavar="URL", help="also measure this (empty) database")
    args = parser.parse_args()
    docs = synthetic(load(args.shape), args.sessions, args.repetitions)
    shape_bytes = sum(len(json.dumps(d)) for d in docs)
    report: dict[str, Any] = {"shape": args.shape, "json_bytes_total": shape_bytes}
    with tempfile.TemporaryDirectory() as tmp:
        report["sqlite"] = measure(str(Path(tmp) / "history.sqlite"), docs, args.trend_runs)
    if args.postgres:
        report["postgresql"] = measure(args.postgres, docs, args.trend_runs)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
