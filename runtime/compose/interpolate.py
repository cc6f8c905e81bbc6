"""compose's variable substitution (`${VAR:-default}`, `$$`) in a parsed document, as the
Compose Specification's interpolation section and compose-go's template package read it:
braces are matched with nesting, so a default or an error message may itself hold
`${...}` (resolved only when used) or braces (`${JSON:-{"a":1}}`); a `$` that starts no
name, no `{` and no `$` is kept as written (`^regex$`)."""

from __future__ import annotations

import re
from typing import Any

from runtime.compose.errors import ComposeError

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_OPS = (":-", ":?", ":+", "-", "?", "+")


def interpolate(value: Any, env: dict[str, str], path: str = "",
                warnings: list[str] | None = None) -> Any:
    """compose's variable substitution in every string value (never in keys): `$VAR`,
    `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
    `${VAR:+alt}`, `${VAR+alt}`; `$$` is a literal `$`. An unset variable is blank, with a
    warning."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{path}.{k}" if path else str(k), warnings)
                for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{path}[{i}]", warnings) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value
    return _Template(value, env, path, warnings).run(value)


def _closing_brace(s: str, start: int) -> int:
    """The index of the `}` closing the `{` just before `start`, or -1."""
    depth = 1
    for i in range(start, len(s)):
        if s[i] == "{":
            depth += 1
        elif s[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1


class _Template:
    def __init__(self, whole: str, env: dict[str, str], path: str,
                 warnings: list[str] | None) -> None:
        self.whole, self.env, self.path, self.warnings = whole, env, path, warnings

    def invalid(self) -> ComposeError:
        return ComposeError(f'{self.path}: invalid interpolation format "{self.whole}": you '
                            "may need to escape any $ with another $")

    def run(self, s: str) -> str:
        out: list[str] = []
        i = 0
        while True:
            j = s.find("$", i)
            if j < 0:
                out.append(s[i:])
                return "".join(out)
            out.append(s[i:j])
            nxt = s[j + 1:j + 2]
            if nxt == "$":
                out.append("$")
                i = j + 2
            elif nxt == "{":
                end = _closing_brace(s, j + 2)
                if end < 0:
                    raise self.invalid()
                out.append(self.braced(s[j + 2:end]))
                i = end + 1
            elif (m := _NAME.match(s, j + 1)) is not None:
                out.append(self.lookup(m.group()))
                i = m.end()
            else:  # a bare `$`: compose-go's pattern does not match it, so it stays
                out.append("$")
                i = j + 1

    def lookup(self, name: str) -> str:
        if name not in self.env and self.warnings is not None:
            warning = f'the "{name}" variable is not set. Defaulting to a blank string.'
            if warning not in self.warnings:
                self.warnings.append(warning)
        return self.env.get(name, "")

    def braced(self, body: str) -> str:
        m = _NAME.match(body)
        if m is None:
            raise self.invalid()
        name, rest = m.group(), body[m.end():]
        if not rest:
            return self.lookup(name)
        op = next((o for o in _OPS if rest.startswith(o)), None)
        if op is None:
            raise self.invalid()
        arg = rest[len(op):]
        is_set = name in self.env
        ok = bool(self.env.get(name)) if op.startswith(":") else is_set
        if op in (":-", "-"):
            return self.env[name] if ok else self.run(arg)
        if op in (":+", "+"):
            return self.run(arg) if ok else ""
        if not ok:
            message = self.run(arg)
            raise ComposeError(f"{self.path}: required variable {name} is missing a value"
                               + (f": {message}" if message else ""))
        return self.env[name]
