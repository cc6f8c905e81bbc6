"""`isobench completion bash|zsh`: the shell completion script, generated from the parser
itself by shtab, so every verb and flag completes as it is defined.

    source <(isobench completion bash)
    isobench completion zsh > "${fpath[1]}/_isobench"
"""

from __future__ import annotations

import argparse
import sys

SHELLS = ("bash", "zsh")


def cmd_completion(args: argparse.Namespace) -> int:
    import shtab  # start-up time: only this verb needs it

    from isobench.cli import build_parser

    sys.stdout.write(shtab.complete(build_parser(), shell=args.shell))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("completion", help="print the shell completion script (bash, zsh)")
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(handler=cmd_completion)
