"""Conformance: compose files (ports, multi-document YAML), `.env` files as docker compose
reads them (compose-go dotenv), and the bounds on hostile input."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

import pytest

from runtime.compose import loader
from runtime.compose import yaml as cyaml
from runtime.compose.dotenv import parse_env, read_env_file
from runtime.compose.errors import ComposeError
from runtime.image.dockerfile import DockerfileError, parse
from runtime.image.dockerfile import syntax as dsyntax
from tests.unit.compose.helpers import error_of, project

WEB = "services:\n  web:\n    image: x\n    ports: ['{}']\n"


# ---- ports: the Compose Specification's short syntax, ranges as docker expands them

def test_port_range_expands(tmp_path: Path) -> None:
    p = project(tmp_path, WEB.format("80-82:8080-8082"))
    assert p.services["web"].ports == ["80:8080/tcp", "81:8081/tcp", "82:8082/tcp"]
    p = project(tmp_path, WEB.format("127.0.0.1:80-81:90-91/tcp"))
    assert p.services["web"].ports == ["127.0.0.1:80:90/tcp", "127.0.0.1:81:91/tcp"]
    assert project(tmp_path, WEB.format("90-91")).services["web"].ports == ["90/tcp", "91/tcp"]


def test_port_range_lengths_must_match(tmp_path: Path) -> None:
    msg = error_of(tmp_path, WEB.format("80-82:8080-8081"))
    assert msg == ('services.web.ports[0]: invalid port "80-82:8080-8081": invalid ranges '
                   "specified for container and host Ports: 8080-8081 and 80-82")


def test_protocols(tmp_path: Path) -> None:
    assert project(tmp_path, WEB.format("80:80/tcp")).services["web"].ports == ["80:80/tcp"]
    assert "protocol udp is not supported" in error_of(tmp_path, WEB.format("53:53/udp"))


# ---- multi-document YAML: compose-go merges the documents in order (compose-go#451)

def test_multi_document_files_are_merged(tmp_path: Path) -> None:
    p = project(tmp_path, "services:\n  a: {image: x}\n---\nservices:\n  b: {image: y}\n"
                "  a: {command: ['true']}\n")
    assert sorted(p.services) == ["a", "b"]
    assert (p.services["a"].image, p.services["a"].command) == ("x", ["true"])


def test_multi_document_of_a_list_refused(tmp_path: Path) -> None:
    assert "must be a mapping" in error_of(tmp_path, "services: {a: {image: x}}\n---\n- 1\n")


# ---- .env: compose-go's dotenv format

@pytest.mark.parametrize("line,value", [
    ('A="x\\ny\\tz\\\\w\\"q"', 'x\ny\tz\\w"q'),  # double quotes: escapes
    ("A='lit ${B} \\n'", "lit ${B} \\n"),  # single quotes: literal
    ('A="${B}-x"', "bee-x"), ("A=${B}-x", "bee-x"),  # ${VAR} in double quotes and unquoted
    ("A=value # comment", "value"), ("A=value#not", "value#not"),  # inline comment needs blank
    ('A="bar#baz" # c', "bar#baz"), ("A='q' # c", "q"),
    ("export A=x", "x"), ("A=  spaced  ", "spaced"), ("A=", ""),
])
def test_dotenv_values(line: str, value: str) -> None:
    assert parse_env(f"B=bee\n{line}\n", ".env", {})["A"] == value


def test_dotenv_multiline_bom_and_comments() -> None:
    env = parse_env('\ufeff# c\nA="one\ntwo"\n\nB=2\n', ".env", {})
    assert env == {"A": "one\ntwo", "B": "2"}


def test_dotenv_environment_wins_in_expansion() -> None:
    assert parse_env("B=file\nA=${B}\n", ".env", {"B": "shell"})["A"] == "shell"


@pytest.mark.parametrize("text,line", [('A=1\nB="open\nC=2\n', 2), ("A='x\n", 1)])
def test_dotenv_unterminated_quote(tmp_path: Path, text: str, line: int) -> None:
    (tmp_path / ".env").write_text(text)
    with pytest.raises(ComposeError) as e:
        read_env_file(tmp_path / ".env")
    assert str(e.value).startswith(f"{tmp_path / '.env'}:{line}: unterminated quoted value")
    assert "\n" not in str(e.value) and e.value.exit_code == 1


def test_dotenv_in_a_project(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / ".env").write_text('TAG="1.0" # pinned\n')
    (tmp_path / "compose.yaml").write_text("services: {a: {image: 'x:${TAG}'}}\n")
    monkeypatch.delenv("TAG", raising=False)
    assert loader.load(tmp_path / "compose.yaml", "p").services["a"].image == "x:1.0"


# ---- bounds on hostile input

BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 10)}]\n"
    for i in range(9)) + "services: {s: {image: x, command: *j}}\n"


def test_billion_laughs_refused_fast_and_small(tmp_path: Path) -> None:
    assert len(BOMB) < 1024
    (tmp_path / "compose.yaml").write_text(BOMB)
    tracemalloc.start()
    t0 = time.monotonic()
    with pytest.raises(ComposeError) as e:
        loader.load(tmp_path / "compose.yaml", "p", host_env={})
    elapsed = time.monotonic() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "excessive aliasing" in str(e.value) and "\n" not in str(e.value)
    assert elapsed < 1.0 and peak < 100 << 20


def test_alias_count_bound(monkeypatch) -> None:
    monkeypatch.setattr(cyaml, "MAX_ALIASES", 5)
    text = "a: &a 1\nb: [" + ",".join(["*a"] * 6) + "]\n"
    with pytest.raises(ComposeError, match="excessive aliasing: more than 5 aliases"):
        cyaml.parse_yaml(text, "f")


def test_nesting_depth_bound() -> None:
    with pytest.raises(ComposeError, match="nesting deeper than"):
        cyaml.parse_yaml("a: " + "[" * 100 + "]" * 100 + "\n", "f")
    with pytest.raises(ComposeError, match="nesting deeper than"):
        cyaml.parse_yaml("a: " + "[" * 5000 + "]" * 5000 + "\n", "f")


def test_compose_file_size_bound(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 100)
    (tmp_path / "compose.yaml").write_text("services: {a: {image: x}}\n" + "#" * 200 + "\n")
    with pytest.raises(ComposeError, match="file is larger than 100 bytes"):
        loader.load(tmp_path / "compose.yaml", "p", host_env={})


def test_service_count_bound(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(loader, "MAX_SERVICES", 3)
    text = "services:\n" + "".join(f"  s{i}: {{image: x}}\n" for i in range(4))
    assert "more than isobench's bound of 3" in error_of(tmp_path, text)


def test_env_file_size_bound(tmp_path: Path, monkeypatch) -> None:
    from runtime.compose import dotenv
    monkeypatch.setattr(dotenv, "MAX_ENV_FILE_BYTES", 10)
    (tmp_path / ".env").write_text("A=" + "x" * 20 + "\n")
    with pytest.raises(ComposeError, match="file is larger than 10 bytes"):
        read_env_file(tmp_path / ".env")


def test_dockerfile_size_bound(monkeypatch) -> None:
    monkeypatch.setattr(dsyntax, "MAX_DOCKERFILE_CHARS", 50)
    with pytest.raises(DockerfileError, match="file is larger than 50 characters"):
        parse("FROM alpine\n" + "# x\n" * 20)


def test_nothing_read_beyond_the_bound(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 10)
    big = tmp_path / "compose.yaml"
    big.write_bytes(b"x" * 1000)
    with pytest.raises(ComposeError):
        loader.load(big, "p", host_env={})
    assert os.path.getsize(big) == 1000  # untouched


def test_a_huge_dockerfile_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """Bounds (issue 21): the builder reads at most 4 bytes per allowed character of a
    Dockerfile, so a 1 GiB file (sparse here) is refused at once with bounded memory."""
    import tracemalloc

    from runtime.image.builder import MAX_DOCKERFILE_BYTES, BuildError, _read_dockerfile

    big = tmp_path / "Dockerfile"
    with open(big, "wb") as f:
        f.truncate(1 << 30)
    tracemalloc.start()
    try:
        with pytest.raises(BuildError, match=f"Dockerfile: file is larger than "
                                             f"{MAX_DOCKERFILE_BYTES} bytes"):
            _read_dockerfile(big, "Dockerfile")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * MAX_DOCKERFILE_BYTES + (1 << 20)
    (tmp_path / "Latin1").write_bytes(b"FROM busybox\nLABEL a=\xe9\n")
    with pytest.raises(BuildError, match=r"^Latin1: not UTF-8 text \(byte 21\)$"):
        _read_dockerfile(tmp_path / "Latin1", "Latin1")
