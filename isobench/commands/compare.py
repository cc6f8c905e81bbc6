"""`isobench compare BASELINE NEW`: which metrics got worse, beyond noise (pytest-benchmark's
--benchmark-compare-fail, pyperf's compare_to).

The command's glue: arguments, the table, exit codes. The verdicts (the regression rule,
the thresholds, what makes two sessions comparable) are results.compare's, which the
report's history section uses too.

Exit status: 0 nothing regressed, 1 something regressed, 2 usage or results errors (the
"trouble" code of cmp and diff), including sessions of different schema versions and, with
--strict-machine, of different machines.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from results.compare import (
    IMPROVED,
    INSUFFICIENT,
    NOISE,
    REGRESSED,
    CompareResult,
    Row,
    Thresholds,
    compare,
)
from results.document import load, results_path
from results.errors import ResultsError
from results.stats import MIN_CI_N
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


def _side(median: float | None, n: int) -> str:
    return "-" if median is None else f"{_number(median)} (n={n})"


def _ratio(row: Row) -> str:
    """The ratio new/base with the CI its verdict stands on, or why there is none."""
    c = row.change
    if c.ratio is None:
        return "-"
    if c.verdict == INSUFFICIENT:
        return f"{c.ratio:.3f}, n={min(c.base_n, c.new_n)} insufficient"
    if c.ci is None:
        return f"{c.ratio:.3f}"
    return f"{c.ratio:.3f} [{c.ci[0]:.3f}, {c.ci[1]:.3f}] @{c.confidence * 100:.4g}%"


HEADER = ("WORKLOAD", "VARIANT", "METRIC", "TARGET", "BASE MEDIAN", "NEW MEDIAN", "CHANGE",
          "RATIO [CI]", "VERDICT")


def _cells(r: Row) -> tuple[str, ...]:
    c = r.change
    return (r.workload, r.variant, f"{r.metric} ({r.unit})" if r.unit else r.metric, r.target,
            _side(c.base_median, c.base_n), _side(c.new_median, c.new_n),
            _percent(c.change, c.base_median, c.new_median), _ratio(r), r.verdict)


def _footer(result: CompareResult) -> str:
    counts = {v: sum(r.verdict == v for r in result.rows)
              for v in (REGRESSED, IMPROVED, NOISE, INSUFFICIENT)}
    return (f"{counts[REGRESSED]} regressed, {counts[IMPROVED]} improved, "
            f"{counts[NOISE]} changed within noise, {counts[INSUFFICIENT]} insufficient "
            f"(n<{MIN_CI_N}), of {len(result.rows)} compared (threshold {_threshold(result)}; "
            f"CIs Holm-adjusted over {result.family} cells, family-wise alpha "
            f"{result.alpha:g})")


def format_table(result: CompareResult) -> str:
    rows = [HEADER] + [_cells(r) for r in result.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    numeric = {4, 5, 6}
    lines = ["  ".join(cell.rjust(w) if i in numeric else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in rows]
    lines.append("\n" + _footer(result))
    return "\n".join(lines)


def format_markdown(result: CompareResult) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in result.rows]
    return "\n".join(lines + ["", _footer(result)])


def format_json(result: CompareResult) -> str:
    return json.dumps(result.as_dict(), indent=2)


FORMATS = {"text": format_table, "md": format_markdown, "json": format_json}


def _threshold(result: CompareResult) -> str:
    """The threshold given, else the metrics' own: one figure when they share it."""
    used = {r.threshold for r in result.rows}
    if not used:
        return "per metric" if result.threshold is None else f"{result.threshold * 100:g}%"
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
        value /= 100.0
        if value >= 1:
            raise CompareUsageError(f"invalid threshold {text!r}: must be under 100%")
        return value
    if value >= 1:
        raise CompareUsageError(f"ambiguous threshold {text!r}: write {raw}% or "
                                f"{value / 100:g}")
    return value


def parse_thresholds(specs: Sequence[str], files: Sequence[str] = ()) -> Thresholds:
    """--threshold values ("5%" for all, "cpu.single.events_per_s=3%" for one) and
    --thresholds-file mappings of the same keys; the command line wins over a file."""
    overrides: dict[str, float] = {}
    for path in files:
        overrides.update(_thresholds_file(path))
    default = None
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep:
            default = parse_threshold(spec)
        elif not key.strip():
            raise CompareUsageError(f"invalid threshold {spec!r}: write METRIC=5%")
        else:
            overrides[key.strip()] = parse_threshold(value)
    return Thresholds(overrides, default)


