""".dockerignore matching and the context walk (runtime.image.ignore), with Docker's rules."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.image.ignore import DockerIgnore, DockerIgnoreError, clean_path, read_patterns


def excluded(patterns: str, *paths: str) -> list[bool]:
    ig = DockerIgnore(patterns)
    return [ig.matches(p) for p in paths]


# ---------------------------------------------------------------- reading the file

def test_reading_normalizes_like_docker():
    text = ("# a comment\n"
            "  # not a comment: only column 0 starts one\n"
            "\n"
            "/abs/path\n"
            "./dot/../clean//me/\n"
            "  spaced  \n"
            "! /inverted\n"
            "\ufeffnot-first-line-bom\n")
    assert [p for _, p in read_patterns(text)] == [
        "# not a comment: only column 0 starts one", "abs/path", "clean/me", "spaced",
        "!inverted", "\ufeffnot-first-line-bom"]
    assert read_patterns("\ufeffa\r\nb\n")[0] == (1, "a")
    assert [line for line, _ in read_patterns("x\n\n# c\ny\n")] == [1, 4]


def test_clean_path_is_gos():
    assert clean_path("") == "."
    assert clean_path("a/../..") == ".."
    assert clean_path("/../a/./b/") == "/a/b"
    assert clean_path("a//b") == "a/b"


def test_invalid_patterns_are_refused_with_their_line():
    with pytest.raises(DockerIgnoreError) as info:
        DockerIgnore("ok\n!\n")
    assert info.value.line == 2 and "illegal exclusion pattern" in str(info.value)
    for bad in ("a[", "[]", "x\\", "[a-]", "[-a]"):
        with pytest.raises(DockerIgnoreError) as info:
            DockerIgnore(f"# c\n{bad}\n")
        assert info.value.line == 2 and "syntax error in pattern" in str(info.value)


# ---------------------------------------------------------------- matching

def test_star_matches_within_one_segment_at_the_root_only():
    assert excluded("*.log", "a.log", "x/a.log", "a.log.txt", ".log") == [True, False, False, True]


def test_double_star_matches_any_number_of_directories():
    assert excluded("**/*.log", "a.log", "x/a.log", "x/y/z/a.log", "a.txt") == [
        True, True, True, False]
    assert excluded("**/tmp", "tmp", "a/tmp", "a/b/tmp", "a/tmp/file", "tmpx", "a/xtmp") == [
        True, True, True, True, False, False]
    assert excluded("a/**/b", "a/b", "a/x/b", "a/x/y/b", "b") == [True, True, True, False]
    assert excluded("a/**", "a", "a/x", "a/x/y") == [False, True, True]


def test_question_mark_and_classes_stay_within_a_segment():
    assert excluded("file?.txt", "file1.txt", "file12.txt", "file/.txt") == [True, False, False]
    assert excluded("[ab]*.c", "a1.c", "b.c", "c.c") == [True, True, False]
    assert excluded("[^a]x", "bx", "ax") == [True, False]
    assert excluded("data\\*", "data*", "data1") == [True, False]


def test_an_excluded_directory_excludes_what_is_under_it():
    assert excluded("dir/", "dir", "dir/f", "dir/sub/f", "dirx", "other/dir") == [
        True, True, True, False, False]
    assert excluded("/node_modules", "node_modules/x/y.js") == [True]


def test_exceptions_reinclude_and_the_last_matching_pattern_wins():
    assert excluded("*.log\n!keep.log", "a.log", "keep.log") == [True, False]
    # The same two lines the other way round: the exclusion comes last and wins.
    assert excluded("!keep.log\n*.log", "keep.log") == [True]
    assert excluded("*\n!src\nsrc/*.tmp", "src/a.py", "src/a.tmp", "docs/x") == [
        False, True, True]
    assert excluded("docs\n!docs/keep.md", "docs/a.md", "docs/keep.md", "docs") == [
        True, False, True]


def test_matches_normalizes_the_path_and_never_excludes_the_root():
    ig = DockerIgnore("*\n")
    assert not ig.matches(".") and not ig.matches("")
    assert ig.matches("./a") and ig.matches("/a") and ig.matches("a/")
    assert not DockerIgnore("").matches("anything")


# ---------------------------------------------------------------- walking a context

def make_tree(root: Path, files: list[str]) -> None:
    for rel in files:
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(rel)


TREE = ["Dockerfile", ".dockerignore", "app.py", "debug.log", "keep.log", "src/main.py",
        "src/tmp/cache.bin", "tmp/x", "build/out.o", "build/keep/me.txt", "node_modules/a/b.js",
        "empty/"]


def test_walk_lists_files_dirs_and_links_sorted_without_following_links(tmp_path):
    make_tree(tmp_path, TREE)
    os.symlink("src", tmp_path / "link-to-src")
    os.symlink("/nonexistent", tmp_path / "dangling")
    walked = DockerIgnore("").walk(tmp_path)
    assert walked == sorted(walked)
    assert {"src", "src/main.py", "empty", "link-to-src", "dangling"} <= set(walked)
    assert "link-to-src/main.py" not in walked  # a link is an entry, never entered
    assert len(walked) == len(set(walked))


def test_walk_applies_the_patterns(tmp_path):
    make_tree(tmp_path, TREE)
    ig = DockerIgnore("*.log\n!keep.log\n**/tmp\nbuild/\nnode_modules\n")
    assert ig.walk(tmp_path) == [
        ".dockerignore", "Dockerfile", "app.py", "empty", "keep.log", "src", "src/main.py"]


def test_walk_enters_an_excluded_directory_for_an_exception_inside_it(tmp_path):
    make_tree(tmp_path, TREE)
    walked = DockerIgnore("build\n!build/keep\n").walk(tmp_path)
    assert "build/out.o" not in walked
    # The directory comes along with what it holds.
    assert {"build", "build/keep", "build/keep/me.txt"} <= set(walked)


def test_wildcard_exceptions_are_looked_for_everywhere(tmp_path):
    make_tree(tmp_path, ["a/b/c/x.keep", "a/b/c/y.drop", "z.drop"])
    walked = DockerIgnore("*\n!**/*.keep\n").walk(tmp_path)
    assert walked == ["a", "a/b", "a/b/c", "a/b/c/x.keep"]


def test_walk_agrees_with_matches(tmp_path):
    make_tree(tmp_path, TREE)
    patterns = "*.log\n!keep.log\n**/tmp\nbuild\n!build/keep/*.txt\nsrc/*.py\n"
    ig = DockerIgnore(patterns)
    walked = set(ig.walk(tmp_path))
    everything = set(DockerIgnore("").walk(tmp_path))
    for path in everything:
        # An excluded directory may be listed for an included descendant; nothing else.
        if path in walked and ig.matches(path):
            assert any(p.startswith(path + "/") and p in walked and not ig.matches(p)
                       for p in everything), path
        else:
            assert (path in walked) != ig.matches(path), path


def test_from_context_reads_the_file_or_nothing(tmp_path):
    assert not DockerIgnore.from_context(tmp_path)
    (tmp_path / ".dockerignore").write_text("x\n")
    assert DockerIgnore.from_context(tmp_path).matches("x")


def test_an_exception_for_a_parent_does_not_undo_an_earlier_exclusion_inside_it():
    # BuildKit's walk carries per-pattern results down from the parent: `!a` matched no
    # file under `a`, so `a/x` stays excluded although `!a` is the last line.
    assert excluded("a/x\n!a\n", "a/x", "a", "a/y") == [True, False, False]


_NAMES = ["a", "b", "tmp", "x.log", "keep.log"]
_SEGMENT = st.sampled_from([*_NAMES, "*", "**", "?", "*.log", "[ab]"])
_PATH = st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3).map("/".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.lists(_SEGMENT, min_size=1, max_size=3)),
                max_size=5),
       st.lists(_PATH, min_size=1, max_size=8))
def test_walk_and_matches_agree_on_random_patterns_and_trees(rules, files):
    """What walk() sends is what matches() does not exclude, plus the parents it needs."""
    lines = [("!" if neg else "") + "/".join(segs) for neg, segs in rules]
    ig = DockerIgnore("\n".join(lines))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for f in files:
            if (root / f).exists() or any((root / p).is_file() for p in _parents(f)):
                continue
            make_tree(root, [f])
        everything = DockerIgnore("").walk(root)
        walked = ig.walk(root)
    assert walked == sorted(walked)
    kept = {p for p in everything if not ig.matches(p)}
    needed = {parent for p in kept for parent in _parents(p)}
    assert set(walked) == kept | needed


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:k]) for k in range(1, len(parts))]
