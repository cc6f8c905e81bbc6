""".dockerignore: which files of a build context are sent to the build, with Docker's rules.

The rules are those of moby/patternmatcher (the matcher) and tonistiigi/fsutil (the walk
of the context that BuildKit does with it):

- Reading the file (patternmatcher/ignorefile.ReadAll): one pattern a line; a line that
  *starts* with `#` is a comment (`  # x` is a pattern); surrounding whitespace is
  trimmed; blank lines are skipped; a leading `!` makes an exception (re-include); the
  pattern is cleaned like Go's filepath.Clean (`./a//b/` -> `a/b`) and a leading `/` is
  dropped, so every pattern is relative to the context root.
- Matching a path (Pattern.compile): `*` is any run of characters but `/`, `?` one
  character but `/`, `[...]` a character class, `\\` escapes the next character; `**` is
  any number of directories (`**/x` also matches `x` at the root, `a/**` everything under
  `a`). Patterns are anchored: `*.log` matches `x.log` at the root only, `**/*.log`
  anywhere.
- The decision: the patterns are tried in order and the last one that matches decides,
  excluded (a plain pattern) or included (an exception). A pattern that matches a
  directory also matches everything under it.
- The walk: a directory that ends up excluded is not entered unless an exception could
  re-include something under it (an exception with a wildcard before its end could match
  anywhere, so then excluded directories are always entered). An excluded directory that
  has an included descendant is sent too (its descendant needs it), as BuildKit does.
  Symlinks are never followed; a link to a directory is an entry like a file.
"""

from __future__ import annotations

import itertools
import os
import re
import warnings
from dataclasses import dataclass, field

__all__ = ["DockerIgnore", "DockerIgnoreError", "Pattern", "clean_path", "read_patterns"]

_PATTERN_CHARS = "*[]?^\\"  # fsutil: an exception containing these is not a plain prefix
_REGEX_ESCAPES = ".+()|{}$"  # patternmatcher's shouldEscape: regex specials, text in a glob


class DockerIgnoreError(ValueError):
    """A pattern Docker rejects (`!` alone, a malformed `[` class or trailing `\\`)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f".dockerignore:{self.line}: {self.message}" if self.line else self.message


def _go_space(ch: str) -> bool:
    # Go's unicode.IsSpace; Python's str.isspace() also counts the separators \x1c-\x1f.
    return ch.isspace() and ch not in "\x1c\x1d\x1e\x1f"


def _trim(s: str) -> str:
    start, end = 0, len(s)
    while start < end and _go_space(s[start]):
        start += 1
    while end > start and _go_space(s[end - 1]):
        end -= 1
    return s[start:end]


def clean_path(path: str) -> str:
    """Go's path.Clean: no `.`, `..` resolved lexically, no doubled or trailing `/`."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(seg)
    joined = "/".join(parts)
    if rooted:
        return "/" + joined
    return joined or "."


def read_patterns(text: str) -> list[tuple[int, str]]:
    """The patterns of a .dockerignore as ignorefile.ReadAll normalizes them, with lines."""
    out: list[tuple[int, str]] = []
    # bufio.ScanLines splits on \n, drops one \r before it and has no empty token after a
    # final \n. Neither needs code here: \r is a space the trim removes, and a blank line
    # adds no pattern.
    for lineno, line in enumerate(text.split("\n"), 1):
        if lineno == 1:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        pattern = _trim(line)
        if not pattern:
            continue
        invert = pattern[0] == "!"
        if invert:
            pattern = _trim(pattern[1:])
        if pattern:
            pattern = clean_path(pattern)
            if len(pattern) > 1 and pattern[0] == "/":
                pattern = pattern[1:]
        out.append((lineno, "!" + pattern if invert else pattern))
    return out


# ---- glob syntax check: Go's filepath.Match(pattern, ".") error cases ----
#
# Since Go 1.16 Match reads every chunk of the pattern to its end, whatever the name, so
# `filepath.Match(p, ".")` fails exactly when p is malformed: a `\` at the very end, or a
# `[` class that is empty, unclosed, or has a bare `-`/`]` where a character must be. Match
# cuts the pattern into chunks at a `*` outside a class; a `*` that is not in a class is just
# a character here, so the check is one pass over the whole pattern.

