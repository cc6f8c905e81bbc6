"""Compose without root: parsing and validation (runtime.compose.loader), and `up`'s order,
names, labels and rollback against a recording fake runtime (runtime.compose.project)."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from runtime.compose.errors import ComposeError
from runtime.compose.loader import find_file, load, parse_project
from runtime.compose.model import BuildSpec, Project
from runtime.compose.project import Compose, LogPrinter, LogTail, mount_specs
from runtime.compose.yaml import parse_yaml
from runtime.errors import IsobenchError, NotFound


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


# ---- YAML -----------------------------------------------------------------------------------

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


# ---- unknown keys ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "path"), [
    ("bogus: 1\nservices: {web: {image: busybox}}\n", "bogus"),
    ("services:\n  web:\n    image: busybox\n    bogus: 1\n", "services.web.bogus"),
    ("services:\n  web:\n    image: busybox\n    restart: always\n", "services.web.restart"),
    ("services:\n  web:\n    build: {context: ., target: x}\n", "services.web.build.target"),
    ("services:\n  web:\n    image: busybox\n    depends_on:\n      db: {condition: "
     "service_started, restart: true}\n  db:\n    image: busybox\n",
     "services.web.depends_on.db.restart"),
    ("services:\n  web:\n    image: busybox\n    ports:\n      - {target: 80, mode: host}\n",
     "services.web.ports[0].mode"),
    ("services:\n  web:\n    image: busybox\n    volumes:\n      - {type: volume, source: d,"
     " target: /d, volume: {nocopy: true}}\nvolumes: {d: }\n", "services.web.volumes[0].volume"),
    ("services: {web: {image: busybox}}\nnetworks:\n  front:\n    driver: overlay\n",
     "networks.front.driver"),
    ("services: {web: {image: busybox}}\nnetworks:\n  front:\n    ipam:\n      config:\n"
     "        - subnet: 10.9.0.0/24\n          gateway: 10.9.0.1\n",
     "networks.front.ipam.config[0].gateway"),
    ("services: {web: {image: busybox}}\nvolumes:\n  data:\n    driver: local\n",
     "volumes.data.driver"),
])
def test_unknown_keys_name_their_path(tmp_path: Path, text: str, path: str) -> None:
    assert error_of(tmp_path, text) == f"{path}: unknown key"


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


# ---- the bad inputs of the issue ------------------------------------------------------------

def test_dependency_cycle(tmp_path: Path) -> None:
    msg = error_of(tmp_path, """\
        services:
          a: {image: busybox, depends_on: [b]}
          b: {image: busybox, depends_on: [a]}
        """)
    assert msg == "dependency cycle detected: a -> b -> a"


def test_longer_cycle_and_self_dependency(tmp_path: Path) -> None:
    msg = error_of(tmp_path, """\
        services:
          web: {image: busybox, depends_on: [api]}
          api: {image: busybox, depends_on: {db: {condition: service_started}}}
          db: {image: busybox, depends_on: [api]}
        """)
    assert msg == "dependency cycle detected: api -> db -> api"
    assert error_of(tmp_path, "services: {a: {image: x, depends_on: [a]}}\n") == (
        "dependency cycle detected: a -> a")


def test_unknown_dependency(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "services:\n  web: {image: busybox, depends_on: [db]}\n")
    assert msg == 'service "web" depends on undefined service "db"'


def test_unsupported_dependency_condition(tmp_path: Path) -> None:
    msg = error_of(tmp_path, """\
        services:
          web: {image: busybox, depends_on: {db: {condition: service_healthy}}}
          db: {image: busybox}
        """)
    assert msg == ("services.web.depends_on.db.condition: 'service_healthy' is not supported "
                   "(only service_started)")


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


@pytest.mark.parametrize(("port", "message"), [
    ("70000:80", 'invalid port "70000:80": port numbers must be 1-65535'),
    ("8080:0", 'invalid port "8080:0": port numbers must be 1-65535'),
    ("80:80/udp", 'invalid port "80:80/udp": only tcp can be published'),
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


def test_relative_working_dir_is_refused(tmp_path: Path) -> None:
    assert error_of(tmp_path, "services: {web: {image: x, working_dir: app}}\n") == (
        'services.web.working_dir: "app" must be an absolute path')


def test_more_than_one_network_is_refused(tmp_path: Path) -> None:
    msg = error_of(tmp_path, """\
        services: {web: {image: x, networks: [a, b]}}
        networks: {a: , b: }
        """)
    assert msg == "services.web.networks: a service can join only one network here, got a, b"


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


# ---- order ------------------------------------------------------------------------------------

def test_start_order_puts_dependencies_first_and_keeps_file_order(tmp_path: Path) -> None:
    p = project(tmp_path, """\
        services:
          client: {image: x, depends_on: [web]}
          web: {image: x, depends_on: {db: {condition: service_started}, cache: }}
          other: {image: x}
          db: {image: x}
          cache: {image: x, depends_on: [db]}
        """)
    order = p.order()
    assert order == ["db", "cache", "web", "client", "other"]
    for name, s in p.services.items():
        assert all(order.index(dep) < order.index(name) for dep in s.depends_on)


# ---- environment, commands, ports, mounts, build -------------------------------------------

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


# ---- interpolation ----------------------------------------------------------------------------

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
    assert error_of(tmp_path, "services: {a: {image: x, command: 'echo $'}}\n").startswith(
        'services.a.command: invalid interpolation format "echo $"')


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


# ---- up against a recording fake ---------------------------------------------------------------

class FakeStore:
    def __init__(self, kind: str, log: list[str]) -> None:
        self.kind, self.log, self.items = kind, log, {}

    def create(self, name: str, subnet: str | None = None,
               labels: dict[str, str] | None = None) -> SimpleNamespace:
        self.log.append(f"create {self.kind} {name}" + (f" {subnet}" if subnet else ""))
        self.items[name] = SimpleNamespace(name=name, labels=dict(labels or {}))
        return self.items[name]

    def get(self, name: str) -> SimpleNamespace:
        if name not in self.items:
            raise NotFound(f"{self.kind} {name} not found", 1)
        return self.items[name]

    def list(self) -> list[SimpleNamespace]:
        return list(self.items.values())


class FakeRuntime:
    """Records every call; `fail_start` names a container whose start fails."""

    def __init__(self, images: tuple[str, ...] = ("busybox",), fail_start: str = "") -> None:
        self.log: list[str] = []
        self.networks = FakeStore("network", self.log)
        self.volumes = FakeStore("volume", self.log)
        self.records: dict[str, Any] = {}
        self.known_images = set(images)
        self.fail_start = fail_start
        self.images = SimpleNamespace(get=self.image)

    def image(self, ref: str) -> object:
        if ref not in self.known_images:
            raise NotFound(f"Unable to find image '{ref}:latest' locally")
        return object()

    def create(self, image: str, command: list[str] | None, **kw: Any) -> Any:
        self.log.append(f"create container {kw['name']}")
        c = SimpleNamespace(id=f"id-{kw['name']}", name=kw["name"], image=image,
                            command=command, kw=kw,
                            config=SimpleNamespace(labels=kw["labels"]),
                            state=SimpleNamespace(status="created", exit_code=None))
        self.records[c.id] = c
        return c

    def start(self, c: Any, attach: bool = True) -> None:
        assert attach is False
        if c.name == self.fail_start:
            raise IsobenchError('exec: "/nope": stat /nope: no such file or directory', 127)
        self.log.append(f"start {c.name}")
        c.state.status = "running"

    def list(self, all_: bool = False) -> list[Any]:
        return list(self.records.values())

    def stop(self, ref: str, timeout: float = 10) -> None:
        self.log.append(f"stop {self.records[ref].name}")
        self.records[ref].state.status = "exited"

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        c = self.records.pop(ref)
        self.log.append(f"remove container {c.name}")

    def remove_network(self, name: str) -> None:
        self.log.append(f"remove network {name}")
        del self.networks.items[name]

    def remove_volume(self, name: str) -> None:
        self.log.append(f"remove volume {name}")
        del self.volumes.items[name]


TWO_SERVICES = """\
    services:
      client:
        image: busybox
        command: wget -qO- http://web:8080/
        depends_on: [web]
        networks: [front]
        volumes: [data:/data]
        environment: {A: 1}
      web:
        image: busybox
        ports: ["127.0.0.1:8080:80"]
        networks: [front]
        volumes: [data:/www, ./site:/site:ro]
        working_dir: /www
        hostname: webhost
    volumes:
      data:
    networks:
      front:
        ipam: {config: [{subnet: 10.77.0.0/24}]}
    """


def _up(tmp_path: Path, rt: FakeRuntime, text: str = TWO_SERVICES) -> Compose:
    (tmp_path / "site").mkdir(exist_ok=True)
    p = project(tmp_path, text)
    compose = Compose(rt, p.name, p, say=lambda _line: None)  # type: ignore[arg-type]
    compose.up(detach=True)
    return compose


def test_up_creates_in_order_with_names_labels_and_aliases(tmp_path: Path) -> None:
    rt = FakeRuntime()
    _up(tmp_path, rt)
    assert rt.log == ["create network proj_front 10.77.0.0/24", "create volume proj_data",
                      "create container proj-web-1", "start proj-web-1",
                      "create container proj-client-1", "start proj-client-1"]
    web = rt.records["id-proj-web-1"]
    assert web.kw["labels"]["com.docker.compose.project"] == "proj"
    assert web.kw["labels"]["com.docker.compose.service"] == "web"
    assert web.kw["labels"]["com.docker.compose.container-number"] == "1"
    assert web.kw["aliases"] == ["web"]
    assert web.kw["network"] == "proj_front"
    assert web.kw["volumes"] == ["proj_data:/www", f"{tmp_path / 'site'}:/site:ro"]
    assert web.kw["publish"] == ["127.0.0.1:8080:80/tcp"]
    assert (web.kw["workdir"], web.kw["hostname"]) == ("/www", "webhost")
    client = rt.records["id-proj-client-1"]
    assert client.command == ["wget", "-qO-", "http://web:8080/"]
    assert client.kw["env"] == ["A=1"]
    assert rt.networks.items["proj_front"].labels["com.docker.compose.project"] == "proj"
    assert rt.volumes.items["proj_data"].labels["com.docker.compose.project"] == "proj"


def test_up_again_recreates_and_reuses_network_and_volume(tmp_path: Path) -> None:
    rt = FakeRuntime()
    _up(tmp_path, rt)
    rt.log.clear()
    _up(tmp_path, rt)
    assert sorted(rt.log[:2]) == ["stop proj-client-1", "stop proj-web-1"]  # side by side
    assert rt.log[2:] == ["remove container proj-client-1", "remove container proj-web-1",
                          "create container proj-web-1", "start proj-web-1",
                          "create container proj-client-1", "start proj-client-1"]


def test_failed_start_removes_what_this_up_created(tmp_path: Path) -> None:
    rt = FakeRuntime(fail_start="proj-client-1")
    with pytest.raises(ComposeError) as e:
        _up(tmp_path, rt)
    assert str(e.value) == 'exec: "/nope": stat /nope: no such file or directory'
    assert e.value.exit_code == 1
    assert rt.log[-4:] == ["remove container proj-client-1", "remove container proj-web-1",
                           "remove network proj_front", "remove volume proj_data"]
    assert not rt.records and not rt.networks.items and not rt.volumes.items


def test_failed_up_keeps_what_existed_before(tmp_path: Path) -> None:
    rt = FakeRuntime(fail_start="proj-client-1")
    rt.volumes.create("proj_data", labels={"com.docker.compose.project": "proj"})
    with pytest.raises(ComposeError):
        _up(tmp_path, rt)
    assert "proj_data" in rt.volumes.items
    assert "remove volume proj_data" not in rt.log


def test_missing_image_is_found_before_anything_is_created(tmp_path: Path) -> None:
    rt = FakeRuntime()
    text = TWO_SERVICES.replace("image: busybox\n        command", "image: nosuch\n        command")
    with pytest.raises(ComposeError) as e:
        _up(tmp_path, rt, text)
    assert str(e.value) == "service \"client\": Unable to find image 'nosuch:latest' locally"
    assert rt.log == []


def test_missing_bind_source_is_found_before_anything_is_created(tmp_path: Path) -> None:
    rt = FakeRuntime()
    text = TWO_SERVICES.replace("./site:/site:ro", "./nosuchdir:/site:ro")
    with pytest.raises(ComposeError, match='^service "web": .*bind source path does not exist'):
        _up(tmp_path, rt, text)
    assert rt.log == []


def test_foreign_network_of_the_same_name_is_refused(tmp_path: Path) -> None:
    rt = FakeRuntime()
    rt.networks.create("proj_front")
    rt.log.clear()
    with pytest.raises(ComposeError, match="^network proj_front was found but has incorrect "
                                           'label com.docker.compose.project set to ""$'):
        _up(tmp_path, rt)
    assert rt.log == []


def test_down_removes_only_the_projects_things(tmp_path: Path) -> None:
    rt = FakeRuntime()
    compose = _up(tmp_path, rt)
    rt.networks.create("other_default", labels={"com.docker.compose.project": "other"})
    rt.volumes.create("keep")
    rt.log.clear()
    compose.down(volumes=False)
    assert sorted(rt.log) == sorted([
        "stop proj-client-1", "stop proj-web-1", "remove container proj-client-1",
        "remove container proj-web-1", "remove network proj_front"])
    assert set(rt.volumes.items) == {"proj_data", "keep"}
    compose.down(volumes=True)
    assert set(rt.volumes.items) == {"keep"}
    assert set(rt.networks.items) == {"other_default"}


# ---- logs ---------------------------------------------------------------------------------------

def test_log_tail_joins_partial_lines_and_keeps_streams_apart(tmp_path: Path) -> None:
    rt = SimpleNamespace(containers=SimpleNamespace(path=lambda cid: tmp_path))
    log = tmp_path / "log.json"

    def put(stream: str, text: str, t: float) -> None:
        with open(log, "a") as f:
            f.write(json.dumps({"log": text, "stream": stream, "time": t}) + "\n")

    tail = LogTail(rt, SimpleNamespace(id="x"))  # type: ignore[arg-type]
    assert tail.read() == []
    put("stdout", "one\ntw", 1.0)
    put("stderr", "err\n", 2.0)
    assert tail.read() == [(1.0, "stdout", b"one\n"), (2.0, "stderr", b"err\n")]
    put("stdout", "o\nthree", 3.0)
    with open(log, "a") as f:
        f.write('{"log": "half a rec')  # the writer is mid-record: not read yet
    assert tail.read() == [(3.0, "stdout", b"two\n")]
    assert [(s, line) for _, s, line in tail.flush()] == [("stdout", b"three\n")]


def test_log_prefixes_are_padded_like_compose() -> None:
    out, err = io.BytesIO(), io.BytesIO()
    printer = LogPrinter(["web-1", "client-1"], out, err)
    printer.write("web-1", "stdout", b"hello\n")
    printer.write("client-1", "stderr", b"oops\n")
    assert out.getvalue() == b"web-1     | hello\n"
    assert err.getvalue() == b"client-1  | oops\n"
    single = io.BytesIO()
    LogPrinter(["web-1"], single, err).write("web-1", "stdout", b"x\n")
    assert single.getvalue() == b"web-1  | x\n"


def test_parse_project_accepts_a_preparsed_document(tmp_path: Path) -> None:
    p = parse_project({"services": {"web": {"image": "busybox"}}}, workdir=tmp_path,
                      project="p", host_env={})
    assert list(p.services) == ["web"] and p.name == "p"
