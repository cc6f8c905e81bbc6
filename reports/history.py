"""Earlier sessions: trends per metric and the regressions `isobench compare` would flag.

The sessions come from the history database (results.history): `--history LOCATION` names
a SQLite file or a postgresql:// URL, and the trends read its long-form values, not the
sessions' files; only the baseline's document is read whole, for the regression rule. A
directory of session directories (reports/out/, as before the database) is still accepted:
its files are read into an in-memory SQLite history first (symlinks such as `latest` are
skipped, and a file that cannot be read is listed as skipped with its reason; it does not
stop the report). The session being reported, and any started after it, are left out.

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
from results.compare import ONLY_BASE, ONLY_NEW, RESAMPLES, Row, compare
from results.document import RESULTS_FILE
from results.errors import ResultsError
from results.history.engine import SQLITE_PREFIX, is_postgres, shown
from results.history.store import HistoryStore, SessionInfo, earlier, latest_comparable
from results.stats import MIN_CI_N, bootstrap_median_ci

Document = Mapping[str, Any]
Cell = tuple[str, str, str, str]


@dataclass
class History:
    source: str                                               # as the report may print it
    store: HistoryStore
    sessions: list[SessionInfo] = field(default_factory=list)  # earlier ones, oldest first
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def values(self) -> dict[str, dict[Cell, list[float]]]:
        """Each earlier session's counted values, by session id."""
        return self.store.values(session_ids=[s.id for s in self.sessions])

    def document(self, session: SessionInfo) -> dict[str, Any]:
        return self.store.document(session.id)

    def close(self) -> None:
        self.store.close()


def _directory_store(root: Path) -> tuple[HistoryStore, list[tuple[str, str]]]:
    """A directory of session directories as an in-memory history, and what was skipped."""
    store = HistoryStore.open(":memory:")
    skipped = []
    for entry in sorted(root.iterdir()):
        if entry.is_symlink() or entry.name.startswith("."):
            continue
        if entry.is_dir() and (entry / RESULTS_FILE).is_file():
            path = entry / RESULTS_FILE
        elif entry.is_file() and entry.suffix == ".json":
            path = entry
        else:
            continue
        try:
            doc, _ = load_results(path)
            store.ingest([(doc, str(path))], allow_incomplete=True)
        except (ReportError, ResultsError) as e:
            skipped.append((str(path), str(e).removeprefix(f"{path}: ")))
    return store, skipped


def load_history(source: str | os.PathLike[str], current: Document | None = None) -> History:
    """The history at `source` (a database location, or a directory of sessions), with the
    sessions before `current`."""
    text = str(source)
    try:
        if Path(text).is_dir():
            store, skipped = _directory_store(Path(text))
        elif is_postgres(text) or text.startswith(SQLITE_PREFIX) or Path(text).is_file():
            store, skipped = HistoryStore.open(text), []
        else:
            raise ReportError(f"{shown(text)}: --history must be a history database (a "
                              "SQLite file or a postgresql:// URL) or a directory of session "
                              "directories")
        sessions = store.sessions()
    except ResultsError as e:
        raise ReportError(str(e)) from None
    history = History(shown(text), store, skipped=skipped)
    history.sessions = earlier(sessions, current) if current is not None else sessions
    return history


def baseline(history: History, current: Document) -> tuple[SessionInfo | None, list[str]]:
    """The most recent comparable earlier session, or None and why the latest is not."""
    return latest_comparable(history.sessions, current)


def regressions(base: Document, new: Document, threshold: float | None = None,
                *, resamples: int = RESAMPLES) -> list[Row]:
    """Every (workload, variant, metric, target) measured in both, with its verdict
    (`threshold` None: each metric's own)."""
    rows = compare(base, new, threshold, force=True, resamples=resamples).rows
    return sorted((r for r in rows if r.verdict not in (ONLY_BASE, ONLY_NEW)),
                  key=lambda r: (data.workload_order(r.workload), r.variant, r.metric,
                                 data.target_order(r.target)))


def trend_frame(sessions: Sequence[tuple[str, Mapping[Cell, Sequence[float]]]]
                ) -> pd.DataFrame:
    """One row per (session, workload, variant, metric, target): n, median and 95 % CI, from
    each session's counted values (HistoryStore.values, results.document.run_values).
    Below results.stats.MIN_CI_N runs low and high are the median: no error bar is drawn
    for an interval the sample cannot support."""
    rows = []
    for index, (label, cells) in enumerate(sessions):
        for (workload, variant, metric, target), values in cells.items():
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
