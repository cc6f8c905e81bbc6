"""The history database's tables, and a results document flattened into their rows.

    machines       one row per machine fingerprint: CPU model, cores, memory, kernel,
                   distribution, virtualization, cgroup mode, acceleration
    sessions       one row per session: its machine, times, profile, isobench version and
                   commit, where it was ingested from, a digest of the document, and the
                   document itself (the JSON stays the unit of exchange; the database is
                   the index, and holds what `compare` needs so a team's history does not
                   depend on everyone's files)
    runs           one row per repetition: ok, contended
    metric_values  one row per (run, metric) reading: the long form trends are read from

The DDL is the same text on SQLite and PostgreSQL (text keys, no sequences; SQLite reads
BIGINT, DOUBLE PRECISION and BOOLEAN by type affinity). HISTORY_SCHEMA counts its versions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HISTORY_SCHEMA = 1

DDL = (
    """CREATE TABLE IF NOT EXISTS history_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS machines (
        id TEXT PRIMARY KEY,
        cpu_model TEXT,
        cores INTEGER,
        memory_bytes BIGINT,
        kernel TEXT NOT NULL,
        distribution TEXT,
        virtualization TEXT NOT NULL,
        cgroup_mode TEXT,
        acceleration TEXT)""",
    """CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        machine_id TEXT NOT NULL REFERENCES machines (id),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        profile TEXT,
        complete BOOLEAN NOT NULL,
        keep_contended BOOLEAN NOT NULL,
        schema_version INTEGER NOT NULL,
        isobench_version TEXT,
        isobench_commit TEXT,
        source TEXT NOT NULL,
        ingested_at TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        machine_block TEXT NOT NULL,
        document TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS runs (
        session_id TEXT NOT NULL REFERENCES sessions (id),
        workload TEXT NOT NULL,
        variant TEXT NOT NULL,
        target TEXT NOT NULL,
        repetition INTEGER NOT NULL,
        ok BOOLEAN NOT NULL,
        contended BOOLEAN NOT NULL,
        PRIMARY KEY (session_id, workload, variant, target, repetition))""",
    """CREATE TABLE IF NOT EXISTS metric_values (
        session_id TEXT NOT NULL,
        workload TEXT NOT NULL,
        variant TEXT NOT NULL,
        target TEXT NOT NULL,
        repetition INTEGER NOT NULL,
        metric TEXT NOT NULL,
        value DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (session_id, workload, variant, target, repetition, metric),
        FOREIGN KEY (session_id, workload, variant, target, repetition)
            REFERENCES runs (session_id, workload, variant, target, repetition))""",
    "CREATE INDEX IF NOT EXISTS metric_values_by_metric ON metric_values (metric, target)",
    "CREATE INDEX IF NOT EXISTS sessions_by_machine ON sessions (machine_id, started_at)",
)

# what identifies a machine: its results are comparable across sessions only when these match
FINGERPRINT_FIELDS = ("cpu_model", "cores", "memory_bytes", "kernel", "distribution",
                      "virtualization", "cgroup_mode", "acceleration")


def _virtualization(machine: Mapping[str, Any]) -> str:
    """"none", or the hypervisor type, with the container this host runs in if any."""
    virt = machine.get("virtualization") or {}
    kind = str(virt.get("type") or ("unknown" if virt.get("guest") else "none"))
    container = virt.get("container")
    return f"{kind}+{container}" if container else kind


def machine_row(machine: Mapping[str, Any]) -> dict[str, Any]:
    """The machine block's identifying fields, and their fingerprint as `id` (12 hex
    digits of a sha256: short enough to type, as Docker's ids)."""
    row = {"cpu_model": machine.get("cpu_model"), "cores": machine.get("cores"),
           "memory_bytes": machine.get("memory_bytes"), "kernel": str(machine.get("kernel")),
           "distribution": machine.get("distribution"),
           "virtualization": _virtualization(machine),
           "cgroup_mode": machine.get("cgroup_mode"),
           "acceleration": (machine.get("acceleration") or {}).get("mode")}
    canonical = json.dumps([row[f] for f in FINGERPRINT_FIELDS], separators=(",", ":"))
    return {"id": hashlib.sha256(canonical.encode()).hexdigest()[:12], **row}


def canonical(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Rows:
    """One document as rows of every table (runs and values as tuples in column order)."""

    machine: dict[str, Any]
    session: dict[str, Any]
    runs: list[tuple[Any, ...]]
    values: list[tuple[Any, ...]]


def rows_of(doc: Mapping[str, Any], source: str, ingested_at: str) -> Rows:
    session = doc["session"]
    machine = machine_row(doc["machine"])
    text = canonical(doc)
    isobench = doc["machine"].get("isobench") or {}
    sid = str(session["id"])
    runs, values = [], []
    for run in doc.get("runs", []):
        key = (sid, run["workload"], run["variant"], run["target"], int(run["repetition"]))
        runs.append((*key, bool(run.get("ok")), bool(run.get("contended"))))
        values += [(*key, metric, float(value))
                   for metric, value in sorted(run.get("metrics", {}).items())
                   if value is not None]
    return Rows(
        machine=machine,
        session={"id": sid, "machine_id": machine["id"],
                 "started_at": str(session["started_at"]),
                 "finished_at": session.get("finished_at"), "profile": session.get("profile"),
                 "complete": bool(session.get("complete")),
                 "keep_contended": bool(session.get("keep_contended")),
                 "schema_version": int(doc["schema_version"]),
                 "isobench_version": isobench.get("version"),
                 "isobench_commit": isobench.get("commit"), "source": source,
                 "ingested_at": ingested_at,
                 "sha256": hashlib.sha256(text.encode()).hexdigest(),
                 "machine_block": canonical(doc["machine"]), "document": text},
        runs=runs, values=values)
