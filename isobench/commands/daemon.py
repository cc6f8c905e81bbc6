"""`isobench daemon`: serve the container verbs from a warm process (isobench/daemon.py),
in the foreground, as `dockerd` runs; SIGTERM or ^C stops it."""

from __future__ import annotations

import argparse


def cmd_daemon(_args: argparse.Namespace) -> int:
    from isobench.daemon import serve

    return serve()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("daemon", help="serve the container verbs from a warm process "
                                      "(foreground; the CLI uses it when it runs)")
    p.set_defaults(handler=cmd_daemon)
