"""Compose tests' shared steps: write a compose file, load it, or get its one-line error."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runtime.compose.errors import ComposeError
from runtime.compose.loader import load
from runtime.compose.model import Project


def write(tmp_path: Path, text: str, name: str = "compose.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def project(tmp_path: Path, text: str, name: str | None = "proj",
            env: dict[str, str] | None = None) -> Project:
    return load(write(tmp_path, text), name, host_env=env or {})


def error_of(tmp_path: Path, text: str, name: str | None = "proj",
             env: dict[str, str] | None = None) -> str:
    with pytest.raises(ComposeError) as e:
        project(tmp_path, text, name, env)
    assert e.value.exit_code == 1
    assert "\n" not in str(e.value)
    return str(e.value)
