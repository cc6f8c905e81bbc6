"""Phase 1, Docker's parser package: the file's lines into `Instruction`s.

Parser directives (`# escape=`), comments, continuation lines, then each logical line
split into keyword, `--flags` and the arguments in that keyword's shape: a JSON array
(exec form) or not, ENV/LABEL pairs, ARG words, whitespace-separated words. Nothing is
substituted yet, and nothing is checked beyond what Docker's parser itself refuses.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from runtime.image.dockerfile.errors import DockerfileError, Fail
from runtime.image.dockerfile.lexer import (
    WS,
    Lex,
    LexError,
    go_space,
    goquote,
    skip_spaces,
    trim,
    trim_left,
)

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
    rest = trim_left(rest)
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


def _cut_word(line: str, i: int, escape: str, keep: bool) -> tuple[str | None, int]:
    """The word that starts at `line[i]` (not a space), and where it ends.

    A word ends at a space outside quotes. Docker's two splitters differ only here:
    parseWords (`keep`) keeps quotes and escapes in the word and escapes nothing inside
    single quotes; extractBuilderFlags removes both, and escapes inside single quotes too.
    An escape at the end of the line is dropped. The word is None when it is empty and no
    quote made it one.
    """
    word: list[str] = []
    quote = ""  # the open quote
    quoted = False
    n = len(line)
    while i < n:
        ch = line[i]
        if quote and ch == quote:
            quote = ""
            if keep:
                word.append(ch)
        elif not quote and ch in ("'", '"'):
            quote, quoted = ch, True
            if keep:
                word.append(ch)
        elif not quote and go_space(ch):
            break
        elif ch == escape and not (keep and quote == "'"):
            if i + 1 < n:
                if keep:
                    word.append(ch)
                i += 1
                word.append(line[i])
        else:
            word.append(ch)
        i += 1
    text = "".join(word)
    return (text if text or quoted else None), i


def _parse_words(rest: str, escape: str) -> list[str]:
    """Docker's parseWords: split on whitespace outside quotes, keeping quotes and escapes."""
    words: list[str] = []
    i = skip_spaces(rest, 0)
    while i < len(rest):
        word, i = _cut_word(rest, i, escape, keep=True)
        if word is not None:
            words.append(word)
        i = skip_spaces(rest, i)
    return words


def _extract_flags(line: str) -> tuple[str, list[str]]:
    """Docker's extractBuilderFlags: the leading `--flag` words, and the rest of the line.

    A `--` word ends the flags and is dropped; the rest keeps its leading space.
    """
    words: list[str] = []
    i = skip_spaces(line, 0)
    while line.startswith("--", i):
        word, i = _cut_word(line, i, "\\", keep=False)
        if word == "--":
            return line[i:], words
        assert word is not None  # it starts with "--"
        words.append(word)
        i = skip_spaces(line, i)
    return line[i:], words


_HEREDOC = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$")  # BuildKit's reHeredoc (v0.22+)


def _heredoc_in(args: str) -> str | None:
    """The first heredoc marker (`<<EOF`) among the words of a RUN/COPY/ADD line."""
    try:
        words = Lex(args, {}, "\\", raw_quotes=True, raw_escapes=True, skip_unset=True,
                    heredoc_words=True).process()[1]
    except LexError:
        return None
    for word in words:
        m = _HEREDOC.match(word)
        if not m or not m.group(3):
            continue
        try:
            names = Lex(m.group(3), {}, "\\", skip_unset=True).process()[1]
        except LexError:
            continue
        if len(names) == 1:
            return word
    return None


