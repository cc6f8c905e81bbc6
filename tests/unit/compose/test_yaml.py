"""The file's YAML read as compose reads it (runtime.compose.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.compose.errors import ComposeError
from runtime.compose.loader import load
from runtime.compose.yaml import parse_yaml
from tests.unit.compose.helpers import error_of, write


def test_yaml_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        services:
          web:
            image: busybox
            command: foo: bar
        """)
    with pytest.raises(ComposeError) as e:
        load(path, "proj", host_env={})
    assert str(e.value) == f"{path}:4: mapping values are not allowed here"


def test_yaml_error_unclosed_flow(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "services:\n  web: {image: busybox\n")
    assert msg.startswith(f"{tmp_path / 'compose.yaml'}:3: ")


def test_yaml_tab_indentation(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "services:\n\tweb:\n")
    assert msg == (f"{tmp_path / 'compose.yaml'}:2: "
                   "found character '\\t' that cannot start any token")


def test_yaml_duplicate_key_is_an_error(tmp_path: Path) -> None:
    msg = error_of(tmp_path, """\
        services:
          web:
            image: busybox
            image: other
        """)
    assert msg == f"{tmp_path / 'compose.yaml'}:4: mapping key 'image' already defined at line 3"


def test_yaml_merge_keys_may_override() -> None:
    data = parse_yaml("base: &b {image: x}\nweb:\n  <<: *b\n  image: y\n", "f")
    assert data["web"] == {"image": "y"}


def test_yaml_ports_are_not_base_60() -> None:
    # YAML 1.1 reads 22:22 as 1342; compose's YAML 1.2 parser keeps the string.
    assert parse_yaml("p: 22:22\nq: 1:30.5\nr: 10\ns: 1.5\n", "f") == {
        "p": "22:22", "q": "1:30.5", "r": 10, "s": 1.5}


def test_yaml_only_true_and_false_are_booleans() -> None:
    assert parse_yaml("a: on\nOFF: yes\nc: no\nd: true\ne: False\nf: ~\n", "f") == {
        "a": "on", "OFF": "yes", "c": "no", "d": True, "e": False, "f": None}
