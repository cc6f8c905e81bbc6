"""Variable substitution and the `.env` file (runtime.compose.interpolate, loader)."""

from __future__ import annotations

from pathlib import Path

from runtime.compose.loader import load
from tests.unit.compose.helpers import error_of, project, write


def test_interpolation(tmp_path: Path) -> None:
    env = {"TAG": "1.36", "EMPTY": ""}
    p = project(tmp_path, """\
        services:
          a:
            image: busybox:${TAG}
            command: sh -c 'echo $$HOME $TAG ${NOPE:-dflt} ${EMPTY-kept} ${TAG:+alt} ${UNSET}'
        """, env=env)
    assert p.services["a"].image == "busybox:1.36"
    assert p.services["a"].command == ["sh", "-c", "echo $HOME 1.36 dflt  alt "]
    assert p.warnings == ['the "UNSET" variable is not set. Defaulting to a blank string.']


def test_interpolation_errors(tmp_path: Path) -> None:
    assert error_of(tmp_path, "services: {a: {image: 'x:${NEED:?set it}'}}\n") == (
        "services.a.image: required variable NEED is missing a value: set it")
    assert error_of(tmp_path, "services: {a: {image: x, command: 'echo ${'}}\n").startswith(
        'services.a.command: invalid interpolation format "echo ${"')


def test_env_file_beside_the_compose_file(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / ".env").write_text("# comment\nTAG=from-file\nexport OTHER='quoted # x'\n")
    path = write(tmp_path, "services: {a: {image: 'busybox:${TAG}', environment: [OTHER]}}\n")
    monkeypatch.delenv("TAG", raising=False)
    monkeypatch.delenv("OTHER", raising=False)
    p = load(path, "proj")
    assert p.services["a"].image == "busybox:from-file"
    assert p.services["a"].environment == ["OTHER=quoted # x"]
    monkeypatch.setenv("TAG", "from-shell")
    assert load(path, "proj").services["a"].image == "busybox:from-shell"
