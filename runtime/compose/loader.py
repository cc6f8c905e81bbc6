"""A compose file -> a validated Project: no side effects, nothing touched but the file.

The file is first checked against isobench's JSON Schema of the Compose file format
(schema.py, built from spec_keys.py's table of the documented keys): a key the specification
does not have is "unknown key 'restrat' in service "web" (did you mean 'restart'?)". Then
the subset isobench implements is read: top-level `name`, `services`, `volumes`,
`networks` (and the obsolete `version`, `x-*` extensions);
per service `image`, `build` (context, dockerfile, args), `command`, `entrypoint`,
`environment`, `env_file`, `ports`, `volumes`, `networks`, `network_mode`, `depends_on`
(with its conditions), `working_dir`, `hostname`, `privileged`, `cap_add`, `cap_drop`,
`security_opt`, `restart`, `healthcheck`, `deploy.resources.limits`, `labels`,
`extra_hosts`, `dns`, `ulimits`, `tmpfs`, `init`, `stop_signal`, `stop_grace_period`.
A key of the specification outside that subset is "'configs' is not supported by isobench",
never dropped. String values are interpolated as compose does (`${VAR:-default}`, `$$`),
from the shell's environment over a `.env` file beside the compose file. YAML is read with
YAML 1.2's scalars, as compose reads it. Whatever can be known from the file alone
(dependency cycles and unknown dependencies, a service with nothing to run, references to
undeclared volumes or networks, bad ports and subnets, waiting for the health of a service
without a healthcheck, a missing env_file) is checked here, before `up` creates anything.

Here: the file, its `.env`, the project's name, a service's keys and the top level; the
pieces are yaml, interpolate, schema, fields (one value each), graph (the order) and model.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from runtime import security
from runtime.compose.dotenv import read_env_file
from runtime.compose.errors import ComposeError
from runtime.compose.fields import (
    check_mapping,
    check_resources,
    check_string,
    check_string_list,
    parse_bool,
    parse_build,
    parse_command,
    parse_depends_on,
    parse_deploy,
    parse_dns_key,
    parse_duration_key,
    parse_env_files,
    parse_environment,
    parse_extra_hosts,
    parse_healthcheck,
    parse_labels,
    parse_mount,
    parse_network,
    parse_network_mode,
    parse_port,
    parse_restart_key,
    parse_service_networks,
    parse_stop_signal,
    parse_tmpfs_key,
    parse_ulimits,
    parse_volume,
)
from runtime.compose.graph import start_order
from runtime.compose.interpolate import interpolate
from runtime.compose.model import Dependency, NetworkSpec, Project, Service
from runtime.compose.schema import validate
from runtime.compose.textfile import read_bounded_utf8
from runtime.compose.yaml import parse_yaml

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
DEFAULT_NETWORK = "default"
MAX_FILE_BYTES = 4 << 20  # a compose file is kilobytes; the bound keeps a hostile one cheap
MAX_SERVICES = 1000

_PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_SERVICE_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")

TOP_KEYS = ("version", "name", "services", "volumes", "networks")
SERVICE_KEYS = ("image", "build", "command", "entrypoint", "environment", "ports", "volumes",
                "networks", "depends_on", "working_dir", "hostname", "privileged", "cap_add",
                "cap_drop", "security_opt", "restart", "healthcheck", "deploy", "env_file",
                "extra_hosts", "labels", "dns", "ulimits", "tmpfs", "init", "stop_signal",
                "stop_grace_period", "network_mode")


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


# ---- a service -------------------------------------------------------------------------------

def parse_service(name: str, value: Any, workdir: Path, host_env: dict[str, str]) -> Service:
    path = f"services.{name}"
    if not _SERVICE_RE.match(name):
        raise ComposeError(f"{path}: invalid service name: only [a-zA-Z0-9._-] allowed")
    if value is None:
        value = {}
    spec = check_mapping(value, path, SERVICE_KEYS, extensions=True)
    s = Service(name=name)
    if spec.get("image") is not None:
        s.image = check_string(spec["image"], f"{path}.image")
    if spec.get("build") is not None:
        s.build = parse_build(spec["build"], f"{path}.build", workdir, host_env)
    s.command = parse_command(spec.get("command"), f"{path}.command")
    s.entrypoint = parse_command(spec.get("entrypoint"), f"{path}.entrypoint")
    from_files = parse_env_files(spec.get("env_file"), f"{path}.env_file", workdir, host_env)
    environment = parse_environment(spec.get("environment"), f"{path}.environment", host_env)
    given = {item.partition("=")[0] for item in environment}  # `environment` wins
    s.environment = [f"{k}={v}" for k, v in from_files.items() if k not in given] + environment
    ports = spec.get("ports") or []
    if not isinstance(ports, list):
        raise ComposeError(f"{path}.ports: must be a list")
    s.ports = [spec for i, p in enumerate(ports) for spec in parse_port(p, f"{path}.ports[{i}]")]
    mounts = spec.get("volumes") or []
    if not isinstance(mounts, list):
        raise ComposeError(f"{path}.volumes: must be a list")
    s.volumes = [parse_mount(m, f"{path}.volumes[{i}]", workdir) for i, m in enumerate(mounts)]
    targets = [m.target for m in s.volumes]
    for target in targets:
        if targets.count(target) > 1:
            raise ComposeError(f'{path}.volumes: duplicate mount point "{target}"')
    if spec.get("networks") is not None:
        s.networks = parse_service_networks(spec["networks"], f"{path}.networks")
    if spec.get("network_mode") is not None:
        s.network_mode = parse_network_mode(spec["network_mode"], f"{path}.network_mode")
        if s.networks:
            raise ComposeError(f'service "{name}" declares mutually exclusive `network_mode` '
                               "and `networks`")
        if s.network_mode == "bridge":
            s.network_mode = None
    if not s.networks and s.network_mode is None:
        s.networks = [DEFAULT_NETWORK]
    if spec.get("depends_on") is not None:
        s.dependencies = parse_depends_on(spec["depends_on"], f"{path}.depends_on")
    if s.network_mode and s.network_mode.startswith("service:"):
        # compose's implicit dependency: the other service's network must exist first
        s.dependencies.setdefault(s.network_mode[8:], Dependency())
        if s.ports:
            raise ComposeError(f'service "{name}": ports cannot be published with '
                               f"network_mode {s.network_mode} (publish them on "
                               f'"{s.network_mode[8:]}")')
    s.depends_on = list(s.dependencies)
    if spec.get("working_dir") is not None:
        s.working_dir = check_string(spec["working_dir"], f"{path}.working_dir")
        if not s.working_dir.startswith("/"):
            raise ComposeError(f'{path}.working_dir: "{s.working_dir}" must be an absolute '
                               "path")
    if spec.get("hostname") is not None:
        s.hostname = check_string(spec["hostname"], f"{path}.hostname")
    _hardening(s, spec, path)
    _run_options(s, spec, path)
    if s.image is None and s.build is None:
        raise ComposeError(f'service "{name}" has neither an image nor a build context '
                           "specified")
    return s


def _run_options(s: Service, spec: dict[str, Any], path: str) -> None:
    """The keys `run` has a flag for: restart, healthcheck, deploy (limits), labels, ..."""
    if spec.get("restart") is not None:
        s.restart = parse_restart_key(spec["restart"], f"{path}.restart")
    if spec.get("healthcheck") is not None:
        s.healthcheck = parse_healthcheck(spec["healthcheck"], f"{path}.healthcheck")
    s.limits = parse_deploy(spec.get("deploy"), f"{path}.deploy")
    s.labels = parse_labels(spec.get("labels"), f"{path}.labels")
    s.extra_hosts = parse_extra_hosts(spec.get("extra_hosts"), f"{path}.extra_hosts")
    s.dns = parse_dns_key(spec.get("dns"), f"{path}.dns")
    s.ulimits = parse_ulimits(spec.get("ulimits"), f"{path}.ulimits")
    s.tmpfs = parse_tmpfs_key(spec.get("tmpfs"), f"{path}.tmpfs")
    if spec.get("init") is not None:
        s.init = parse_bool(spec["init"], f"{path}.init")
    if spec.get("stop_signal") is not None:
        s.stop_signal = parse_stop_signal(spec["stop_signal"], f"{path}.stop_signal")
    if spec.get("stop_grace_period") is not None:
        s.stop_grace_period = parse_duration_key(spec["stop_grace_period"],
                                                 f"{path}.stop_grace_period")


def _hardening(s: Service, spec: dict[str, Any], path: str) -> None:
    """privileged, cap_add, cap_drop, security_opt: checked now, as `run` would check them."""
    privileged = parse_bool(spec.get("privileged", False), f"{path}.privileged")
    sec = s.security
    sec.privileged = privileged
    for key in ("cap_add", "cap_drop", "security_opt"):
        if spec.get(key) is not None:
            setattr(sec, key, check_string_list(spec[key], f"{path}.{key}"))
    try:
        security.hardening(sec.privileged, sec.cap_add, sec.cap_drop, sec.security_opt)
    except ValueError as e:
        raise ComposeError(f"{path}: {e}") from None


# ---- the whole file --------------------------------------------------------------------------

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
    validate(data)  # the Compose Specification's schema: unknown keys, wrong shapes
    doc = check_mapping(data, "", TOP_KEYS, extensions=True)
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
    if len(services) > MAX_SERVICES:
        raise ComposeError(f"services: {len(services)} services, more than isobench's bound "
                           f"of {MAX_SERVICES}")
    for name, value in services.items():
        if not isinstance(name, str):
            raise ComposeError(f"services: key {name!r} must be a string")
        proj.services[name] = parse_service(name, value, workdir, host_env)
    proj.networks = {k: parse_network(k, v)
                     for k, v in check_resources(doc.get("networks"), "networks").items()}
    proj.volumes = {k: parse_volume(k, v)
                    for k, v in check_resources(doc.get("volumes"), "volumes").items()}
    if DEFAULT_NETWORK not in proj.networks:
        proj.networks[DEFAULT_NETWORK] = NetworkSpec(name=DEFAULT_NETWORK)
    for s in proj.services.values():
        for dep, cond in s.dependencies.items():
            target = proj.services.get(dep)
            if (cond.condition == "service_healthy" and target is not None
                    and (target.healthcheck is None or target.healthcheck.disabled)):
                raise ComposeError(f'service "{s.name}" depends on "{dep}" being healthy, but '
                                   f'"{dep}" has no healthcheck')
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
        text = read_bounded_utf8(path, MAX_FILE_BYTES, shown)
    except FileNotFoundError:
        raise ComposeError(f"open {shown}: no such file or directory") from None
    except OSError as e:
        raise ComposeError(f"open {shown}: {e.strerror}") from None
    workdir = Path(os.path.abspath(path)).parent
    if host_env is None:
        host_env = {**read_env_file(workdir / ".env", dict(os.environ)), **os.environ}
    return parse_project(parse_yaml(text, shown), workdir=workdir, project=project,
                         config_file=Path(os.path.abspath(path)), host_env=host_env)
