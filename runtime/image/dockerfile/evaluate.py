"""Dockerfile parsing with Docker's (BuildKit's) semantics, for single-stage builds.

    df = parse(text, path="Dockerfile", build_args={"VERSION": "1.2"})
    df.base_image          # "alpine:3.19", FROM after substitution with the global ARGs
    for step in df.steps(): # FromStep, RunStep, CopyStep, EnvStep, ... (typed, substituted)
        ...

Design: three phases, run by `parse` in the order Docker reports errors.

1. Syntax (Docker's parser package), over the whole file first: parser directives
   (`# escape=\\` or `` # escape=` ``, and `syntax`/`check`, accepted and ignored) only at
   the very top; comment lines (`#` after optional whitespace) and blank lines dropped, also
   between continuation lines; a line ending in the escape character (then optional spaces)
   continues on the next, lines joined as they are (the escape character removed, nothing
   inserted). Each logical line is split into keyword (any case), `--flags` and arguments,
   and the arguments into Docker's shape for that keyword: a JSON array of strings (exec
   form) or not, ENV/LABEL `k=v` pairs (or legacy `ENV k v w`), ARG words, whitespace
   separated words. Result: `Instruction` objects, nothing substituted yet.
2. Checks (Docker's instructions package), instruction by instruction: known keyword,
   argument counts, flags, HEALTHCHECK and ONBUILD forms, and the structure: only ARGs may
   come before the one FROM; a second FROM is refused (no multi-stage builds).
3. Evaluation (Docker's dispatcher): the global ARGs (before FROM) and FROM's image name,
   then each instruction in the scope it sees: ENV and ARG values so far (an ARG's value is
   its --build-arg, else its default; a global ARG reaches the stage only when redeclared
   without a default), SHELL, and WORKDIR. Substitution (`substitute`) applies to FROM,
   ADD, COPY (and their --chown/--chmod), ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR,
   ARG defaults and STOPSIGNAL, never to RUN, CMD or ENTRYPOINT (that is the shell's job).
   Result: typed `Step` objects (dataclasses), each with `line`, `keyword` and `text`, the
   instruction after substitution, written so that two steps with different effects never
   have the same text (the builder keys its cache on it).

`Dockerfile.steps()` are those of phase 3 with an empty base image. Pass the base image's
environment, working directory and shell (`steps(base_env=..., base_workdir=...)`) to have
references to them resolved too (`FROM golang` + `WORKDIR src` is `/go/src`).

Errors are `DockerfileError`, a ValueError that prints as one line,
`Dockerfile:7: unknown instruction: FORM`, with Docker's wording where Docker has one.

Deliberate differences from Docker: no multi-stage builds (a second FROM, COPY --from);
no heredocs (`RUN <<EOF`), RUN --mount/--network/--security, COPY/ADD --link/--parents/
--exclude, ADD --checksum/--keep-git-dir/--unpack, all refused with a clear error rather
than half-supported; FROM --platform only for the host's own platform; --chmod only in
octal; MAINTAINER becomes the `maintainer` label (Docker sets the image's Author);
HEALTHCHECK and ONBUILD are checked and recorded (NoopStep) but have no effect; an
`ARG A=1 B=2` line gives one ArgStep per name; unknown-instruction errors carry no
"did you mean" hint.
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from runtime.image.ignore import clean_path  # Go's path.Clean, shared

__all__ = [
    "ArgStep", "CmdStep", "CopyStep", "Dockerfile", "DockerfileError", "EntrypointStep",
    "EnvStep", "ExposeStep", "FromStep", "Instruction", "LabelStep", "NoopStep",
    "PLATFORM_ARGS", "RunStep", "ShellStep", "Step", "StopSignalStep", "UserStep",
    "VolumeStep", "WorkdirStep", "DEFAULT_SHELL", "parse", "substitute", "substitute_words",
]

DEFAULT_SHELL = ("/bin/sh", "-c")

# Build args Docker accepts without an ARG (passed to RUN, never "unused").
PROXY_ARGS = frozenset({
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
    "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
})


def _host_platform() -> tuple[str, str]:
    machine = platform.machine().lower()
    arch, variant = {
        "x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", ""),
        "arm64": ("arm64", ""), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
        "i386": ("386", ""), "i686": ("386", ""), "ppc64le": ("ppc64le", ""),
        "s390x": ("s390x", ""), "riscv64": ("riscv64", ""),
    }.get(machine, (machine, ""))
    return arch, variant


def _platform_args() -> dict[str, str]:
    arch, variant = _host_platform()
    plat = f"linux/{arch}" + (f"/{variant}" if variant else "")
    out: dict[str, str] = {}
    for prefix in ("BUILD", "TARGET"):
        out.update({f"{prefix}PLATFORM": plat, f"{prefix}OS": "linux",
                    f"{prefix}ARCH": arch, f"{prefix}VARIANT": variant})
    return out


# BuildKit's automatic global ARGs: usable in FROM, and in the stage once declared.
PLATFORM_ARGS: Mapping[str, str] = _platform_args()


class DockerfileError(ValueError):
    """A Dockerfile Docker would refuse; `str()` is `PATH:LINE: message`, on one line."""

    def __init__(self, message: str, *, path: str = "Dockerfile", line: int = 0) -> None:
        message = message.replace("\r", "\\r").replace("\n", "\\n")
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def __str__(self) -> str:
        if self.path and self.line > 0:
            return f"{self.path}:{self.line}: {self.message}"
        if self.path:
            return f"{self.path}: {self.message}"
        return self.message

    def __reduce__(self) -> Any:
        return (_rebuild_error, (self.message, self.path, self.line))


def _rebuild_error(message: str, path: str, line: int) -> DockerfileError:
    return DockerfileError(message, path=path, line=line)


class _Fail(Exception):
    """A message without a location yet: the caller adds path and line."""


# ---------------------------------------------------------------- text helpers

def _go_space(ch: str) -> bool:
    # Go's unicode.IsSpace; Python's str.isspace() also counts the separators \x1c-\x1f.
    return ch.isspace() and ch not in "\x1c\x1d\x1e\x1f"


def _trim_left(s: str) -> str:
    i = 0
    while i < len(s) and _go_space(s[i]):
        i += 1
    return s[i:]


def _trim(s: str) -> str:
    s = _trim_left(s)
    end = len(s)
    while end > 0 and _go_space(s[end - 1]):
        end -= 1
    return s[:end]


_WS = re.compile(r"[\t\v\f\r ]+")  # Docker's reWhitespace


def _goquote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


_SAFE_WORD = re.compile(r"[^\s\"'\\$`=]+")


def _q(s: str) -> str:
    """A value as written into a step's text: bare when unambiguous, else JSON-quoted."""
    return s if _SAFE_WORD.fullmatch(s) else _goquote(s)


# ---------------------------------------------------------------- substitution

class _LexError(Exception):
    pass


_SPECIAL_PARAMS = "@*#?-$!0"


