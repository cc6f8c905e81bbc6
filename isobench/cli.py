"""`isobench`: Docker's verbs and flags, one clear line and Docker's exit code on failure."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterable, Sequence

from isobench.verbs import COMMANDS, MODULES, verb_of
from runtime.errors import EXIT_RUNTIME, IsobenchError


class UsageError(IsobenchError):
    """Bad flags or arguments: Docker exits 125 for these."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message}. See '{self.prog} --help'.", EXIT_RUNTIME)


class _Version(argparse.Action):
    """`--version`: the line is made only when asked for (it reads package metadata and may
    run git), so no other command pays for it."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        # start-up time: importlib.metadata costs every command ~5 ms, only --version needs it
        from isobench.version import version_line

        print(version_line())
        parser.exit()


class _VerbsFormatter(argparse.HelpFormatter):
    """argparse measures the verbs without their extra indent: a verb as long as
    "completion" would push its help to the next line."""

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction) and action.choices:
            longest = max(len(name) for name in action.choices)
            self._action_max_length = max(self._action_max_length,
                                          longest + self._current_indent
                                          + 2 * self._indent_increment)


# Parsers built ahead by `isobench daemon` (warm()): each served request is a fresh fork
# that parses once with it instead of building it again (~2 ms, more in a fork's first
# touch of the pages). Empty in a plain CLI process.
_warm: dict[tuple[str, ...], Parser] = {}


def warm(modules: tuple[str, ...]) -> None:
    """Build the parser of `modules` now, for main() in forks of this process."""
    _warm[modules] = build_parser(modules)


def build_parser(modules: Iterable[str] = MODULES) -> Parser:
    """The parser with the verbs of `modules` (each a module of isobench.commands)."""
    parser = Parser(prog="isobench", description=__doc__, formatter_class=_VerbsFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", parser_class=Parser)
    for name in modules:
        importlib.import_module(f"isobench.commands.{name}").register(sub)
    return parser


def modules_for(argv: Sequence[str]) -> tuple[str, ...]:
    """The one module argv's verb needs; every module when argv names no known verb, or puts
    anything but --debug before it (-h, --version, a typo: the full parser answers those)."""
    verb = verb_of(list(argv))
    return (COMMANDS[verb],) if verb in COMMANDS else MODULES


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:
        os.environ["ISOBENCH_DEBUG"] = "1"  # the container monitor reads it too
    try:
        if next((arg for arg in argv if arg != "--debug"), None) == "history":
            # `history IMAGE` is Docker's image history: it becomes `image history IMAGE`
            from isobench.commands.history import route

            argv = route(argv)
        modules = modules_for(argv)
        args = (_warm.pop(modules, None) or build_parser(modules)).parse_args(argv)
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


# Verbs that leave at once when done, skipping the interpreter's teardown (freeing every
# module's objects: ~5-10 ms here, a tenth of `isobench run --rm`). They leave nothing for
# atexit or finalizers: no threads, temp directories or open files outlive their handler.
FAST_EXIT = frozenset({"run"})


def entry() -> None:
    code = main()
    if [a for a in sys.argv[1:] if a != "--debug"][:1] in ([v] for v in FAST_EXIT):
        try:
            sys.stdout.flush()  # what os._exit would otherwise drop
            sys.stderr.flush()
        except OSError:
            pass  # the reader went away: nothing left to tell it
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
