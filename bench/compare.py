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

import argparse
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.results import RESULTS_FILE, Document, ResultsError, load
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


# -- the table --------------------------------------------------------------------------------

def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value != 0 and (abs(value) >= 1e7 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def _percent(change: float | None, base: float | None, new: float | None) -> str:
    if change is None:
        return "-" if base is None or new is None else "n/a"
    return f"{change * 100:+.1f}%"


def format_table(result: CompareResult) -> str:
    header = ("WORKLOAD", "VARIANT", "METRIC", "TARGET", "BASE MEDIAN", "NEW MEDIAN", "CHANGE",
              "VERDICT")
    rows = [header] + [
        (r.workload, r.variant, f"{r.metric} ({r.unit})" if r.unit else r.metric, r.target,
         _number(r.base_median), _number(r.new_median),
         _percent(r.change, r.base_median, r.new_median), r.verdict)
        for r in result.rows
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    numeric = {4, 5, 6}
    lines = ["  ".join(cell.rjust(w) if i in numeric else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in rows]
    counts = {v: sum(r.verdict == v for r in result.rows) for v in (REGRESSED, IMPROVED, NOISE)}
    lines.append(f"\n{counts[REGRESSED]} regressed, {counts[IMPROVED]} improved, "
                 f"{counts[NOISE]} changed within noise, of {len(result.rows)} compared "
                 f"(threshold {result.threshold * 100:g}%)")
    return "\n".join(lines)


# -- the command ------------------------------------------------------------------------------

def parse_threshold(text: str) -> float:
    """"5%" or "0.05" -> 0.05. A bare number of 1 or more is refused as ambiguous."""
    raw = text.strip()
    percent = raw.endswith("%")
    try:
        value = float(raw[:-1] if percent else raw)
    except ValueError:
        raise CompareUsageError(f"invalid threshold {text!r}: write 5% or 0.05") from None
    if not math.isfinite(value) or value < 0:
        raise CompareUsageError(f"invalid threshold {text!r}: must be a non-negative number")
    if percent:
        return value / 100.0
    if value >= 1:
        raise CompareUsageError(f"ambiguous threshold {text!r}: write {raw}% or "
                                f"{value / 100:g}")
    return value


def results_path(arg: str) -> Path:
    """A results file, or a directory (such as reports/out/latest) holding results.json."""
    path = Path(arg)
    if path.is_dir():
        path = path / RESULTS_FILE
        if not path.is_file():
            raise ResultsError(f"{arg}: no {RESULTS_FILE} in this directory")
    return path


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("baseline", metavar="BASELINE", help="results file or directory")
    p.add_argument("new", metavar="NEW", help="results file or directory")
    p.add_argument("--threshold", default="5%",
                   help="relative change that counts, e.g. 5%% or 0.05 (default 5%%)")
    p.add_argument("--force", action="store_true",
                   help="compare even when the schema versions or machines differ")


def cmd_compare(args: argparse.Namespace) -> int:
    threshold = parse_threshold(args.threshold)
    base = load(results_path(args.baseline))
    new = load(results_path(args.new))
    result = compare(base, new, threshold, force=args.force)
    print(format_table(result))
    return 1 if result.regressions else 0


def _usage_error(message: str) -> None:
    raise CompareUsageError(f"compare: {message}. See 'isobench compare --help'.")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        _usage_error(message)


def main(argv: Sequence[str] | None = None) -> int:
    """`isobench compare` on its own: prints errors as one line and returns the exit code."""
    parser = _Parser(prog="isobench compare", description=__doc__.split("\n\n")[0])
    _add_arguments(parser)
    try:
        return cmd_compare(parser.parse_args(sys.argv[1:] if argv is None else list(argv)))
    except IsobenchError as e:
        print(f"isobench: {e}", file=sys.stderr)
        return e.exit_code


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare two results; exit 1 on a regression")
    _add_arguments(p)
    p.error = _usage_error  # type: ignore[method-assign]  # exit 2, not the CLI's 125
    p.set_defaults(handler=cmd_compare)
