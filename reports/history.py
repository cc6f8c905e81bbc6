"""Earlier sessions: trends per metric and the regressions `isobench compare` would flag.

`--history DIR` names a directory of session directories, each holding a results.json
(reports/out/ is one: symlinks such as `latest` are skipped, and so is the session being
reported). Sessions are ordered by `session.started_at`. A session that cannot be read is
listed as skipped with its reason; it does not stop the report.

Regressions compare the current session with the most recent earlier session run on the
same machine (same cpu_model, cores, kernel and VM acceleration: what `isobench compare`
warns about) by results.compare's rule, called as `isobench compare` calls it (per-metric
thresholds, Holm across every cell, contended runs left out), so the two agree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from reports import data
from reports.errors import ReportError
from reports.load import load_results
from results.compare import ONLY_BASE, ONLY_NEW, RESAMPLES, Row, compare, differences
from results.document import RESULTS_FILE, run_values
from results.stats import MIN_CI_N, bootstrap_median_ci

Document = Mapping[str, Any]


@dataclass
class Session:
    label: str
    path: Path
    doc: Document


@dataclass
class History:
    directory: Path
    sessions: list[Session] = field(default_factory=list)     # earlier ones, oldest first
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _started(doc: Document) -> str:
    return str(doc.get("session", {}).get("started_at") or "")


def load_history(directory: str | os.PathLike[str], current: Document | None = None) -> History:
    root = Path(directory)
    if not root.is_dir():
        raise ReportError(f"{root}: --history must be a directory of session directories")
    history = History(root)
    current_id = (current or {}).get("session", {}).get("id")
    candidates = []
    for entry in sorted(root.iterdir()):
        if entry.is_symlink() or entry.name.startswith("."):
            continue
        if entry.is_dir() and (entry / RESULTS_FILE).is_file():
            candidates.append(entry / RESULTS_FILE)
        elif entry.is_file() and entry.suffix == ".json":
            candidates.append(entry)
    for path in candidates:
        try:
            doc, _ = load_results(path)
        except ReportError as e:
            history.skipped.append((str(path), str(e).removeprefix(f"{path}: ")))
            continue
        if current_id is not None and doc.get("session", {}).get("id") == current_id:
            continue
        history.sessions.append(Session(str(doc["session"].get("id") or path.parent.name),
                                        path, doc))
    history.sessions.sort(key=lambda s: _started(s.doc))
    if current is not None:
        now = _started(current)
        history.sessions = [s for s in history.sessions if not now or _started(s.doc) <= now]
    return history


def baseline(history: History, current: Document) -> tuple[Session | None, list[str]]:
    """The most recent comparable earlier session, or None and why the latest is not."""
    why: list[str] = []
    for session in reversed(history.sessions):
        diffs = differences(session.doc, current)
        if not diffs:
            return session, []
        why = why or diffs
    return None, why


def regressions(base: Document, new: Document, threshold: float | None = None,
                *, resamples: int = RESAMPLES) -> list[Row]:
    """Every (workload, variant, metric, target) measured in both, with its verdict
    (`threshold` None: each metric's own)."""
    rows = compare(base, new, threshold, force=True, resamples=resamples).rows
    return sorted((r for r in rows if r.verdict not in (ONLY_BASE, ONLY_NEW)),
                  key=lambda r: (data.workload_order(r.workload), r.variant, r.metric,
                                 data.target_order(r.target)))


def trend_frame(sessions: Sequence[tuple[str, Document]]) -> pd.DataFrame:
    """One row per (session, workload, variant, metric, target): n, median and 95 % CI.
    Below results.stats.MIN_CI_N runs low and high are the median: no error bar is drawn
    for an interval the sample cannot support."""
    rows = []
    for index, (label, doc) in enumerate(sessions):
        for (workload, variant, metric, target), values in run_values(doc).items():
            if workload in data.NOT_IN_SUMMARY:
                continue
            median, low, high = bootstrap_median_ci(values, resamples=500, min_n=MIN_CI_N)
            if low is None or high is None:
                low = high = median
            rows.append({"session": index, "label": label, "workload": workload,
                         "variant": variant, "metric": metric, "target": target,
                         "n": len(values), "median": median, "low": low, "high": high})
    return pd.DataFrame(rows, columns=["session", "label", "workload", "variant", "metric",
                                       "target", "n", "median", "low", "high"])