def _get_esc(pattern: str, i: int) -> int:
    """Go's getEsc: past the (possibly `\\`-escaped) class character at `i`."""
    if i >= len(pattern) or pattern[i] in "-]":
        raise ValueError
    if pattern[i] == "\\":
        i += 1
    i += 1
    if i >= len(pattern):  # the class is never closed
        raise ValueError
    return i


def _valid_glob(pattern: str) -> bool:
    n, i = len(pattern), 0
    try:
        while i < n:
            ch = pattern[i]
            i += 1
            if ch == "\\":
                if i >= n:
                    raise ValueError
                i += 1
            elif ch == "[":
                if i < n and pattern[i] == "^":
                    i += 1
                first = i
                while not (i < n and pattern[i] == "]" and i > first):
                    i = _get_esc(pattern, i)
                    if pattern[i] == "-":
                        i = _get_esc(pattern, i + 1)
                i += 1
    except ValueError:
        return False
    return True


# ---- one pattern ----

_EXACT, _PREFIX, _SUFFIX, _REGEXP = "exact", "prefix", "suffix", "regexp"


def _compile(pattern: str) -> tuple[str, re.Pattern[str] | None]:
    """patternmatcher's Pattern.compile: the kind of match and, for wildcards, a regex."""
    reg = "^"
    kind = _EXACT
    pos, n = 0, len(pattern)
    while pos < n:
        start = pos
        ch = pattern[pos]
        pos += 1
        if ch == "*":
            if pos < n and pattern[pos] == "*":
                pos += 1
                if pos < n and pattern[pos] == "/":
                    pos += 1
                if pos >= n:  # "**" at the end: everything below
                    if kind == _EXACT:
                        kind = _PREFIX
                    else:
                        reg += ".*"
                        kind = _REGEXP
                else:
                    reg += "(.*/)?"
                    kind = _REGEXP
                if start == 0:  # Go: `i == 0`, the scanner's first rune
                    kind = _SUFFIX
            else:
                reg += "[^/]*"
                kind = _REGEXP
        elif ch == "?":
            reg += "[^/]"
            kind = _REGEXP
        elif ch in _REGEX_ESCAPES:
            reg += "\\" + ch
        elif ch == "\\":  # never the last character: _valid_glob refused that
            reg += "\\" + pattern[pos]
            pos += 1
            kind = _REGEXP
        elif ch in "[]":
            reg += ch
            kind = _REGEXP
        else:
            reg += ch
    if kind != _REGEXP:
        return kind, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "possible nested set" for "[[": Go reads it as text
        # \Z, not $: Python's $ also matches before a final newline, Go's does not.
        return kind, re.compile(reg + r"\Z")


@dataclass(frozen=True)
class Pattern:
    """One pattern of the file: `text` as cleaned (without its `!`), `exclusion` for `!`."""

    text: str
    exclusion: bool
    line: int = 0
    kind: str = field(default=_EXACT, repr=False, compare=False)
    regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def match(self, path: str) -> bool:
        """Whether the pattern matches this exact (clean, relative) path."""
        if self.kind == _EXACT:
            return path == self.text
        if self.kind == _PREFIX:
            return path.startswith(self.text[:-2])
        if self.kind == _SUFFIX:
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        assert self.regex is not None
        return self.regex.match(path) is not None


def _without_trailing_glob(text: str) -> str:
    return text.removesuffix("/**").removesuffix("/*")


