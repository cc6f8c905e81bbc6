"""The history: ingest sessions (one transaction), list them, read trends and baselines.

    store = HistoryStore.open("/var/lib/isobench/history.sqlite")   # or postgresql://...
    store.ingest([(doc, "reports/out/2026.../results.json")])
    store.sessions(machine="3f2a")            # oldest first
    store.values(metric="events_per_s")       # session id -> cell -> counted values
    store.document(session_id)                # the stored results document

Ingest takes documents already read and validated (results.document.load), so a corrupted
or half-written file is refused before the database is touched, and writes all of them in
one transaction: nothing of a batch is kept unless all of it is. A session already stored
with the same content is left as it is ("unchanged"); with other content (a session
continued with `bench --resume`) its rows are replaced ("replaced").
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from results.compare import differences
from results.errors import ResultsError
from results.history.engine import Database
from results.history.schema import DDL, HISTORY_SCHEMA, Rows, rows_of
from results.migrate import migrate

Document = Mapping[str, Any]
Cell = tuple[str, str, str, str]   # (workload, variant, metric, target)

ADDED, UNCHANGED, REPLACED = "added", "unchanged", "replaced"

SESSION_COLUMNS = ("id", "machine_id", "started_at", "finished_at", "profile", "complete",
                   "keep_contended", "schema_version", "isobench_version", "isobench_commit",
                   "source", "ingested_at", "sha256", "machine_block", "document")
MACHINE_COLUMNS = ("id", "cpu_model", "cores", "memory_bytes", "kernel", "distribution",
                   "virtualization", "cgroup_mode", "acceleration")
RUN_KEY = ("session_id", "workload", "variant", "target", "repetition")


@dataclass(frozen=True)
class SessionInfo:
    """A session as `history ls` lists it (no document: that is read only when needed)."""

    id: str
    started_at: str
    machine_id: str
    cpu_model: str | None
    kernel: str
    acceleration: str | None
    profile: str | None
    isobench_commit: str | None
    schema_version: int
    runs: int
    source: str
    machine: dict[str, Any]     # the session's machine block, as results.compare reads it

    @property
    def stub(self) -> dict[str, Any]:
        """What results.compare.differences() reads of a document."""
        return {"schema_version": self.schema_version, "machine": self.machine}


def _placeholders(n: int) -> str:
    return ", ".join("?" * n)


def _insert(table: str, columns: Sequence[str], conflict: str = "") -> str:
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_placeholders(len(columns))})"
            + (f" ON CONFLICT ({conflict}) DO NOTHING" if conflict else ""))


class HistoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def open(cls, location: str) -> HistoryStore:
        """Connect, and create the tables on first use; refuse a database of another
        schema version."""
        db = Database(location)
        try:
            store = cls(db)
            store._prepare()
        except BaseException:
            db.close()
            raise
        return store

    def _prepare(self) -> None:
        with self.db.transaction():
            for statement in DDL:
                self.db.execute(statement)
            self.db.execute(_insert("history_meta", ("key", "value"), "key"),
                            ("schema", str(HISTORY_SCHEMA)))
        found = self.db.query("SELECT value FROM history_meta WHERE key = ?", ("schema",))
        if found and found[0][0] != str(HISTORY_SCHEMA):
            raise ResultsError(f"history schema {found[0][0]} (this isobench reads "
                               f"{HISTORY_SCHEMA})")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------

    def ingest(self, docs: Sequence[tuple[Document, str]], *, allow_incomplete: bool = False
               ) -> list[tuple[str, str]]:
        """Store each (document, where it came from) in one transaction; return (session id,
        added|unchanged|replaced) for each. An incomplete session is refused unless allowed
        (a report's in-memory history of a directory): its numbers would change under the
        history when it is resumed."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        batch = []
        for doc, source in docs:
            if not allow_incomplete and not doc["session"].get("complete"):
                raise ResultsError(f"{source}: session {doc['session']['id']} is not complete "
                                   "(interrupted?): finish it with `isobench bench --resume`")
            batch.append(rows_of(doc, source, now))
        outcomes = []
        with self.db.transaction():
            for rows in batch:
                outcomes.append((rows.session["id"], self._ingest_one(rows)))
        return outcomes

    def _ingest_one(self, rows: Rows) -> str:
        sid = rows.session["id"]
        found = self.db.query("SELECT sha256 FROM sessions WHERE id = ?", (sid,))
        if found and found[0][0] == rows.session["sha256"]:
            return UNCHANGED
        if found:
            for table in ("metric_values", "runs", "sessions"):
                column = "id" if table == "sessions" else "session_id"
                self.db.execute(f"DELETE FROM {table} WHERE {column} = ?", (sid,))
        self.db.execute(_insert("machines", MACHINE_COLUMNS, "id"),
                        [rows.machine[c] for c in MACHINE_COLUMNS])
        self.db.execute(_insert("sessions", SESSION_COLUMNS),
                        [rows.session[c] for c in SESSION_COLUMNS])
        self.db.executemany(_insert("runs", (*RUN_KEY, "ok", "contended")), rows.runs)
        self.db.executemany(_insert("metric_values", (*RUN_KEY, "metric", "value")),
                            rows.values)
        return REPLACED if found else ADDED

    # -- reading ------------------------------------------------------------------------------

    def _machine_ids(self, machine: str | None) -> list[str] | None:
        """The machines a --machine prefix names (None: no filter); a prefix that names
        none is an error, as Docker's for an unknown id."""
        if machine is None:
            return None
        ids = [row[0] for row in self.db.query("SELECT id FROM machines ORDER BY id")
               if row[0].startswith(machine)]
        if not ids:
            raise ResultsError(f"no machine {machine!r} in the history "
                               "(`isobench history ls` lists them)")
        return ids

    def sessions(self, machine: str | None = None) -> list[SessionInfo]:
        """Every session (of the machines `machine` names), oldest first."""
        ids = self._machine_ids(machine)
        where = f"WHERE s.machine_id IN ({_placeholders(len(ids))})" if ids else ""
        rows = self.db.query(
            "SELECT s.id, s.started_at, s.machine_id, m.cpu_model, m.kernel, m.acceleration, "
            "s.profile, s.isobench_commit, s.schema_version, s.source, s.machine_block, "
            "(SELECT COUNT(*) FROM runs r WHERE r.session_id = s.id) "
            "FROM sessions s JOIN machines m ON m.id = s.machine_id "
            f"{where} ORDER BY s.started_at, s.id", ids or ())
        return [SessionInfo(id=r[0], started_at=r[1], machine_id=r[2], cpu_model=r[3],
                            kernel=r[4], acceleration=r[5], profile=r[6],
                            isobench_commit=r[7], schema_version=int(r[8]), source=r[9],
                            machine=json.loads(r[10]), runs=int(r[11]))
                for r in rows]

    def session(self, session_id: str) -> SessionInfo:
        """One session by its id or a unique prefix of it."""
        found = [s for s in self.sessions() if s.id.startswith(session_id)]
        exact = [s for s in found if s.id == session_id]
        if exact or len(found) == 1:
            return (exact or found)[0]
        if not found:
            raise ResultsError(f"no session {session_id!r} in the history")
        raise ResultsError(f"session {session_id!r} is ambiguous: "
                           + ", ".join(s.id for s in found[:5]))

    def values(self, *, metric: str | None = None, target: str | None = None,
               machine: str | None = None, session_ids: Sequence[str] | None = None
               ) -> dict[str, dict[Cell, list[float]]]:
        """session id -> (workload, variant, metric, target) -> the counted repetitions'
        values in repetition order (ok, and not contended unless the session kept them:
        results.document.run_values' rule). `metric` is a metric name, or
        "variant.metric" or "workload.variant.metric" as compare's thresholds name one."""
        clauses = ["r.ok", "(NOT r.contended OR s.keep_contended)"]
        params: list[Any] = []
        if metric is not None:
            prefix, _, name = metric.rpartition(".")
            clauses.append("v.metric = ?")
            params.append(name)
            if prefix:
                clauses.append("(v.variant = ? OR v.workload || '.' || v.variant = ?)")
                params += [prefix, prefix]
        if target is not None:
            clauses.append("v.target = ?")
            params.append(target)
        ids = self._machine_ids(machine)
        if ids is not None:
            clauses.append(f"s.machine_id IN ({_placeholders(len(ids))})")
            params += ids
        if session_ids is not None:
            if not session_ids:
                return {}
            clauses.append(f"v.session_id IN ({_placeholders(len(session_ids))})")
            params += list(session_ids)
        rows = self.db.query(
            "SELECT v.session_id, v.workload, v.variant, v.metric, v.target, v.value "
            "FROM metric_values v "
            "JOIN runs r ON r.session_id = v.session_id AND r.workload = v.workload "
            "AND r.variant = v.variant AND r.target = v.target AND r.repetition = v.repetition "
            "JOIN sessions s ON s.id = v.session_id "
            f"WHERE {' AND '.join(clauses)} "
            "ORDER BY s.started_at, v.session_id, v.workload, v.variant, v.metric, v.target, "
            "v.repetition", params)
        out: dict[str, dict[Cell, list[float]]] = {}
        for sid, workload, variant, name, tgt, value in rows:
            out.setdefault(sid, {}).setdefault((workload, variant, name, tgt), []).append(
                float(value))
        return out

    def document(self, session_id: str) -> dict[str, Any]:
        """The stored document, brought up to this isobench's schema version."""
        rows = self.db.query("SELECT document FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise ResultsError(f"no session {session_id!r} in the history")
        return migrate(json.loads(rows[0][0]))

    def counts(self) -> dict[str, int]:
        """Rows per table (for `history ls`'s footer and the tests)."""
        return {table: int(self.db.query(f"SELECT COUNT(*) FROM {table}")[0][0])
                for table in ("machines", "sessions", "runs", "metric_values")}


def latest_comparable(sessions: Sequence[SessionInfo], current: Document
                      ) -> tuple[SessionInfo | None, list[str]]:
    """The most recent of `sessions` (oldest first) that results.compare.differences()
    finds nothing against `current` in (same schema version and machine keys), or None and
    why the most recent one is not."""
    why: list[str] = []
    for session in reversed(sessions):
        diffs = differences(session.stub, current)
        if not diffs:
            return session, []
        why = why or diffs
    return None, why


def earlier(sessions: Sequence[SessionInfo], current: Document) -> list[SessionInfo]:
    """The sessions started no later than `current`, and not `current` itself."""
    session = current.get("session") or {}
    now, sid = str(session.get("started_at") or ""), session.get("id")
    return [s for s in sessions if s.id != sid and (not now or s.started_at <= now)]
