"""What a container is to be: isobench's config.json.

runc makes exactly the container its bundle's config.json describes (process, root, mounts,
hostname, resources, capabilities, seccomp); `Runtime.create` takes a ContainerSpec the same
way, checks it, resolves it against its image (runtime/image/config.py) and records the
container. The CLI's `run`, compose, the image builder's RUN and the benchmarks each fill one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime.health import Healthcheck
from runtime.image.store import Image
from runtime.limits import Limits
from runtime.network import DEFAULT_NETWORK
from runtime.options import RestartPolicy, Ulimit

Bind = tuple[str, str, bool]  # host path, path inside, read-only


@dataclass
class Security:
    """How much of the kernel the process may reach: Docker's --privileged, --cap-add,
    --cap-drop and --security-opt (runtime/security.py makes the mask and the profile)."""

    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)


@dataclass
class ContainerSpec:
    # The root: an image by name, an image being built (not in the store), or --rootfs.
    image: str | Image | None = None
    # The process: overrides of the image's config, resolved as Docker does.
    command: list[str] | None = None      # replaces CMD
    rootfs: str | None = None             # a bare directory instead of an image
    entrypoint: list[str] | None = None   # replaces ENTRYPOINT and drops CMD; [] for none
    env: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    # Identity and limits.
    name: str | None = None               # default: a generated one, as Docker's
    hostname: str | None = None           # default: the id's first 12 characters
    labels: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    security: Security = field(default_factory=Security)
    # Network: a network's name, "none" or "host"; -p and --network-alias on a bridge.
    network: str = DEFAULT_NETWORK
    publish: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    # Storage: -v specs, host binds as given (the builder's), a read-only root.
    volumes: list[str] = field(default_factory=list)
    binds: list[Bind] = field(default_factory=list)
    readonly_rootfs: bool = False
    tmpfs: list[str] = field(default_factory=list)        # --tmpfs PATH[:OPTIONS]
    auto_remove: bool = False             # --rm
    # The process's life: --restart, --health-*, --init, --stop-signal, --stop-timeout,
    # --ulimit; name resolution: --dns, --add-host.
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    healthcheck: Healthcheck | None = None
    init: bool = False
    stop_signal: str | None = None        # default SIGTERM
    stop_timeout: float | None = None     # default 10 s
    ulimits: list[Ulimit] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)  # HOST:IP
