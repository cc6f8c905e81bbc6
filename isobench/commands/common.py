"""Helpers shared by the CLI's verbs."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runtime.errors import IsobenchError

if TYPE_CHECKING:
    from isobench.gotemplate import Template


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


def template(text: str, *, fields: Mapping[str, str] | None = None,
             context: str = "") -> Template:
    """A --format template, or one line and exit 1 (Docker's) when it does not parse. With
    `fields` (ps, images, stats: a fixed set, Docker's Context types) an unknown field is
    refused too; without (inspect: a JSON object) a missing key prints <no value>."""
    from isobench.gotemplate import TemplateError, parse

    try:
        parsed = parse(text, strict=fields is not None)
    except TemplateError as e:
        raise IsobenchError(f"template parsing error: {e}", 1) from None
    if fields is not None:
        try:
            parsed.check(list(fields), context)
        except TemplateError as e:
            raise IsobenchError(str(e), 1) from None
    return parsed


def print_formatted(tmpl: Template, rows: Sequence[Any], titles: Mapping[str, str]) -> None:
    """Rows through a --format template; an error executing it is one line and exit 1."""
    from isobench.gotemplate import TemplateError, render_rows

    try:
        text = render_rows(tmpl, rows, titles)
    except TemplateError as e:
        raise IsobenchError(str(e), 1) from None
    sys.stdout.write(text)
