"""Reading results files: the only input of a report.

A results file is bench/results.schema.json's document (read here as a file, never as an
import of bench/). Every problem is one ReportError whose message starts with the file's
path: not JSON, not an object, an unknown `schema_version`, a document the schema
rejects, a document with no target at all, or runs that name a target the `targets`
block does not declare. Targets that are declared but unavailable, or absent from a
session, are not errors: the report renders and lists them (see data.missing_targets).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

from reports.errors import ReportError

RESULTS_FILE = "results.json"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "bench" / "results.schema.json"
FALLBACK_SCHEMA_VERSION = 1

Document = dict[str, Any]


def results_path(arg: str | os.PathLike[str]) -> Path:
    """A results file, or a session directory (such as reports/out/latest) holding one."""
    path = Path(arg)
    if path.is_dir():
        inner = path / RESULTS_FILE
        if not inner.is_file():
            raise ReportError(f"{path}: no {RESULTS_FILE} in this directory")
        return inner
    if not path.exists():
        raise ReportError(f"{path}: no such results file or directory")
    return path


@functools.cache
def _schema() -> dict[str, Any] | None:
    try:
        with open(SCHEMA_PATH, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def schema_version() -> int:
    """The version this report reads: the schema file's `schema_version` const."""
    schema = _schema() or {}
    const = schema.get("properties", {}).get("schema_version", {}).get("const")
    return const if isinstance(const, int) else FALLBACK_SCHEMA_VERSION


def _where(path: Any) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _schema_problem(doc: Document) -> str | None:
    schema = _schema()
    if schema is None:
        return None
    try:
        import jsonschema
        from jsonschema.exceptions import best_match
    except ImportError:  # the checks below still catch what the report itself relies on
        return None
    cls = jsonschema.validators.validator_for(schema)
    error = best_match(cls(schema).iter_errors(doc))
    if error is None:
        return None
    message = " ".join(error.message.split())
    if len(message) > 140:
        message = message[:139] + "…"
    return f"{_where(error.absolute_path)}: {message}"


def check(doc: Any, path: str | os.PathLike[str]) -> Document:
    """Raise ReportError naming `path` unless `doc` is a results document a report can use."""
    if not isinstance(doc, dict):
        raise ReportError(f"{path}: not a results document (a JSON {type(doc).__name__})")
    version, known = doc.get("schema_version"), schema_version()
    if version != known:
        shown = "missing" if version is None else repr(version)
        raise ReportError(f"{path}: unknown schema_version {shown} (this report reads "
                          f"version {known})")
    problem = _schema_problem(doc)
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
    path = results_path(arg)
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
