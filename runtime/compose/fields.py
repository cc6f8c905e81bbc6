"""One value of a compose file checked and converted, each error naming its path
(`services.web.ports[0]: invalid port "abc"`): the shape checks, and the forms of a
command, environment, ports, mounts, build, depends_on, a service's networks, and the
top-level networks and volumes."""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
from pathlib import Path
from typing import Any

from runtime.compose.dotenv import MAX_ENV_FILE_BYTES, parse_env
from runtime.compose.errors import ComposeError
from runtime.compose.model import CONDITIONS, BuildSpec, Dependency, Mount, NetworkSpec, VolumeSpec
from runtime.compose.textfile import read_bounded_utf8
from runtime.health import Healthcheck, parse_test
from runtime.limits import Limits
from runtime.options import (
    RestartPolicy,
    Ulimit,
    parse_dns,
    parse_duration,
    parse_extra_host,
    parse_restart,
    parse_signal,
    parse_tmpfs,
    ulimit,
)

_RESOURCE_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")
_ENV_KEY_RE = re.compile(r"^[^=\s]+$")
_PORT_RE = re.compile(r"^(?:(?:(?P<ip>[0-9.]+):)?(?P<host>\d*(?:-\d+)?):)?"
                      r"(?P<target>\d+(?:-\d+)?)(?:/(?P<proto>\w+))?$")


# ---- shapes ----------------------------------------------------------------------------------

def check_mapping(value: Any, path: str, allowed: tuple[str, ...], extensions: bool = False
                  ) -> dict[str, Any]:
    """A mapping of string keys, each in `allowed` (or `x-*` with extensions). The schema
    (runtime.compose.schema) has refused keys the specification does not have, so a key
    left over here is one isobench does not implement."""
    if not isinstance(value, dict):
        raise ComposeError(f"{path}: must be a mapping")
    for key in value:
        if not isinstance(key, str):
            raise ComposeError(f"{path}: key {key!r} must be a string")
        if key in allowed or (extensions and key.startswith("x-")):
            continue
        raise ComposeError(f"'{key}' is not supported by isobench" if not path else
                           f"'{key}' in {where(path)} is not supported by isobench")
    return value


def where(path: str) -> str:
    """`service "web"` for services.web, `service "web" at build` deeper, else the path."""
    parts = path.split(".", 2)
    if parts[0] == "services" and len(parts) > 1:
        name = parts[1].split("[", 1)[0]
        rest = path[len("services.") + len(name):].lstrip(".")
        return f'service "{name}"' + (f" at {rest}" if rest else "")
    return path


def check_string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise ComposeError(f"{path}: must be a string")
    return value


def check_string_list(value: Any, path: str) -> list[str]:
    """A list of strings, copied."""
    if not isinstance(value, list):
        raise ComposeError(f"{path}: must be a list")
    for i, item in enumerate(value):
        check_string(item, f"{path}[{i}]")
    return list(value)


# ---- a service's values ----------------------------------------------------------------------

