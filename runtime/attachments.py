"""What a container is plugged into: volumes, a network endpoint, published ports.

`plug` makes them just before the container starts (recording each in the container's
record first, so a crash leaves something to find); `unplug` undoes them, idempotently, in
the monitor when the container exits and in `rm` after a crash.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runtime import ports
from runtime.containers import Container, ContainerStore
from runtime.network import NetworkStore, extra_host_lines, is_named, netns_path
from runtime.volumes import MountSpec, VolumeStore

if TYPE_CHECKING:
    import socket


@dataclass
class Plugged:
    binds: list[tuple[str, str, bool]] = field(default_factory=list)
    fill: list[str] = field(default_factory=list)     # container paths of empty volumes
    netns: str | None = None
    listeners: list[tuple[socket.socket, ports.PortMapping]] = field(default_factory=list)

    def close_listeners(self) -> None:
        for sock, _ in self.listeners:
            sock.close()


class Attachments:
    def __init__(self, containers: ContainerStore, volumes: VolumeStore,
                 networks: NetworkStore) -> None:
        self.containers = containers
        self.volumes = volumes
        self.networks = networks

    def plug(self, c: Container) -> Plugged:
        plugged = Plugged(binds=[(h, i, bool(ro)) for h, i, ro in c.config.binds])
        try:
            self._volumes(c, plugged)
            if is_named(c.config.network):
                hosts = str(self.containers.path(c.id) / "hosts")
                open(hosts, "w").close()
                ep = self.networks.attach(c.config.network, c.id, c.name, c.config.hostname,
                                          c.config.aliases, hosts, c.config.extra_hosts)
                c.state.ip, plugged.netns = ep.ip, netns_path(ep)
                plugged.binds.append((hosts, "/etc/hosts", False))
                for spec in c.config.publish:
                    sock, bound = ports.bind(ports.PortMapping(**spec))
                    plugged.listeners.append((sock, bound))
                c.state.ports = [b.to_dict() for _, b in plugged.listeners]
            elif c.config.extra_hosts and c.config.network != "host":
                plugged.binds.append((self._hosts_alone(c), "/etc/hosts", False))
            if c.config.dns:
                plugged.binds.append((self._resolv_conf(c), "/etc/resolv.conf", False))
            self.containers.save(c)
        except BaseException:
            plugged.close_listeners()
            self.unplug(c, remove_anonymous=True)
            raise
        return plugged

    def _hosts_alone(self, c: Container) -> str:
        """/etc/hosts for a container on no network, with its --add-host entries."""
        path = str(self.containers.path(c.id) / "hosts")
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
                 *extra_host_lines(c.config.extra_hosts)]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def _resolv_conf(self, c: Container) -> str:
        """--dns: the container's /etc/resolv.conf names those servers only, as Docker's."""
        path = str(self.containers.path(c.id) / "resolv.conf")
        with open(path, "w") as f:
            f.write("".join(f"nameserver {ip}\n" for ip in c.config.dns))
        return path

    def _volumes(self, c: Container, plugged: Plugged) -> None:
        for mount in c.config.mounts:
            spec = MountSpec(**mount)
            if spec.kind == "bind":
                plugged.binds.append((spec.source, spec.target, spec.readonly))
                continue
            if not spec.source:  # anonymous: its name recorded before it exists (`rm -v`, gc)
                mount["source"] = os.urandom(32).hex()  # secrets.token_hex(32), see ContainerStore
                c.config.anonymous_volumes.append(mount["source"])
                self.containers.save(c)
            volume = self.volumes.create(mount["source"], anonymous=not spec.source)
            data = str(self.volumes.data_dir(volume.name))
            plugged.binds.append((data, spec.target, spec.readonly))
            plugged.fill.append(spec.target)

    def unplug(self, c: Container, remove_anonymous: bool) -> None:
        if is_named(c.config.network):
            self.networks.detach(c.config.network, c.id)
        if remove_anonymous:
            for name in c.config.anonymous_volumes:
                try:
                    self.volumes.remove(name, users=[])
                except Exception:  # noqa: BLE001 - already gone is fine
                    pass

    def volume_users(self, name: str) -> list[str]:
        return [c.short_id for c in self.containers.list()
                if any(m.get("source") == name for m in c.config.mounts)]