class _Words:
    """The word splitting of BuildKit's shell lexer (for ProcessWords)."""

    def __init__(self) -> None:
        self.word = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if _go_space(ch):
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.word += ch
        self.in_word = True

    def add_string(self, s: str) -> None:
        for ch in s:
            self.add_char(ch)

    def add_raw_string(self, s: str) -> None:
        self.word += s
        self.in_word = True

    def get(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


class _Lex:
    """BuildKit's shell/lex.go: quotes, escapes and $-expansion of one word."""

    def __init__(self, text: str, env: Mapping[str, str], escape: str = "\\",
                 raw_quotes: bool = False, raw_escapes: bool = False) -> None:
        self.s = text
        self.i = 0
        self.env = env
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes

    def peek(self) -> str | None:
        return self.s[self.i] if self.i < len(self.s) else None

    def next(self) -> str | None:
        if self.i >= len(self.s):
            return None
        ch = self.s[self.i]
        self.i += 1
        return ch

    def process(self) -> tuple[str, list[str]]:
        try:
            return self.stop_on(None, self.raw_escapes)
        except RecursionError:
            raise _LexError("substitution nested too deeply") from None

    def stop_on(self, stop: str | None, raw_escapes: bool) -> tuple[str, list[str]]:
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            result: list[str] = []
            words = _Words()
            while self.peek() is not None:
                ch = self.peek()
                if stop is not None and ch == stop:
                    self.next()
                    return "".join(result), words.get()
                if ch == "$":
                    tmp = self.dollar()
                    result.append(tmp)
                    words.add_string(tmp)
                elif ch == "'":
                    tmp = self.single_quote()
                    result.append(tmp)
                    words.add_raw_string(tmp)
                elif ch == '"':
                    tmp = self.double_quote()
                    result.append(tmp)
                    words.add_raw_string(tmp)
                else:
                    c = self.next()
                    assert c is not None
                    if c == self.escape:
                        if self.raw_escapes:
                            words.add_raw_char(c)
                            result.append(c)
                        nxt = self.next()
                        if nxt is None:  # an escape at the very end is dropped
                            break
                        c = nxt
                        words.add_raw_char(c)
                    else:
                        words.add_char(c)
                    result.append(c)
            if stop is not None:
                raise _LexError(f"unexpected end of statement while looking for matching {stop}")
            return "".join(result), words.get()
        finally:
            self.raw_escapes = saved

    def single_quote(self) -> str:
        out = []
        q = self.next()
        if self.raw_quotes:
            out.append(q)
        while True:
            ch = self.next()
            if ch is None:
                raise _LexError("unexpected end of statement while looking for matching "
                                "single-quote")
            if ch == "'":
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        out: list[str] = []
        q = self.next()
        if self.raw_quotes:
            out.append(q or "")
        while True:
            p = self.peek()
            if p is None:
                raise _LexError("unexpected end of statement while looking for matching "
                                "double-quote")
            if p == '"':
                self.next()
                if self.raw_quotes:
                    out.append('"')
                return "".join(out)
            if p == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            assert ch is not None
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                nxt = self.peek()
                if nxt is None:
                    continue  # then fails: no closing quote
                if nxt in ('"', "$", self.escape):
                    ch = self.next()
                    assert ch is not None
            out.append(ch)

    def name(self) -> str:
        out: list[str] = []
        while (ch := self.peek()) is not None:
            if not out and ch.isdecimal():
                while (d := self.peek()) is not None and d.isdecimal():
                    out.append(d)
                    self.next()
                return "".join(out)
            if not out and ch in _SPECIAL_PARAMS:
                self.next()
                return ch
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            out.append(ch)
            self.next()
        return "".join(out)

    def lookup(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            return self.env[name], True
        return "", False

    def dollar(self) -> str:
        self.next()  # the $
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            return self.lookup(name)[0]
        self.next()  # the {
        p = self.peek()
        if p is None:
            raise _LexError("syntax error: missing '}'")
        if p in "{}:":
            raise _LexError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch is None:
            raise _LexError("syntax error: missing '}'")
        if ch == "}":
            return self.lookup(name)[0]
        mods = ch
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            mods += ch or ""
        elif ch == "/":
            return self.replace(name)
        elif ch not in "+-?#%":
            raise _LexError(f"unsupported modifier ({mods}) in substitution")
        try:
            word, _ = self.stop_on("}", ch in ("#", "%"))
        except _LexError:
            if self.peek() is None:
                raise _LexError("syntax error: missing '}'") from None
            raise
        value, is_set = self.lookup(name)
        empty = not is_set or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if not is_set:
                raise _LexError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise _LexError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if ch in ("#", "%"):
            greedy = word.startswith(ch)
            if greedy:
                word = word[1:]
            if ch == "%":
                return _trim_suffix(word, value, greedy)
            return _trim_prefix(word, value, greedy)
        raise _LexError(f"unsupported modifier ({mods}) in substitution")

    def replace(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        try:
            pattern, _ = self.stop_on("/", True)
        except _LexError:
            if self.peek() is None:
                raise _LexError("syntax error: missing '/' in ${}") from None
            raise
        try:
            replacement, _ = self.stop_on("}", True)
        except _LexError:
            if self.peek() is None:
                raise _LexError("syntax error: missing '}'") from None
            raise
        value, _ = self.lookup(name)
        regex = _shell_pattern(pattern, greedy=True, anchored=False)
        if replace_all:
            return regex.sub(lambda m: _go_expand(replacement, m), value)
        m = regex.search(value)
        if m:
            value = value[:m.start()] + replacement + value[m.end():]
        return value


def _shell_pattern(pattern: str, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """BuildKit's convertShellPatternToRegex: `*` and `?` wildcards, `\\` escapes."""
    out = "^" if anchored else ""
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            out += star
            continue
        if tok == "?":
            out += "."
            continue
        if tok == "\\":
            nxt = pattern[i] if i < len(pattern) else ""
            if nxt in ("}", "/"):
                continue
            if nxt not in ("*", "?", "\\"):
                raise _LexError(f"invalid pattern ({pattern}) in substitution: "
                                f"invalid escape '\\{nxt}'")
            out += "\\" + nxt
            i += 1
            continue
        if tok in "[]{}.+()|^$":
            out += "\\"
        out += tok
    return re.compile(out)


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = _shell_pattern(pattern, greedy, anchored=True).search(value)
    return value[m.end():] if m else value


def _reverse_pattern(pattern: str) -> str:
    src = list(pattern)
    out = [""] * len(src)
    last = len(src) - 1
    i = 0
    while i <= last:
        tok = src[i]
        j = last - i
        if tok == "\\" and i != last:
            out[j - 1] = tok
            out[j] = src[i + 1]
            i += 2
        else:
            out[j] = tok
            i += 1
    return "".join(out)


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # A regex can't find the shortest rightmost match: reverse both, trim a prefix.
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def _go_expand(template: str, m: re.Match[str]) -> str:
    """Go's Regexp.Expand for ReplaceAllString: `$$`, `$0`, `${0}`; other groups are empty."""
    out: list[str] = []
    while "$" in template:
        before, template = template.split("$", 1)
        out.append(before)
        if template.startswith("$"):
            out.append("$")
            template = template[1:]
            continue
        if template.startswith("{"):
            close = template.find("}")
            name = template[1:close] if close > 0 else ""
            if not name or not re.fullmatch(r"\w+", name, re.ASCII):
                out.append("$")
                continue
            template = template[close + 1:]
        else:
            nm = re.match(r"\w+", template, re.ASCII)
            if not nm:
                out.append("$")
                continue
            name = nm.group()
            template = template[nm.end():]
        if name.isdigit() and int(name) == 0:
            out.append(m.group(0))
    out.append(template)
    return "".join(out)


def substitute(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """`text` with Docker's quote removal, escapes and `$VAR` expansion, from `env`.

    `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`,
    `${VAR:?msg}`, `${VAR#pat}`, `${VAR%pat}` (and `##`/`%%`), `${VAR/pat/repl}`; `\\$` is a
    literal `$`; an unset variable is empty. Raises DockerfileError (no path, no line).
    """
    try:
        return _Lex(text, env, escape).process()[0]
    except _LexError as e:
        raise DockerfileError(f"failed to process {_goquote(text)}: {e}", path="") from None


def substitute_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Like `substitute`, then split into words (as EXPOSE does): quoted spaces are kept."""
    try:
        return _Lex(text, env, escape).process()[1]
    except _LexError as e:
        raise DockerfileError(f"failed to process {_goquote(text)}: {e}", path="") from None


# ---------------------------------------------------------------- instructions

KNOWN = ("ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
         "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
         "WORKDIR")
_KNOWN_LOWER = frozenset(k.lower() for k in KNOWN)


@dataclass(frozen=True)
class Instruction:
    """One instruction as written, before substitution.

    `args` is the text after the keyword and its flags (continuations joined), `original`
    the whole logical line, `flags` the `--name=value` flags in front of the arguments,
    `exec_form` the JSON array (RUN, CMD, ENTRYPOINT, SHELL, COPY, ADD, VOLUME,
    HEALTHCHECK CMD) or None, and `parts` the arguments split as Docker's parser splits
    them for this keyword (see `words`, `pairs`, `arg_decls`).
    """

    keyword: str
    args: str
    line: int
    original: str
    end_line: int = 0
    flags: dict[str, str] = field(default_factory=dict, hash=False)
    exec_form: list[str] | None = field(default=None, hash=False)
    parts: tuple[str, ...] = ()
    written: str = field(default="", compare=False)  # the keyword as written
    raw_flags: tuple[str, ...] = field(default=(), repr=False, compare=False)
    trigger: Instruction | None = field(default=None, repr=False)  # ONBUILD's instruction

    @property
    def is_exec_form(self) -> bool:
        return self.exec_form is not None

    def words(self) -> list[str]:
        """The argument list: JSON elements, else whitespace-separated words (COPY, FROM...)."""
        return list(self.parts)

    def pairs(self) -> list[tuple[str, str]]:
        """ENV/LABEL `(key, value)` pairs as written (quotes and `$` resolved by steps())."""
        return [(self.parts[i], self.parts[i + 1]) for i in range(0, len(self.parts) - 1, 2)]

    def arg_decls(self) -> list[tuple[str, str | None]]:
        """ARG `(name, default or None)` declarations as written."""
        out: list[tuple[str, str | None]] = []
        for word in self.parts:
            name, eq, default = word.partition("=")
            out.append((name, default if eq else None))
        return out


class _NotStringArray(Exception):
    pass


_NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON to Go


def _parse_json(rest: str) -> list[str] | None:
    """The strings of a JSON array, None when `rest` is not one; raise for non-strings."""
    rest = _trim_left(rest)
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise _NotStringArray
    # Go decodes a lone surrogate escape to U+FFFD.
    return [re.sub("[\ud800-\udfff]", "\ufffd", v) for v in value]


def _parse_words(rest: str, escape: str) -> list[str]:
    """Docker's parseWords: split on whitespace outside quotes, keeping quotes and escapes."""
    words: list[str] = []
    word: list[str] = []
    in_word = in_quote = False
    quote = ""
    blank_ok = False
    i, n = 0, len(rest)
    while i <= n:
        at_end = i == n
        ch = "" if at_end else rest[i]
        if not in_word and not in_quote:
            if at_end:
                break
            if _go_space(ch):
                i += 1
                continue
            in_word = True
        if at_end:
            if blank_ok or word:
                words.append("".join(word))
            break
        if in_word and not in_quote:
            if _go_space(ch):
                in_word = False
                if blank_ok or word:
                    words.append("".join(word))
                word = []
                blank_ok = False
                i += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                in_quote = True
            if ch == escape:
                if i + 1 == n:
                    i += 1
                    continue  # an escape at the end of the line is dropped
                word.append(ch)
                i += 1
                ch = rest[i]
            word.append(ch)
            i += 1
            continue
        # in a quote
        if ch == quote:
            in_quote = False
        if ch == escape and quote != "'":
            if i + 1 == n:
                in_quote = False
                i += 1
                continue
            i += 1
            word.append(ch)
            ch = rest[i]
        word.append(ch)
        i += 1
    return words


def _extract_flags(line: str) -> tuple[str, list[str]]:
    """Docker's extractBuilderFlags: the leading `--flag` words, and the rest of the line."""
    words: list[str] = []
    word: list[str] = []
    phase = "space"
    quote = ""
    blank_ok = False
    i, n = 0, len(line)
    while i <= n:
        ch = line[i] if i < n else ""
        if phase == "space":
            if i == n:
                break
            if _go_space(ch):
                i += 1
                continue
            if ch != "-" or i + 1 == n or line[i + 1] != "-":
                return line[i:], words
            phase = "word"
        if i == n:
            w = "".join(word)
            if w != "--" and (blank_ok or w):
                words.append(w)
            break
        if phase == "word":
            if _go_space(ch):
                phase = "space"
                w = "".join(word)
                if w == "--":
                    return line[i:], words
                if blank_ok or w:
                    words.append(w)
                word = []
                blank_ok = False
                i += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = "quote"
                i += 1
                continue
            if ch == "\\":
                if i + 1 == n:
                    i += 1
                    continue
                i += 1
                ch = line[i]
            word.append(ch)
            i += 1
            continue
        # in a quote
        if ch == quote:
            phase = "word"
            i += 1
            continue
        if ch == "\\":
            if i + 1 == n:
                phase = "word"
                i += 1
                continue
            i += 1
            ch = line[i]
        word.append(ch)
        i += 1
    return "", words


_HEREDOC = re.compile(r"^(\d*)<<(-?)([^<]*)$")


def _heredoc_in(args: str) -> str | None:
    """The first heredoc marker (`<<EOF`) among the words of a RUN/COPY/ADD line."""
    try:
        words = _Lex(args, {}, "\\", raw_quotes=True, raw_escapes=True).process()[1]
    except _LexError:
        return None
    for word in words:
        m = _HEREDOC.match(word)
        if not m or not m.group(3):
            continue
        try:
            names = _Lex(m.group(3), {}, "\\").process()[1]
        except _LexError:
            continue
        if len(names) == 1:
            return word
    return None


def _node(line: str, escape: str, lineno: int, end: int) -> Instruction:
    """Docker's newNodeFromLine: keyword, flags and the keyword's shape of the arguments."""
    text = _trim(line)
    split = _WS.split(text, maxsplit=1)
    written = split[0]
    rest, raw_flags = ("", []) if len(split) == 1 else _extract_flags(split[1])
    rest = _trim(rest)
    low = written.lower()  # Go's ToLower, compared with the lower-case names
    keyword = low.upper() if low in _KNOWN_LOWER else written.upper()
    if low not in _KNOWN_LOWER and keyword in KNOWN:  # e.g. "\u017fhell".upper() == "SHELL"
        keyword = written
    exec_form: list[str] | None = None
    parts: list[str] = []
    trigger: Instruction | None = None

    if keyword in ("RUN", "CMD", "ENTRYPOINT", "SHELL"):
        if rest:
            exec_form = _parse_json(rest)
            parts = exec_form if exec_form is not None else [rest]
    elif keyword in ("COPY", "ADD", "VOLUME"):
        exec_form = _parse_json(rest)
        if exec_form is not None:
            parts = exec_form
        elif rest:
            parts = _WS.split(rest)
    elif keyword in ("FROM", "EXPOSE"):
        parts = _WS.split(rest) if rest else []
    elif keyword in ("USER", "WORKDIR", "STOPSIGNAL", "MAINTAINER"):
        parts = [rest] if rest else []
    elif keyword == "ARG":
        parts = _parse_words(rest, escape)
    elif keyword in ("ENV", "LABEL"):
        words = _parse_words(rest, escape)
        if words and "=" not in words[0]:
            legacy = _WS.split(rest, maxsplit=1)
            if len(legacy) < 2:
                raise _Fail(f"{keyword} must have two arguments")
            parts = legacy
        else:
            for word in words:
                if "=" not in word:
                    raise _Fail(f"Syntax error - can't find = in {_goquote(word)}. "
                                "Must be of the form: name=value")
                key, _, value = word.partition("=")
                parts += [key, value]
    elif keyword == "HEALTHCHECK":
        sep = 0
        while sep < len(rest) and not _go_space(rest[sep]):
            sep += 1
        if sep:
            cmd = _trim_left(rest[sep:])
            parts = [rest[:sep]]
            if cmd:
                exec_form = _parse_json(cmd)
                parts += exec_form if exec_form is not None else [cmd]
    elif keyword == "ONBUILD":
        if rest:
            trigger = _node(rest, escape, lineno, end)
            parts = [trigger.written, *trigger.parts]

    if keyword in ("RUN", "COPY", "ADD") and exec_form is None and rest:
        marker = _heredoc_in(rest)
        if marker is not None:
            raise _Fail(f"heredocs are not supported: {keyword} {marker}")

    flags: dict[str, str] = {}
    for raw in raw_flags:
        name, _, value = raw.removeprefix("--").partition("=")
        flags.setdefault(name, value)
    return Instruction(keyword=keyword, args=rest, line=lineno, original=text, end_line=end,
                       flags=flags, exec_form=exec_form, parts=tuple(parts), written=written,
                       raw_flags=tuple(raw_flags), trigger=trigger)


_DIRECTIVE = re.compile(r"#[ \t\n\f\r]*([a-zA-Z][a-zA-Z0-9]*)[ \t\n\f\r]*=[ \t\n\f\r]*(.+?)"
                        r"[ \t\n\f\r]*")


class _Directives:
    def __init__(self) -> None:
        self.escape = "\\"
        self.done = False
        self.seen: set[str] = set()
        self.continuation = re.compile(r"\\[ \t]*$")

    def feed(self, line: str, lineno: int) -> None:
        if self.done:
            return
        m = _DIRECTIVE.fullmatch(line)
        key = m.group(1).lower() if m else ""
        if key not in ("escape", "syntax", "check"):
            self.done = True  # anything else ends the directives, even a comment
            return
        if key in self.seen:
            raise DockerfileError(f"only one {key} parser directive can be used", line=lineno)
        self.seen.add(key)
        if key == "escape":
            assert m is not None
            value = m.group(2)
            if value not in ("`", "\\"):
                raise DockerfileError(f"invalid escape token '{value}' does not match ` or \\",
                                      line=lineno)
            self.escape = value
            self.continuation = re.compile(re.escape(value) + r"[ \t]*$")


def _lines(text: str) -> list[str]:
    # bufio.ScanLines: split on \n, drop one trailing \r, no empty token after a final \n.
    raw = text.split("\n")
    if text.endswith("\n"):
        raw.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in raw]
    if lines:
        lines[0] = lines[0].removeprefix("\ufeff")
    return lines


def _logical_lines(text: str) -> tuple[list[tuple[int, int, str]], str, list[str]]:
    """(first line, last line, joined text) per instruction, the escape token, warnings."""
    lines = _lines(text)
    directives = _Directives()
    out: list[tuple[int, int, str]] = []
    warnings: list[str] = []

    def is_comment(s: str) -> bool:
        return _trim_left(s).startswith("#")

    i = 0
    while i < len(lines):
        start = i + 1
        token = _trim_left(lines[i])
        i += 1
        directives.feed(token, start)
        if token.startswith("#"):
            token = ""
        cont = directives.continuation
        line, more = cont.sub("", token), bool(cont.search(token))
        if not more and line == "":
            continue
        empty_continuation = False
        while more and i < len(lines):
            raw = lines[i]
            i += 1
            directives.feed(raw, i)
            if is_comment(raw):
                continue
            if _trim_left(raw) == "":
                empty_continuation = True
                continue
            more = bool(cont.search(raw))
            line += cont.sub("", raw)
        if empty_continuation:
            warnings.append(f"line {start}: empty continuation line found in: {_trim(line)}")
        out.append((start, i, line))
    return out, directives.escape, warnings


# ---------------------------------------------------------------- checks (phase 2)

_S, _B, _SS = "string", "bool", "strings"
_FLAG_SPECS: dict[str, dict[str, str]] = {
    "ADD": {"chown": _S, "chmod": _S, "link": _B, "checksum": _S, "keep-git-dir": _B,
            "exclude": _SS, "unpack": _B},
    "COPY": {"chown": _S, "chmod": _S, "from": _S, "link": _B, "parents": _B, "exclude": _SS},
    "FROM": {"platform": _S},
    "RUN": {"mount": _SS, "network": _S, "security": _S},
    "HEALTHCHECK": {"interval": _S, "timeout": _S, "start-period": _S, "start-interval": _S,
                    "retries": _S},
}
_SUPPORTED_FLAGS = {"ADD": {"chown", "chmod"}, "COPY": {"chown", "chmod"},
                    "FROM": {"platform"}, "HEALTHCHECK": set(_FLAG_SPECS["HEALTHCHECK"])}


def _check_flags(ins: Instruction) -> None:
    """Docker's BFlags.Parse for the instruction's flags, then what isobench supports."""
    spec = _FLAG_SPECS.get(ins.keyword, {})
    used: set[str] = set()
    for raw in ins.raw_flags:
        if raw == "--":
            break
        if not raw.startswith("--"):
            raise _Fail(f"arg should start with -- : {raw}")
        name, eq, value = raw[2:].partition("=")
        kind = spec.get(name)
        if kind is None:
            raise _Fail(f"unknown flag: {name}")
        if name in used and kind != _SS:
            raise _Fail(f"duplicate flag specified: {name}")
        used.add(name)
        if kind == _B and eq and value.lower() not in ("true", "false"):
            raise _Fail(f"expecting boolean value for flag {name}, not: {value}")
        if kind in (_S, _SS) and not eq:
            raise _Fail(f"missing a value on flag: {name}")
    for name in sorted(used):
        if name in _SUPPORTED_FLAGS.get(ins.keyword, set()):
            continue
        if ins.keyword == "COPY" and name == "from":
            raise _Fail("COPY --from is not supported: multi-stage builds are not supported")
        raise _Fail(f"{ins.keyword} --{name} is not supported")


_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
          "h": 3600.0}


def _go_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds."""
    s = text
    sign = -1.0 if s.startswith("-") else 1.0
    s = s[1:] if s[:1] in ("-", "+") else s
    if s == "0":
        return 0.0
    if not s:
        raise _Fail(f"time: invalid duration {_goquote(text)}")
    total = 0.0
    while s:
        m = _DURATION.match(s)
        if not m or m.group(1) in ("", "."):
            if re.match(r"[0-9.]+$", s):
                raise _Fail(f"time: missing unit in duration {_goquote(text)}")
            raise _Fail(f"time: invalid duration {_goquote(text)}")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        s = s[m.end():]
    return sign * total


def _check_healthcheck(ins: Instruction) -> None:
    if not ins.parts:
        raise _Fail("HEALTHCHECK requires at least one argument")
    kind = ins.parts[0].upper()
    rest = ins.parts[1:]
    if kind == "NONE":
        if rest:
            raise _Fail("HEALTHCHECK NONE takes no arguments")
        return
    _check_flags(ins)
    if kind != "CMD":
        raise _Fail(f"Unknown type {_goquote(kind)} in HEALTHCHECK (try CMD)")
    if not rest:
        raise _Fail("Missing command after HEALTHCHECK CMD")
    for name in ("interval", "timeout", "start-period", "start-interval"):
        value = ins.flags.get(name, "")
        if value and _go_duration(value) < 0.001:
            raise _Fail(f"Interval {_goquote(name)} cannot be less than 1ms")
    if ins.flags.get("retries"):
        raw = ins.flags["retries"]
        if not re.fullmatch(r"[+-]?[0-9]+", raw):
            raise _Fail(f"strconv.ParseInt: parsing {_goquote(raw)}: invalid syntax")
        if int(raw) < 1:
            raise _Fail(f"--retries must be at least 1 (not {int(raw)})")


_STAGE_NAME = re.compile(r"[a-z][a-z0-9-_.]*")


def _check(ins: Instruction) -> None:
    """Docker's ParseInstruction: argument counts and flags of one instruction."""
    kw, n = ins.keyword, len(ins.parts)
    if kw not in KNOWN:
        raise _Fail(f"unknown instruction: {ins.written}")
    if kw in ("ENV", "LABEL"):
        _check_flags(ins)
        if n == 0:
            raise _Fail(f"{kw} requires at least one argument")
        if any(key == "" for key, _ in ins.pairs()):
            raise _Fail(f"{kw} names can not be blank")
    elif kw in ("MAINTAINER", "WORKDIR", "USER"):
        if n != 1:
            raise _Fail(f"{kw} requires exactly one argument")
        _check_flags(ins)
    elif kw in ("ADD", "COPY"):
        if n < 2:
            raise _Fail(f"{kw} requires at least two arguments, but only one was provided. "
                        "Destination could not be determined")
        _check_flags(ins)
    elif kw == "FROM":
        if n == 3 and ins.parts[1].lower() == "as":
            if not _STAGE_NAME.fullmatch(ins.parts[2].lower()):
                raise _Fail(f"invalid name for build stage: {_goquote(ins.parts[2])}, name "
                            "can't start with a number or contain symbols")
        elif n != 1:
            raise _Fail("FROM requires either one or three arguments")
        _check_flags(ins)
    elif kw == "ONBUILD":
        if n == 0:
            raise _Fail("ONBUILD requires at least one argument")
        _check_flags(ins)
        trigger = ins.parts[0].upper()
        if trigger == "ONBUILD":
            raise _Fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise _Fail(f"{trigger} isn't allowed as an ONBUILD trigger")
    elif kw in ("RUN", "CMD", "ENTRYPOINT"):
        _check_flags(ins)
    elif kw == "HEALTHCHECK":
        _check_healthcheck(ins)
    elif kw in ("EXPOSE", "VOLUME"):
        if n == 0:
            raise _Fail(f"{kw} requires at least one argument")
        _check_flags(ins)
        if kw == "VOLUME" and any(_trim(v) == "" for v in ins.parts):
            raise _Fail("VOLUME specified can not be an empty string")
    elif kw == "STOPSIGNAL":
        if n != 1:
            raise _Fail("STOPSIGNAL requires exactly one argument")
    elif kw == "ARG":
        if n == 0:
            raise _Fail("ARG requires at least one argument")
        if any(name == "" for name, default in ins.arg_decls() if default is not None):
            raise _Fail("ARG names can not be blank")
    elif kw == "SHELL":
        _check_flags(ins)
        if n == 0:
            raise _Fail("SHELL requires at least one argument")
        if ins.exec_form is None:
            raise _Fail("SHELL requires the arguments to be in JSON form")


# ---------------------------------------------------------------- steps

@dataclass(frozen=True)
class Step:
    """One instruction of the stage, substituted. `text` is its cache-key/display form."""

    line: int = field(default=0, kw_only=True)
    text: str = field(default="", kw_only=True)
    keyword: str = field(default="", kw_only=True)
    KEYWORD: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if not self.keyword:
            object.__setattr__(self, "keyword", self._default_keyword())

    def _default_keyword(self) -> str:
        return self.KEYWORD


@dataclass(frozen=True)
class FromStep(Step):
    image: str
    stage_name: str | None = None
    KEYWORD: ClassVar[str] = "FROM"


@dataclass(frozen=True)
class RunStep(Step):
    """`argv` as executed: exec form as written, shell form as SHELL + [command]."""

    argv: list[str]
    shell_form: bool = True
    KEYWORD: ClassVar[str] = "RUN"


@dataclass(frozen=True)
class CopyStep(Step):
    """COPY or ADD (`is_add`); `chown`/`chmod` None when not given."""

    sources: list[str]
    dest: str
    chown: str | None = None
    chmod: str | None = None
    is_add: bool = False

    def _default_keyword(self) -> str:
        return "ADD" if self.is_add else "COPY"


@dataclass(frozen=True)
class EnvStep(Step):
    pairs: list[tuple[str, str]]
    KEYWORD: ClassVar[str] = "ENV"


@dataclass(frozen=True)
class ArgStep(Step):
    """An ARG in the stage: `value` as resolved (--build-arg, default, global) or None."""

    name: str
    value: str | None = None
    KEYWORD: ClassVar[str] = "ARG"


@dataclass(frozen=True)
class WorkdirStep(Step):
    """`path` is absolute: a relative WORKDIR is resolved against the previous one."""

    path: str
    KEYWORD: ClassVar[str] = "WORKDIR"


@dataclass(frozen=True)
class UserStep(Step):
    user: str
    KEYWORD: ClassVar[str] = "USER"


@dataclass(frozen=True)
class CmdStep(Step):
    argv: list[str]
    shell_form: bool = False
    KEYWORD: ClassVar[str] = "CMD"


@dataclass(frozen=True)
class EntrypointStep(Step):
    """Docker: an ENTRYPOINT also clears a CMD inherited from the base image."""

    argv: list[str]
    shell_form: bool = False
    KEYWORD: ClassVar[str] = "ENTRYPOINT"


@dataclass(frozen=True)
class ExposeStep(Step):
    """`ports` normalized, `80` -> `80/tcp`, ranges expanded, duplicates dropped."""

    ports: list[str]
    KEYWORD: ClassVar[str] = "EXPOSE"


@dataclass(frozen=True)
class LabelStep(Step):
    pairs: list[tuple[str, str]]
    KEYWORD: ClassVar[str] = "LABEL"


@dataclass(frozen=True)
class VolumeStep(Step):
    paths: list[str]
    KEYWORD: ClassVar[str] = "VOLUME"


@dataclass(frozen=True)
class ShellStep(Step):
    argv: list[str]
    KEYWORD: ClassVar[str] = "SHELL"


@dataclass(frozen=True)
class StopSignalStep(Step):
    signal: str
    KEYWORD: ClassVar[str] = "STOPSIGNAL"


@dataclass(frozen=True)
class NoopStep(Step):
    """HEALTHCHECK and ONBUILD: checked and recorded, without effect on the image."""

    keyword: str = ""


# moby/sys/signal's Linux names (without SIG), for STOPSIGNAL.
_SIGNALS = frozenset(
    "ABRT ALRM BUS CHLD CLD CONT FPE HUP ILL INT IO IOT KILL PIPE POLL PROF PWR QUIT SEGV "
    "STKFLT STOP SYS TERM TRAP TSTP TTIN TTOU URG USR1 USR2 VTALRM WINCH XCPU XFSZ RTMIN "
    "RTMAX".split()
    + [f"RTMIN+{i}" for i in range(1, 16)] + [f"RTMAX-{i}" for i in range(1, 15)])


def _check_signal(sig: str) -> None:
    if re.fullmatch(r"[+-]?[0-9]+", sig):
        if int(sig) == 0:
            raise _Fail(f"Invalid signal: {sig}")
        return
    if sig.upper().removeprefix("SIG") not in _SIGNALS:
        raise _Fail(f"Invalid signal: {sig}")


def _ports(spec: str) -> list[str]:
    """docker/go-connections nat.ParsePortSpec for EXPOSE: the container ports, normalized."""
    raw = spec.rsplit(":", 1)[-1]  # [ip:[hostport:]]port[/proto]
    fields = raw.split("/")
    port = fields[0]
    if not port:
        raise _Fail(f"no port specified: {spec}<empty>")
    proto = (fields[1] if len(fields) > 1 and fields[1] else "tcp").lower()
    start_s, dash, end_s = port.partition("-")
    if not re.fullmatch(r"[0-9]+", start_s) or (dash and not re.fullmatch(r"[0-9]+", end_s)):
        raise _Fail(f"invalid containerPort: {port}")
    start, end = int(start_s), int(end_s) if dash else int(start_s)
    if start > 65535 or end > 65535 or end < start:
        raise _Fail(f"invalid containerPort: {port}")
    if proto not in ("tcp", "udp", "sctp"):
        raise _Fail(f"invalid proto: {proto}")
    return [f"{p}/{proto}" for p in range(start, end + 1)]


def _chmod_ok(chmod: str) -> bool:
    return bool(re.fullmatch(r"[0-7]+", chmod)) and int(chmod, 8) <= 0o7777


def _argv_text(keyword: str, argv: list[str]) -> str:
    return f"{keyword} {json.dumps(argv, ensure_ascii=False)}"


@dataclass
class _Result:
    steps: list[Step] = field(default_factory=list)
    base_image: str = ""
    stage_name: str | None = None
    meta_args: dict[str, str | None] = field(default_factory=dict)
    args: dict[str, str | None] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    shell: list[str] = field(default_factory=lambda: list(DEFAULT_SHELL))
    workdir: str | None = None
    user: str | None = None
    exposed_ports: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    stop_signal: str | None = None
    healthcheck: Instruction | None = None
    onbuild: list[str] = field(default_factory=list)


def _env_map(env: Mapping[str, str] | Iterable[str] | None) -> dict[str, str]:
    if env is None:
        return {}
    if isinstance(env, Mapping):
        return dict(env)
    out: dict[str, str] = {}
    for item in env:  # an image config's ["K=V", ...]
        key, _, value = item.partition("=")
        out[key] = value
    return out


class _Evaluator:
    """Phase 3: the stage instruction by instruction, as Docker's dispatcher sees it."""

    def __init__(self, instructions: list[Instruction], path: str, escape: str,
                 build_args: Mapping[str, str], base_env: Mapping[str, str],
                 base_workdir: str | None, base_shell: list[str] | None) -> None:
        self.instructions = instructions
        self.path = path
        self.escape = escape
        self.build_args = build_args
        self.r = _Result()
        self.scope = dict(base_env)  # what $VAR sees: base ENV, then ENV and ARG in order
        self.cwd = base_workdir or ""
        if base_shell:
            self.r.shell = list(base_shell)
        self.cmd_set = False
        self.ins: Instruction | None = None

    def fail(self, message: str) -> DockerfileError:
        line = self.ins.line if self.ins is not None else 0
        return DockerfileError(message, path=self.path, line=line)

    def sub(self, word: str, env: Mapping[str, str] | None = None) -> str:
        try:
            return _Lex(word, self.scope if env is None else env, self.escape).process()[0]
        except _LexError as e:
            raise self.fail(f"failed to process {_goquote(word)}: {e}") from None

    def sub_words(self, word: str) -> list[str]:
        try:
            return _Lex(word, self.scope, self.escape).process()[1]
        except _LexError as e:
            raise self.fail(f"failed to process {_goquote(word)}: {e}") from None

    def run(self) -> _Result:
        r = self.r
        global_args = dict(PLATFORM_ARGS)
        index = 0
        while self.instructions[index].keyword != "FROM":  # the global ARGs
            self.ins = self.instructions[index]
            for name, default in self.ins.arg_decls():
                if name in self.build_args:
                    value: str | None = self.build_args[name]
                elif default is not None:
                    value = self.sub(default, global_args)
                else:
                    value = None
                if value is not None:
                    global_args[name] = value
                r.meta_args[name] = value
            index += 1
        self.global_args = global_args
        for ins in self.instructions[index:]:
            self.ins = ins
            try:
                result = getattr(self, "do_" + ins.keyword.lower())(ins)
            except _Fail as e:
                raise self.fail(str(e)) from None
            if isinstance(result, list):
                r.steps += result
            else:
                r.steps.append(result)
        return r

    def do_from(self, ins: Instruction) -> Step:
        image = self.sub(ins.parts[0], self.global_args)
        if not image:
            raise _Fail(f"base name ({ins.parts[0]}) should not be blank")
        if "platform" in ins.flags:
            wanted = self.sub(ins.flags["platform"], self.global_args)
            arch, variant = _host_platform()
            host = PLATFORM_ARGS["TARGETPLATFORM"]
            if wanted and wanted not in (host, f"linux/{arch}"):
                raise _Fail(f"FROM --platform={wanted} is not supported: only the build host's "
                            f"platform ({host})")
        stage = ins.parts[2].lower() if len(ins.parts) == 3 else None
        self.r.base_image, self.r.stage_name = image, stage
        text = f"FROM {image}" + (f" AS {stage}" if stage else "")
        return FromStep(image, stage, line=ins.line, text=text)

    def _pairs(self, ins: Instruction) -> list[tuple[str, str]]:
        # All of one instruction's pairs see the scope from before it.
        pairs = [(self.sub(k), self.sub(v)) for k, v in ins.pairs()]
        if any(k == "" for k, _ in pairs):
            raise _Fail(f"{ins.keyword} names can not be blank")
        return pairs

    @staticmethod
    def _pairs_text(keyword: str, pairs: list[tuple[str, str]]) -> str:
        return keyword + " " + " ".join(f"{_q(k)}={_q(v)}" for k, v in pairs)

    def do_env(self, ins: Instruction) -> Step:
        pairs = self._pairs(ins)
        for key, value in pairs:
            self.scope[key] = value
            self.r.env[key] = value
        return EnvStep(pairs, line=ins.line, text=self._pairs_text("ENV", pairs))

    def do_label(self, ins: Instruction) -> Step:
        pairs = self._pairs(ins)
        self.r.labels.update(pairs)
        return LabelStep(pairs, line=ins.line, text=self._pairs_text("LABEL", pairs))

    def do_maintainer(self, ins: Instruction) -> Step:
        self.r.labels["maintainer"] = ins.parts[0]
        return LabelStep([("maintainer", ins.parts[0])], line=ins.line,
                         text=f"MAINTAINER {ins.parts[0]}", keyword="MAINTAINER")

    def do_arg(self, ins: Instruction) -> list[Step]:
        before = dict(self.scope)
        steps: list[Step] = []
        for raw_name, default in ins.arg_decls():
            name = self.sub(raw_name, before)
            given = name in self.build_args
            value: str | None
            if default is None and not given and name in self.global_args:
                value = self.global_args[name]  # a global ARG redeclared in the stage
            elif given:
                value = self.build_args[name]
            elif default is not None:
                value = self.sub(default)
            else:
                value = None
            if value is not None:
                self.scope[name] = value
            self.r.args[name] = value
            text = f"ARG {_q(name)}" + (f"={_q(value)}" if value is not None else "")
            steps.append(ArgStep(name, value, line=ins.line, text=text))
        return steps

    def _command(self, ins: Instruction) -> tuple[list[str], bool]:
        if ins.exec_form is not None:
            return list(ins.exec_form), False
        return [*self.r.shell, ins.parts[0] if ins.parts else ""], True

    def do_run(self, ins: Instruction) -> Step:
        argv, shell_form = self._command(ins)
        if shell_form and not any(any(_go_space(c) for c in a) for a in self.r.shell):
            text = "RUN " + " ".join(argv)
        else:
            text = _argv_text("RUN", argv)
        return RunStep(argv, shell_form, line=ins.line, text=text)

    def do_cmd(self, ins: Instruction) -> Step:
        argv, shell_form = self._command(ins)
        self.r.cmd = argv
        self.cmd_set = True
        return CmdStep(argv, shell_form, line=ins.line, text=_argv_text("CMD", argv))

    def do_entrypoint(self, ins: Instruction) -> Step:
        argv, shell_form = self._command(ins)
        self.r.entrypoint = argv
        if not self.cmd_set:
            self.r.cmd = None
        return EntrypointStep(argv, shell_form, line=ins.line,
                              text=_argv_text("ENTRYPOINT", argv))

    def do_shell(self, ins: Instruction) -> Step:
        assert ins.exec_form is not None
        self.r.shell = list(ins.exec_form)
        return ShellStep(list(ins.exec_form), line=ins.line,
                         text=_argv_text("SHELL", ins.exec_form))

    def _copy(self, ins: Instruction, is_add: bool) -> Step:
        chown = self.sub(ins.flags["chown"]) if "chown" in ins.flags else None
        chmod = self.sub(ins.flags["chmod"]) if "chmod" in ins.flags else None
        if chmod and not _chmod_ok(chmod):
            raise _Fail(f"invalid chmod parameter {_goquote(chmod)}: only octal modes such as "
                        "0755 are supported")
        paths = [self.sub(p) for p in ins.parts]
        sources, dest = paths[:-1], paths[-1]
        keyword = "ADD" if is_add else "COPY"
        flags = "".join(f" --{name}={_q(value)}" for name, value in
                        (("chown", chown), ("chmod", chmod)) if value is not None)
        if all(_q(p) == p for p in paths):
            text = f"{keyword}{flags} " + " ".join(paths)
        else:
            text = f"{keyword}{flags} " + json.dumps(paths, ensure_ascii=False)
        return CopyStep(sources, dest, chown or None, chmod or None, is_add, line=ins.line,
                        text=text)

    def do_copy(self, ins: Instruction) -> Step:
        return self._copy(ins, False)

    def do_add(self, ins: Instruction) -> Step:
        return self._copy(ins, True)

    def do_workdir(self, ins: Instruction) -> Step:
        path = self.sub(ins.parts[0])
        if not path:
            raise _Fail("cannot normalize nothing")
        if not path.startswith("/"):
            path = clean_path("/" + self.cwd + "/" + path)
        self.cwd = path
        self.r.workdir = path
        return WorkdirStep(path, line=ins.line, text=f"WORKDIR {_q(path)}")

    def do_user(self, ins: Instruction) -> Step:
        user = self.sub(ins.parts[0])
        self.r.user = user
        return UserStep(user, line=ins.line, text=f"USER {_q(user)}")

    def do_expose(self, ins: Instruction) -> Step:
        ports: list[str] = []
        for part in sorted(ins.parts):  # Docker sorts them
            for spec in self.sub_words(part):
                for port in _ports(spec):
                    if port not in ports:
                        ports.append(port)
        for port in ports:
            if port not in self.r.exposed_ports:
                self.r.exposed_ports.append(port)
        return ExposeStep(ports, line=ins.line, text="EXPOSE " + " ".join(ports))

    def do_volume(self, ins: Instruction) -> Step:
        paths = [self.sub(_trim(p)) for p in ins.parts]
        if any(p == "" for p in paths):
            raise _Fail("VOLUME specified can not be an empty string")
        for p in paths:
            if p not in self.r.volumes:
                self.r.volumes.append(p)
        return VolumeStep(paths, line=ins.line, text=_argv_text("VOLUME", paths))

    def do_stopsignal(self, ins: Instruction) -> Step:
        sig = self.sub(ins.parts[0])
        _check_signal(sig)
        self.r.stop_signal = sig
        return StopSignalStep(sig, line=ins.line, text=f"STOPSIGNAL {_q(sig)}")

    def do_healthcheck(self, ins: Instruction) -> Step:
        self.r.healthcheck = ins
        return NoopStep("HEALTHCHECK", line=ins.line, text=ins.original)

    def do_onbuild(self, ins: Instruction) -> Step:
        assert ins.trigger is not None
        self.r.onbuild.append(ins.trigger.original)
        return NoopStep("ONBUILD", line=ins.line, text=ins.original)


# ---------------------------------------------------------------- the file

@dataclass
class Dockerfile:
    """A parsed, checked and evaluated Dockerfile (one stage).

    `instructions` are all of them in file order (the global ARGs before FROM too); the
    other attributes are the outcome of evaluating them against an empty base image:
    what the file itself sets (`env`, `labels`, `cmd`, ...), not what it inherits.
    """

    path: str
    instructions: list[Instruction]
    escape: str = "\\"
    build_args: dict[str, str] = field(default_factory=dict)
    base_image: str = ""
    stage_name: str | None = None
    meta_args: dict[str, str | None] = field(default_factory=dict)  # ARGs before FROM
    args: dict[str, str | None] = field(default_factory=dict)  # ARGs of the stage
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    shell: list[str] = field(default_factory=lambda: list(DEFAULT_SHELL))
    workdir: str | None = None
    user: str | None = None
    exposed_ports: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    stop_signal: str | None = None
    healthcheck: Instruction | None = None
    onbuild: list[str] = field(default_factory=list)
    unused_build_args: list[str] = field(default_factory=list)
    proxy_args: dict[str, str] = field(default_factory=dict)  # HTTP_PROXY & co, for RUN
    warnings: list[str] = field(default_factory=list)
    _steps: list[Step] = field(default_factory=list, repr=False)

    def steps(self, base_env: Mapping[str, str] | Iterable[str] | None = None,
              base_workdir: str | None = None,
              base_shell: list[str] | None = None) -> list[Step]:
        """The typed steps, FROM first (the global ARGs are not steps).

        Without arguments: evaluated against an empty base image. With the base image's
        environment (a mapping or `["K=V", ...]`), working directory and shell, references
        to them are resolved as Docker resolves them. May raise DockerfileError then.
        """
        if base_env is None and base_workdir is None and base_shell is None:
            return list(self._steps)
        evaluator = _Evaluator(self.instructions, self.path, self.escape, self.build_args,
                               _env_map(base_env), base_workdir, base_shell)
        return evaluator.run().steps


def parse(text: str, path: str = "Dockerfile",
          build_args: Mapping[str, str] | None = None) -> Dockerfile:
    """Parse, check and evaluate a Dockerfile; raise DockerfileError as Docker would."""
    build_args = dict(build_args or {})

    # Phase 1: the syntax of the whole file.
    try:
        lines, escape, warnings = _logical_lines(text)
    except DockerfileError as e:
        raise DockerfileError(e.message, path=path, line=e.line) from None
    instructions: list[Instruction] = []
    for start, end, line in lines:
        try:
            instructions.append(_node(line, escape, start, end))
        except _Fail as e:
            raise DockerfileError(str(e), path=path, line=start) from None
        except _NotStringArray:
            raise DockerfileError(_NOT_STRING_ARRAY, path=path, line=start) from None
    if not instructions:
        raise DockerfileError("file with no instructions", path=path, line=0)

    # Phase 2: each instruction's shape, and the stage structure.
    seen_from = False
    for ins in instructions:
        try:
            _check(ins)
        except _Fail as e:
            raise DockerfileError(str(e), path=path, line=ins.line) from None
        if ins.keyword == "FROM":
            if seen_from:
                raise DockerfileError("multi-stage builds are not supported (a second FROM)",
                                      path=path, line=ins.line)
            seen_from = True
        elif ins.keyword != "ARG" and not seen_from:
            raise DockerfileError(f"no FROM instruction: the first instruction must be FROM "
                                  f"(or ARG), not {ins.keyword}", path=path, line=ins.line)
    if not seen_from:
        raise DockerfileError("no FROM instruction: dockerfile contains no stages to build",
                              path=path, line=0)

    # Phase 3: substitution and the state of the stage.
    r = _Evaluator(instructions, path, escape, build_args, {}, None, None).run()

    declared = {name for ins in instructions if ins.keyword == "ARG"
                for name, _ in ins.arg_decls()} | set(r.args)
    unused = sorted(k for k in build_args if k not in declared and k not in PROXY_ARGS)
    if unused:
        warnings.append(f"One or more build-args {unused} were not consumed")
    return Dockerfile(
        path=path, instructions=instructions, escape=escape, build_args=build_args,
        base_image=r.base_image, stage_name=r.stage_name, meta_args=r.meta_args, args=r.args,
        env=r.env, labels=r.labels, cmd=r.cmd, entrypoint=r.entrypoint, shell=r.shell,
        workdir=r.workdir, user=r.user, exposed_ports=r.exposed_ports, volumes=r.volumes,
        stop_signal=r.stop_signal, healthcheck=r.healthcheck, onbuild=r.onbuild,
        unused_build_args=unused,
        proxy_args={k: v for k, v in build_args.items() if k in PROXY_ARGS},
        warnings=warnings, _steps=r.steps)
