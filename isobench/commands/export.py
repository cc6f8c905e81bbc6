"""`isobench export RESULTS --format csv|json|bmf`: the summary for other tools."""

from __future__ import annotations

import argparse
import sys

from results.document import ResultsError, load, results_path
from results.export import FORMATS, export
from runtime.errors import IsobenchError


def cmd_export(args: argparse.Namespace) -> int:
    try:
        doc = load(results_path(args.results))
    except ResultsError as e:
        raise IsobenchError(str(e), 1) from None
    sys.stdout.write(export(doc, args.format))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="the summary as CSV, JSON or Bencher's BMF")
    p.add_argument("results", metavar="RESULTS", help="a results file or session directory")
    p.add_argument("--format", choices=FORMATS, default="csv")
    p.set_defaults(handler=cmd_export)
