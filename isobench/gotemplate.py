"""`--format`: the subset of Go's text/template that Docker users type.

    {{.Names}}  {{.State.Pid}}  {{.}}  {{json .}}  {{json .Config.Env}}
    {{upper .Name}} {{lower …}} {{title …}} {{join .Config.Cmd " "}} {{index .Labels "k"}}
    {{len .Mounts}}  {{println …}}  {{- trim -}}  "table {{.ID}}\\t{{.Names}}"

A literal `\\t` or `\\n` in the template is a tab or a newline, as in Docker's formatter.
`table …` prints a header row (each field's column title, Docker's names) and aligns the
tab-separated columns. The data are JSON-like values: a dict is Go's map (a missing key prints
`<no value>`, as `docker inspect` does), unless `strict` — the fixed contexts of ps, images and
stats, where an unknown field is an error, as Docker's ContainerContext makes it. Values print
as Go prints them: `map[k:v]`, `[a b]`, `<nil>`, true/false.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ACTION = re.compile(r"{{(-\s)?(.*?)(\s-)?}}", re.S)
TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(`[^`]*`)|(\.[\w.]*)|(\w+)|(\S))')
NO_VALUE = "<no value>"


class TemplateError(ValueError):
    """A template that cannot be parsed or executed: one line, exit 1 (Docker's)."""


@dataclass
class Field:
    path: tuple[str, ...]  # () is the dot itself


@dataclass
class Call:
    name: str
    args: list[Any]  # Field, str literal, or Call


@dataclass
class Action:
    call: Call | Field


def _go(value: Any) -> str:
    """How Go's fmt prints a value decoded from JSON (or one of our contexts)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_go(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_go(v) for v in value) + "]"
    return str(value)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _join(value: Any, sep: Any) -> str:
    if not isinstance(value, (list, tuple)):
        raise TemplateError(f"wrong type for value; expected []string; got {type(value).__name__}")
    return str(sep).join(_go(v) for v in value)


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, (list, tuple)) and isinstance(key, int) and 0 <= key < len(value):
            value = value[key]
        else:
            raise TemplateError(f"error calling index: cannot index {_go(value)} with {key!r}")
    return value


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "json": _json, "upper": lambda v: _go(v).upper(), "lower": lambda v: _go(v).lower(),
    "title": lambda v: _go(v).title(), "join": _join, "index": _index,
    "len": lambda v: len(v) if isinstance(v, (str, list, tuple, Mapping)) else _bad_len(v),
    "println": lambda *v: " ".join(_go(x) for x in v) + "\n",
    "print": lambda *v: "".join(_go(x) for x in v),
}


def _bad_len(value: Any) -> int:
    raise TemplateError(f"error calling len: len of type {type(value).__name__}")


def _literal(text: str) -> str:
    return json.loads(text) if text.startswith('"') else text[1:-1]


def _parse_action(body: str) -> Action:
    tokens = []
    pos = 0
    body = body.strip()
    while pos < len(body):
        m = TOKEN.match(body, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        string, raw, field, word, other = m.groups()
        if other is not None:
            raise TemplateError(f'template: :1: unexpected "{other}" in command')
        if string is not None or raw is not None:
            tokens.append(_literal(string or raw))
        elif field is not None:
            path = tuple(p for p in field.split(".") if p)
            tokens.append(Field(path))
        elif word is not None:
            if word.isdigit():
                tokens.append(int(word))
            elif word in ("true", "false"):
                tokens.append(word == "true")
            else:
                if word not in FUNCTIONS:
                    raise TemplateError(f'template: :1: function "{word}" not defined')
                tokens.append(Call(word, []))
    if not tokens:
        raise TemplateError("template: :1: missing value for command")
    head, *rest = tokens
    if isinstance(head, Call):
        head.args = rest
        return Action(head)
    if rest:
        raise TemplateError(f"template: :1: can't give argument to non-function {body.split()[0]}")
    if not isinstance(head, Field):
        return Action(Call("print", [head]))
    return Action(head)


@dataclass
class Template:
    parts: list[str | Action]
    table: bool
    strict: bool

    def _field(self, data: Any, field: Field) -> Any:
        value = data
        for name in field.path:
            if isinstance(value, Mapping):
                if name not in value:
                    if self.strict and value is data:
                        raise TemplateError(
                            f'template: :1: executing "" at <.{name}>: can\'t evaluate field '
                            f"{name}")
                    return NO_VALUE
                value = value[name]
            else:
                raise TemplateError(f'template: :1: executing "" at <.{".".join(field.path)}>: '
                                    f"can't evaluate field {name} in type "
                                    f"{type(value).__name__}")
        return value

    def _eval(self, data: Any, node: Any) -> Any:
        if isinstance(node, Field):
            return self._field(data, node)
        if isinstance(node, Call):
            args = [self._eval(data, a) for a in node.args]
            try:
                return FUNCTIONS[node.name](*args)
            except TypeError:
                raise TemplateError(f"template: :1: wrong number of args for {node.name}"
                                    ) from None
        return node

    def render(self, data: Any) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = self._eval(data, part.call)
            out.append(value if isinstance(value, str) and isinstance(part.call, Call)
                       else _go(value))
        return "".join(out)

    def check(self, known: Sequence[str], context: str) -> None:
        """A fixed context's unknown field is an error before any row is printed (Docker
        reports it only once a row is executed, and prints nothing for none)."""
        def fields(node: Any) -> list[Field]:
            if isinstance(node, Field):
                return [node]
            if isinstance(node, Call):
                return [f for a in node.args for f in fields(a)]
            return []

        for part in self.parts:
            if isinstance(part, Action):
                for f in fields(part.call):
                    if f.path and f.path[0] not in known:
                        raise TemplateError(
                            f'template: :1: executing "" at <.{f.path[0]}>: can\'t evaluate '
                            f"field {f.path[0]} in type *formatter.{context}")

    def header(self, titles: Mapping[str, str]) -> str:
        """The table's header: each action's column title (Docker's, else the field's name
        in capitals)."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            node = part.call
            while isinstance(node, Call) and node.args:
                node = node.args[0]
            name = ".".join(node.path) if isinstance(node, Field) else ""
            out.append(titles.get(name, name.upper()))
        return "".join(out)


