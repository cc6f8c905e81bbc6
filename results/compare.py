"""The one regression rule, and what must match for two sessions to be comparable.

`isobench compare` (isobench/commands/compare.py) and the report's history section
(reports/history.py) both judge changes here, so they always agree:

    A cell (workload, variant, metric, target) is judged by the ratio of medians new / base
    and its unpaired bootstrap CI (results.stats.ratio_bootstrap: the two sessions' runs are
    independent). It regressed when that CI lies wholly beyond 1 ± the metric's threshold
    on the worse side, improved when wholly beyond on the better side. The CI's level is
    Holm-adjusted across every cell compared (family-wise alpha 0.05): each cell's p-value
    is the smallest 1 - confidence at which its CI leaves the band; sorted, the i-th
    smallest of m is judged at confidence 1 - alpha / (m - i + 1), and the first that stays
    inside stops the rest. A session holds ~64 cells, so one CI at 95 % each would cry wolf
    in most pairs of identical sessions (the issue measured exit 1 in ~90 %).

    Other verdicts: "same" (the ratio of medians within the band), "within noise" (beyond
    it, but its CI at the adjusted level reaches into it), "insufficient" (fewer than
    results.stats.MIN_CI_N runs on a side: never regressed), "direction unknown" (a metric
    that is not a cost), "only in baseline" / "only in new".

A metric's direction is the one its document declares, else the one results.metrics gives,
from the new document first, then the baseline. Its threshold is results.metrics' unless
overridden ("workload.variant.metric", "variant.metric" or "metric" keys, most specific
first; then one threshold for all). Sessions of different schema versions are refused
(their fields may not mean the same); different machines (MACHINE_KEYS) give a warning, or a
refusal with strict_machine (pyperf checks its metadata the same way). Runs marked
"contended" (they got less CPU than they asked for) are left out unless keep_contended.

tests/unit/test_results_simulation.py measures the rule on simulated sessions: false alarms,
detection and coverage (bench/tools/simulate_compare.py prints the table).
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from results import metrics
from results.document import NATIVE, contended_counts, run_values, tool_versions
from results.errors import ResultsError
from results.stats import MIN_CI_N, Bootstrap, ci_supported, finite, ratio_bootstrap

DEFAULT_THRESHOLD = metrics.DEFAULT_THRESHOLD
RESAMPLES = 2000          # Monte Carlo only: groups of up to EXACT_MAX_N are exact
FAMILY_ALPHA = 0.05       # the chance that any cell of an unchanged session is flagged

REGRESSED, IMPROVED, SAME, NOISE = "regressed", "improved", "same", "within noise"
INSUFFICIENT = "insufficient"
ONLY_BASE, ONLY_NEW, UNKNOWN = "only in baseline", "only in new", "direction unknown"
VERDICTS = (REGRESSED, IMPROVED, SAME, NOISE, INSUFFICIENT, UNKNOWN, ONLY_BASE, ONLY_NEW)

# What must match for two sessions' numbers to mean the same: (label, path in "machine").
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
    """Everything that makes two sessions differ in kind: the schema version, then the
    machine (the report's history takes its baseline only from a session with none)."""
    out = []
    if base.get("schema_version") != new.get("schema_version"):
        out.append(f"schema_version {base.get('schema_version')!r} vs "
                   f"{new.get('schema_version')!r}")
    return out + machine_differences(base, new)


def check_comparable(base: Document, new: Document, *, strict_machine: bool = False) -> list[str]:
    """Raise ResultsError for a schema version difference (or, with strict_machine, a
    machine difference); return the one warning line a machine difference gives, if any."""
    bv, nv = base.get("schema_version"), new.get("schema_version")
    if bv != nv:
        raise ResultsError(f"refusing to compare: schema_version {bv} vs {nv}; "
                           "use --force to compare anyway")
    diffs = machine_differences(base, new)
    if not diffs:
        return []
    if strict_machine:
        raise ResultsError("refusing to compare: the machines differ (" + "; ".join(diffs)
                           + "); use --force to compare anyway")
    return ["the machines differ (" + "; ".join(diffs) + "): changes may be the machine's"]


# -- one cell ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    verdict: str
    base_median: float | None
    new_median: float | None
    change: float | None                 # (new - base) / |base|; None when undefined
    base_n: int = 0
    new_n: int = 0
    p_value: float | None = None         # two-sided: the CI leaves the band; None: not tested
    confidence: float | None = None      # the Holm-adjusted level the cell was judged at
    bootstrap: Bootstrap | None = field(default=None, repr=False, compare=False)

    @property
    def ratio(self) -> float | None:
        return None if self.change is None else 1.0 + self.change

    @functools.cached_property
    def ci(self) -> tuple[float, float] | None:
        """The ratio's CI at `confidence`: the one the verdict stands on. Computed on demand
        (sorting the exact bootstrap costs ~1 ms a cell; the simulations need verdicts only)."""
        if self.bootstrap is None or self.confidence is None or self.bootstrap.empty:
            return None
        return self.bootstrap.interval(self.confidence)


def relative_change(base: float, new: float) -> float | None:
    if base != 0.0:
        return (new - base) / abs(base)
    return 0.0 if new == 0.0 else None


@dataclass
class _Pending:
    """A cell waiting for the family's Holm step: its bootstrap and p-value."""

    better: str
    bootstrap: Bootstrap
    p_value: float


def _judge(better: str | None, base: list[float], new: list[float], threshold: float,
           resamples: int) -> Change | _Pending:
    """Every verdict a cell can get on its own; _Pending when it joins the Holm family."""
    bm = statistics.median(base) if base else None
    nm = statistics.median(new) if new else None
    sizes = {"base_n": len(base), "new_n": len(new)}
    if bm is None or nm is None:  # measured (successfully) on one side only
        return Change(ONLY_BASE if base else ONLY_NEW, bm, nm, None, **sizes)
    change = relative_change(bm, nm)
    inside = change is not None and abs(change) <= threshold
    if not (ci_supported(len(base)) and ci_supported(len(new))):
        return Change(INSUFFICIENT, bm, nm, change, **sizes)
    if better not in ("higher", "lower"):
        return Change(SAME if inside else UNKNOWN, bm, nm, change, **sizes)
    if bm != 0.0:
        boot = ratio_bootstrap(new, base, resamples=resamples)
        above = boot is not None and boot.point > 1.0
        bound = 1.0 + threshold if above else 1.0 - threshold
    elif nm != 0.0:  # from 0: no ratio new / base, but base / new must leave 1 -+ threshold
        boot = ratio_bootstrap(base, new, resamples=resamples)
        above, bound = False, 1.0 / (1.0 + threshold)
    else:
        return Change(SAME, bm, nm, change, **sizes)
    if boot is None or boot.empty:
        return Change(SAME if inside else NOISE, bm, nm, change, **sizes)
    p = 1.0 if inside else boot.p_beyond(bound, above=above)
    return _Pending(better, boot, p)


def _finish(pending: _Pending, base: list[float], new: list[float], rejected: bool,
            confidence: float, threshold: float) -> Change:
    bm, nm = statistics.median(base), statistics.median(new)
    change = relative_change(bm, nm)
    if rejected:
        verdict = IMPROVED if (nm > bm) == (pending.better == "higher") else REGRESSED
    else:
        verdict = SAME if change is not None and abs(change) <= threshold else NOISE
    boot = pending.bootstrap if bm != 0.0 else None   # its CI is of new / base only
    return Change(verdict, bm, nm, change, len(base), len(new), pending.p_value, confidence,
                  boot)


def holm(p_values: Sequence[float], alpha: float = FAMILY_ALPHA) -> list[tuple[bool, float]]:
    """Holm's step-down (1979) over a family: (rejected, confidence judged at) per p-value,
    in the given order. The i-th smallest of m is judged at level alpha / (m - i + 1); the
    first not rejected stops the rest. It holds the family-wise error at alpha whatever the
    dependence between cells (a host's state moves them together)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out: list[tuple[bool, float]] = [(False, 1.0)] * m
    stopped = False
    for rank, index in enumerate(order):
        level = alpha / (m - rank)
        stopped = stopped or p_values[index] > level
        out[index] = (not stopped, 1.0 - level)
    return out


def compare_values(better: str | None, base: Sequence[float] | None,
                   new: Sequence[float] | None, threshold: float = DEFAULT_THRESHOLD,
                   *, resamples: int = RESAMPLES, alpha: float = FAMILY_ALPHA) -> Change:
    """The rule (module docstring) for one cell judged alone: a family of one."""
    base, new = finite(base or []), finite(new or [])
    judged = _judge(better, base, new, threshold, resamples)
    if isinstance(judged, Change):
        return judged
    ((rejected, confidence),) = holm([judged.p_value], alpha)
    return _finish(judged, base, new, rejected, confidence, threshold)


def unit_and_direction(base: Document, new: Document, workload: str, variant: str,
                       metric: str) -> tuple[str, str | None]:
    """(unit, better) of a metric: the new document's, else the baseline's."""
    unit, better = metrics.unit_and_direction(new, workload, variant, metric)
    if better is None:
        unit, better = metrics.unit_and_direction(base, workload, variant, metric)
    return unit, better


# -- thresholds -------------------------------------------------------------------------------

def _check_threshold(key: str, value: float) -> float:
    if not (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and 0 <= value < 1):
        raise ResultsError(f"threshold {key}: must be a fraction in [0, 1), not {value!r}")
    return float(value)


@dataclass(frozen=True)
class Thresholds:
    """Which threshold a cell is judged by: an override for its "workload.variant.metric",
    "variant.metric" or "metric" (most specific first), else `default` for all, else the
    metric's own in results.metrics."""

    overrides: Mapping[str, float] = field(default_factory=dict)
    default: float | None = None

    def __post_init__(self) -> None:
        if self.default is not None:
            _check_threshold("for all", self.default)
        for key, value in self.overrides.items():
            _check_threshold(key, value)

    def keys_for(self, cell: Cell) -> tuple[str, ...]:
        workload, variant, metric, _ = cell
        return (f"{workload}.{variant}.{metric}", f"{variant}.{metric}", metric)

    def for_cell(self, cell: Cell) -> float:
        for key in self.keys_for(cell):
            if key in self.overrides:
                return self.overrides[key]
        return self.default if self.default is not None else metrics.threshold(cell[2])


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

    def as_dict(self) -> dict[str, Any]:
        """The row for `isobench compare --format json`."""
        c = self.change
        return {"workload": self.workload, "variant": self.variant, "metric": self.metric,
                "target": self.target, "unit": self.unit, "better": self.better,
                "threshold": self.threshold, "verdict": c.verdict,
                "base": {"n": c.base_n, "median": c.base_median},
                "new": {"n": c.new_n, "median": c.new_median},
                "change": c.change, "ratio": c.ratio,
                "ci": list(c.ci) if c.ci is not None else None,
                "confidence": c.confidence, "p_value": c.p_value}


@dataclass
class CompareResult:
    rows: list[Row] = field(default_factory=list)
    threshold: float | None = None       # one for all; None: each metric's own
    warnings: list[str] = field(default_factory=list)
    alpha: float = FAMILY_ALPHA
    excluded_contended: int = 0          # runs left out as contended, both sessions

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == REGRESSED]

    @property
    def family(self) -> int:
        """How many cells the Holm correction spread alpha over."""
        return sum(r.change.p_value is not None for r in self.rows)

    def as_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "family": self.family, "min_n": MIN_CI_N,
                "threshold": self.threshold, "warnings": list(self.warnings),
                "excluded_contended_runs": self.excluded_contended,
                "counts": {v: sum(r.verdict == v for r in self.rows) for v in VERDICTS},
                "rows": [r.as_dict() for r in self.rows]}


