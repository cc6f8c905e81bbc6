"""`isobench compose [-f FILE] [-p PROJECT] up [-d] | down [-v] | ps | logs`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from isobench.commands.containers import status_line
from runtime.api import Runtime
from runtime.compose import (
    STOP_TIMEOUT_S,
    Compose,
    ComposeError,
    Project,
    find_file,
    iter_ports,
    load,
    service_of,
)


def _open(args: argparse.Namespace, need_file: bool) -> Compose:
    """The project from the file; `down`, `ps` and `logs` also work from -p alone (what
    belongs to a project is found by its labels)."""
    explicit = args.project_name or os.environ.get("COMPOSE_PROJECT_NAME") or None
    project: Project | None = None
    try:
        path = find_file(args.file)
    except ComposeError:
        if need_file or not explicit:
            raise
        path = None
    if path is not None:
        project = load(Path(path), explicit)
        for warning in project.warnings:
            print(f"WARN {path}: {warning}", file=sys.stderr)
    name = project.name if project else explicit
    assert name is not None
    return Compose(Runtime(), name, project)


def cmd_up(args: argparse.Namespace) -> int:
    return _open(args, need_file=True).up(detach=args.detach, build=args.build,
                                          timeout=args.timeout)


def cmd_down(args: argparse.Namespace) -> int:
    return _open(args, need_file=False).down(volumes=args.volumes, timeout=args.timeout)


def cmd_ps(args: argparse.Namespace) -> int:
    compose = _open(args, need_file=False)
    found = [c for c in compose.containers(args.services or None)
             if args.all or c.state.status in ("running", "restarting")]
    if args.quiet:
        for c in found:
            print(c.id)
        return 0
    rows = [("NAME", "IMAGE", "SERVICE", "STATUS", "PORTS")]
    rows += [(c.name, c.config.image, service_of(c), status_line(c), ", ".join(iter_ports(c)))
             for c in found]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    compose = _open(args, need_file=False)
    try:
        return compose.logs(args.services or None, follow=args.follow)
    except KeyboardInterrupt:
        return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compose", help="define and run multi-container applications")
    p.add_argument("-f", "--file", help="compose file (default: compose.yaml in this directory)")
    p.add_argument("-p", "--project-name", help="project name (default: the directory's)")
    verbs = p.add_subparsers(dest="compose_verb", metavar="COMMAND", required=True)

    v = verbs.add_parser("up", help="create and start the services")
    v.add_argument("-d", "--detach", action="store_true", help="run in the background")
    v.add_argument("--build", action="store_true", help="build images before starting")
    v.add_argument("-t", "--timeout", type=float, default=None,
                   help="seconds to wait for a container to stop (recreate, Ctrl-C; default: "
                   f"its stop_grace_period, else {STOP_TIMEOUT_S:g})")
    v.set_defaults(handler=cmd_up)

    v = verbs.add_parser("down", help="stop and remove containers and networks")
    v.add_argument("-v", "--volumes", action="store_true", help="also remove volumes")
    v.add_argument("-t", "--timeout", type=float, default=None,
                   help="seconds to wait for a container to stop (default: its "
                   f"stop_grace_period, else {STOP_TIMEOUT_S:g})")
    v.set_defaults(handler=cmd_down)

    v = verbs.add_parser("ps", help="list the project's containers")
    v.add_argument("-a", "--all", action="store_true", help="stopped ones too")
    v.add_argument("-q", "--quiet", action="store_true")
    v.add_argument("services", nargs="*", metavar="SERVICE")
    v.set_defaults(handler=cmd_ps)

    v = verbs.add_parser("logs", help="the services' output, prefixed")
    v.add_argument("-f", "--follow", action="store_true")
    v.add_argument("services", nargs="*", metavar="SERVICE")
    v.set_defaults(handler=cmd_logs)
