"""One value each (runtime.compose.fields): environment, commands, ports, mounts, build,
depends_on and networks, in their good and bad forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.compose.loader import load
from runtime.compose.model import BuildSpec
from runtime.compose.project import mount_specs
from tests.unit.compose.helpers import error_of, project, write


def test_waiting_for_health_needs_a_healthcheck(tmp_path: Path) -> None:
    """Compose Specification, depends_on `service_healthy`: the dependency must declare a
    healthcheck; refused when the file is read, before anything is created."""
    msg = error_of(tmp_path, """\
        services:
          web: {image: busybox, depends_on: {db: {condition: service_healthy}}}
          db: {image: busybox}
        """)
    assert msg == 'service "web" depends on "db" being healthy, but "db" has no healthcheck'


@pytest.mark.parametrize(("port", "message"), [
    ("70000:80", 'invalid port "70000:80": port numbers must be 1-65535'),
    ("8080:0", 'invalid port "8080:0": port numbers must be 1-65535'),
    ("80:80/udp", 'port "80:80/udp": protocol udp is not supported by isobench (its port proxy '
                     'relays tcp only)'),
    ("abc", 'invalid port "abc"'),
    ("1.2.3:80:80", 'invalid port "1.2.3:80:80": bad host IP "1.2.3"'),
])
def test_bad_ports(tmp_path: Path, port: str, message: str) -> None:
    msg = error_of(tmp_path, f"services:\n  web:\n    image: x\n    ports: ['{port}']\n")
    assert msg == f"services.web.ports[0]: {message}"


def test_bad_subnet(tmp_path: Path) -> None:
    msg = error_of(tmp_path, """\
        services: {web: {image: x, networks: [front]}}
        networks:
          front:
            ipam:
              config: [{subnet: 10.1.2.3/33}]
        """)
    assert msg.startswith('networks.front.ipam.config[0].subnet: invalid subnet "10.1.2.3/33"')


def test_bad_volume_specs(tmp_path: Path) -> None:
    base = "volumes: {d: }\nservices:\n  web:\n    image: x\n    volumes: ['{spec}']\n"
    assert error_of(tmp_path, base.replace("{spec}", "d:/data:z")) == (
        'services.web.volumes[0]: invalid mode "z" in "d:/data:z": ro or rw')
    assert error_of(tmp_path, base.replace("{spec}", "d:data")) == (
        'services.web.volumes[0]: invalid mount target "data": must be an absolute path')
    assert error_of(tmp_path, base.replace("{spec}", "./a:/a:ro:x")) == (
        'services.web.volumes[0]: invalid volume specification "./a:/a:ro:x"')


def test_more_than_one_network_is_refused(tmp_path: Path) -> None:
    msg = error_of(tmp_path, """\
        services: {web: {image: x, networks: [a, b]}}
        networks: {a: , b: }
        """)
    assert msg == "services.web.networks: a service can join only one network here, got a, b"


def test_environment_list_and_map_forms(tmp_path: Path) -> None:
    env = {"FROM_HOST": "h", "EMPTY": ""}
    p = project(tmp_path, """\
        services:
          a:
            image: x
            environment: [A=1, B=, C=x=y, FROM_HOST, UNSET, EMPTY]
          b:
            image: x
            environment:
              A: 1
              B: ""
              FLAG: true
              OFF: false
              RATIO: 0.5
              FROM_HOST:
              UNSET:
        """, env=env)
    assert p.services["a"].environment == ["A=1", "B=", "C=x=y", "FROM_HOST=h", "EMPTY="]
    assert p.services["b"].environment == ["A=1", "B=", "FLAG=true", "OFF=false", "RATIO=0.5",
                                           "FROM_HOST=h"]


def test_environment_bad_values(tmp_path: Path) -> None:
    assert error_of(tmp_path, "services: {a: {image: x, environment: {A: [1]}}}\n") == (
        "services.a.environment.A: must be a string, number, boolean or null")
    assert error_of(tmp_path, "services: {a: {image: x, environment: ['=1']}}\n") == (
        "services.a.environment[0]: invalid variable name ''")


def test_command_and_entrypoint_forms(tmp_path: Path) -> None:
    p = project(tmp_path, """\
        services:
          a: {image: x, command: "sh -c 'echo hi there'", entrypoint: /bin/env}
          b: {image: x, command: [echo, "a b"]}
        """)
    assert p.services["a"].command == ["sh", "-c", "echo hi there"]
    assert p.services["a"].entrypoint == ["/bin/env"]
    assert p.services["b"].command == ["echo", "a b"]
    assert error_of(tmp_path, "services: {a: {image: x, command: \"echo 'x\"}}\n") == (
        "services.a.command: invalid command line: No closing quotation")


def test_port_forms(tmp_path: Path) -> None:
    p = project(tmp_path, """\
        services:
          web:
            image: x
            ports:
              - 8080:80
              - "127.0.0.1:8443:443/tcp"
              - 9000
              - "127.0.0.1::53"
              - {target: 81, published: 8081, host_ip: 127.0.0.1}
              - {target: 82}
        """)
    assert p.services["web"].ports == ["8080:80/tcp", "127.0.0.1:8443:443/tcp", "9000/tcp",
                                       "127.0.0.1::53/tcp", "127.0.0.1:8081:81/tcp", "82/tcp"]


def test_bind_paths_resolve_against_the_compose_file(tmp_path: Path, monkeypatch) -> None:
    sub = tmp_path / "proj"
    sub.mkdir()
    monkeypatch.chdir(tmp_path)  # not the file's directory: must not matter
    monkeypatch.setenv("HOME", "/home/someone")
    p = load(write(sub, """\
        services:
          web:
            image: x
            volumes:
              - ./site:/www:ro
              - ../shared:/shared
              - /abs/path:/abs
              - ~/cache:/cache
              - data:/data
              - /anon
              - {type: bind, source: ./conf, target: /etc/conf, read_only: true}
              - {type: volume, source: data, target: /data2}
        volumes:
          data:
        """), "proj", host_env={})
    mounts = p.services["web"].volumes
    assert [(m.source, m.target, m.read_only, m.bind) for m in mounts] == [
        (str(sub / "site"), "/www", True, True),
        (str(tmp_path / "shared"), "/shared", False, True),
        ("/abs/path", "/abs", False, True),
        ("/home/someone/cache", "/cache", False, True),
        ("data", "/data", False, False),
        ("", "/anon", False, False),
        (str(sub / "conf"), "/etc/conf", True, True),
        ("data", "/data2", False, False),
    ]
    assert mount_specs(p, p.services["web"]) == [
        f"{sub / 'site'}:/www:ro", f"{tmp_path / 'shared'}:/shared", "/abs/path:/abs",
        "/home/someone/cache:/cache", "proj_data:/data", "/anon",
        f"{sub / 'conf'}:/etc/conf:ro", "proj_data:/data2"]
    assert p.used_volumes() == ["data"]


def test_build_forms(tmp_path: Path) -> None:
    p = project(tmp_path, """\
        services:
          a: {build: ./app}
          b: {build: {context: ./app, dockerfile: Dockerfile.dev}}
          c: {build: {dockerfile: /abs/Dockerfile}}
        """)
    assert p.services["a"].build == BuildSpec(tmp_path / "app", None)
    assert p.services["b"].build == BuildSpec(tmp_path / "app",
                                                 tmp_path / "app" / "Dockerfile.dev")
    assert p.services["c"].build == BuildSpec(tmp_path, Path("/abs/Dockerfile"))


def test_network_subnet_and_default_network(tmp_path: Path) -> None:
    p = project(tmp_path, """\
        services:
          a: {image: x, networks: [front]}
          b: {image: x}
        networks:
          front:
            ipam:
              driver: default
              config: [{subnet: 10.99.0.0/24}]
          unused:
        """)
    assert p.networks["front"].subnet == "10.99.0.0/24"
    assert p.used_networks() == ["front", "default"]
