"""The one regression rule, and what must match for two sessions to be comparable.

`isobench compare` (isobench/commands/compare.py) and the report's history section
(reports/history.py) both judge changes here, so they always agree:

    A metric regressed when, in its own better-direction, the new median is worse than the
    baseline's by more than the threshold (the metric's own in results.metrics, 5 % for
    all today, unless one is given) AND the bootstrap 95 % CIs of the two medians do not
    overlap. A change beyond the threshold whose CIs overlap is "within noise"; a change at
    or under the threshold is "same"; a metric with no direction is "direction unknown".

A metric's direction is the one its document declares, else the one results.metrics gives
(the orchestration workloads declare none), from the new document first, then the baseline.
Sessions from different schema versions or machines (MACHINE_KEYS) are not comparable
(pyperf checks its metadata the same way).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from results import metrics
from results.document import NATIVE, run_values
from results.errors import ResultsError
from results.stats import bootstrap_median_ci, finite, intervals_overlap

DEFAULT_THRESHOLD = metrics.DEFAULT_THRESHOLD
RESAMPLES = 2000

REGRESSED, IMPROVED, SAME, NOISE = "regressed", "improved", "same", "within noise"
ONLY_BASE, ONLY_NEW, UNKNOWN = "only in baseline", "only in new", "direction unknown"

# What must match for two sessions to be comparable: (label, path in "machine").
MACHINE_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cpu_model", ("cpu_model",)),
    ("cores", ("cores",)),
    ("kernel", ("kernel",)),
    ("acceleration", ("acceleration", "mode")),
)

Document = Mapping[str, Any]
Cell = tuple[str, str, str, str]   # (workload, variant, metric, target)


# -- comparability ----------------------------------------------------------------------------

def _dig(data: Any, path: Sequence[str]) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, Mapping) else None
    return data


def machine_differences(base: Document, new: Document) -> list[str]:
    """Each MACHINE_KEYS field that differs, as "label base vs new"."""
    out = []
    for label, path in MACHINE_KEYS:
        b, n = _dig(base.get("machine"), path), _dig(new.get("machine"), path)
        if b != n:
            out.append(f"{label} {b!r} vs {n!r}")
    return out


def differences(base: Document, new: Document) -> list[str]:
    """Everything that makes two sessions incomparable: the schema version, then the
    machine."""
    out = []
    if base.get("schema_version") != new.get("schema_version"):
        out.append(f"schema_version {base.get('schema_version')!r} vs "
                   f"{new.get('schema_version')!r}")
    return out + machine_differences(base, new)


def check_comparable(base: Document, new: Document) -> None:
    """Raise ResultsError naming every difference that makes the numbers incomparable."""
    bv, nv = base.get("schema_version"), new.get("schema_version")
    if bv != nv:
        raise ResultsError(f"refusing to compare: schema_version {bv} vs {nv}; "
                           "use --force to compare anyway")
    diffs = machine_differences(base, new)
    if diffs:
        raise ResultsError("refusing to compare: the machines differ (" + "; ".join(diffs)
                           + "); use --force to compare anyway")


# -- one metric -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    verdict: str
    base_median: float | None
    new_median: float | None
    change: float | None                 # (new - base) / |base|; None when undefined
    base_ci: tuple[float, float] | None
    new_ci: tuple[float, float] | None


def relative_change(base: float, new: float) -> float | None:
    if base != 0.0:
        return (new - base) / abs(base)
    return 0.0 if new == 0.0 else None


def compare_values(better: str | None, base: Sequence[float] | None,
                   new: Sequence[float] | None, threshold: float = DEFAULT_THRESHOLD,
                   *, resamples: int = RESAMPLES) -> Change:
    """The regression rule (module docstring) for one metric of one target."""
    base, new = finite(base or []), finite(new or [])
    if not base or not new:  # measured (successfully) on one side only
        return Change(ONLY_BASE if base else ONLY_NEW,
                      statistics.median(base) if base else None,
                      statistics.median(new) if new else None, None, None, None)
    bm, blo, bhi = bootstrap_median_ci(base, resamples=resamples)
    nm, nlo, nhi = bootstrap_median_ci(new, resamples=resamples)
    change = relative_change(bm, nm)
    if change == 0.0 or (change is not None and abs(change) <= threshold):
        verdict = SAME
    elif better not in ("higher", "lower"):
        verdict = UNKNOWN
    elif intervals_overlap((blo, bhi), (nlo, nhi)):
        verdict = NOISE
    else:  # change None: from exactly 0 to anything, beyond any relative threshold
        new_is_higher = nlo > bhi
        verdict = IMPROVED if new_is_higher == (better == "higher") else REGRESSED
    return Change(verdict, bm, nm, change, (blo, bhi), (nlo, nhi))


def unit_and_direction(base: Document, new: Document, workload: str, variant: str,
                       metric: str) -> tuple[str, str | None]:
    """(unit, better) of a metric: the new document's, else the baseline's."""
    unit, better = metrics.unit_and_direction(new, workload, variant, metric)
    if better is None:
        unit, better = metrics.unit_and_direction(base, workload, variant, metric)
    return unit, better


# -- two documents ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    workload: str
    variant: str
    metric: str
    target: str
    unit: str
    better: str | None
    threshold: float                     # the relative change that counted
    change: Change

    @property
    def verdict(self) -> str:
        return self.change.verdict


@dataclass
class CompareResult:
    rows: list[Row] = field(default_factory=list)
    threshold: float | None = None       # None: each metric's own (results.metrics)

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == REGRESSED]


def _order(cell: Cell) -> tuple[Any, ...]:
    targets = (NATIVE, "container", "runc", "vm")
    target = cell[3]
    return (*cell[:3], targets.index(target) if target in targets else len(targets), target)


def compare(base_doc: Document, new_doc: Document, threshold: float | None = None,
            force: bool = False, *, resamples: int = RESAMPLES) -> CompareResult:
    """Every (workload, variant, metric, target) measured in either document, with its
    verdict. `threshold` None: each metric's own (results.metrics)."""
    if threshold is not None and not (math.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold must be a non-negative number, not {threshold}")
    if not force:
        check_comparable(base_doc, new_doc)
    base, new = run_values(base_doc), run_values(new_doc)
    result = CompareResult(threshold=threshold)
    for cell in sorted(base.keys() | new.keys(), key=_order):
        unit, better = unit_and_direction(base_doc, new_doc, *cell[:3])
        limit = metrics.threshold(cell[2]) if threshold is None else threshold
        change = compare_values(better, base.get(cell), new.get(cell), limit,
                                resamples=resamples)
        result.rows.append(Row(*cell, unit, better, limit, change))
    return result
