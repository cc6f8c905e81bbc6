"""A compose file to a validated Project (runtime.compose.loader): the file, unknown keys, what
must be declared, and the names."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.compose.errors import ComposeError
from runtime.compose.loader import find_file, load, parse_project
from tests.unit.compose.helpers import error_of, project


def test_empty_and_non_mapping_files(tmp_path: Path) -> None:
    assert error_of(tmp_path, "") == "empty compose file"
    assert error_of(tmp_path, "- a\n- b\n") == ": must be a mapping"
    assert error_of(tmp_path, "name: x\n") == "services: no services defined"
    assert error_of(tmp_path, "services: [web]\n") == "services: must be a mapping"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="no such file or directory"):
        load(tmp_path / "nope.yaml", "proj", host_env={})
    with pytest.raises(ComposeError, match="^no configuration file provided: not found$"):
        find_file(None, tmp_path)
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    assert find_file(None, tmp_path) == tmp_path / "docker-compose.yml"
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    assert find_file(None, tmp_path) == tmp_path / "compose.yaml"


def test_parse_project_accepts_a_preparsed_document(tmp_path: Path) -> None:
    p = parse_project({"services": {"web": {"image": "busybox"}}}, workdir=tmp_path,
                      project="p", host_env={})
    assert list(p.services) == ["web"] and p.name == "p"


# ---- unknown and unsupported keys ------------------------------------------------------------
# The schema (runtime.compose.schema) refuses what the Compose Specification does not have; a
# key it has that isobench does not implement is refused by the loader, in different words.

@pytest.mark.parametrize(("text", "message"), [
    ("bogus: 1\nservices: {web: {image: busybox}}\n", "unknown key 'bogus' at the top level"),
    ("servics: {web: {image: busybox}}\n",
     "unknown key 'servics' at the top level (did you mean 'services'?)"),
    ("services:\n  web:\n    image: busybox\n    bogus: 1\n",
     "unknown key 'bogus' in service \"web\""),
    ("services:\n  web:\n    image: busybox\n    restrat: always\n",
     "unknown key 'restrat' in service \"web\" (did you mean 'restart'?)"),
    ("services:\n  web:\n    build: {context: ., dockerfle: x}\n",
     "unknown key 'dockerfle' in service \"web\" at build (did you mean 'dockerfile'?)"),
    ("services: {web: {image: busybox}}\nnetworks:\n  front:\n    drivr: bridge\n",
     "unknown key 'drivr' in networks.front (did you mean 'driver'?)"),
])
def test_unknown_keys_say_where_and_guess(tmp_path: Path, text: str, message: str) -> None:
    assert error_of(tmp_path, text) == message


@pytest.mark.parametrize(("text", "message"), [
    ("configs: {c: {file: ./c}}\nservices: {web: {image: busybox}}\n",
     "'configs' is not supported by isobench"),
    ("services:\n  web:\n    image: busybox\n    secrets: [s]\n",
     "'secrets' in service \"web\" is not supported by isobench"),
    ("services:\n  web:\n    build: {context: ., target: x}\n",
     "'target' in service \"web\" at build is not supported by isobench"),
    ("services:\n  web:\n    image: busybox\n    ports:\n      - {target: 80, mode: host}\n",
     "'mode' in service \"web\" at ports[0] is not supported by isobench"),
    ("services:\n  web:\n    image: busybox\n    volumes:\n      - {type: volume, source: d,"
     " target: /d, volume: {nocopy: true}}\nvolumes: {d: }\n",
     "'volume' in service \"web\" at volumes[0] is not supported by isobench"),
    ("services: {web: {image: busybox}}\nnetworks:\n  front:\n    driver: overlay\n",
     "'driver' in networks.front is not supported by isobench"),
    ("services: {web: {image: busybox}}\nnetworks:\n  front:\n    ipam:\n      config:\n"
     "        - subnet: 10.9.0.0/24\n          gateway: 10.9.0.1\n",
     "'gateway' in networks.front.ipam.config[0] is not supported by isobench"),
    ("services: {web: {image: busybox}}\nvolumes:\n  data:\n    driver: local\n",
     "'driver' in volumes.data is not supported by isobench"),
])
def test_unsupported_keys_are_told_apart_from_unknown_ones(tmp_path: Path, text: str,
                                                           message: str) -> None:
    assert error_of(tmp_path, text) == message


def test_extension_fields_and_version_are_accepted(tmp_path: Path) -> None:
    p = project(tmp_path, """\
        version: "3.8"
        x-common: &common
          image: busybox
        services:
          web:
            <<: *common
            x-note: hello
        """)
    assert p.services["web"].image == "busybox"
    assert any("`version` is obsolete" in w for w in p.warnings)


def test_type_errors_name_their_path(tmp_path: Path) -> None:
    assert error_of(tmp_path, "services: {web: {image: [a]}}\n") == (
        "services.web.image: must be a string")
    assert error_of(tmp_path, "services: {web: {image: x, command: [1, 2]}}\n") == (
        "services.web.command[0]: must be a string")
    assert error_of(tmp_path, "services: {web: {image: x, ports: 80}}\n") == (
        "services.web.ports: must be a list")
    assert error_of(tmp_path, "services: {web: {image: x, environment: 3}}\n") == (
        "services.web.environment: must be a mapping or a list")


def test_service_without_image_or_build(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "services:\n  x:\n    command: ['true']\n")
    assert msg == 'service "x" has neither an image nor a build context specified'
    assert error_of(tmp_path, "services:\n  x:\n") == (
        'service "x" has neither an image nor a build context specified')


def test_undefined_volume_and_network(tmp_path: Path) -> None:
    assert error_of(tmp_path, "services: {web: {image: x, volumes: ['data:/d']}}\n") == (
        'service "web" refers to undefined volume "data"')
    assert error_of(tmp_path, "services: {web: {image: x, networks: [front]}}\n") == (
        'service "web" refers to undefined network "front"')


def test_relative_working_dir_is_refused(tmp_path: Path) -> None:
    assert error_of(tmp_path, "services: {web: {image: x, working_dir: app}}\n") == (
        'services.web.working_dir: "app" must be an absolute path')


# ---- names ----------------------------------------------------------------------------------

def test_project_name_precedence(tmp_path: Path) -> None:
    d = tmp_path / "My Project.Dir"
    d.mkdir()
    text = "services: {web: {image: x}}\n"
    assert project(d, text, name=None).name == "myprojectdir"
    assert project(d, "name: fromfile\n" + text, name=None).name == "fromfile"
    assert project(d, "name: fromfile\n" + text, name="cli").name == "cli"


def test_invalid_project_names(tmp_path: Path) -> None:
    text = "services: {web: {image: x}}\n"
    assert error_of(tmp_path, text, name="Bad") == (
        '"Bad" is not a valid project name: it must contain only characters from [a-z0-9_-] '
        "and start with [a-z0-9]")
    assert error_of(tmp_path, "name: _x\n" + text, name=None).startswith(
        '"_x" is not a valid project name')
    d = tmp_path / "__"
    d.mkdir()
    assert "use -p or a top-level name" in error_of(d, text, name=None)


def test_resource_names(tmp_path: Path) -> None:
    p = project(tmp_path, """\
        services:
          web: {image: busybox}
          app: {build: ./app}
          both: {image: mine:1, build: .}
        """)
    assert p.container_name("web") == "proj-web-1"
    assert p.network_name("default") == "proj_default"
    assert p.volume_name("data") == "proj_data"
    assert p.image_tag("app") == "proj-app"
    assert p.image_tag("web") == "busybox"
    assert p.image_tag("both") == "mine:1"
    assert all(s.networks == ["default"] for s in p.services.values())


def test_invalid_service_name(tmp_path: Path) -> None:
    assert error_of(tmp_path, "services: {'web app': {image: x}}\n") == (
        "services.web app: invalid service name: only [a-zA-Z0-9._-] allowed")