def _thresholds_file(path: str) -> dict[str, float]:
    """A YAML or JSON mapping (JSON is YAML) of key -> "3%" or 0.03."""
    try:
        data: Any = yaml.safe_load(Path(path).read_text())
    except OSError as e:
        raise CompareUsageError(f"--thresholds-file {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise CompareUsageError(f"--thresholds-file {path}: not YAML or JSON{line}") from None
    if not isinstance(data, dict):
        raise CompareUsageError(f"--thresholds-file {path}: must map metric names to "
                                "thresholds, e.g. cpu.single.events_per_s: 3%")
    out = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise CompareUsageError(f"--thresholds-file {path}: {key}: write 3% or 0.03")
        try:
            out[str(key)] = parse_threshold(str(value))
        except CompareUsageError as e:
            raise CompareUsageError(f"--thresholds-file {path}: {key}: {e}") from None
    return out


def add_threshold_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threshold", action="append", default=[], metavar="[METRIC=]VALUE",
                   help="relative change that counts: 5%% (or 0.05) for every metric, or "
                        "cpu.single.events_per_s=3%% for one (workload.variant.metric, "
                        "variant.metric or metric); repeatable. Default: each metric's own")
    p.add_argument("--thresholds-file", action="append", default=[], metavar="FILE",
                   help="YAML or JSON mapping of the same keys to thresholds")


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("baseline", metavar="BASELINE", help="results file or directory")
    p.add_argument("new", metavar="NEW", nargs="?",
                   help="results file or directory (with --against-history, the only one)")
    add_threshold_arguments(p)
    p.add_argument("--format", choices=sorted(FORMATS), default="text",
                   help="text (default), md or json")
    p.add_argument("--strict-machine", action="store_true",
                   help="refuse (exit 2) when the machines differ, instead of warning")
    p.add_argument("--keep-contended", action="store_true",
                   help="keep runs marked contended (left out by default)")
    p.add_argument("--force", action="store_true",
                   help="compare even when the schema versions or machines differ")
    p.add_argument("--against-history", action="store_true",
                   help="compare one results file with the most recent earlier session of a "
                        "comparable machine in the history database")
    p.add_argument("--history", metavar="LOCATION",
                   help="with --against-history: SQLite file or postgresql:// URL (default: "
                        "ISOBENCH_HISTORY, else $ISOBENCH_ROOT/history.sqlite)")


def _history_baseline(new: dict[str, Any], where: str | None) -> dict[str, Any]:
    """The baseline `isobench history regressions` would take for `new`."""
    from isobench.commands.history_location import open_store
    from results.history.store import earlier, latest_comparable

    with open_store(where) as store:
        base, why = latest_comparable(earlier(store.sessions(), new), new)
        if base is None:
            raise ResultsError("no earlier session of a comparable machine in the history"
                               + (f" ({'; '.join(why)})" if why else ""))
        print(f"isobench: baseline {base.id} (from the history)", file=sys.stderr)
        return store.document(base.id)


def show(result: CompareResult, fmt: str) -> int:
    """Print the warnings and the table; the exit status (1: something regressed)."""
    for warning in result.warnings:
        print(f"isobench: warning: {warning}", file=sys.stderr)
    print(FORMATS[fmt](result))
    return 1 if result.regressions else 0


def cmd_compare(args: argparse.Namespace) -> int:
    thresholds = parse_thresholds(args.threshold, args.thresholds_file)
    if args.against_history == (args.new is not None):
        _usage_error("give BASELINE and NEW, or --against-history and NEW"
                     if args.new is None else "--against-history takes one results file")
    try:
        if args.against_history:
            new = load(results_path(args.baseline))
            base = _history_baseline(new, args.history)
        else:
            base = load(results_path(args.baseline))
            new = load(results_path(args.new))
        result = compare(base, new, force=args.force, thresholds=thresholds,
                         strict_machine=args.strict_machine,
                         keep_contended=args.keep_contended)
    except ResultsError as e:
        raise ResultsTrouble(str(e)) from None
    return show(result, args.format)


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
