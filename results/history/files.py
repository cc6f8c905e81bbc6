"""What `history ingest` reads: results files, session directories, and directories of
session directories (reports/out/), each read and validated before the database is opened."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from results.document import RESULTS_FILE, load, results_path
from results.errors import ResultsError


def session_files(arg: str | os.PathLike[str]) -> list[Path]:
    """A results file, a session directory's, or every session directory's in a directory
    of them (links such as reports/out/latest skipped: they point at one of the others)."""
    path = Path(arg)
    if path.is_dir() and not (path / RESULTS_FILE).is_file():
        found = sorted(entry / RESULTS_FILE for entry in path.iterdir()
                       if not entry.is_symlink() and (entry / RESULTS_FILE).is_file())
        if not found:
            raise ResultsError(f"{path}: no {RESULTS_FILE} here or in its sub-directories")
        return found
    return [results_path(path)]


def read_sessions(args: Iterable[str | os.PathLike[str]]) -> list[tuple[dict[str, Any], str]]:
    """(document, its path) for every session the arguments name; the first file that cannot
    be read, migrated or validated raises its one-line ResultsError."""
    return [(load(path), str(path)) for arg in args for path in session_files(arg)]
