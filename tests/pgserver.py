"""A real PostgreSQL server for the history tests: Debian's binaries (the Makefile's
`postgresql` package), a cluster made by initdb in a temporary directory, listening only on a
unix socket in that directory, stopped and removed at the end.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user
the package creates (runuser), in a directory handed to that user; as anyone else it runs as
that user. Nothing listens on a TCP port.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
USER = "isobench"      # the superuser initdb makes (trust authentication, socket only)
PORT = 5432            # only names the socket file, in a directory of our own


def pg_bin() -> Path:
    """The newest installed server's bin directory; an AssertionError naming the package
    when there is none (the Makefile installs it: a missing one is a setup bug)."""
    found = sorted(PG_ROOT.glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    assert found, "PostgreSQL server binaries not found under /usr/lib/postgresql: " \
                  "`make setup` installs the `postgresql` package"
    return found[-1].parent


class PgServer:
    def __init__(self, directory: Path, run_as: list[str]) -> None:
        self.directory = directory
        self.run_as = run_as
        self.bin = pg_bin()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@/{database}?host={self.directory}&port={PORT}"

    def _run(self, *argv: str) -> None:
        proc = subprocess.run([*self.run_as, *argv], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, f"{argv[0]}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"

    def start(self) -> None:
        data = self.directory / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "--username", USER,
                  "--auth", "trust", "--encoding", "UTF8", "--no-sync")
        options = f"-k {self.directory} -c listen_addresses='' -p {PORT} -F"
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-o", options, "-w",
                  "-l", str(self.directory / "server.log"), "start")

    def stop(self) -> None:
        subprocess.run([*self.run_as, str(self.bin / "pg_ctl"), "-D",
                        str(self.directory / "data"), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)

    def create_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextmanager
def pg_server() -> Iterator[PgServer]:
    directory = Path(tempfile.mkdtemp(prefix="isobench-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(directory, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    server = PgServer(directory, run_as)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