def _order(cell: Cell) -> tuple[Any, ...]:
    targets = (NATIVE, "container", "runc", "crun", "microvm", "vm")
    target = cell[3]
    return (*cell[:3], targets.index(target) if target in targets else len(targets), target)


def compare(base_doc: Document, new_doc: Document, threshold: float | None = None,
            force: bool = False, *, thresholds: Thresholds | Mapping[str, float] | None = None,
            strict_machine: bool = False, keep_contended: bool = False,
            alpha: float = FAMILY_ALPHA, resamples: int = RESAMPLES) -> CompareResult:
    """Every cell measured in either document, with its verdict (module docstring).

    `threshold`: one for every metric (None: each metric's own); `thresholds`: per-metric
    overrides (see Thresholds), which win over it. `force` skips the comparability checks.
    """
    if threshold is not None and not (math.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold must be a non-negative number, not {threshold}")
    if not isinstance(thresholds, Thresholds):
        thresholds = Thresholds(dict(thresholds or {}), threshold)
    elif threshold is not None:
        thresholds = Thresholds(thresholds.overrides, threshold)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
    warnings = [] if force else check_comparable(base_doc, new_doc,
                                                 strict_machine=strict_machine)
    # contended runs count only when asked for here, whatever the sessions were told
    dropped = 0 if keep_contended else sum(contended_counts(base_doc).values()) + sum(
        contended_counts(new_doc).values())
    base = run_values(base_doc, keep_contended=keep_contended)
    new = run_values(new_doc, keep_contended=keep_contended)
    cells = sorted(base.keys() | new.keys(), key=_order)
    warnings += _unused_overrides(thresholds, cells)
    judged: list[tuple[Cell, str, str | None, float, Change | _Pending]] = []
    base_tools, new_tools = tool_versions(base_doc), tool_versions(new_doc)
    for cell in cells:
        unit, better = unit_and_direction(base_doc, new_doc, *cell[:3])
        limit = thresholds.for_cell(cell)
        refused = _tools_differ(base_tools, new_tools, cell)
        if refused is not None:  # different binaries: no ratio, said once per cell
            b, n = finite(base.get(cell, [])), finite(new.get(cell, []))
            verdict: Change | _Pending = Change(
                INSUFFICIENT, statistics.median(b) if b else None,
                statistics.median(n) if n else None, None, len(b), len(n))
            if refused not in warnings:
                warnings.append(refused)
        else:
            verdict = _judge(better, finite(base.get(cell, [])), finite(new.get(cell, [])),
                             limit, resamples)
        judged.append((cell, unit, better, limit, verdict))
    family = [j for *_, j in judged if isinstance(j, _Pending)]
    decisions = dict(zip(map(id, family), holm([p.p_value for p in family], alpha),
                         strict=True))
    result = CompareResult(threshold=threshold, warnings=warnings, alpha=alpha,
                           excluded_contended=dropped)
    for cell, unit, better, limit, verdict in judged:
        if isinstance(verdict, _Pending):
            verdict = _finish(verdict, finite(base[cell]), finite(new[cell]),
                              *decisions[id(verdict)], limit)
        result.rows.append(Row(*cell, unit, better, limit, verdict))
    return result


def _tools_differ(base: Mapping[tuple[str, str, str], set[str]],
                  new: Mapping[tuple[str, str, str], set[str]], cell: Cell) -> str | None:
    """The one line refusing a cell whose two sessions ran different versions of its tool
    (each run's setup.tool.version); None when they match or either is unknown."""
    key = (cell[0], cell[1], cell[3])
    b, n = base.get(key), new.get(key)
    if not b or not n or b == n:
        return None
    return (f"{cell[1]} on {cell[3]}: no ratio, the baseline ran {', '.join(sorted(b))} and "
            f"the new session {', '.join(sorted(n))} (different binaries)")


def _unused_overrides(thresholds: Thresholds, cells: Sequence[Cell]) -> list[str]:
    """A threshold for a name no cell has is likely a typo: say so rather than ignore it (a
    warning, not a refusal: one thresholds file may serve sessions of other workloads)."""
    known = {key for cell in cells for key in thresholds.keys_for(cell)}
    unused = sorted(set(thresholds.overrides) - known)
    return [f"no cell compared matches the threshold for {', '.join(unused)} (keys are "
            "workload.variant.metric, variant.metric or metric)"] if unused else []