def parse(text: str, *, strict: bool = False) -> Template:
    table = text.startswith("table")
    if table:
        text = text[len("table"):].lstrip(" ")
    text = text.replace("\\t", "\t").replace("\\n", "\n")
    parts: list[str | Action] = []
    pos = 0
    for m in ACTION.finditer(text):
        literal = text[pos:m.start()]
        if m.group(1):
            literal = literal.rstrip()
        parts.append(literal)
        parts.append(_parse_action(m.group(2)))
        pos = m.end()
        if m.group(3):
            while pos < len(text) and text[pos].isspace():
                pos += 1
    rest = text[pos:]
    if "{{" in rest:
        raise TemplateError("template: :1: unclosed action")
    if "}}" in rest and not parts:
        raise TemplateError('template: :1: unexpected "}" in input')
    parts.append(rest)
    return Template([p for p in parts if p != ""], table, strict)


def render_rows(template: Template, rows: Sequence[Any], titles: Mapping[str, str]) -> str:
    """Every row through the template, one line each; a table gets its header and columns
    aligned (Docker's tabwriter: three spaces between columns)."""
    lines = [template.render(r) for r in rows]
    if not template.table:
        return "".join(line + "\n" for line in lines)
    table = [template.header(titles), *lines]
    cells = [line.split("\t") for line in table]
    width = max(len(c) for c in cells)
    widths = [max((len(c[i]) for c in cells if i < len(c) - 1), default=0)
              for i in range(width)]
    out = []
    for row in cells:
        padded = [v.ljust(widths[i] + 3) if i < len(row) - 1 else v for i, v in enumerate(row)]
        out.append("".join(padded).rstrip())
    return "".join(line + "\n" for line in out)
