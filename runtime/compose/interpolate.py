"""compose's variable substitution (`${VAR:-default}`, `$$`) in a parsed document."""

from __future__ import annotations

import re
from typing import Any

from runtime.compose.errors import ComposeError

_VAR_RE = re.compile(r"""\$(?:
    (?P<escaped>\$)
  | (?P<named>[_a-zA-Z][_a-zA-Z0-9]*)
  | \{(?P<braced>[_a-zA-Z][_a-zA-Z0-9]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}
  | (?P<invalid>)
)""", re.X)


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

    def sub(m: re.Match[str]) -> str:
        if m["escaped"] is not None:
            return "$"
        if m["invalid"] is not None:
            raise ComposeError(f'{path}: invalid interpolation format "{value}": you may need '
                               "to escape any $ with another $")
        name = m["named"] or m["braced"]
        op, arg = m["op"], m["arg"] or ""
        is_set = name in env
        is_nonempty = bool(env.get(name))
        if op in (":-", "-"):
            return env[name] if (is_nonempty if op == ":-" else is_set) else arg
        if op in (":?", "?"):
            if not (is_nonempty if op == ":?" else is_set):
                raise ComposeError(f"{path}: required variable {name} is missing a value"
                                   + (f": {arg}" if arg else ""))
            return env[name]
        if op in (":+", "+"):
            return arg if (is_nonempty if op == ":+" else is_set) else ""
        if not is_set and warnings is not None:
            warning = f'the "{name}" variable is not set. Defaulting to a blank string.'
            if warning not in warnings:
                warnings.append(warning)
        return env.get(name, "")

    return _VAR_RE.sub(sub, value)
