"""runtime/image/ignore.py: values pinned exactly where `make mutate`
found the other tests let a mutant through."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.image.ignore import DockerIgnore, DockerIgnoreError, Pattern, read_patterns


def test_errors_name_the_line_when_there_is_one() -> None:
    with pytest.raises(DockerIgnoreError) as caught:
        DockerIgnore("ok\n[\n")
    assert (str(caught.value), caught.value.message, caught.value.line) == \
        (".dockerignore:2: syntax error in pattern: [", "syntax error in pattern: [", 2)
    with pytest.raises(DockerIgnoreError) as caught:
        DockerIgnore("!")
    assert str(caught.value) == '.dockerignore:1: illegal exclusion pattern: "!"'
    assert str(DockerIgnoreError("no line")) == "no line"


def test_repr_and_truth() -> None:
    assert repr(DockerIgnore("a\n!b\n")) == "DockerIgnore(['a', '!b'])"
    assert not DockerIgnore("# only a comment\n\n")
    assert DockerIgnore("x")


def test_reading_trims_go_spaces_only_and_keeps_lone_marks() -> None:
    # \x1c-\x1f are spaces to Python, not to Go; "!" alone and "/" alone are kept as they are
    assert read_patterns("\x1ca\x1c\n\t b \x0b\n!\n! \n/\n!/a\na\r\r\n") == [
        (1, "\x1ca\x1c"), (2, "b"), (3, "!"), (4, "!"), (5, "/"), (6, "!a"), (7, "a")]


@pytest.mark.parametrize(("pattern", "paths"), [
    ("a/**", {"a": False, "a/b": True, "a/b/c": True, "ab": False}),
    ("**/x", {"x": True, "c/x": True, "c/d/x": True, "cx": False}),
    ("a/**/b", {"a/b": True, "a/c/b": True, "a/c/d/b": True, "ab": False}),
    ("a+b", {"a+b": True, "aab": False}),
    ("a.b", {"a.b": True, "axb": False}),
    ("a?", {"ab": True, "a/": False, "a": False, "abc": False}),
    ("\\*x", {"*x": True, "ax": False}),
    ("[ab]c", {"ac": True, "bc": True, "cc": False}),
    ("a/*", {"a/b": True, "a/b/c": True, "a": False}),
    ("*", {"a": True, "a/b": True}),
])
def test_each_kind_of_pattern_matches_what_docker_matches(pattern: str,
                                                          paths: dict[str, bool]) -> None:
    ig = DockerIgnore(pattern)
    assert {p: ig.matches(p) for p in paths} == paths


def test_a_dockerignore_that_is_not_utf8_is_read_byte_for_byte(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_bytes(b"\xff.log\n")
    (tmp_path / os.fsdecode(b"\xff.log")).write_text("")
    (tmp_path / "keep").write_text("")
    ig = DockerIgnore.from_context(tmp_path)
    assert ig.walk(tmp_path) == [".dockerignore", "keep"]


def test_an_unreadable_excluded_directory_is_skipped_an_included_one_is_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for d in ("one/skip", "two/keep"):
        (tmp_path / d / "sub").mkdir(parents=True)
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if os.path.basename(path) in ("skip", "keep"):
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    # `skip` is excluded, entered for the wildcard exception, then not readable: left out
    ig = DockerIgnore("skip\n!**/x\n")
    assert ig.walk(tmp_path / "one") == []
    with pytest.raises(PermissionError):
        ig.walk(tmp_path / "two")


def test_the_walk_carries_each_patterns_result_down_from_the_parent(tmp_path: Path) -> None:
    # `!a` re-includes `a` but matched no file under it, so `a/x` stays excluded (BuildKit).
    for f in ("a/x", "a/y", "b/a/x"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("")
    assert DockerIgnore("a/x\n!a\n").walk(tmp_path) == ["a", "a/y", "b", "b/a", "b/a/x"]
    assert DockerIgnore("a\n!a/y\n").walk(tmp_path) == ["a", "a/y", "b", "b/a", "b/a/x"]


def test_an_exception_for_everything_under_an_excluded_directory_enters_it(
        tmp_path: Path) -> None:
    for f in ("d/f", "e"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("")
    assert DockerIgnore("d\n!d/**\n").walk(tmp_path) == ["d", "d/f", "e"]
    assert DockerIgnore("d\n!d/*\n").walk(tmp_path) == ["d", "d/f", "e"]
    assert DockerIgnore("d\n").walk(tmp_path) == ["e"]


def test_matches_drops_a_leading_slash_and_never_excludes_the_root() -> None:
    assert DockerIgnore("a").matches("/a")
    assert DockerIgnore("Xy").matches("/Xy")
    assert not DockerIgnore("*").matches("/")
    assert not DockerIgnore("*").matches(".")
    # a pattern that matches the empty path must not leak onto the first segment
    assert not DockerIgnore("[^a]*").matches("a")
    assert DockerIgnore("[^a]*").matches("b")


def test_match_without_parent_results_looks_at_every_parent() -> None:
    # _match(path, None): nothing known of the parents, so each is tried (patternmatcher's
    # MatchesUsingParentResults with an empty parent result).
    assert DockerIgnore("a")._match("a/x/y", None)[0] is True
    assert DockerIgnore("a/x")._match("a/x/y", None)[0] is True
    assert DockerIgnore("x")._match("a/x", None)[0] is False


@pytest.mark.parametrize("pattern", ["[^]]", "[]a]", "[a", "[a-", "[^]", "*[", "a*[", "[a*",
                                     "[\\", "a\\"])
def test_globs_go_refuses_are_refused(pattern: str) -> None:
    with pytest.raises(DockerIgnoreError) as caught:
        DockerIgnore(pattern)
    assert caught.value.args == (f"syntax error in pattern: {pattern}",)


@pytest.mark.parametrize("pattern", ["[\\]]", "[a-c]", "[^a]", "a\\*", "[*]", "[^a-c]x",
                                     "[\\a-b]", "*[ab]", "**", "a/**/b"])
def test_globs_go_accepts_are_accepted(pattern: str) -> None:
    assert DockerIgnore(pattern).patterns[0].text == pattern


def test_reading_keeps_a_hash_after_leading_space_and_cleans_dot_dot() -> None:
    assert read_patterns("#x\n #y\n") == [(2, "#y")]
    assert read_patterns("../..\n!/[\n") == [(1, "../.."), (2, "![")]
    with pytest.raises(DockerIgnoreError) as caught:
        DockerIgnore("!/[\n")
    assert str(caught.value) == ".dockerignore:1: syntax error in pattern: ["


def test_no_text_is_no_patterns_and_a_prefix_pattern_keeps_its_whole_directory() -> None:
    assert not DockerIgnore() and DockerIgnore().patterns == []
    ig = DockerIgnore("ab/**")
    assert [ig.matches(p) for p in ("ab/c", "abc", "ab", "a")] == [True, False, False, False]


def test_an_excluded_directory_that_is_entered_hands_its_results_down(tmp_path: Path) -> None:
    # fsutil's walk keeps every directory it enters, excluded or not, on its parentDirs stack
    # and matches a child with MatchesUsingParentResults(child, <that directory's MatchInfo>).
    # `a/d` is excluded (`!a` matched `a` only while nothing was excluded, so it did not
    # match `a/d`), and entered for `!a/d/keep`. `a/d/x` takes `a/d`'s results: `!a` is no hit,
    # so `a/d/x` stays excluded. Looking at every ancestor afresh instead (no parent results)
    # would find `!a` matching `a` and wrongly send `a/d/x`.
    for f in ("a/d/keep", "a/d/x"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("")
    ig = DockerIgnore("a/d\n!a\n!a/d/keep\n")
    assert ig.walk(tmp_path) == ["a", "a/d", "a/d/keep"]
    assert [ig.matches(p) for p in ("a", "a/d", "a/d/keep", "a/d/x")] == \
        [False, True, False, True]


# Go's filepath.Match grammar (src/path/filepath/match.go): a class is '[' ['^'] ranges ']'
# with at least one range; a range is c or c '-' c where c is any character but '\\', '-'
# and ']' unless escaped with '\\' (getEsc); outside a class '\\' escapes the next character
# and may not end the pattern. Since Go 1.16 Match reports a malformed part of the pattern
# even after the name stopped matching, so patternmatcher.New's Match(p, ".") refuses all
# of these, wherever they stand in the pattern.
@pytest.mark.parametrize("pattern", [
    "[\\]",     # the escaped ']' is a member, and then the class never closes
    "[a][",     # a second class that never closes
    "[a]\\",    # a '\' at the end after a class
    "\\a[",     # an unclosed class after an escape
    "\\.[]a]",  # an empty class right after an escaped character
    "*[]a]",    # an empty class after a star ('*' does not let the rest through)
    "a**[]",    # the same after a '**'
    "[^",       # nothing after the negation
    "[a-]",     # a range without its upper end
    "[-a]",     # a bare '-' where a character must be
])
def test_more_globs_go_refuses_are_refused(pattern: str) -> None:
    with pytest.raises(DockerIgnoreError) as caught:
        DockerIgnore(pattern)
    assert caught.value.args == (f"syntax error in pattern: {pattern}",)


@pytest.mark.parametrize(("pattern", "path"), [
    ("[XY]", "X"),        # any character but '\', '-' and ']' is a class member
    ("[\\-]", "-"),       # an escaped '-' is a member, not a range
    ("[!-\\~]", "b"),     # the upper end of a range may be escaped
    ("[[]", "["),         # '[' inside a class is a member
    ("[a]]", "a]"),       # a ']' after the class is a literal
    ("[.+]x", "+x"),      # as is '.' or '+' (escaped for the regexp, a member still)
    ("[^\\]]x", "ax"),    # negated class of an escaped ']'
    ("a\\[b", "a[b"),     # an escaped '[' opens no class
])
def test_more_globs_go_accepts_are_accepted_and_match(pattern: str, path: str) -> None:
    ig = DockerIgnore(pattern)
    assert (ig.patterns[0].text, ig.matches(path)) == (pattern, True)


def test_a_class_go_accepts_but_its_regexp_refuses_is_an_error_with_its_line() -> None:
    # `[z-a]` passes Match's syntax check (getEsc does not order the ends), but the regexp
    # patternmatcher compiles from it, ^[z-a]$, does not compile, and Pattern.match then
    # fails with filepath.ErrBadPattern: "syntax error in pattern". Docker reports it when
    # it first matches with the pattern; here it is reported when the file is read.
    with pytest.raises(DockerIgnoreError) as caught:
        DockerIgnore("ok\n[z-a]\n")
    assert (str(caught.value), caught.value.line) == \
        (".dockerignore:2: syntax error in pattern: [z-a]", 2)


# patternmatcher's Pattern.compile: a "**" that starts the pattern (i == 0) makes it a
# suffix match (strings.HasSuffix with what follows the "**"); "**" elsewhere is the regexp
# (.*/)? and eats one "/" after it; "**" at the end is a prefix match when all before it
# was plain text, and the regexp .* otherwise. `[` and `]` make it a regexp; plain text, with
# `.+()|{}$` escaped, is compared as it is. A `^` is not escaped (not a glob character).
# compile does not know about classes: a `*` in one still becomes [^/]*, so `[*]` turns into
# the regexp [[^/]*] (a class of `[`, `^`, `/`, repeated, then a literal `]`).
@pytest.mark.parametrize(("pattern", "paths"), [
    ("**x", {"ax": True, "a/bx": True, "x": True, "xa": False}),
    ("a**x", {"ax": True, "a/b/x": True, "abx": False}),
    ("a/**x", {"a/x": True, "a/b/x": True, "a/bx": False}),
    ("*/**", {"x": False, "x/y": True, "x/y/z": True}),
    ("[+]", {"+": True, "a": False}),
    ("X^", {"X^": True, "X": False}),
    ("*[*]*", {"a]b": True, "a*b": False}),
])
def test_how_patternmatcher_classes_each_pattern(pattern: str, paths: dict[str, bool]) -> None:
    ig = DockerIgnore(pattern)
    assert {p: ig.matches(p) for p in paths} == paths


def test_a_pattern_that_cleans_to_spaces_is_dropped_and_patterns_keep_their_lines() -> None:
    # ReadAll keeps `./ /` as " " (filepath.Clean of the trimmed line); New trims it to
    # nothing and skips it (`continue`), going on with the next pattern.
    assert DockerIgnore("./ /\nx\n").patterns == [Pattern("x", False, 2)]
    assert DockerIgnore("a\n\n!b\n").patterns == [Pattern("a", False, 1), Pattern("b", True, 3)]


def test_without_parent_results_only_real_ancestors_are_tried() -> None:
    # MatchesUsingParentResults with no parent info tries each parent directory
    # (filepath.Dir split on the separator); `x/a` is not a parent of `x/a b`.
    assert DockerIgnore("x/a")._match("x/a b", None)[0] is False
    assert DockerIgnore("x/a")._match("x/a/b c", None)[0] is True


def test_matches_starts_at_the_top_with_no_parent_results(tmp_path: Path) -> None:
    # BuildKit: `a` is matched with no parent info (`*` hit, `!a` hit, `!*` skipped since
    # nothing was excluded any more); `a/b` then takes `a`'s results: `a/b` hits, `!*` was
    # no hit for `a` and `*` does not match `a/b`, so `a/b` is excluded. (The classic
    # builder's MatchesOrParentMatches would let `!*` match the parent `a` and send it.)
    ig = DockerIgnore("*\n!a\na/b\n!*\n")
    assert [ig.matches("a"), ig.matches("a/b")] == [False, True]
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b").write_text("")
    assert ig.walk(tmp_path) == ["a"]


@pytest.mark.parametrize("text", [
    "d\n",              # no exception at all
    "d\n!e/f\n",        # an exception only under another directory
    "d\n!e/**\n",       # a trailing /** or /* still leaves a plain prefix
    "d\n!e/*\n",
    "d\nf\n",           # an excluded file is not a directory to read
])
def test_an_excluded_directory_no_exception_reaches_is_not_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    # fsutil's walk returns filepath.SkipDir for an excluded directory when every exception
    # is a plain path (after dropping a trailing /** or /*) and none lies under it.
    for f in ("d/x", "e/f", "f"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("")
    read: list[str] = []
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        read.append(os.path.relpath(path, tmp_path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    ig = DockerIgnore(text)
    sent = ig.walk(tmp_path)
    assert "d" not in sent and "d/x" not in sent
    assert sorted(read) == [".", "e"]


def test_a_lone_carriage_return_does_not_end_a_line(tmp_path: Path) -> None:
    # ignorefile.ReadAll scans with bufio.ScanLines: lines end at \n only, so `a\rb` is one
    # pattern (TrimSpace leaves an inner \r) that matches neither `a` nor `b`.
    (tmp_path / ".dockerignore").write_bytes(b"a\rb\nc\r\n")
    for name in ("a", "b", "c"):
        (tmp_path / name).write_text("")
    ig = DockerIgnore.from_context(tmp_path)
    assert [(p.line, p.text) for p in ig.patterns] == [(1, "a\rb"), (2, "c")]
    assert ig.walk(tmp_path) == [".dockerignore", "a", "b"]
