"""`isobench compare BASELINE NEW`: which metrics got worse, beyond noise (pytest-benchmark's
--benchmark-compare-fail, pyperf's compare_to).

A metric regressed when, in its own better-direction, the new median is worse than the
baseline's by more than the threshold AND the bootstrap CIs of the two medians do not
overlap: a large change inside the noise is reported but does not fail. Results from
different schema versions or machines are refused (pyperf checks its metadata the same
way) unless --force.

Exit status: 0 nothing regressed, 1 something regressed, 2 usage or results errors (the
"trouble" code of cmp and diff).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.results import Document, ResultsError
from bench.stats import bootstrap_median_ci, intervals_overlap
from runtime.errors import IsobenchError

DEFAULT_THRESHOLD = 0.05
# What must match for two sessions to be comparable: (label, path in "machine").
MACHINE_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cpu_model", ("cpu_model",)),
    ("cores", ("cores",)),
    ("kernel", ("kernel",)),
    ("acceleration", ("acceleration", "mode")),
)

REGRESSED, IMPROVED, SAME, NOISE = "regressed", "improved", "same", "within noise"
ONLY_BASE, ONLY_NEW, UNKNOWN = "only in baseline", "only in new", "direction unknown"


class CompareUsageError(IsobenchError):
    """Bad arguments to `isobench compare`."""

    exit_code = 2


@dataclass(frozen=True)
class Row:
    workload: str
    variant: str
    metric: str
    target: str
    unit: str
    better: str | None
    base_median: float | None
    new_median: float | None
    change: float | None                 # (new - base) / |base|; None when undefined
    base_ci: tuple[float, float] | None
    new_ci: tuple[float, float] | None
    verdict: str


@dataclass
class CompareResult:
    rows: list[Row] = field(default_factory=list)
    threshold: float = DEFAULT_THRESHOLD

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == REGRESSED]


# -- comparability ----------------------------------------------------------------------------

def _dig(data: Any, path: Sequence[str]) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def check_comparable(base: Document, new: Document) -> None:
    """Raise ResultsError naming every difference that makes the numbers incomparable."""
    bv, nv = base.get("schema_version"), new.get("schema_version")
    if bv != nv:
        raise ResultsError(f"refusing to compare: schema_version {bv} vs {nv}; "
                           "use --force to compare anyway")
    diffs = []
    for label, path in MACHINE_KEYS:
        b, n = _dig(base.get("machine"), path), _dig(new.get("machine"), path)
        if b != n:
            diffs.append(f"{label} {b!r} vs {n!r}")
    if diffs:
        raise ResultsError("refusing to compare: the machines differ (" + "; ".join(diffs)
                           + "); use --force to compare anyway")


# -- the comparison ---------------------------------------------------------------------------

Cell = tuple[str, str, str, str]   # (workload, variant, metric, target)


def _values(doc: Document) -> dict[Cell, list[float]]:
    out: dict[Cell, list[float]] = {}
    for run in doc.get("runs", []):
        if not run.get("ok"):
            continue
        for metric, value in run.get("metrics", {}).items():
            cell = (run["workload"], run["variant"], metric, run["target"])
            out.setdefault(cell, []).append(float(value))
    return out


def _declared(doc: Document, workload: str, variant: str, metric: str) -> dict[str, Any]:
    found = _dig(doc.get("workloads"), (workload, "variants", variant, "metrics", metric))
    return found if isinstance(found, dict) else {}


def _relative_change(base: float, new: float) -> float | None:
    if base != 0.0:
        return (new - base) / abs(base)
    return 0.0 if new == 0.0 else None


def _verdict(better: str | None, change: float | None, base_ci: tuple[float, float],
             new_ci: tuple[float, float], threshold: float) -> str:
    if change == 0.0 or (change is not None and abs(change) <= threshold):
        return SAME
    if better not in ("higher", "lower"):
        return UNKNOWN
    if intervals_overlap(base_ci, new_ci):
        return NOISE
    # change None: from exactly 0 to anything, beyond any relative threshold
    new_is_higher = new_ci[0] > base_ci[1]
    return IMPROVED if new_is_higher == (better == "higher") else REGRESSED


def _row(cell: Cell, base_values: list[float] | None, new_values: list[float] | None,
         meta: dict[str, Any], threshold: float, resamples: int) -> Row:
    unit, better = meta.get("unit", ""), meta.get("better")
    if not base_values or not new_values:  # measured (successfully) on one side only
        return Row(*cell, unit, better,
                   statistics.median(base_values) if base_values else None,
                   statistics.median(new_values) if new_values else None,
                   None, None, None, ONLY_BASE if base_values else ONLY_NEW)
    base_median, base_low, base_high = bootstrap_median_ci(base_values, resamples=resamples)
    new_median, new_low, new_high = bootstrap_median_ci(new_values, resamples=resamples)
    change = _relative_change(base_median, new_median)
    verdict = _verdict(better, change, (base_low, base_high), (new_low, new_high), threshold)
    return Row(*cell, unit, better, base_median, new_median, change, (base_low, base_high),
               (new_low, new_high), verdict)


def _order(cell: Cell) -> tuple[Any, ...]:
    targets = ("native", "container", "runc", "vm")
    target = cell[3]
    return (*cell[:3], targets.index(target) if target in targets else len(targets), target)


def compare(base_doc: Document, new_doc: Document, threshold: float = DEFAULT_THRESHOLD,
            force: bool = False, *, resamples: int = 2000) -> CompareResult:
    """Compare every (workload, variant, metric, target) measured in either document."""
    if not (math.isfinite(threshold) and threshold >= 0):
        raise CompareUsageError(f"threshold must be a non-negative number, not {threshold}")
    if not force:
        check_comparable(base_doc, new_doc)
    base, new = _values(base_doc), _values(new_doc)
    result = CompareResult(threshold=threshold)
    for cell in sorted(base.keys() | new.keys(), key=_order):
        meta = _declared(new_doc, *cell[:3]) or _declared(base_doc, *cell[:3])
        result.rows.append(_row(cell, base.get(cell), new.get(cell), meta, threshold,
                                resamples))
    return result
