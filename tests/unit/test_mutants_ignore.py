"""runtime/image/ignore.py: values pinned exactly where `make mutate`
found the other tests let a mutant through."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.image.ignore import DockerIgnore, DockerIgnoreError, read_patterns


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
