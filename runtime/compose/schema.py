"""A compose document checked against a JSON Schema of the Compose file format, as compose-go
checks its own (after interpolation, before anything is read out of it).

The schema is isobench's own: runtime.compose.spec_keys lists the top-level elements and the
service attributes the Compose Specification's documentation describes, with their shapes,
and builds the draft-7 schema from that table. Only the first problem is reported, in one
line that names where it is: a key the specification does not have is `unknown key
'restrat' in service "web" (did you mean 'restart'?)`; a value of the wrong shape is
`services.web.image: must be a string`. A key the specification has but isobench does not
implement passes here and is refused by the loader with "... is not supported by isobench"
(fields.check_mapping), so a user can
tell a misspelling from a missing feature.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from typing import Any

from runtime.compose import spec_keys
from runtime.compose.errors import ComposeError

_TYPE_NAMES = {"object": "mapping", "array": "list", "string": "string", "number": "number",
               "integer": "integer", "boolean": "boolean", "null": "null"}
_NAMED_SECTIONS = {"services": "invalid service name: only [a-zA-Z0-9._-] allowed",
                   "volumes": "invalid name", "secrets": "invalid name",
                   "configs": "invalid name", "models": "invalid name"}


@cache
def _validator() -> Any:
    # Imported here for start-up time: jsonschema costs ~40 ms, and only a compose file
    # being read needs it.
    import jsonschema

    return jsonschema.Draft7Validator(spec_keys.schema())


def spec_source() -> str:
    """Where the schema comes from: isobench's table, written from the documentation."""
    return spec_keys.SOURCE


def format_path(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _check_keys(value: Any, path: list[Any], depth: int = 0) -> None:
    """YAML allows keys that are not strings; compose's are."""
    if depth > 64:  # the YAML reader bounds nesting already; this keeps the walk bounded
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ComposeError(f"{format_path(path)}: key {key!r} must be a string")
            _check_keys(item, [*path, key], depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_keys(item, [*path, i], depth + 1)


def _leaves(error: Any) -> list[Any]:
    """A oneOf/anyOf failure stands for the branch whose type the value has: descend into it;
    when the value's type matches no branch, the failure itself is the message."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    branches: dict[Any, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    typed = [subs for subs in branches.values()
             if not any(s.validator == "type" and not s.relative_path for s in subs)]
    if len(typed) == 1:
        return [leaf for sub in typed[0] for leaf in _leaves(sub)]
    return [error]


def _branch_types(error: Any) -> list[str]:
    names: list[str] = []
    for sub in error.context:
        if sub.validator == "type" and not sub.relative_path:
            kinds = sub.validator_value if isinstance(sub.validator_value, list) else [
                sub.validator_value]
            names += [_TYPE_NAMES.get(k, k) for k in kinds
                      if k != "null" and _TYPE_NAMES.get(k, k) not in names]
    return names


def _a_list(names: list[str], each: bool = False) -> str:
    """`a string, number or null` (one type of several); `a mapping or a list` (each: one of
    several shapes)."""
    def article(n: str) -> str:
        return f"{'an' if n[0] in 'aeiou' else 'a'} {n}"

    words = [article(n) for n in names] if each else [article(names[0]), *names[1:]]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _where(path: list[Any]) -> str:
    if not path:
        return "at the top level"
    if len(path) >= 2 and path[0] == "services":
        inner = format_path(path[2:])
        return f'in service "{path[1]}"' + (f" at {inner}" if inner else "")
    return f"in {format_path(path)}"


def _unknown_key(error: Any) -> str:
    instance, schema = error.instance, error.schema
    known = list(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    extra = [k for k in instance if k not in known and not any(re.search(p, k) for p in patterns)]
    key = extra[0] if extra else "?"
    path = list(error.absolute_path)
    if len(path) == 1 and path[0] in _NAMED_SECTIONS:
        return f"{path[0]}.{key}: {_NAMED_SECTIONS[path[0]]}"
    guess = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    hint = f" (did you mean '{guess[0]}'?)" if guess else ""
    return f"unknown key '{key}' {_where(path)}{hint}"


def _message(error: Any) -> str:
    path = format_path(error.absolute_path)
    if error.validator == "additionalProperties":
        return _unknown_key(error)
    if error.validator == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [
            error.validator_value]
        return f"{path}: must be {_a_list([_TYPE_NAMES.get(k, k) for k in kinds])}"
    if error.validator in ("oneOf", "anyOf"):
        names = _branch_types(error)
        if names:
            return f"{path}: must be {_a_list(names, each=True)}"
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return f"{path}: {error.instance!r} is not one of {allowed}"
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return f"{path}.{missing[0]}: required" if path else f"{missing[0]}: required"
    return f"{path}: {error.message}" if path else error.message


def validate(document: Any) -> None:
    """Raise a one-line ComposeError for the first way `document` breaks the schema."""
    _check_keys(document, [])
    services = document.get("services") if isinstance(document, dict) else None
    if isinstance(services, dict):  # `web:` with nothing under it is a service with no keys
        document = {**document, "services": {k: {} if v is None else v
                                             for k, v in services.items()}}
    errors = [leaf for e in _validator().iter_errors(document) for leaf in _leaves(e)]
    if not errors:
        return
    # Unknown keys first (the likeliest cause of everything else), then in document order.
    errors.sort(key=lambda e: (e.validator != "additionalProperties",
                               [str(p) for p in e.absolute_path]))
    raise ComposeError(_message(errors[0]))
