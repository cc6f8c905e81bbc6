"""`isobench bench`: run the suite, write <results dir>/<UTC timestamp>/results.json and add
the finished session to the history database.

The results directory does not depend on where the command is started: ISOBENCH_RESULTS,
else $ISOBENCH_ROOT/results (`make bench` sets ISOBENCH_RESULTS to the checkout's
reports/out). Its `latest` link points at the newest session.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

from runtime.errors import InvalidArgument, IsobenchError

RESULTS_SUBDIR = "results"


def results_root() -> Path:
    """ISOBENCH_RESULTS, else the state root's results/ directory."""
    given = os.environ.get("ISOBENCH_RESULTS")
    if given:
        return Path(given)
    from runtime.fsutil import state_root

    return state_root() / RESULTS_SUBDIR


def _out_dir(args: argparse.Namespace) -> Path:
    if args.resume:
        return Path(args.resume)
    if args.out:
        return Path(args.out)
    return results_root() / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def _point_latest(out: Path) -> None:
    """<results dir>/latest -> the newest session (a relative link, replaced atomically)."""
    root = results_root()
    if out.parent.resolve() != root.resolve():
        return
    tmp = root / ".latest.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(out.name)
    os.replace(tmp, root / "latest")


def _ingest(out: Path, where: str | None, console: Any) -> None:
    """Add the finished session to the history. The results file is already written, so a
    history that cannot take it is a warning: `isobench history ingest` can add it later."""
    from isobench.commands.history import ingest_paths

    try:
        for session_id, outcome in ingest_paths([str(out)], where):
            console.print(f"history: {session_id} {outcome}")
    except IsobenchError as e:
        console.print(f"[yellow]isobench: warning: not added to the history: {e}[/yellow]")


def cmd_bench(args: argparse.Namespace) -> int:
    # start-up time: the harness, targets, workloads and rich cost ~100 ms together, which
    # the full `isobench --help` (it registers this module) and `bench --help` need not pay
    from rich.console import Console

    from bench import workloads
    from bench.harness import Harness, select
    from bench.profiles import PROFILES
    from bench.targets import all_targets
    from isobench.sessionview import session_progress
    from results import document
    from runtime.api import Runtime

    console = Console(stderr=True, highlight=False)
    progress = session_progress(sys.stderr)
    profile = PROFILES[args.profile]
    if args.repeat is not None:  # every target's and startup's repetitions, the VM's too
        if args.repeat < 1:
            raise InvalidArgument(f"--repeat must be at least 1, not {args.repeat}")
        profile = dataclasses.replace(profile, repeat=args.repeat, vm_repeat=args.repeat,
                                      startup_runs=args.repeat,
                                      orchestration_repeat=args.repeat)
    cpu_limit = None
    if args.cpus is not None:
        from runtime.limits import parse_cpus

        try:
            cpu_limit = parse_cpus(args.cpus)
        except ValueError as e:
            raise InvalidArgument(f"--cpus: {e}") from None
    rt = Runtime()
    targets = all_targets(rt)
    chosen_targets = select(args.targets, targets, "target") if args.targets else \
        [n for n, t in targets.items() if t.default]
    chosen_workloads = select(args.workloads, workloads.WORKLOADS, "workload")
    out = _out_dir(args)
    try:
        doc = document.load(out / document.RESULTS_FILE) if args.resume else None
    except document.ResultsError as e:  # 2 is compare's "trouble"; for bench, a CLI error
        raise IsobenchError(str(e)) from None
    harness = Harness(rt, {n: targets[n] for n in chosen_targets},
                      [workloads.WORKLOADS[n] for n in chosen_workloads], profile, out,
                      doc=doc, seed=args.seed, argv=list(args.argv),
                      progress=progress,
                      cpu_limit=cpu_limit, keep_contended=args.keep_contended)
    out.mkdir(parents=True, exist_ok=True)
    _point_latest(out)
    harness.run()
    console.print(f"results: {out / document.RESULTS_FILE}")
    if not args.no_history:
        _ingest(out, args.history, console)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run the benchmark suite")
    p.add_argument("--profile", choices=["quick", "full", "tiny"], default="quick")
    p.add_argument("--targets", help="comma-separated: native,container,runc,crun,microvm,vm "
                   "(default: all but microvm)")
    p.add_argument("--workloads", help="comma-separated: cpu,memory,disk,net,startup,...")
    p.add_argument("--repeat", type=int,
                   help="repetitions of every measurement on every target, the VM's and "
                        "startup's included (default: the profile's)")
    p.add_argument("--cpus", metavar="N",
                   help="a CPU limit (as docker run --cpus) on the scheduled runs of every "
                        "target but native, the uncapped baseline")
    p.add_argument("--keep-contended", action="store_true",
                   help="count runs the contention guard flagged in ratios and verdicts")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="results directory (default: ISOBENCH_RESULTS or "
                                 "$ISOBENCH_ROOT/results, /<UTC timestamp>)")
    p.add_argument("--history", metavar="LOCATION",
                   help="the history database the finished session is added to: SQLite file "
                        "or postgresql:// URL (default: ISOBENCH_HISTORY, else "
                        "$ISOBENCH_ROOT/history.sqlite)")
    p.add_argument("--no-history", action="store_true",
                   help="do not add the session to the history database")
    p.add_argument("--resume", metavar="DIR", help="continue an interrupted session")
    p.set_defaults(handler=cmd_bench, argv=[])
