"""Helpers shared by the CLI's verbs."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from runtime.errors import IsobenchError


def each(names: list[str], action: Callable[[str], object]) -> int:
    """Docker applies multi-object verbs (rm, stop, volume rm...) to each name in turn,
    printing the ones done and reporting failures as it goes; the exit code is the last
    failure's."""
    code = 0
    for name in names:
        try:
            action(name)
            print(name)
        except IsobenchError as e:
            print(f"isobench: {e}", file=sys.stderr)
            code = e.exit_code
    return code


def env_flags(values: list[str]) -> list[str]:
    """-e K=V as given; -e K takes the host's value, and is dropped when unset (Docker)."""
    out = []
    for item in values:
        if "=" in item:
            out.append(item)
        elif item in os.environ:
            out.append(f"{item}={os.environ[item]}")
    return out


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
