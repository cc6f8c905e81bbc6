"""`isobench report RESULTS`: report.html and report.pdf from one results file.

    isobench report reports/out/latest [--format html,pdf] [--lang en|ru]
                    [--history [LOCATION]] [--out DIR]

RESULTS is a results.json or a session directory holding one. The report is written next
to it unless --out says otherwise, and each written path is printed. A results file that
cannot be used is one line naming it, exit 1. Targets missing from the session are a
warning line (the report still renders and lists them). Without --format, a PDF that cannot
be written here (no WeasyPrint, no Chromium) is a warning; with --format pdf it is an error.

`isobench report --machines [RESULTS...]` writes machines.html (into --out, else the current
directory): the same cells across machines, from the files given or, with none, from the
newest session of each machine in the history.

--history alone reads the history database (ISOBENCH_HISTORY, else
$ISOBENCH_ROOT/history.sqlite); with a value, that database (a SQLite file or a
postgresql:// URL) or a directory of session directories.
"""

from __future__ import annotations

import argparse
import sys

from reports.errors import ReportError
from runtime.errors import IsobenchError

DEFAULT_HISTORY = ""   # `--history` with no value


class ReportFailed(IsobenchError):
    """A reports.errors.ReportError as the CLI's error type (exit 1)."""

    exit_code = 1


def cmd_machines(args: argparse.Namespace) -> int:
    """`report --machines [RESULTS...]`: machines.html from the files, else the history."""
    from reports.render import generate_machines

    history = None
    if not args.results:
        from isobench.commands.history_location import location

        history = location(args.history or None)
    try:
        print(generate_machines(args.results, history=history, out=args.out or "."))
    except ReportError as e:
        raise ReportFailed(str(e), e.exit_code) from None
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    if args.machines:
        return cmd_machines(args)
    if len(args.results) != 1:
        raise ReportFailed("report: give one RESULTS (several only with --machines). "
                           "See 'isobench report --help'.")
    args.results = args.results[0]
    # start-up time: pandas, matplotlib and Jinja2 cost ~0.5 s, which `report --help` and a
    # bad flag (and the full `isobench --help`) need not pay
    from reports.render import FORMATS, generate

    history = args.history
    if history == DEFAULT_HISTORY:
        from isobench.commands.history_location import location, open_store

        history = location(None)
        open_store(history).close()  # a first session's report: an empty history, made here
    try:
        out = generate(args.results, formats=args.format or FORMATS, lang=args.lang,
                       history_dir=history, out=args.out,
                       strict_pdf=args.format is not None)
    except ReportError as e:
        raise ReportFailed(str(e), e.exit_code) from None
    for line in out.warnings:
        print(f"isobench: warning: {line}", file=sys.stderr)
    for path in (out.html, out.pdf):
        if path is not None:
            print(path)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write report.html and report.pdf from a results file")
    p.add_argument("results", metavar="RESULTS", nargs="*",
                   help="results.json, or a session directory holding one (with --machines: "
                        "one per machine, or none for the history's newest of each)")
    p.add_argument("--machines", action="store_true",
                   help="write machines.html: the same cells across machines, side by side")
    p.add_argument("--format", metavar="html,pdf",
                   help="comma-separated formats to write (default: html,pdf)")
    p.add_argument("--lang", choices=["en", "ru"], default="en",
                   help="language of headings, verdicts and the exam section (default en)")
    p.add_argument("--history", metavar="LOCATION", nargs="?", const=DEFAULT_HISTORY,
                   help="earlier sessions for trends and regressions: alone, the history "
                        "database (ISOBENCH_HISTORY, else $ISOBENCH_ROOT/history.sqlite); "
                        "or a SQLite file, a postgresql:// URL, a directory of sessions")
    p.add_argument("--out", metavar="DIR",
                   help="where to write the report (default: next to the results file)")
    p.set_defaults(handler=cmd_report)
