"""`isobench history ingest|ls|trend|regressions`: the history database of sessions.

    isobench history ingest DIR...            results files, session dirs, dirs of them
    isobench history ls [--machine M]
    isobench history trend METRIC [--target T] [--machine M] [--format text|json]
    isobench history regressions [SESSION] [--machine M] [--threshold ...] [--format ...]

Every subcommand takes `--history LOCATION` (else ISOBENCH_HISTORY, else
$ISOBENCH_ROOT/history.sqlite): a SQLite file or a postgresql:// URL (results/history).

`isobench history IMAGE` stays Docker's image history: an argument that is not one of the
subcommands above goes to `isobench image history` (Docker's management-command spelling),
so Docker habits keep working; an image named like a subcommand needs `image history`.

Exit status, as `isobench compare`'s (whose rule `regressions` applies to the newest session
and the most recent earlier one of a comparable machine): 0, 1 a regression, 2 trouble
(an unreadable or incomplete results file, a database that cannot be opened).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from isobench.commands.history_location import HistoryTrouble, open_store

SUBCOMMANDS = ("ingest", "ls", "trend", "regressions")


def route(argv: list[str]) -> list[str]:
    """`history IMAGE ...` -> `image history IMAGE ...`: the first argument after the verb
    that is not an option decides (the --history option of a subcommand comes after it)."""
    verb = next((i for i, arg in enumerate(argv) if arg != "--debug"), None)
    if verb is None or argv[verb] != "history":
        return argv
    rest = argv[verb + 1:]
    first = next((arg for arg in rest if not arg.startswith("-")), None)
    if first is None or first in SUBCOMMANDS:
        return argv
    return [*argv[:verb], "image", "history", *rest]


def ingest_paths(paths: Sequence[str], given: str | None) -> list[tuple[str, str]]:
    """Read every session the paths name, then store them all in one transaction."""
    from results.errors import ResultsError
    from results.history.files import read_sessions

    try:
        docs = read_sessions(paths)
        with open_store(given) as store:
            return store.ingest(docs)
    except ResultsError as e:
        raise HistoryTrouble(str(e)) from None


# -- the subcommands --------------------------------------------------------------------------

def cmd_ingest(args: argparse.Namespace) -> int:
    for session_id, outcome in ingest_paths(args.paths, args.history):
        print(f"{session_id}: {outcome}")
    return 0


def _table(rows: list[tuple[str, ...]]) -> None:
    from isobench.commands.common import print_table

    print_table(rows)


def cmd_ls(args: argparse.Namespace) -> int:
    from results.errors import ResultsError

    with open_store(args.history) as store:
        try:
            sessions = store.sessions(args.machine)
        except ResultsError as e:
            raise HistoryTrouble(str(e)) from None
    if args.format == "json":
        print(json.dumps([{"id": s.id, "started_at": s.started_at, "machine": s.machine_id,
                           "cpu_model": s.cpu_model, "kernel": s.kernel,
                           "acceleration": s.acceleration, "profile": s.profile,
                           "runs": s.runs, "commit": s.isobench_commit, "source": s.source}
                          for s in sessions], indent=2))
        return 0
    rows = [("SESSION", "STARTED", "MACHINE", "CPU", "KERNEL", "ACCEL", "PROFILE", "RUNS",
             "COMMIT")]
    rows += [(s.id, s.started_at, s.machine_id, s.cpu_model or "-", s.kernel,
              s.acceleration or "-", s.profile or "-", str(s.runs), s.isobench_commit or "-")
             for s in sessions]
    _table(rows)
    return 0


def _number(value: float) -> str:
    from isobench.commands.compare import _number as number

    return number(value)


def cmd_trend(args: argparse.Namespace) -> int:
    from results import metrics
    from results.errors import ResultsError
    from results.stats import median

    with open_store(args.history) as store:
        try:
            by_session = store.values(metric=args.metric, target=args.target,
                                      machine=args.machine)
            sessions = {s.id: s for s in store.sessions(args.machine)}
        except ResultsError as e:
            raise HistoryTrouble(str(e)) from None
    points = []
    for sid, cells in by_session.items():  # oldest first
        s = sessions[sid]
        for (workload, variant, metric, target), values in cells.items():
            known = metrics.get(metric)
            points.append({"workload": workload, "variant": variant, "metric": metric,
                           "target": target, "unit": known.unit if known else "",
                           "session": sid, "started_at": s.started_at,
                           "machine": s.machine_id, "commit": s.isobench_commit,
                           "n": len(values), "median": median(values)})
    if not points:
        raise HistoryTrouble(f"no values of {args.metric!r} in the history"
                             + (f" for target {args.target}" if args.target else "")
                             + (f" on machine {args.machine}" if args.machine else ""))
    points.sort(key=lambda p: (p["workload"], p["variant"], p["metric"], p["target"],
                               p["started_at"], p["session"]))
    if args.format == "json":
        print(json.dumps(points, indent=2))
        return 0
    rows = [("WORKLOAD", "VARIANT", "METRIC", "TARGET", "SESSION", "STARTED", "MACHINE",
             "COMMIT", "N", "MEDIAN")]
    rows += [(p["workload"], p["variant"],
              f"{p['metric']} ({p['unit']})" if p["unit"] else p["metric"], p["target"],
              p["session"], p["started_at"], p["machine"], p["commit"] or "-", str(p["n"]),
              _number(p["median"])) for p in points]
    _table(rows)
    return 0


def cmd_regressions(args: argparse.Namespace) -> int:
    from isobench.commands.compare import parse_thresholds, show
    from results.compare import compare
    from results.errors import ResultsError
    from results.history.store import earlier, latest_comparable

    thresholds = parse_thresholds(args.threshold, args.thresholds_file)
    with open_store(args.history) as store:
        try:
            sessions = store.sessions(args.machine)
            if args.session:
                new_info = store.session(args.session)
            elif sessions:
                new_info = sessions[-1]
            else:
                raise ResultsError("the history holds no session")
            new = store.document(new_info.id)
            base_info, why = latest_comparable(earlier(store.sessions(), new), new)
            if base_info is None:
                raise ResultsError(f"no earlier session of a comparable machine before "
                                   f"{new_info.id}" + (f" ({'; '.join(why)})" if why else ""))
            base = store.document(base_info.id)
            result = compare(base, new, thresholds=thresholds,
                             keep_contended=args.keep_contended)
        except ResultsError as e:
            raise HistoryTrouble(str(e)) from None
    print(f"isobench: {base_info.id} -> {new_info.id}", file=sys.stderr)
    return show(result, args.format)


# -- the parser -------------------------------------------------------------------------------

def _usage_error(message: str) -> None:
    raise HistoryTrouble(f"history: {message}. See 'isobench history --help'.")


def register(sub: argparse._SubParsersAction) -> None:
    from isobench.commands.compare import FORMATS, add_threshold_arguments

    p = sub.add_parser("history", help="the history database: ingest, ls, trend, regressions "
                                       "(history IMAGE: an image's history)",
                       description=__doc__.split("\n\n")[0],
                       epilog="isobench history IMAGE: an image's history, as Docker's "
                              "(the same as `isobench image history IMAGE`)")
    p.error = _usage_error  # type: ignore[method-assign]  # exit 2, as compare
    verbs = p.add_subparsers(dest="history_verb", metavar="SUBCOMMAND", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        c = verbs.add_parser(name, help=help)
        c.error = _usage_error  # type: ignore[method-assign]
        c.add_argument("--history", metavar="LOCATION",
                       help="SQLite file or postgresql:// URL (default: ISOBENCH_HISTORY, "
                            "else $ISOBENCH_ROOT/history.sqlite)")
        return c

    c = command("ingest", "add sessions to the history (one transaction)")
    c.add_argument("paths", nargs="+", metavar="DIR",
                   help="results.json, a session directory, or a directory of them")
    c.set_defaults(handler=cmd_ingest)

    c = command("ls", "list the sessions, oldest first")
    c.add_argument("--machine", metavar="M", help="a machine id (or its first characters)")
    c.add_argument("--format", choices=("text", "json"), default="text")
    c.set_defaults(handler=cmd_ls)

    c = command("trend", "one metric's median per session")
    c.add_argument("metric", metavar="METRIC",
                   help="a metric, variant.metric or workload.variant.metric "
                        "(e.g. cpu.single.events_per_s)")
    c.add_argument("--target", metavar="T", help="only this target (native, container, ...)")
    c.add_argument("--machine", metavar="M", help="a machine id (or its first characters)")
    c.add_argument("--format", choices=("text", "json"), default="text")
    c.set_defaults(handler=cmd_trend)

    c = command("regressions", "compare a session with the most recent comparable earlier "
                               "one, as `isobench compare`")
    c.add_argument("session", nargs="?", metavar="SESSION",
                   help="a session id or its first characters (default: the newest)")
    c.add_argument("--machine", metavar="M", help="the newest session of this machine")
    add_threshold_arguments(c)
    c.add_argument("--format", choices=sorted(FORMATS), default="text")
    c.add_argument("--keep-contended", action="store_true",
                   help="keep runs marked contended (left out by default)")
    c.set_defaults(handler=cmd_regressions)