def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_command(value: Any, path: str) -> list[str] | None:
    """A string is split as a shell would (without running one); a list is taken as is."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as e:
            raise ComposeError(f"{path}: invalid command line: {e}") from None
    return check_string_list(value, path)


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
            item = check_string(item, f"{path}[{i}]")
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


def _port_range(text: str, path: str, raw: str) -> list[int]:
    first, _, last = text.partition("-")
    lo = _port_number(first, path, raw)
    hi = _port_number(last, path, raw) if last else lo
    if hi < lo:
        raise ComposeError(f'{path}: invalid port "{raw}": invalid range {text}')
    return list(range(lo, hi + 1))


def parse_port(value: Any, path: str) -> list[str]:
    """-> Docker's -p specs `[IP:][HOSTPORT]:PORT/tcp`, or `PORT/tcp` for an ephemeral host
    port, one per port of a range (`"80-82:8080-8082"` is three, as docker/go-connections'
    ParsePortSpec expands it). Short syntax (`"8080:80"`, `"127.0.0.1:8080:80/tcp"`, `80`)
    or the long mapping {target, published, host_ip, protocol}. Only tcp: the port proxy
    (runtime.ports) relays TCP streams."""
    if isinstance(value, dict):
        spec = check_mapping(value, path, ("target", "published", "host_ip", "protocol"))
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
        raise ComposeError(f'{path}: port "{raw}": protocol {proto} is not supported by '
                           "isobench (its port proxy relays tcp only)")
    targets = _port_range(m["target"], path, raw)
    hosts = _port_range(m["host"], path, raw) if m["host"] else None
    if hosts is not None and len(hosts) != len(targets):
        if len(targets) > 1:
            raise ComposeError(f'{path}: invalid port "{raw}": invalid ranges specified for '
                               f'container and host Ports: {m["target"]} and {m["host"]}')
        raise ComposeError(f'{path}: port "{raw}": a host port range for one container port '
                           "is not supported by isobench")
    ip = m["ip"]
    if ip:
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            raise ComposeError(f'{path}: invalid port "{raw}": bad host IP "{ip}"') from None
    out = []
    for k, target in enumerate(targets):
        host = hosts[k] if hosts else None
        if ip:
            out.append(f"{ip}:{host or ''}:{target}/{proto}")
        else:
            out.append(f"{host}:{target}/{proto}" if host else f"{target}/{proto}")
    return out


def _is_path(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def parse_mount(value: Any, path: str, workdir: Path) -> Mount:
    """Short syntax `SOURCE:TARGET[:ro|rw]` (or `TARGET` alone: an anonymous volume) or the
    long mapping {type, source, target, read_only}. A source that starts with `.`, `/` or `~`
    is a host path (a relative one is resolved against the compose file's directory),
    anything else a named volume declared at the top level."""
    if isinstance(value, dict):
        spec = check_mapping(value, path, ("type", "source", "target", "read_only"))
        kind = spec.get("type", "volume")
        if kind not in ("volume", "bind"):
            raise ComposeError(f"{path}.type: must be volume or bind")
        source = check_string(spec.get("source", ""), f"{path}.source")
        if kind == "bind" and not source:
            raise ComposeError(f"{path}.source: required for a bind")
        target = check_string(spec.get("target"), f"{path}.target")
        read_only = spec.get("read_only", False)
        if not isinstance(read_only, bool):
            raise ComposeError(f"{path}.read_only: must be a boolean")
        bind = kind == "bind"
    else:
        text = check_string(value, path)
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


def parse_build(value: Any, path: str, workdir: Path, host_env: dict[str, str] | None = None
                ) -> BuildSpec:
    """A context directory, or {context, dockerfile, args}; the Dockerfile is relative to the
    context, the context to the compose file's directory. `args` are --build-arg's: a name
    without a value takes the shell's, or is left out when it has none."""
    args: dict[str, str] = {}
    if isinstance(value, str):
        context, dockerfile = value, None
    else:
        spec = check_mapping(value, path, ("context", "dockerfile", "args"))
        for item in parse_environment(spec.get("args"), f"{path}.args", host_env or {}):
            key, _, val = item.partition("=")
            args[key] = val
        context = check_string(spec.get("context", "."), f"{path}.context")
        dockerfile = spec.get("dockerfile")
        if dockerfile is not None:
            check_string(dockerfile, f"{path}.dockerfile")
    ctx = Path(os.path.expanduser(context))
    ctx = Path(os.path.normpath(ctx if ctx.is_absolute() else workdir / ctx))
    df = None
    if dockerfile:
        df_path = Path(dockerfile)
        df = Path(os.path.normpath(df_path if df_path.is_absolute() else ctx / df_path))
    return BuildSpec(context=ctx, dockerfile=df, args=args)


def parse_depends_on(value: Any, path: str) -> dict[str, Dependency]:
    """The short list (each `service_started`) or the long mapping {condition, required,
    restart}; `restart` matters only to `compose restart`, which isobench does not have."""
    if isinstance(value, list):
        return {dep: Dependency() for dep in check_string_list(value, path)}
    if not isinstance(value, dict):
        raise ComposeError(f"{path}: must be a list or a mapping")
    out = {}
    for dep, spec in value.items():
        spec = check_mapping(spec, f"{path}.{dep}", ("condition", "required", "restart"),
                             extensions=True)
        cond = spec.get("condition", "service_started")
        if cond not in CONDITIONS:
            raise ComposeError(f"{path}.{dep}.condition: {cond!r} is not one of "
                               f"{', '.join(CONDITIONS)}")
        out[dep] = Dependency(cond, parse_bool(spec.get("required", True),
                                               f"{path}.{dep}.required"))
    return out


# ---- the keys that map to `run`'s options ----------------------------------------------------

def parse_bool(value: Any, path: str) -> bool:
    """A boolean, or the strings the schema lets through for one (`"true"`, `"false"`)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ComposeError(f"{path}: must be a boolean")


def _run_option(parse: Any, value: str, path: str) -> Any:
    try:
        return parse(value)
    except ValueError as e:
        raise ComposeError(f"{path}: {e}") from None


def string_or_list(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else check_string_list(value, path)


def parse_restart_key(value: Any, path: str) -> RestartPolicy:
    return _run_option(parse_restart, check_string(value, path), path)


def parse_duration_key(value: Any, path: str) -> float:
    seconds = _run_option(parse_duration, check_string(value, path), path)
    if seconds < 0:
        raise ComposeError(f"{path}: {value!r} must not be negative")
    return seconds


def parse_healthcheck(value: Any, path: str) -> Healthcheck | None:
    """Docker's meaning: `disable: true` (or test NONE) turns a check off; an unset or zero
    duration is Docker's default (30s, 30s, 0s, 5s; retries 3)."""
    spec = check_mapping(value, path, ("test", "interval", "timeout", "retries", "start_period",
                                       "start_interval", "disable"), extensions=True)
    if parse_bool(spec.get("disable", False), f"{path}.disable"):
        return Healthcheck(["NONE"])
    if spec.get("test") is None:
        raise ComposeError(f"{path}.test: required (isobench images carry no HEALTHCHECK "
                           "to inherit)")
    test = _run_option(parse_test, spec["test"], f"{path}.test")
    check = Healthcheck(test)
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if spec.get(key) is not None:
            seconds = parse_duration_key(spec[key], f"{path}.{key}")
            if seconds:
                setattr(check, key, seconds)
    if spec.get("retries") is not None:
        retries = spec["retries"]
        try:
            retries = int(retries)
        except (TypeError, ValueError):
            raise ComposeError(f"{path}.retries: {retries!r} is not a number") from None
        if retries < 0:
            raise ComposeError(f"{path}.retries: must not be negative")
        check.retries = retries or check.retries
    return check


def parse_deploy(value: Any, path: str) -> Limits:
    """deploy.resources.limits {cpus, memory, pids}: the cgroup limits of --cpus, --memory
    and --pids-limit."""
    if value is None:
        return Limits()
    deploy = check_mapping(value, path, ("resources",), extensions=True)
    resources = check_mapping(deploy.get("resources") or {}, f"{path}.resources", ("limits",),
                              extensions=True)
    limits = check_mapping(resources.get("limits") or {}, f"{path}.resources.limits",
                           ("cpus", "memory", "pids"), extensions=True)
    flags = {}
    for key, flag in (("cpus", "cpus"), ("memory", "memory"), ("pids", "pids_limit")):
        if limits.get(key) is not None:
            flags[flag] = str(limits[key])
            _run_option(lambda v, f=flag: Limits.from_flags(**{f: v}), flags[flag],
                        f"{path}.resources.limits.{key}")
    return Limits.from_flags(**flags)


def parse_env_files(value: Any, path: str, workdir: Path, host_env: dict[str, str]
                    ) -> dict[str, str]:
    """env_file: paths (relative to the compose file's directory) read as `.env` files, a
    later file over an earlier one; a missing file is an error unless `required: false`."""
    out: dict[str, str] = {}
    entries = [value] if isinstance(value, str) else (value or [])
    for i, entry in enumerate(entries):
        where = f"{path}[{i}]" if not isinstance(value, str) else path
        required = True
        if isinstance(entry, dict):
            spec = check_mapping(entry, where, ("path", "required"))
            required = parse_bool(spec.get("required", True), f"{where}.required")
            entry = spec["path"]
        file = Path(os.path.expanduser(check_string(entry, where)))
        file = Path(os.path.normpath(file if file.is_absolute() else workdir / file))
        try:
            text = read_bounded_utf8(file, MAX_ENV_FILE_BYTES, str(file))
        except FileNotFoundError:
            if required:
                raise ComposeError(f"env file {file} not found: stat {file}: no such file or "
                                   "directory") from None
            continue
        except OSError as e:
            raise ComposeError(f"env file {file}: {e.strerror}") from None
        out.update(parse_env(text, str(file), host_env))
    return out


def parse_labels(value: Any, path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for key, val in value.items():
            out[key] = "" if val is None else _scalar_text(val)
    else:
        for item in check_string_list(value or [], path):
            key, _, val = item.partition("=")
            out[key] = val
    for key in out:
        if key.startswith("com.docker.compose."):
            raise ComposeError(f"{path}: label {key!r} is reserved for compose's own use")
    return out


def parse_extra_hosts(value: Any, path: str) -> list[str]:
    """A list of `HOST:IP` / `HOST=IP`, or a mapping HOST: IP (or a list of IPs)."""
    pairs: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for host, ips in value.items():
            for ip in [ips] if isinstance(ips, str) else ips:
                pairs.append(_run_option(parse_extra_host, f"{host}={ip}", f"{path}.{host}"))
    else:
        for i, item in enumerate(check_string_list(value or [], path)):
            pairs.append(_run_option(parse_extra_host, item, f"{path}[{i}]"))
    return [f"{host}:{ip}" for host, ip in pairs]


def parse_dns_key(value: Any, path: str) -> list[str]:
    return [_run_option(parse_dns, d, path) for d in string_or_list(value, path)]


def parse_ulimits(value: Any, path: str) -> list[Ulimit]:
    """NAME: N (soft and hard) or NAME: {soft, hard}."""
    out = []
    for name, spec in (value or {}).items():
        where = f"{path}.{name}"
        if isinstance(spec, dict):
            spec = check_mapping(spec, where, ("soft", "hard"), extensions=True)
            out.append(_run_option(lambda _v, s=spec, n=name: ulimit(n, s["soft"], s["hard"]),
                                   "", where))
        else:
            out.append(_run_option(lambda _v, s=spec, n=name: ulimit(n, s), "", where))
    return out


def parse_tmpfs_key(value: Any, path: str) -> list[str]:
    entries = string_or_list(value, path)
    for entry in entries:
        _run_option(parse_tmpfs, entry, path)
    return entries


def parse_stop_signal(value: Any, path: str) -> str:
    text = check_string(value, path)
    _run_option(parse_signal, text, path)
    return text


def parse_network_mode(value: Any, path: str) -> str:
    """host, none, bridge (the project's default network) or service:NAME; Docker's
    container:NAME names a container outside the project."""
    mode = check_string(value, path)
    if mode in ("host", "none", "bridge") or (mode.startswith("service:") and mode[8:]):
        return mode
    if mode.startswith("container:"):
        raise ComposeError(f"{path}: {mode!r}: container:NAME is not supported by isobench "
                           "(service:NAME is)")
    raise ComposeError(f"{path}: invalid network_mode {mode!r} (host, none, bridge or "
                       "service:NAME)")


def parse_service_networks(value: Any, path: str) -> list[str]:
    """A list of network keys (or the mapping form with null values). The runtime joins a
    container to one network, so more than one is refused rather than half-honoured."""
    if isinstance(value, dict):
        for key, spec in value.items():
            if spec is not None:
                raise ComposeError(f"{path}.{key}: per-network options are not supported")
        names = [str(k) for k in value]
    else:
        names = check_string_list(value, path)
    if len(names) > 1:
        raise ComposeError(f"{path}: a service can join only one network here, got "
                           f"{', '.join(names)}")
    return names


# ---- the top level's networks and volumes ----------------------------------------------------

def parse_network(key: str, value: Any) -> NetworkSpec:
    path = f"networks.{key}"
    if value is None:
        return NetworkSpec(name=key)
    spec = check_mapping(value, path, ("ipam",))
    subnet = None
    if spec.get("ipam") is not None:
        ipam = check_mapping(spec["ipam"], f"{path}.ipam", ("driver", "config"))
        if ipam.get("driver", "default") != "default":
            raise ComposeError(f"{path}.ipam.driver: only the default driver is supported")
        configs = ipam.get("config") or []
        if not isinstance(configs, list):
            raise ComposeError(f"{path}.ipam.config: must be a list")
        if len(configs) > 1:
            raise ComposeError(f"{path}.ipam.config: only one subnet is supported")
        for i, cfg in enumerate(configs):
            cpath = f"{path}.ipam.config[{i}]"
            cfg = check_mapping(cfg, cpath, ("subnet",))
            if cfg.get("subnet") is not None:
                subnet = check_string(cfg["subnet"], f"{cpath}.subnet")
                try:
                    ipaddress.ip_network(subnet)
                except ValueError as e:
                    raise ComposeError(f'{cpath}.subnet: invalid subnet "{subnet}": {e}'
                                       ) from None
    return NetworkSpec(name=key, subnet=subnet)


def parse_volume(key: str, value: Any) -> VolumeSpec:
    if value is not None:
        check_mapping(value, f"volumes.{key}", ())
    return VolumeSpec(name=key)


def check_resources(value: Any, path: str) -> dict[str, Any]:
    """The top-level `networks` or `volumes`: a mapping of valid names (null is none)."""
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
