"""`isobench`: Docker's verbs and flags, one clear line and Docker's exit code on failure."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from bench import compare
from isobench.commands import bench, compose, containers, gc, images, report, storage, vm
from runtime.errors import EXIT_RUNTIME, IsobenchError


class UsageError(IsobenchError):
    """Bad flags or arguments: Docker exits 125 for these."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message}. See '{self.prog} --help'.", EXIT_RUNTIME)


def build_parser() -> Parser:
    parser = Parser(prog="isobench", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", parser_class=Parser)
    containers.register(sub)
    images.register(sub)
    storage.register(sub)
    compose.register(sub)
    compare.register(sub)
    bench.register(sub)
    report.register(sub)
    vm.register(sub)
    gc.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        os.environ["ISOBENCH_DEBUG"] = "1"  # the container monitor reads it too
    try:
        args = build_parser().parse_args(argv)
        if not getattr(args, "handler", None):
            build_parser().print_help(sys.stderr)
            return 1
        if getattr(args, "verb", None) == "bench":
            args.argv = ["isobench", *argv]
        return int(args.handler(args) or 0)
    except IsobenchError as e:
        if debug:
            raise
        print(f"isobench: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        if debug:
            raise
        where = f": {e.filename}" if e.filename else ""
        print(f"isobench: {e.strerror or e}{where}", file=sys.stderr)
        return EXIT_RUNTIME


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
