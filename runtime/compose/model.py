"""A compose project as the runtime needs it: services, networks and volumes, with Docker
compose's names for what the project owns: containers `<project>-<service>-1`, networks
and volumes `<project>_<name>`, built images `<project>-<service>`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from runtime.compose.graph import start_order
from runtime.health import Healthcheck
from runtime.limits import Limits
from runtime.options import RestartPolicy, Ulimit
from runtime.spec import Security

CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")


@dataclass
class BuildSpec:
    context: Path
    dockerfile: Path | None = None
    args: dict[str, str] = field(default_factory=dict)


@dataclass
class Dependency:
    """One entry of the long `depends_on`: what `up` waits for before the dependent starts;
    a dependency that is not `required` only warns when it fails."""

    condition: str = "service_started"
    required: bool = True


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
    depends_on: list[str] = field(default_factory=list)   # every service it starts after
    dependencies: dict[str, Dependency] = field(default_factory=dict)
    working_dir: str | None = None
    hostname: str | None = None
    security: Security = field(default_factory=Security)  # privileged, cap_add, ...
    # The keys that map to `run`'s options (runtime.spec.ContainerSpec).
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    healthcheck: Healthcheck | None = None
    limits: Limits = field(default_factory=Limits)        # deploy.resources.limits
    labels: dict[str, str] = field(default_factory=dict)
    extra_hosts: list[str] = field(default_factory=list)  # HOST:IP
    dns: list[str] = field(default_factory=list)
    ulimits: list[Ulimit] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)
    init: bool = False
    stop_signal: str | None = None
    stop_grace_period: float | None = None
    network_mode: str | None = None                       # host, none or service:NAME


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