class DockerIgnore:
    """The patterns of one .dockerignore. `matches(path)` is True for an excluded path."""

    def __init__(self, text: str = "") -> None:
        self.patterns: list[Pattern] = []
        for line, raw in read_patterns(text):
            # patternmatcher.New: trim and clean again, then split off the "!".
            p = _trim(raw)
            if not p:
                continue
            p = clean_path(p)
            exclusion = p[0] == "!"
            if exclusion:
                if len(p) == 1:
                    raise DockerIgnoreError('illegal exclusion pattern: "!"', line)
                p = p[1:]
            if not _valid_glob(p):
                raise DockerIgnoreError(f"syntax error in pattern: {p}", line)
            try:
                kind, regex = _compile(p)
            except re.error:
                raise DockerIgnoreError(f"syntax error in pattern: {p}", line) from None
            self.patterns.append(Pattern(p, exclusion, line, kind, regex))
        self._has_exclusions = any(p.exclusion for p in self.patterns)
        self._prefix_exclusions_only = not any(
            p.exclusion and any(c in _without_trailing_glob(p.text) for c in _PATTERN_CHARS)
            for p in self.patterns)

    @classmethod
    def from_context(cls, context_dir: str | os.PathLike[str]) -> DockerIgnore:
        """The context's .dockerignore, or no patterns when it has none."""
        try:
            # bytes, not text mode: Go splits lines on \n only, so a lone \r stays in its line
            with open(os.path.join(context_dir, ".dockerignore"), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return cls("")
        return cls(data.decode("utf-8", "surrogateescape"))

    def __repr__(self) -> str:
        shown = ["!" + p.text if p.exclusion else p.text for p in self.patterns]
        return f"DockerIgnore({shown!r})"

    def __bool__(self) -> bool:
        return bool(self.patterns)

    # patternmatcher.MatchesUsingParentResults: `parent` holds, per pattern, whether it
    # matched the parent directory (None: nothing known, so look at every parent).
    def _match(self, path: str, parent: list[bool] | None) -> tuple[bool, list[bool]]:
        matched = False
        info = [False] * len(self.patterns)
        for i, pattern in enumerate(self.patterns):
            hit = parent[i] if parent is not None else False
            if not hit:
                # An exclusion only matters once something matched, and vice versa.
                if pattern.exclusion != matched:
                    continue
                hit = pattern.match(path)
                if not hit and parent is None:
                    dirs = path.split("/")[:-1]
                    hit = any(pattern.match("/".join(dirs[:j + 1])) for j in range(len(dirs)))
            info[i] = hit
            if hit:
                matched = not pattern.exclusion
        return matched, info

    def matches(self, relpath: str) -> bool:
        """True when `relpath` (relative to the context, `/`-separated) is excluded."""
        path = clean_path(relpath.replace(os.sep, "/")).lstrip("/")
        if path in ("", ".") or not self.patterns:
            return False
        info: list[bool] | None = None
        # each directory from the top down, with its parent's results, as BuildKit's walk
        for prefix in itertools.accumulate(path.split("/"), lambda a, b: a + "/" + b):
            matched, info = self._match(prefix, info)
        return matched

    def _can_skip(self, directory: str) -> bool:
        """Whether an excluded directory can be left unvisited (fsutil's shortcut)."""
        if not self._prefix_exclusions_only:
            return False
        if not self._has_exclusions:
            return True
        prefix = directory + "/"
        return not any(p.exclusion and (_without_trailing_glob(p.text) + "/").startswith(prefix)
                       for p in self.patterns)

    def walk(self, context_dir: str | os.PathLike[str]) -> list[str]:
        """The included paths under `context_dir` (files, directories, links), sorted.

        Paths are relative and `/`-separated; symlinks are listed, never followed.
        """
        root = os.fspath(context_dir)
        included: set[str] = set()

        def visit(directory: str, prefix: str, parent: list[bool] | None,
                  excluded_parents: list[str]) -> None:
            try:
                with os.scandir(directory) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError:
                if excluded_parents:  # an excluded directory we only looked into
                    return
                raise
            for entry in entries:
                rel = prefix + entry.name
                is_dir = entry.is_dir(follow_symlinks=False)
                if self.patterns:
                    excluded, info = self._match(rel, parent)
                else:
                    excluded, info = False, None
                if excluded:
                    if is_dir and not self._can_skip(rel):
                        visit(entry.path, rel + "/", info, [*excluded_parents, rel])
                    continue
                included.update(excluded_parents)
                excluded_parents = []
                included.add(rel)
                if is_dir:
                    visit(entry.path, rel + "/", info, [])

        visit(root, "", None, [])
        return sorted(included)
