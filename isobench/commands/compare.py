"""`isobench compare BASELINE NEW`: which metrics got worse, beyond noise (pytest-benchmark's
--benchmark-compare-fail, pyperf's compare_to).

The command's glue: arguments, the table, exit codes. The verdicts (the regression rule,
the thresholds, what makes two sessions comparable) are results.compare's, which the
report's history section uses too.

Exit status: 0 nothing regressed, 1 something regressed, 2 usage or results errors (the
"trouble" code of cmp and diff).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

from results.compare import (
    DEFAULT_THRESHOLD,
    IMPROVED,
    NOISE,
    REGRESSED,
    CompareResult,
    compare,
)
from results.document import load, results_path
from results.errors import ResultsError
from runtime.errors import IsobenchError


class CompareUsageError(IsobenchError):
    """Bad arguments to `isobench compare`."""

    exit_code = 2


class ResultsTrouble(IsobenchError):
    """A results.errors.ResultsError as the CLI's error type: exit 2."""

    exit_code = 2


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
         _number(r.change.base_median), _number(r.change.new_median),
         _percent(r.change.change, r.change.base_median, r.change.new_median), r.verdict)
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
                 f"(threshold {_threshold(result)})")
    return "\n".join(lines)


def _threshold(result: CompareResult) -> str:
    """The threshold given, else the metrics' own: one figure when they share it."""
    if result.threshold is not None:
        return f"{result.threshold * 100:g}%"
    used = {r.threshold for r in result.rows} or {DEFAULT_THRESHOLD}
    return f"{used.pop() * 100:g}%" if len(used) == 1 else "per metric"


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


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("baseline", metavar="BASELINE", help="results file or directory")
    p.add_argument("new", metavar="NEW", help="results file or directory")
    p.add_argument("--threshold",
                   help="relative change that counts, e.g. 5%% or 0.05 (default 5%%)")
    p.add_argument("--force", action="store_true",
                   help="compare even when the schema versions or machines differ")


def cmd_compare(args: argparse.Namespace) -> int:
    # None: each metric's own threshold (results.metrics), as the report's history uses
    threshold = parse_threshold(args.threshold) if args.threshold is not None else None
    try:
        base = load(results_path(args.baseline))
        new = load(results_path(args.new))
        result = compare(base, new, threshold, force=args.force)
    except ResultsError as e:
        raise ResultsTrouble(str(e)) from None
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
