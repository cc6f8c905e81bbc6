"""One connection to the history database, on SQLite or PostgreSQL, speaking one SQL.

Why plain SQL through the two DB-API drivers (sqlite3 from the standard library, psycopg 3
for PostgreSQL) and not SQLAlchemy Core: the schema is four tables of text, integer, float
and boolean columns with text keys (no sequences, no engine-specific types), so every
statement in results/history is written once and runs unchanged on both; the only
difference the drivers show is the placeholder (`?` for sqlite3, `%s` for psycopg), which
`_sql()` translates. SQLAlchemy would add a dependency for that one line and cost start-up
time measured here (2026-12-03, .venv python, `-X importtime`, 3 runs): `import sqlalchemy`
173-301 ms, `import psycopg` 136-157 ms, `import sqlite3` 4 ms. Each driver is imported only
when a database of its kind is opened, so `isobench run` pays for neither and `isobench
bench` pays 4 ms for its automatic ingest into SQLite.

A location is a PostgreSQL URL (`postgresql://user@host/db`, `postgres://...`, or a libpq
keyword string starting with `host=`/`dbname=`), `sqlite:///path`, or a plain file path
(SQLite). Every failure to connect or to run a statement is one ResultsError line with the
password left out.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from results.errors import ResultsError

POSTGRES_PREFIXES = ("postgresql://", "postgres://")
SQLITE_PREFIX = "sqlite:///"


def is_postgres(location: str) -> bool:
    return location.startswith(POSTGRES_PREFIXES) or bool(
        re.match(r"^\s*(host|dbname|user|port)=", location))


def shown(location: str) -> str:
    """The location as an error may print it: the password replaced by ***."""
    location = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", location)
    return re.sub(r"(password=)\S+", r"\1***", location)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


class Database:
    """A connection in autocommit mode; `transaction()` groups statements into one."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.kind = "postgresql" if is_postgres(location) else "sqlite"
        self._in_transaction = False
        try:
            self._conn: Any = (self._connect_postgres() if self.kind == "postgresql"
                               else self._connect_sqlite())
        except ResultsError:
            raise
        except Exception as e:  # noqa: BLE001 - each driver's own error classes
            raise ResultsError(f"history {shown(location)}: {_first_line(e)}") from None

    def _connect_postgres(self) -> Any:
        # start-up time: psycopg costs ~150 ms to import, paid only by a PostgreSQL history
        import psycopg

        return psycopg.connect(self.location, autocommit=True, connect_timeout=10)

    def _connect_sqlite(self) -> Any:
        import sqlite3

        path = self.location.removeprefix(SQLITE_PREFIX[:-1]) \
            if self.location.startswith(SQLITE_PREFIX) else self.location
        if path != ":memory:":
            file = Path(path)
            file.parent.mkdir(parents=True, exist_ok=True)
            if not file.exists():  # results can hold hostnames and commands: 0640 as they are
                os.close(os.open(file, os.O_CREAT | os.O_WRONLY, 0o640))
        # isolation_level None: no implicit transactions; transaction() says BEGIN itself
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.kind == "postgresql" else statement

    def _error(self, e: BaseException) -> ResultsError:
        return ResultsError(f"history {shown(self.location)}: {_first_line(e)}")

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        try:
            self._conn.execute(self._sql(statement), tuple(params))
        except Exception as e:  # noqa: BLE001 - each driver's own error classes
            raise self._error(e) from None

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if not rows:
            return
        try:
            cursor = self._conn.cursor()
            cursor.executemany(self._sql(statement), rows)
        except Exception as e:  # noqa: BLE001
            raise self._error(e) from None

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            cursor = self._conn.execute(self._sql(statement), tuple(params))
            return [tuple(row) for row in cursor.fetchall()]
        except Exception as e:  # noqa: BLE001
            raise self._error(e) from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: any exception inside rolls every statement back."""
        if self.kind == "postgresql":
            with self._pg_transaction():
                yield
            return
        # IMMEDIATE: take the write lock now, so two ingests queue instead of one failing
        self.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    @contextlib.contextmanager
    def _pg_transaction(self) -> Iterator[None]:
        import psycopg  # already imported by the connection

        try:
            with self._conn.transaction():
                yield
        except psycopg.Error as e:  # BEGIN or COMMIT failed: the statements' own are wrapped
            raise self._error(e) from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
