"""The Compose file format as isobench's schema (runtime.compose.schema) knows it: every
top-level element and every service attribute, each with the shape of its value.

This table is isobench's own. It was written from the Compose Specification's documentation
(the Compose file reference, https://docs.docker.com/reference/compose-file/): the pages
"Version and name top-level elements", "Use multiple Compose files: include", "Services
top-level elements" (services.md, with the container specification page it splits into),
"Compose Build Specification" (build.md), "Compose Deploy Specification" (deploy.md),
"Compose Develop Specification" (develop.md), "Networks", "Volumes", "Configs", "Secrets" and
"Models top-level elements", and "Extensions" (x-*). Those pages give no numbered version of
the specification (they call `version` obsolete); the table follows them as they read in
2026, Docker Compose v2's implementation of the specification. It is not a copy of the
compose-spec project's JSON Schema file, and it is deliberately coarse where isobench does
not look inside a value: what it must get right is (1) which keys exist, so a misspelling is
told apart from a key isobench does not implement (the loader refuses that one as "not
supported by isobench"), and (2) the shapes of the keys isobench reads.

Shapes, as written in the table:
  "string", "integer", "number", "boolean", "null"   that JSON type
  "number|string", ...                                any of those types
  "strings"                                           a list of strings
  "any"                                               anything
  "mapping" / "list"                                  a mapping / a list, contents left open
  Dict(shape)                                         a mapping, any keys, each value `shape`
  List(shape)                                         a list, each item `shape`
  OneOf(a, b, ...)                                    exactly one of the shapes (by type)
  Enum((v, ...))                                      one of those strings
  {key: shape, ...} / Keys({...}, required=[...])     a mapping with only those keys (and x-*)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SOURCE = ("isobench's own table (runtime/compose/spec_keys.py), written from the Compose "
          "Specification documentation at https://docs.docker.com/reference/compose-file/")

NAME_PATTERN = "^[a-zA-Z0-9._-]+$"  # services, volumes, configs, secrets, models: their keys


@dataclass(frozen=True)
class Dict:
    value: Any


@dataclass(frozen=True)
class List:
    item: Any


@dataclass(frozen=True)
class OneOf:
    shapes: tuple[Any, ...]

    def __init__(self, *shapes: Any) -> None:
        object.__setattr__(self, "shapes", shapes)


@dataclass(frozen=True)
class Enum:
    values: tuple[str, ...]


@dataclass(frozen=True)
class Keys:
    keys: dict[str, Any]
    required: list[str] = field(default_factory=list)
    nullable: bool = False  # `front:` with nothing under it


# ---- shapes used more than once --------------------------------------------------------------

BOOL = "boolean|string"       # a string: what interpolation leaves ("${DEBUG:-true}")
INT = "integer|string"
NUM = "number|string"
DURATION = "string"           # extension.md's duration: 1m30s, 10s, 500ms
SCALAR = "string|number|boolean|null"
STRING_OR_LIST = OneOf("string", "strings")
LIST_OR_DICT = OneOf(Dict(SCALAR), "strings")   # labels, environment, ...: KEY: v or KEY=v
COMMAND = OneOf("null", "string", "strings")
ULIMIT = OneOf(INT, Keys({"soft": INT, "hard": INT}, required=["soft", "hard"]))
ULIMITS = Dict(ULIMIT)
EXTRA_HOSTS = OneOf("strings", Dict(STRING_OR_LIST))
FILE_REF = OneOf("string", {"source": "string", "target": "string", "uid": "string",
                            "gid": "string", "mode": NUM})      # a service's configs, secrets
HOOK = {"command": COMMAND, "user": "string", "privileged": BOOL, "working_dir": "string",
        "environment": LIST_OR_DICT}                             # post_start, pre_stop

# ---- services.md: a service ------------------------------------------------------------------

HEALTHCHECK = {
    "test": STRING_OR_LIST, "interval": DURATION, "timeout": DURATION, "retries": NUM,
    "start_period": DURATION, "start_interval": DURATION, "disable": BOOL,
}

DEPENDS_ON = OneOf("strings", Dict(Keys({
    "condition": Enum(("service_started", "service_healthy", "service_completed_successfully")),
    "restart": BOOL, "required": BOOL,
}, required=["condition"])))

PORT = OneOf(NUM, {
    "name": "string", "target": INT, "published": INT, "host_ip": "string",
    "protocol": "string", "app_protocol": "string", "mode": "string",
})

MOUNT = OneOf("string", Keys({
    "type": "string", "source": "string", "target": "string", "read_only": BOOL,
    "consistency": "string",
    "bind": {"propagation": "string", "create_host_path": BOOL, "selinux": "string"},
    "volume": {"nocopy": BOOL, "subpath": "string"},
    "tmpfs": {"size": NUM, "mode": NUM},
    "image": {"subpath": "string"},
}))

SERVICE_NETWORKS = OneOf("strings", Dict(Keys({
    "aliases": "strings", "ipv4_address": "string", "ipv6_address": "string",
    "link_local_ips": "strings", "mac_address": "string", "driver_opts": Dict(NUM),
    "priority": "number", "gw_priority": "number", "interface_name": "string",
}, nullable=True)))

ENV_FILE = OneOf("string", List(OneOf("string", Keys({
    "path": "string", "required": BOOL, "format": "string",
}, required=["path"]))))

# build.md
BUILD = OneOf("string", {
    "context": "string", "dockerfile": "string", "dockerfile_inline": "string",
    "args": LIST_OR_DICT, "ssh": LIST_OR_DICT, "labels": LIST_OR_DICT,
    "cache_from": "strings", "cache_to": "strings", "no_cache": BOOL,
    "additional_contexts": LIST_OR_DICT, "network": "string", "pull": BOOL,
    "target": "string", "shm_size": NUM, "extra_hosts": EXTRA_HOSTS, "isolation": "string",
    "privileged": BOOL, "secrets": List(FILE_REF), "tags": "strings", "ulimits": ULIMITS,
    "platforms": "strings", "entitlements": "strings", "provenance": "boolean|string",
    "sbom": "boolean|string",
})

# deploy.md
RESOURCES = {"cpus": NUM, "memory": NUM, "pids": INT}
DEPLOY = {
    "mode": "string", "replicas": INT, "endpoint_mode": "string", "labels": LIST_OR_DICT,
    "placement": {"constraints": "strings", "preferences": List({"spread": "string"}),
                  "max_replicas_per_node": INT},
    "resources": {
        "limits": RESOURCES,
        "reservations": {**RESOURCES, "generic_resources": "list", "devices": List({
            "capabilities": "strings", "count": INT, "device_ids": "strings",
            "driver": "string", "options": LIST_OR_DICT})},
    },
    "restart_policy": {"condition": "string", "delay": DURATION, "max_attempts": INT,
                       "window": DURATION},
    "rollback_config": "mapping", "update_config": "mapping",
}

# develop.md
DEVELOP = {"watch": List({"action": "string", "path": "string", "target": "string",
                          "ignore": "strings", "include": "strings", "initial_sync": BOOL,
                          "exec": "mapping"})}

SERVICE: dict[str, Any] = {
    "annotations": LIST_OR_DICT,
    "attach": BOOL,
    "blkio_config": "mapping",
    "build": BUILD,
    "cap_add": "strings",
    "cap_drop": "strings",
    "cgroup": "string",
    "cgroup_parent": "string",
    "command": COMMAND,
    "configs": List(FILE_REF),
    "container_name": "string",
    "cpu_count": NUM,
    "cpu_percent": NUM,
    "cpu_period": NUM,
    "cpu_quota": NUM,
    "cpu_rt_period": NUM,
    "cpu_rt_runtime": NUM,
    "cpu_shares": NUM,
    "cpus": NUM,
    "cpuset": "string",
    "credential_spec": "mapping",
    "depends_on": DEPENDS_ON,
    "deploy": DEPLOY,
    "develop": DEVELOP,
    "device_cgroup_rules": "strings",
    "devices": List(OneOf("string", "mapping")),
    "dns": STRING_OR_LIST,
    "dns_opt": "strings",
    "dns_search": STRING_OR_LIST,
    "domainname": "string",
    "driver_opts": Dict(NUM),
    "entrypoint": COMMAND,
    "env_file": ENV_FILE,
    "environment": LIST_OR_DICT,
    "expose": List(NUM),
    "extends": OneOf("string", {"service": "string", "file": "string"}),
    "external_links": "strings",
    "extra_hosts": EXTRA_HOSTS,
    "gpus": OneOf("string", "list"),
    "group_add": List(NUM),
    "healthcheck": HEALTHCHECK,
    "hostname": "string",
    "image": "string",
    "init": BOOL,
    "ipc": "string",
    "isolation": "string",
    "label_file": STRING_OR_LIST,
    "labels": LIST_OR_DICT,
    "links": "strings",
    "logging": {"driver": "string", "options": Dict("string|number|null")},
    "mac_address": "string",
    "mem_limit": NUM,
    "mem_reservation": NUM,
    "mem_swappiness": NUM,
    "memswap_limit": NUM,
    "models": OneOf("strings", Dict(Keys({"endpoint_var": "string", "model_var": "string"},
                                         nullable=True))),
    "network_mode": "string",
    "networks": SERVICE_NETWORKS,
    "oom_kill_disable": BOOL,
    "oom_score_adj": NUM,
    "pid": "string|null",
    "pids_limit": NUM,
    "platform": "string",
    "ports": List(PORT),
    "post_start": List(HOOK),
    "pre_start": "list",
    "pre_stop": List(HOOK),
    "privileged": BOOL,
    "profiles": "strings",
    "provider": {"type": "string", "options": "mapping"},
    "pull_policy": "string",
    "read_only": BOOL,
    "restart": "string",
    "runtime": "string",
    "scale": INT,
    "secrets": List(FILE_REF),
    "security_opt": "strings",
    "shm_size": NUM,
    "stdin_open": BOOL,
    "stop_grace_period": DURATION,
    "stop_signal": "string",
    "storage_opt": "mapping",
    "sysctls": LIST_OR_DICT,
    "tmpfs": STRING_OR_LIST,
    "tty": BOOL,
    "ulimits": ULIMITS,
    "use_api_socket": BOOL,
    "user": "string",
    "userns_mode": "string",
    "uts": "string",
    "volumes": List(MOUNT),
    "volumes_from": "strings",
    "working_dir": "string",
}

# ---- networks.md, volumes.md, configs.md, secrets.md, models.md, include.md --------------------

EXTERNAL = "boolean|string|mapping"
NETWORK = Keys({
    "name": "string", "driver": "string", "driver_opts": Dict(NUM), "attachable": BOOL,
    "enable_ipv4": BOOL, "enable_ipv6": BOOL, "external": EXTERNAL, "internal": BOOL,
    "labels": LIST_OR_DICT,
    "ipam": {"driver": "string", "options": Dict("string"), "config": List({
        "subnet": "string", "ip_range": "string", "gateway": "string",
        "aux_addresses": Dict("string")})},
}, nullable=True)
VOLUME = Keys({"name": "string", "driver": "string", "driver_opts": Dict(NUM),
               "external": EXTERNAL, "labels": LIST_OR_DICT}, nullable=True)
CONFIG = {"name": "string", "file": "string", "environment": "string", "content": "string",
          "external": EXTERNAL, "labels": LIST_OR_DICT, "template_driver": "string"}
SECRET = {"name": "string", "file": "string", "environment": "string", "external": EXTERNAL,
          "labels": LIST_OR_DICT, "driver": "string", "driver_opts": Dict(NUM),
          "template_driver": "string"}
MODEL = {"name": "string", "model": "string", "context_size": "integer",
         "runtime_flags": "strings"}
INCLUDE = List(OneOf("string", Keys({
    "path": STRING_OR_LIST, "project_directory": "string", "env_file": STRING_OR_LIST,
}, required=["path"])))

TOP_LEVEL: dict[str, Any] = {
    "version": "string",
    "name": "string",
    "include": INCLUDE,
    "services": ("named", SERVICE),
    "networks": Dict(NETWORK),  # any name: compose-go checks network names later
    "volumes": ("named", VOLUME),
    "configs": ("named", CONFIG),
    "secrets": ("named", SECRET),
    "models": ("named", MODEL),
}


# ---- the table as a draft-7 JSON Schema ------------------------------------------------------

def _keys(keys: dict[str, Any], required: list[str] | None = None, nullable: bool = False
          ) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": ["object", "null"] if nullable else "object",
        "properties": {k: to_schema(v) for k, v in keys.items()},
        "patternProperties": {"^x-": {}},   # extensions.md: x-* is allowed in any mapping
        "additionalProperties": False,
    }
    if required:
        out["required"] = list(required)
    return out


def to_schema(shape: Any) -> dict[str, Any]:
    if isinstance(shape, Keys):
        return _keys(shape.keys, shape.required, shape.nullable)
    if isinstance(shape, dict):
        return _keys(shape)
    if isinstance(shape, Enum):
        return {"type": "string", "enum": list(shape.values)}
    if isinstance(shape, Dict):
        return {"type": "object", "additionalProperties": to_schema(shape.value)}
    if isinstance(shape, List):
        return {"type": "array", "items": to_schema(shape.item)}
    if isinstance(shape, OneOf):
        return {"oneOf": [to_schema(s) for s in shape.shapes]}
    if isinstance(shape, tuple) and shape[0] == "named":
        return {"type": "object", "patternProperties": {NAME_PATTERN: to_schema(shape[1])},
                "additionalProperties": False}
    if shape == "any":
        return {}
    if shape == "strings":
        return {"type": "array", "items": {"type": "string"}}
    kinds = ["object" if k == "mapping" else "array" if k == "list" else k
             for k in shape.split("|")]
    return {"type": kinds[0] if len(kinds) == 1 else kinds}


def schema() -> dict[str, Any]:
    """The whole table as one draft-7 JSON Schema (what runtime.compose.schema validates)."""
    return {"$schema": "http://json-schema.org/draft-07/schema#",
            "$comment": SOURCE, **_keys(TOP_LEVEL)}
