"""A compose file -> a validated Project: no side effects, nothing touched but the file.

The subset: top-level `name`, `services`, `volumes`, `networks` (and the obsolete
`version`, `x-*` extensions); per service `image`, `build`, `command`, `entrypoint`,
`environment`, `ports`, `volumes`, `networks`, `depends_on`, `working_dir`, `hostname`,
`privileged`, `cap_add`, `cap_drop`, `security_opt`.
Every other key is an error naming its path (`services.web.bogus: unknown key`), never
dropped. String values are interpolated as compose does (`${VAR:-default}`, `$$`), from
the shell's environment over a `.env` file beside the compose file. YAML is read with
YAML 1.2's scalars, as compose reads it. Whatever can be known from the file alone
(dependency cycles and unknown dependencies, a service with nothing to run, references to
undeclared volumes or networks, bad ports and subnets) is checked here, before `up`
creates anything.

Names follow Docker compose: containers `<project>-<service>-1`, networks and volumes
`<project>_<name>`, built images `<project>-<service>`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runtime import security
from runtime.errors import IsobenchError

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
DEFAULT_NETWORK = "default"
EXIT_COMPOSE = 1  # docker compose's code for an invalid project

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_WORKDIR = "com.docker.compose.project.working_dir"
LABEL_FILES = "com.docker.compose.project.config_files"
LABEL_NETWORK = "com.docker.compose.network"
LABEL_VOLUME = "com.docker.compose.volume"

_PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_SERVICE_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
_RESOURCE_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
_ENV_KEY_RE = re.compile(r"^[^=\s]+$")
_PORT_RE = re.compile(r"^(?:(?:(?P<ip>[0-9.]+):)?(?P<host>\d*):)?(?P<target>\d+)"
                      r"(?:/(?P<proto>\w+))?$")

TOP_KEYS = ("version", "name", "services", "volumes", "networks")
SERVICE_KEYS = ("image", "build", "command", "entrypoint", "environment", "ports", "volumes",
                "networks", "depends_on", "working_dir", "hostname", "privileged", "cap_add",
                "cap_drop", "security_opt")


class ComposeError(IsobenchError):
    exit_code = EXIT_COMPOSE


# ---- YAML --------------------------------------------------------------------------------

class _Loader(yaml.SafeLoader):
    """SafeLoader without the YAML 1.1 traps that compose's YAML 1.2 parser does not have:
    `8080:80` is a string (1.1 reads a base-60 integer), `OFF` is a string (1.1 reads a
    boolean), and a key given twice is an error (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"mapping key {key!r} already defined at line {seen[key]}",
                    key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_INT = re.compile(r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""", re.X)
_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)


_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


def _yaml_12_scalars() -> None:
    """PyYAML's resolvers made YAML 1.2's where they differ, order kept: no base-60 ints
    or floats, and only true/false are booleans (`on`, `off`, `yes`, `no` are strings)."""
    swap = {"tag:yaml.org,2002:int": _INT, "tag:yaml.org,2002:float": _FLOAT,
            "tag:yaml.org,2002:bool": _BOOL}
    _Loader.yaml_implicit_resolvers = {
        first: [(tag, swap.get(tag, regexp)) for tag, regexp in entries]
        for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()}


_yaml_12_scalars()


def parse_yaml(text: str, shown: str) -> Any:
    """The document, or one line `FILE:LINE: problem`."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        if e.context and e.problem and not e.context.startswith("while "):
            problem = f"{e.context}: {e.problem}"
        where = f"{shown}:{mark.line + 1}" if mark else shown
        raise ComposeError(f"{where}: {problem}") from None
    except yaml.YAMLError as e:
        raise ComposeError(f"{shown}: {e}") from None


# ---- interpolation -----------------------------------------------------------------------

_VAR_RE = re.compile(r"""\$(?:
    (?P<escaped>\$)
  | (?P<named>[_a-zA-Z][_a-zA-Z0-9]*)
  | \{(?P<braced>[_a-zA-Z][_a-zA-Z0-9]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}
  | (?P<invalid>)
)""", re.X)


def read_env_file(path: Path) -> dict[str, str]:
    """compose's `.env` beside the file: KEY=VALUE lines, # comments, optional quotes."""
    out: dict[str, str] = {}
    try:
        text = path.read_text()
    except OSError:
        return out
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.removeprefix("export ").partition("=")
        key = key.strip()
        if not eq or not re.fullmatch(r"[_a-zA-Z][_a-zA-Z0-9.-]*", key):
            raise ComposeError(f"{path}:{n}: unexpected line {line!r}: KEY=VALUE expected")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        out[key] = value
    return out


def interpolate(value: Any, env: dict[str, str], path: str = "",
                warnings: list[str] | None = None) -> Any:
    """compose's variable substitution in every string value (never in keys): `$VAR`,
    `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
    `${VAR:+alt}`, `${VAR+alt}`; `$$` is a literal `$`. An unset variable is blank, with a
    warning."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{path}.{k}" if path else str(k), warnings)
                for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{path}[{i}]", warnings) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def sub(m: re.Match[str]) -> str:
        if m["escaped"] is not None:
            return "$"
        if m["invalid"] is not None:
            raise ComposeError(f'{path}: invalid interpolation format "{value}": you may need '
                               "to escape any $ with another $")
        name = m["named"] or m["braced"]
        op, arg = m["op"], m["arg"] or ""
        is_set = name in env
        is_nonempty = bool(env.get(name))
        if op in (":-", "-"):
            return env[name] if (is_nonempty if op == ":-" else is_set) else arg
        if op in (":?", "?"):
            if not (is_nonempty if op == ":?" else is_set):
                raise ComposeError(f"{path}: required variable {name} is missing a value"
                                   + (f": {arg}" if arg else ""))
            return env[name]
        if op in (":+", "+"):
            return arg if (is_nonempty if op == ":+" else is_set) else ""
        if not is_set and warnings is not None:
            warning = f'the "{name}" variable is not set. Defaulting to a blank string.'
            if warning not in warnings:
                warnings.append(warning)
        return env.get(name, "")

    return _VAR_RE.sub(sub, value)


# ---- the model -------------------------------------------------------------------------------

@dataclass
class BuildSpec:
    context: Path
    dockerfile: Path | None = None


@dataclass
class Mount:
    """A service's volume entry: a named volume (key in the project's volumes), an anonymous
    one (source ""), or a bind."""

    source: str            # volume key, "" (anonymous), or an absolute host path (bind)
    target: str
    read_only: bool = False
    bind: bool = False


@dataclass
class Service:
    name: str
    image: str | None = None
    build: BuildSpec | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: list[str] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)
    volumes: list[Mount] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    working_dir: str | None = None
    hostname: str | None = None
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)


@dataclass
class NetworkSpec:
    name: str
    subnet: str | None = None


@dataclass
class VolumeSpec:
    name: str


@dataclass
class Project:
    name: str
    workdir: Path
    config_file: Path | None = None
    services: dict[str, Service] = field(default_factory=dict)
    networks: dict[str, NetworkSpec] = field(default_factory=dict)
    volumes: dict[str, VolumeSpec] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    # Docker compose's names for what the project owns.
    def container_name(self, service: str, number: int = 1) -> str:
        return f"{self.name}-{service}-{number}"

    def network_name(self, key: str) -> str:
        return f"{self.name}_{key}"

    def volume_name(self, key: str) -> str:
        return f"{self.name}_{key}"

    def image_tag(self, service: str) -> str:
        """The image a service runs: its `image`, built under that name when it also has a
        `build`, else `<project>-<service>` for a build."""
        s = self.services[service]
        return s.image or f"{self.name}-{service}"

    def order(self) -> list[str]:
        return start_order(self.services)

    def used_networks(self) -> list[str]:
        used: list[str] = []
        for s in self.services.values():
            used += [n for n in s.networks if n not in used]
        return used

    def used_volumes(self) -> list[str]:
        used: list[str] = []
        for s in self.services.values():
            for m in s.volumes:
                if not m.bind and m.source and m.source not in used:
                    used.append(m.source)
        return used


# ---- project names ---------------------------------------------------------------------------

def normalize_project_name(name: str) -> str:
    """compose's rule for a directory name: lower case, only [a-z0-9_-], starting with a
    letter or digit."""
    return re.sub(r"[^a-z0-9_-]", "", name.lower()).lstrip("_-")


def check_project_name(name: str) -> str:
    if not _PROJECT_RE.match(name):
        raise ComposeError(f'"{name}" is not a valid project name: it must contain only '
                           "characters from [a-z0-9_-] and start with [a-z0-9]")
    return name


def project_name(explicit: str | None, top_level: Any, workdir: Path) -> str:
    """-p (or COMPOSE_PROJECT_NAME), else the file's `name`, else its directory's name."""
    if explicit:
        return check_project_name(explicit)
    if top_level is not None:
        if not isinstance(top_level, str):
            raise ComposeError("name: must be a string")
        return check_project_name(top_level)
    derived = normalize_project_name(workdir.name)
    if not derived:
        raise ComposeError(f"project name derived from directory {str(workdir)!r} is empty: "
                           "use -p or a top-level name")
    return derived


def find_file(explicit: str | None, cwd: Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    cwd = cwd or Path.cwd()
    for name in DEFAULT_FILES:
        if (cwd / name).is_file():
            return cwd / name
    raise ComposeError("no configuration file provided: not found")


# ---- validation helpers -----------------------------------------------------------------------

def _mapping(value: Any, path: str, allowed: tuple[str, ...], extensions: bool = False
             ) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ComposeError(f"{path}: must be a mapping")
    for key in value:
        if not isinstance(key, str):
            raise ComposeError(f"{path}: key {key!r} must be a string")
        if key in allowed or (extensions and key.startswith("x-")):
            continue
        raise ComposeError(f"{path}.{key}: unknown key" if path else f"{key}: unknown key")
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise ComposeError(f"{path}: must be a string")
    return value


def _string_list(value: Any, path: str) -> list[str]:
    if not isinstance(value, list):
        raise ComposeError(f"{path}: must be a list")
    for i, item in enumerate(value):
        _string(item, f"{path}[{i}]")
    return list(value)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _command(value: Any, path: str) -> list[str] | None:
    """A string is split as a shell would (without running one); a list is taken as is."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as e:
            raise ComposeError(f"{path}: invalid command line: {e}") from None
    return _string_list(value, path)


def parse_environment(value: Any, path: str, host_env: dict[str, str]) -> list[str]:
    """A list of `K=V` (or `K`) or a mapping K: V; a key without a value takes the host's
    value and is left out when the host has none (compose's rule)."""
    out: dict[str, str] = {}

    def put(key: str, val: Any, where: str) -> None:
        if not key or not _ENV_KEY_RE.match(key):
            raise ComposeError(f"{where}: invalid variable name {key!r}")
        if val is None:
            if key in host_env:
                out[key] = f"{key}={host_env[key]}"
            else:
                out.pop(key, None)
            return
        if isinstance(val, dict | list):
            raise ComposeError(f"{where}: must be a string, number, boolean or null")
        out[key] = f"{key}={_scalar_text(val)}"

    if value is None:
        return []
    if isinstance(value, dict):
        for key, val in value.items():
            if not isinstance(key, str):
                raise ComposeError(f"{path}: key {key!r} must be a string")
            put(key, val, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            item = _string(item, f"{path}[{i}]")
            key, eq, val = item.partition("=")
            put(key, val if eq else None, f"{path}[{i}]")
    else:
        raise ComposeError(f"{path}: must be a mapping or a list")
    return list(out.values())


def _port_number(text: str, path: str, raw: str) -> int:
    n = int(text)
    if not 1 <= n <= 65535:
        raise ComposeError(f'{path}: invalid port "{raw}": port numbers must be 1-65535')
    return n


def parse_port(value: Any, path: str) -> str:
    """-> Docker's -p spec `[IP:][HOSTPORT]:PORT/tcp`, or `PORT/tcp` for an ephemeral host
    port. Short syntax (`"8080:80"`, `"127.0.0.1:8080:80/tcp"`, `80`) or the long mapping
    {target, published, host_ip, protocol}."""
    if isinstance(value, dict):
        spec = _mapping(value, path, ("target", "published", "host_ip", "protocol"))
        if "target" not in spec:
            raise ComposeError(f"{path}.target: required")
        ip, published = spec.get("host_ip"), spec.get("published")
        text = f"{spec['target']}/{spec.get('protocol', 'tcp')}"
        if published is not None:
            text = f"{published}:{text}"
        value = f"{ip}:{text if published is not None else ':' + text}" if ip else text
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ComposeError(f"{path}: must be a string, a number or a mapping")
    raw = str(value)
    m = _PORT_RE.match(raw)
    if not m:
        raise ComposeError(f'{path}: invalid port "{raw}"')
    proto = (m["proto"] or "tcp").lower()
    if proto != "tcp":
        raise ComposeError(f'{path}: invalid port "{raw}": only tcp can be published')
    target = _port_number(m["target"], path, raw)
    host = _port_number(m["host"], path, raw) if m["host"] else None
    ip = m["ip"]
    if ip:
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            raise ComposeError(f'{path}: invalid port "{raw}": bad host IP "{ip}"') from None
    if ip:
        return f"{ip}:{host or ''}:{target}/{proto}"
    return f"{host}:{target}/{proto}" if host else f"{target}/{proto}"


def _is_path(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def parse_mount(value: Any, path: str, workdir: Path) -> Mount:
    """Short syntax `SOURCE:TARGET[:ro|rw]` (or `TARGET` alone: an anonymous volume) or the
    long mapping {type, source, target, read_only}. A source that starts with `.`, `/` or `~`
    is a host path (a relative one is resolved against the compose file's directory),
    anything else a named volume declared at the top level."""
    if isinstance(value, dict):
        spec = _mapping(value, path, ("type", "source", "target", "read_only"))
        kind = spec.get("type", "volume")
        if kind not in ("volume", "bind"):
            raise ComposeError(f"{path}.type: must be volume or bind")
        source = _string(spec.get("source", ""), f"{path}.source")
        if kind == "bind" and not source:
            raise ComposeError(f"{path}.source: required for a bind")
        target = _string(spec.get("target"), f"{path}.target")
        read_only = spec.get("read_only", False)
        if not isinstance(read_only, bool):
            raise ComposeError(f"{path}.read_only: must be a boolean")
        bind = kind == "bind"
    else:
        text = _string(value, path)
        parts = text.split(":")
        if len(parts) > 3:
            raise ComposeError(f'{path}: invalid volume specification "{text}"')
        if len(parts) == 1:  # an anonymous volume
            parts = ["", *parts]
        source, target = parts[0], parts[1]
        if not source and len(parts) > 2:
            raise ComposeError(f'{path}: invalid volume specification "{text}"')
        mode = parts[2] if len(parts) == 3 else "rw"
        if mode not in ("ro", "rw"):
            raise ComposeError(f'{path}: invalid mode "{mode}" in "{text}": ro or rw')
        read_only = mode == "ro"
        bind = _is_path(source)
    if not target.startswith("/"):
        raise ComposeError(f'{path}: invalid mount target "{target}": must be an absolute path')
    if bind:
        host = Path(os.path.expanduser(source))
        source = os.path.normpath(host if host.is_absolute() else workdir / host)
    elif source and not _RESOURCE_RE.match(source):
        raise ComposeError(f'{path}: invalid volume name "{source}"')
    return Mount(source=source, target=target, read_only=read_only, bind=bind)


def parse_build(value: Any, path: str, workdir: Path) -> BuildSpec:
    """A context directory, or {context, dockerfile}; the Dockerfile is relative to the
    context, the context to the compose file's directory."""
    if isinstance(value, str):
        context, dockerfile = value, None
    else:
        spec = _mapping(value, path, ("context", "dockerfile"))
        context = _string(spec.get("context", "."), f"{path}.context")
        dockerfile = spec.get("dockerfile")
        if dockerfile is not None:
            _string(dockerfile, f"{path}.dockerfile")
    ctx = Path(os.path.expanduser(context))
    ctx = Path(os.path.normpath(ctx if ctx.is_absolute() else workdir / ctx))
    df = None
    if dockerfile:
        df_path = Path(dockerfile)
        df = Path(os.path.normpath(df_path if df_path.is_absolute() else ctx / df_path))
    return BuildSpec(context=ctx, dockerfile=df)


def _depends_on(value: Any, path: str) -> list[str]:
    if isinstance(value, list):
        return _string_list(value, path)
    if isinstance(value, dict):
        out = []
        for dep, spec in value.items():
            if not isinstance(dep, str):
                raise ComposeError(f"{path}: key {dep!r} must be a string")
            if spec is not None:
                spec = _mapping(spec, f"{path}.{dep}", ("condition",))
                cond = spec.get("condition", "service_started")
                if cond != "service_started":
                    raise ComposeError(f"{path}.{dep}.condition: {cond!r} is not supported "
                                       "(only service_started)")
            out.append(dep)
        return out
    raise ComposeError(f"{path}: must be a list or a mapping")


def _service_networks(value: Any, path: str) -> list[str]:
    """A list of network keys (or the mapping form with null values). The runtime joins a
    container to one network, so more than one is refused rather than half-honoured."""
    if isinstance(value, dict):
        for key, spec in value.items():
            if spec is not None:
                raise ComposeError(f"{path}.{key}: per-network options are not supported")
        names = [str(k) for k in value]
    else:
        names = _string_list(value, path)
    if len(names) > 1:
        raise ComposeError(f"{path}: a service can join only one network here, got "
                           f"{', '.join(names)}")
    return names


def parse_service(name: str, value: Any, workdir: Path, host_env: dict[str, str]) -> Service:
    path = f"services.{name}"
    if not _SERVICE_RE.match(name):
        raise ComposeError(f"{path}: invalid service name: only [a-zA-Z0-9._-] allowed")
    if value is None:
        value = {}
    spec = _mapping(value, path, SERVICE_KEYS, extensions=True)
    s = Service(name=name)
    if spec.get("image") is not None:
        s.image = _string(spec["image"], f"{path}.image")
    if spec.get("build") is not None:
        s.build = parse_build(spec["build"], f"{path}.build", workdir)
    s.command = _command(spec.get("command"), f"{path}.command")
    s.entrypoint = _command(spec.get("entrypoint"), f"{path}.entrypoint")
    s.environment = parse_environment(spec.get("environment"), f"{path}.environment",
                                      host_env)
    ports = spec.get("ports") or []
    if not isinstance(ports, list):
        raise ComposeError(f"{path}.ports: must be a list")
    s.ports = [parse_port(p, f"{path}.ports[{i}]") for i, p in enumerate(ports)]
    mounts = spec.get("volumes") or []
    if not isinstance(mounts, list):
        raise ComposeError(f"{path}.volumes: must be a list")
    s.volumes = [parse_mount(m, f"{path}.volumes[{i}]", workdir) for i, m in enumerate(mounts)]
    targets = [m.target for m in s.volumes]
    for target in targets:
        if targets.count(target) > 1:
            raise ComposeError(f'{path}.volumes: duplicate mount point "{target}"')
    if spec.get("networks") is not None:
        s.networks = _service_networks(spec["networks"], f"{path}.networks")
    if not s.networks:
        s.networks = [DEFAULT_NETWORK]
    if spec.get("depends_on") is not None:
        s.depends_on = _depends_on(spec["depends_on"], f"{path}.depends_on")
    if spec.get("working_dir") is not None:
        s.working_dir = _string(spec["working_dir"], f"{path}.working_dir")
        if not s.working_dir.startswith("/"):
            raise ComposeError(f'{path}.working_dir: "{s.working_dir}" must be an absolute '
                               "path")
    if spec.get("hostname") is not None:
        s.hostname = _string(spec["hostname"], f"{path}.hostname")
    _hardening(s, spec, path)
    if s.image is None and s.build is None:
        raise ComposeError(f'service "{name}" has neither an image nor a build context '
                           "specified")
    return s


def _hardening(s: Service, spec: dict[str, Any], path: str) -> None:
    """privileged, cap_add, cap_drop, security_opt: checked now, as `run` would check them."""
    privileged = spec.get("privileged", False)
    if not isinstance(privileged, bool):
        raise ComposeError(f"{path}.privileged: must be a boolean")
    s.privileged = privileged
    for key in ("cap_add", "cap_drop", "security_opt"):
        if spec.get(key) is not None:
            setattr(s, key, _string_list(spec[key], f"{path}.{key}"))
    try:
        security.hardening(s.privileged, s.cap_add, s.cap_drop, s.security_opt)
    except ValueError as e:
        raise ComposeError(f"{path}: {e}") from None


def _network(key: str, value: Any) -> NetworkSpec:
    path = f"networks.{key}"
    if value is None:
        return NetworkSpec(name=key)
    spec = _mapping(value, path, ("ipam",))
    subnet = None
    if spec.get("ipam") is not None:
        ipam = _mapping(spec["ipam"], f"{path}.ipam", ("driver", "config"))
        if ipam.get("driver", "default") != "default":
            raise ComposeError(f"{path}.ipam.driver: only the default driver is supported")
        configs = ipam.get("config") or []
        if not isinstance(configs, list):
            raise ComposeError(f"{path}.ipam.config: must be a list")
        if len(configs) > 1:
            raise ComposeError(f"{path}.ipam.config: only one subnet is supported")
        for i, cfg in enumerate(configs):
            cpath = f"{path}.ipam.config[{i}]"
            cfg = _mapping(cfg, cpath, ("subnet",))
            if cfg.get("subnet") is not None:
                subnet = _string(cfg["subnet"], f"{cpath}.subnet")
                try:
                    ipaddress.ip_network(subnet)
                except ValueError as e:
                    raise ComposeError(f'{cpath}.subnet: invalid subnet "{subnet}": {e}'
                                       ) from None
    return NetworkSpec(name=key, subnet=subnet)


def _volume(key: str, value: Any) -> VolumeSpec:
    if value is not None:
        _mapping(value, f"volumes.{key}", ())
    return VolumeSpec(name=key)


def _resources(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ComposeError(f"{path}: must be a mapping")
    for key in value:
        if not isinstance(key, str):
            raise ComposeError(f"{path}: key {key!r} must be a string")
        if not _RESOURCE_RE.match(key):
            raise ComposeError(f"{path}.{key}: invalid name")
    return value


# ---- dependency order ----------------------------------------------------------------------

def start_order(services: dict[str, Service]) -> list[str]:
    """Dependencies first, otherwise the file's order; a cycle is reported as the path that
    closes it (`a -> b -> a`)."""
    for s in services.values():
        for dep in s.depends_on:
            if dep not in services:
                raise ComposeError(f'service "{s.name}" depends on undefined service "{dep}"')
    order: list[str] = []
    done: set[str] = set()
    stack: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in stack:
            cycle = [*stack[stack.index(name):], name]
            raise ComposeError(f"dependency cycle detected: {' -> '.join(cycle)}")
        stack.append(name)
        for dep in services[name].depends_on:
            visit(dep)
        stack.pop()
        done.add(name)
        order.append(name)

    for name in services:
        visit(name)
    return order


# ---- the whole file ------------------------------------------------------------------------------

def parse_project(data: Any, *, workdir: Path, project: str | None = None,
                  config_file: Path | None = None, host_env: dict[str, str] | None = None
                  ) -> Project:
    """Validate a parsed document. host_env (the shell's environment, with a `.env` file's
    values under it) feeds interpolation and `environment` keys given without a value."""
    if data is None:
        raise ComposeError("empty compose file")
    host_env = dict(os.environ) if host_env is None else host_env
    warnings: list[str] = []
    data = interpolate(data, host_env, "", warnings)
    doc = _mapping(data, "", TOP_KEYS, extensions=True)
    proj = Project(name=project_name(project, doc.get("name"), workdir), workdir=workdir,
                   config_file=config_file, warnings=warnings)
    if "version" in doc:
        proj.warnings.append("the attribute `version` is obsolete, it will be ignored")
    services = doc.get("services")
    if not services:
        if services is not None and not isinstance(services, dict):
            raise ComposeError("services: must be a mapping")
        raise ComposeError("services: no services defined")
    if not isinstance(services, dict):
        raise ComposeError("services: must be a mapping")
    for name, value in services.items():
        if not isinstance(name, str):
            raise ComposeError(f"services: key {name!r} must be a string")
        proj.services[name] = parse_service(name, value, workdir, host_env)
    proj.networks = {k: _network(k, v)
                     for k, v in _resources(doc.get("networks"), "networks").items()}
    proj.volumes = {k: _volume(k, v)
                    for k, v in _resources(doc.get("volumes"), "volumes").items()}
    if DEFAULT_NETWORK not in proj.networks:
        proj.networks[DEFAULT_NETWORK] = NetworkSpec(name=DEFAULT_NETWORK)
    for s in proj.services.values():
        for net in s.networks:
            if net not in proj.networks:
                raise ComposeError(f'service "{s.name}" refers to undefined network "{net}"')
        for m in s.volumes:
            if not m.bind and m.source and m.source not in proj.volumes:
                raise ComposeError(f'service "{s.name}" refers to undefined volume '
                                   f'"{m.source}"')
    start_order(proj.services)
    return proj


def load(path: Path, project: str | None = None, host_env: dict[str, str] | None = None
         ) -> Project:
    """Read, parse and validate a compose file (`.env` beside it read as compose does)."""
    shown = str(path)
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ComposeError(f"open {shown}: no such file or directory") from None
    except OSError as e:
        raise ComposeError(f"open {shown}: {e.strerror}") from None
    workdir = Path(os.path.abspath(path)).parent
    if host_env is None:
        host_env = {**read_env_file(workdir / ".env"), **os.environ}
    return parse_project(parse_yaml(text, shown), workdir=workdir, project=project,
                         config_file=Path(os.path.abspath(path)), host_env=host_env)
