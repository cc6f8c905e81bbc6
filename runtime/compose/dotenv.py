"""A `.env` file as docker compose reads it (compose-go's dotenv parser): `KEY=VALUE` lines,
`# comments`, an optional `export ` prefix and UTF-8 BOM; single quotes literal; double
quotes over several lines, with `\\n`, `\\r`, `\\t`, `\\\\`, `\\"` escapes; `${VAR}` expanded in
double-quoted and unquoted values (from the environment, then the file's earlier keys);
an unquoted value ends at ` #` (an inline comment). Errors are one line `FILE:LINE: ...`."""

from __future__ import annotations

import re
from pathlib import Path

from runtime.compose.errors import ComposeError
from runtime.compose.interpolate import interpolate
from runtime.compose.textfile import read_bounded_utf8

MAX_ENV_FILE_BYTES = 1 << 20  # a .env file is a few lines; a bound keeps a hostile one cheap

_KEY = re.compile(r"[_a-zA-Z][_a-zA-Z0-9.-]*")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"'}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text,
                  flags=re.S)


def _quoted(text: str, i: int, quote: str) -> int:
    """The index of the quote closing the one at text[i], or -1."""
    j = i + 1
    while j < len(text):
        if text[j] == "\\" and quote == '"':
            j += 2
            continue
        if text[j] == quote:
            return j
        j += 1
    return -1


def parse_env(text: str, shown: str, environ: dict[str, str]) -> dict[str, str]:
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    out: dict[str, str] = {}
    pos, line = 0, 1
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        raw = text[pos:end]
        start_line = line
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            pos, line = end + 1, line + 1
            continue
        body = stripped.removeprefix("export ").lstrip()
        key, eq, _ = body.partition("=")
        key = key.strip()
        if not eq or not _KEY.fullmatch(key):
            raise ComposeError(f"{shown}:{line}: unexpected line {raw.strip()!r}: KEY=VALUE "
                               "expected")
        vstart = pos + raw.index("=") + 1
        while vstart < end and text[vstart] in " \t":
            vstart += 1
        quote = text[vstart] if vstart < len(text) else ""
        env = {**out, **environ}
        if quote in ("'", '"'):
            close = _quoted(text, vstart, quote)
            if close < 0:
                raise ComposeError(f"{shown}:{start_line}: unterminated quoted value for "
                                   f"{key}")
            value = text[vstart + 1:close]
            line += value.count("\n")
            if quote == '"':
                value = interpolate(_unescape(value), env, f"{shown}:{start_line}")
            end = text.find("\n", close)
            end = len(text) if end < 0 else end
            rest = text[close + 1:end].strip()
            if rest and not rest.startswith("#"):
                raise ComposeError(f"{shown}:{line}: unexpected text after the quoted value "
                                   f"of {key}: {rest!r}")
        else:
            value = re.split(r"[ \t]#", text[vstart:end], maxsplit=1)[0].strip()
            value = interpolate(value, env, f"{shown}:{start_line}")
        out[key] = value
        pos, line = end + 1, line + 1
    return out


def read_env_file(path: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The file's variables ({} when there is none), or a one-line ComposeError."""
    try:
        text = read_bounded_utf8(path, MAX_ENV_FILE_BYTES, str(path))
    except OSError:
        return {}
    return parse_env(text, str(path), {} if environ is None else environ)
