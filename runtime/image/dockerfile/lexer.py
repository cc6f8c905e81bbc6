"""BuildKit's shell lexer (shell/lex.go): quotes, escapes and `$VAR` expansion of a word.

The syntax uses it to spot heredoc markers, the evaluation to substitute ENV and ARG
values into FROM, COPY, ENV, ... (`substitute`); the text helpers here follow Go's
definitions (`unicode.IsSpace`, `strings.TrimSpace`, `strconv.Quote`), which differ from
Python's at the edges.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from runtime.image.dockerfile.errors import DockerfileError

# ---------------------------------------------------------------- text helpers

def go_space(ch: str) -> bool:
    # Go's unicode.IsSpace; Python's str.isspace() also counts the separators \x1c-\x1f.
    return ch.isspace() and ch not in "\x1c\x1d\x1e\x1f"


def skip_spaces(s: str, i: int) -> int:
    """The index of the first non-space at or after `i` (`len(s)` when there is none)."""
    while i < len(s) and go_space(s[i]):
        i += 1
    return i


def trim_left(s: str) -> str:
    return s[skip_spaces(s, 0):]


def trim(s: str) -> str:
    s = trim_left(s)
    end = len(s)
    while end > 0 and go_space(s[end - 1]):
        end -= 1
    return s[:end]


WS = re.compile(r"[\t\v\f\r ]+")  # Docker's reWhitespace


def goquote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


# ---------------------------------------------------------------- substitution

class LexError(Exception):
    pass


def _unmatched(what: str) -> LexError:
    return LexError(f"unexpected end of statement while looking for matching {what}")


_SPECIAL_PARAMS = "@*#?-$!0"


class _Words:
    """The word splitting of BuildKit's shell lexer (for ProcessWords)."""

    def __init__(self) -> None:
        self.word = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if go_space(ch):
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


class Lex:
    """BuildKit's shell/lex.go: quotes, escapes and $-expansion of one word."""

    def __init__(self, text: str, env: Mapping[str, str], escape: str = "\\",
                 raw_quotes: bool = False, raw_escapes: bool = False,
                 skip_unset: bool = False, heredoc_words: bool = False) -> None:
        self.s = text
        self.skip_unset = skip_unset  # SkipUnsetEnv: an unset `$X`/`${X}` stays as written
        self.heredoc_words = heredoc_words  # processPossibleHeredoc: `<<  EOF` one word
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
            raise LexError("substitution nested too deeply") from None

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
                elif ch == "<" and self.heredoc_words and self.s.startswith("<<", self.i):
                    tmp = self.possible_heredoc()
                    result.append(tmp)
                    words.add_raw_string(tmp)
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
                raise _unmatched(stop)
            return "".join(result), words.get()
        finally:
            self.raw_escapes = saved

    def until(self, stop: str, raw_escapes: bool, missing: str) -> str:
        """The text up to `stop`; when the line ends first, the error says `missing`."""
        try:
            return self.stop_on(stop, raw_escapes)[0]
        except LexError:
            if self.peek() is None:
                raise LexError(missing) from None
            raise

    def possible_heredoc(self) -> str:
        """BuildKit (v0.22+) keeps the blanks after `<<` in the word, so that `<<  EOF` is
        one word; reHeredoc then drops them."""
        j = self.i + 2
        while j < len(self.s) and self.s[j] in " \t\r":
            j += 1
        tmp, self.i = self.s[self.i:j], j
        return tmp

    def single_quote(self) -> str:
        out = []
        q = self.next()
        if self.raw_quotes:
            out.append(q)
        while True:
            ch = self.next()
            if ch is None:
                raise _unmatched("single-quote")
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
                raise _unmatched("double-quote")
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
            value, is_set = self.lookup(name)
            return "$" + name if self.skip_unset and not is_set else value
        self.next()  # the {
        p = self.peek()
        if p is None:
            raise LexError("syntax error: missing '}'")
        if p in "{}:":
            raise LexError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch is None:
            raise LexError("syntax error: missing '}'")
        if ch == "}":
            value, is_set = self.lookup(name)
            return "${" + name + "}" if self.skip_unset and not is_set else value
        mods = ch
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            mods += ch or ""
        elif ch == "/":
            return self.replace(name)
        elif ch not in "+-?#%":
            raise LexError(f"unsupported modifier ({mods}) in substitution")
        if null_is_unset and ch in ("#", "%"):  # BuildKit: no `${X:#p}`, `${X:%%p}`
            raise LexError(f"unsupported modifier ({mods}) in substitution")
        word = self.until("}", ch in ("#", "%"), "syntax error: missing '}'")
        value, is_set = self.lookup(name)
        empty = not is_set or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if not is_set:
                raise LexError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise LexError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if ch in ("#", "%"):
            greedy = word.startswith(ch)
            if greedy:
                word = word[1:]
            if ch == "%":
                return _trim_suffix(word, value, greedy)
            return _trim_prefix(word, value, greedy)
        raise LexError(f"unsupported modifier ({mods}) in substitution")

    def replace(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        pattern = self.until("/", True, "syntax error: missing '/' in ${}")
        replacement = self.until("}", True, "syntax error: missing '}'")
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
                raise LexError(f"invalid pattern ({pattern}) in substitution: "
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


def expand(text: str, env: Mapping[str, str], escape: str = "\\") -> tuple[str, list[str]]:
    """`text` substituted, and the words it splits into; see `substitute`."""
    try:
        return Lex(text, env, escape).process()
    except LexError as e:
        raise DockerfileError(f"failed to process {goquote(text)}: {e}", path="") from None


def substitute(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """`text` with Docker's quote removal, escapes and `$VAR` expansion, from `env`.

    `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`,
    `${VAR:?msg}`, `${VAR#pat}`, `${VAR%pat}` (and `##`/`%%`), `${VAR/pat/repl}`; `\\$` is a
    literal `$`; an unset variable is empty. Raises DockerfileError (no path, no line).
    """
    return expand(text, env, escape)[0]


def substitute_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Like `substitute`, then split into words (as EXPOSE does): quoted spaces are kept."""
    return expand(text, env, escape)[1]