def _node(line: str, escape: str, lineno: int, end: int) -> Instruction:
    """Docker's newNodeFromLine: keyword, flags and the keyword's shape of the arguments."""
    text = trim(line)
    split = WS.split(text, maxsplit=1)
    written = split[0]
    rest, raw_flags = ("", []) if len(split) == 1 else _extract_flags(split[1])
    rest = trim(rest)
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
            parts = WS.split(rest)
    elif keyword in ("FROM", "EXPOSE"):
        parts = WS.split(rest) if rest else []
    elif keyword in ("USER", "WORKDIR", "STOPSIGNAL", "MAINTAINER"):
        parts = [rest] if rest else []
    elif keyword == "ARG":
        parts = _parse_words(rest, escape)
    elif keyword in ("ENV", "LABEL"):
        words = _parse_words(rest, escape)
        if words and "=" not in words[0]:
            legacy = WS.split(rest, maxsplit=1)
            if len(legacy) < 2:
                raise Fail(f"{keyword} must have two arguments")
            parts = legacy
        else:
            for word in words:
                if "=" not in word:
                    raise Fail(f"Syntax error - can't find = in {goquote(word)}. "
                               "Must be of the form: name=value")
                key, _, value = word.partition("=")
                parts += [key, value]
    elif keyword == "HEALTHCHECK":
        sep = 0
        while sep < len(rest) and not go_space(rest[sep]):
            sep += 1
        if sep:
            cmd = trim_left(rest[sep:])
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
            raise Fail(f"heredocs are not supported: {keyword} {marker}")

    flags: dict[str, str] = {}
    for raw in raw_flags:
        name, _, value = raw.removeprefix("--").partition("=")
        flags.setdefault(name, value)
    return Instruction(keyword=keyword, args=rest, line=lineno, original=text, end_line=end,
                       flags=flags, exec_form=exec_form, parts=tuple(parts), written=written,
                       raw_flags=tuple(raw_flags), trigger=trigger)


_DIRECTIVE = re.compile(r"#[ \t\n\f\r]*([a-zA-Z][a-zA-Z0-9]*)[ \t\n\f\r]*=[ \t\n\f\r]*(.+?)"
                        r"[ \t\n\f\r]*")


def _continuation(escape: str) -> re.Pattern[str]:
    """BuildKit's lineContinuationRegex: the escape token (then spaces) ending a line that
    it is alone on, or that it follows a character other than itself; so `a\\\\` (an
    escaped escape) ends the instruction. The character before it is kept (group 1)."""
    e = re.escape(escape)
    return re.compile(f"([^{e}]){e}[ \t]*$|^{e}[ \t]*$")


def _cut_continuation(cont: re.Pattern[str], line: str) -> tuple[str, bool]:
    m = cont.search(line)
    if m is None:
        return line, False
    return line[:m.start()] + (m.group(1) or ""), True


class _Directives:
    def __init__(self) -> None:
        self.escape = "\\"
        self.done = False
        self.seen: set[str] = set()
        self.continuation = _continuation("\\")

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
            self.continuation = _continuation(value)


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
        return trim_left(s).startswith("#")

    i = 0
    while i < len(lines):
        start = i + 1
        token = trim_left(lines[i])
        i += 1
        directives.feed(token, start)
        if token.startswith("#"):
            token = ""
        cont = directives.continuation
        line, more = _cut_continuation(cont, token)
        if not more and line == "":
            continue
        empty_continuation = False
        while more and i < len(lines):
            raw = lines[i]
            i += 1
            directives.feed(raw, i)
            if is_comment(raw):
                continue
            if trim_left(raw) == "":
                empty_continuation = True
                continue
            raw, more = _cut_continuation(cont, raw)
            line += raw
        if empty_continuation:
            warnings.append(f"line {start}: empty continuation line found in: {trim(line)}")
        out.append((start, i, line))
    return out, directives.escape, warnings


MAX_DOCKERFILE_CHARS = 4 << 20  # Dockerfiles are kilobytes; the bound keeps a hostile one cheap


def read_instructions(text: str, path: str) -> tuple[list[Instruction], str, list[str]]:
    """Phase 1: the file's instructions, its escape token, and warnings (Docker's parser)."""
    if len(text) > MAX_DOCKERFILE_CHARS:
        raise DockerfileError(f"file is larger than {MAX_DOCKERFILE_CHARS} characters",
                              path=path)
    try:
        lines, escape, warnings = _logical_lines(text)
    except DockerfileError as e:
        raise DockerfileError(e.message, path=path, line=e.line) from None
    instructions: list[Instruction] = []
    for start, end, line in lines:
        try:
            instructions.append(_node(line, escape, start, end))
        except Fail as e:
            raise DockerfileError(str(e), path=path, line=start) from None
        except _NotStringArray:
            raise DockerfileError(_NOT_STRING_ARRAY, path=path, line=start) from None
    if not instructions:
        raise DockerfileError("file with no instructions", path=path, line=0)
    return instructions, escape, warnings
