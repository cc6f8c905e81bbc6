"""The standalone benchmarks, each run as `python -m bench.tools.NAME`: startup (container
start-up against runc and the floors), vmboot (the VM driver's cost), buildtime (cold and
cached builds), netperf (the net workload's measurement on its own). Their statistics are
results.stats'."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]


def reproduce_command(tool: str, *args: str) -> str:
    """The command that repeats a run, as typed in the checkout's root (wherever that is):
    `.venv/bin/python -m bench.tools.TOOL ARGS`; a path argument inside the checkout is
    given relative to it, so the line holds no machine's directory."""
    return shlex.join([".venv/bin/python", "-m", f"bench.tools.{tool}",
                       *(relative_to_checkout(a) for a in args)])


def relative_to_checkout(arg: str) -> str:
    path = Path(arg)
    if not path.is_absolute():
        return arg
    try:
        return os.path.relpath(path, CHECKOUT) if path.resolve().is_relative_to(CHECKOUT) \
            else arg
    except (OSError, ValueError):
        return arg
