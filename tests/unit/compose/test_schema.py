"""A JSON Schema of the Compose file format (runtime.compose.schema, built from isobench's own
table in runtime.compose.spec_keys) as the first check of a compose file: a misspelled key
and a key isobench lacks get different one-line messages, and a value of the wrong shape
names its path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runtime.compose import schema, spec_keys
from runtime.compose.errors import ComposeError
from tests.unit.compose.helpers import error_of, write

ISOBENCH = str(Path(sys.executable).with_name("isobench"))


def service(extra: str) -> str:
    return f"services:\n  web:\n    image: busybox\n{extra}"


# ---- the schema: isobench's own table ---------------------------------------------------------

def test_the_schema_is_isobenchs_table_and_a_valid_draft7_schema() -> None:
    import jsonschema

    assert schema.spec_source().startswith("isobench's own table")
    doc = spec_keys.schema()
    jsonschema.Draft7Validator.check_schema(doc)
    assert set(doc["properties"]) == {"version", "name", "include", "services", "networks",
                                      "volumes", "configs", "secrets", "models"}
    assert list(doc["patternProperties"]) == ["^x-"]
    # The keys issue 21 names are the specification's, so the schema must know each one.
    keys = doc["properties"]["services"]["patternProperties"][spec_keys.NAME_PATTERN][
        "properties"]
    assert keys.keys() == spec_keys.SERVICE.keys()
    for key in ("restart", "healthcheck", "deploy", "env_file", "extra_hosts", "labels", "dns",
                "ulimits", "tmpfs", "init", "stop_signal", "stop_grace_period", "network_mode",
                "build", "depends_on", "configs", "secrets"):
        assert key in keys


def test_every_key_the_loader_reads_is_in_the_table() -> None:
    """A key isobench implements must never be called unknown."""
    from runtime.compose import loader

    assert set(loader.TOP_KEYS) <= spec_keys.TOP_LEVEL.keys()
    assert set(loader.SERVICE_KEYS) <= spec_keys.SERVICE.keys()


# ---- unknown keys: the specification has no such key -----------------------------------------

@pytest.mark.parametrize(("extra", "message"), [
    ("    restrat: always\n", "unknown key 'restrat' in service \"web\" (did you mean 'restart'?)"),
    ("    helthcheck: {test: 'true'}\n",
     "unknown key 'helthcheck' in service \"web\" (did you mean 'healthcheck'?)"),
    ("    enviroment: {A: 1}\n",
     "unknown key 'enviroment' in service \"web\" (did you mean 'environment'?)"),
    ("    deploy: {resources: {limits: {memmory: 64m}}}\n",
     "unknown key 'memmory' in service \"web\" at deploy.resources.limits (did you mean "
     "'memory'?)"),
    ("    healthcheck: {test: 'true', intervall: 1s}\n",
     "unknown key 'intervall' in service \"web\" at healthcheck (did you mean 'interval'?)"),
    ("    depends_on: {db: {condtion: service_started}}\n",
     "unknown key 'condtion' in service \"web\" at depends_on.db (did you mean 'condition'?)"),
    ("    zzzz: 1\n", "unknown key 'zzzz' in service \"web\""),
])
def test_a_misspelled_key_is_unknown_with_a_guess(tmp_path: Path, extra: str,
                                                   message: str) -> None:
    assert error_of(tmp_path, service(extra)) == message


@pytest.mark.parametrize(("text", "message"), [
    ("configs: {c: {fiel: ./c}}\nservices: {web: {image: x}}\n",
     "unknown key 'fiel' in configs.c (did you mean 'file'?)"),
    ("secrets: {s: {enviroment: S}}\nservices: {web: {image: x}}\n",
     "unknown key 'enviroment' in secrets.s (did you mean 'environment'?)"),
    ("modles: {}\nservices: {web: {image: x}}\n",
     "unknown key 'modles' at the top level (did you mean 'models'?)"),
])
def test_a_misspelled_key_elsewhere_is_unknown_too(tmp_path: Path, text: str,
                                                   message: str) -> None:
    assert error_of(tmp_path, text) == message


def test_an_invalid_service_name_is_not_called_an_unknown_key(tmp_path: Path) -> None:
    assert error_of(tmp_path, "services:\n  'we b': {image: x}\n") == (
        "services.we b: invalid service name: only [a-zA-Z0-9._-] allowed")


# ---- unsupported keys: the specification has them, isobench does not --------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("configs: {c: {file: ./c}}\nservices: {web: {image: x}}\n",
     "'configs' is not supported by isobench"),
    ("secrets: {s: {file: ./s}}\nservices: {web: {image: x}}\n",
     "'secrets' is not supported by isobench"),
    ("include: [other.yaml]\nservices: {web: {image: x}}\n",
     "'include' is not supported by isobench"),
    ("models: {m: {model: ai/smollm2}}\nservices: {web: {image: x}}\n",
     "'models' is not supported by isobench"),
    (service("    use_api_socket: true\n"),
     "'use_api_socket' in service \"web\" is not supported by isobench"),
    (service("    configs: [c]\n"), "'configs' in service \"web\" is not supported by isobench"),
    (service("    deploy: {replicas: 2}\n"),
     "'replicas' in service \"web\" at deploy is not supported by isobench"),
    (service("    deploy: {resources: {reservations: {memory: 64m}}}\n"),
     "'reservations' in service \"web\" at deploy.resources is not supported by isobench"),
    (service("    healthcheck: {test: 'true', x-note: 1}\n    logging: {driver: json-file}\n"),
     "'logging' in service \"web\" is not supported by isobench"),
])
def test_a_valid_key_isobench_lacks_is_not_supported(tmp_path: Path, text: str,
                                                     message: str) -> None:
    assert error_of(tmp_path, text) == message


def test_unknown_and_unsupported_are_told_apart(tmp_path: Path) -> None:
    unknown = error_of(tmp_path, service("    confgs: [c]\n"))
    unsupported = error_of(tmp_path, service("    configs: [c]\n"))
    assert unknown.startswith("unknown key 'confgs'") and "did you mean 'configs'" in unknown
    assert unsupported == "'configs' in service \"web\" is not supported by isobench"
    assert "unknown" not in unsupported and "not supported" not in unknown


# ---- shapes ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("extra", "message"), [
    ("    restart: [always]\n", "services.web.restart: must be a string"),
    ("    healthcheck: {test: 'true', retries: [1]}\n",
     "services.web.healthcheck.retries: must be a number or string"),
    ("    depends_on: {db: {condition: service_hea}}\n",
     "services.web.depends_on.db.condition: 'service_hea' is not one of service_started, "
     "service_healthy, service_completed_successfully"),
    ("    depends_on: {db: {required: true}}\n",
     "services.web.depends_on.db.condition: required"),
    ("    env_file: 3\n", "services.web.env_file: must be a string or a list"),
    ("    ulimits: {nofile: {soft: 1}}\n", "services.web.ulimits.nofile.hard: required"),
])
def test_a_value_of_the_wrong_shape_names_its_path(tmp_path: Path, extra: str,
                                                   message: str) -> None:
    assert error_of(tmp_path, service(extra)) == message


def test_validation_runs_after_interpolation(tmp_path: Path) -> None:
    """compose-go validates the interpolated document: `${R}` is a string, whatever R is."""
    from tests.unit.compose.helpers import project

    p = project(tmp_path, service("    restart: ${R:-on-failure:3}\n"))
    assert p.services["web"].restart.name == "on-failure"
    assert p.services["web"].restart.max_retries == 3


def test_non_string_keys_are_refused_before_the_schema() -> None:
    with pytest.raises(ComposeError, match=r"^services\.web: key 1 must be a string$"):
        schema.validate({"services": {"web": {1: "x"}}})


def test_the_cli_prints_one_line_and_exits_1_creating_nothing(tmp_path: Path) -> None:
    """docker compose exits 1 for an invalid file; the state root stays empty."""
    root = tmp_path / "root"
    for text, first in ((service("    restrat: always\n"), "unknown key 'restrat'"),
                        (service("    configs: [c]\n"), "'configs' in service")):
        path = write(tmp_path, text)
        proc = subprocess.run([ISOBENCH, "compose", "-f", str(path), "up", "-d"],
                              capture_output=True, text=True, timeout=60,
                              env={"PATH": "/usr/bin:/bin", "ISOBENCH_ROOT": str(root)})
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and first in lines[0] and "Traceback" not in proc.stderr
        assert not root.exists() or not any(root.rglob("*"))
