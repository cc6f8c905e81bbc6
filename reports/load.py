"""Reading results files: the only input of a report.

A results file is results/schema.json's document; one written by an earlier version is
migrated first (results.migrate). Every problem is one ReportError whose message starts
with the file's path: not JSON, not an object, an unknown `schema_version`, a document the
schema rejects, a document with no target at all, or runs that name a target the `targets`
block does not declare. Targets that are declared but unavailable, or absent from a
session, are not errors: the report renders and lists them (see data.missing_targets).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reports.errors import ReportError
from results.document import results_path, schema_problem
from results.errors import ResultsError, UnknownSchemaVersion
from results.migrate import migrate

Document = dict[str, Any]


def check(doc: Any, path: str | os.PathLike[str]) -> Document:
    """`doc` (migrated to the current version) if it is a results document a report can
    use; else ReportError naming `path`."""
    if not isinstance(doc, dict):
        raise ReportError(f"{path}: not a results document (a JSON {type(doc).__name__})")
    try:
        doc = migrate(doc)
    except UnknownSchemaVersion as e:
        raise ReportError(f"{path}: unknown schema_version {e.shown} (this report reads "
                          f"version {e.current})") from None
    except ResultsError as e:
        raise ReportError(f"{path}: {e}") from None
    problem = schema_problem(doc, limit=140)
    if problem is not None:
        raise ReportError(f"{path}: invalid results: {problem}")
    for key in ("session", "machine", "targets", "workloads", "runs", "summary"):
        if not isinstance(doc.get(key), dict | list):
            raise ReportError(f"{path}: invalid results: no {key!r} block")
    if not doc["targets"]:
        raise ReportError(f"{path}: no target recorded: nothing to report")
    undeclared = sorted({str(r.get("target")) for r in doc["runs"]} - set(doc["targets"]))
    if undeclared:
        raise ReportError(f"{path}: runs name target {', '.join(undeclared)}, which the "
                          "targets block does not declare")
    return doc


def load_results(arg: str | os.PathLike[str]) -> tuple[Document, Path]:
    """(document, the results file's path) for a file or a session directory."""
    try:
        path = results_path(arg)
    except ResultsError as e:
        raise ReportError(str(e)) from None
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except json.JSONDecodeError as e:
        raise ReportError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: "
                          f"{e.msg})") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not valid JSON (not UTF-8 text)") from None
    except OSError as e:
        raise ReportError(f"{path}: {e.strerror or e}") from None
    return check(doc, path), path
