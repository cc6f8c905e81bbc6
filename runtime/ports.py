"""Port publishing (`-p [IP:]HOSTPORT:PORT[/tcp]`) by a user-space proxy, like docker-proxy.

The caller binds the host sockets before the container starts (so a port in use is refused
up front); the container's monitor inherits them and proxies each connection to the
container's address. Nothing is installed in the host's firewall, and everything goes
away with the monitor when the container stops.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from runtime.errors import Conflict, InvalidArgument

if TYPE_CHECKING:
    import socket  # imported where used: only published ports need it (~2 ms per `run`)
    import threading


@dataclass(frozen=True)
class PortMapping:
    host_ip: str
    host_port: int       # 0: any free port, chosen when bound
    container_port: int
    protocol: str = "tcp"

    def __str__(self) -> str:
        return f"{self.host_ip}:{self.host_port}->{self.container_port}/{self.protocol}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _port(text: str, what: str, allow_zero: bool = False) -> int:
    if not text.isdigit() or not (0 if allow_zero else 1) <= int(text) <= 65535:
        raise InvalidArgument(f"invalid {what}: {text}")
    return int(text)


def parse_publish(spec: str) -> PortMapping:
    body, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto != "tcp":
        raise InvalidArgument(f"invalid proto: {proto} (only tcp can be published)")
    parts = body.split(":")
    if len(parts) == 1:
        return PortMapping("0.0.0.0", 0, _port(parts[0], "containerPort"))
    if len(parts) == 2:
        host_ip, host_port, container_port = "0.0.0.0", parts[0], parts[1]
    elif len(parts) == 3:
        host_ip, host_port, container_port = parts
        try:
            ipaddress.IPv4Address(host_ip)
        except ValueError:
            raise InvalidArgument(f"invalid IP address: {host_ip}") from None
    else:
        raise InvalidArgument(f"invalid publish specification: {spec}")
    return PortMapping(host_ip, _port(host_port, "hostPort", allow_zero=True) if host_port else 0,
                       _port(container_port, "containerPort"))


def bind(mapping: PortMapping) -> tuple[socket.socket, PortMapping]:
    """Bind and listen now; a port already in use is Docker's `port is already allocated`."""
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((mapping.host_ip, mapping.host_port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise Conflict(f"Bind for {mapping.host_ip}:{mapping.host_port} failed: port is already "
                       f"allocated ({e.strerror})") from None
    bound = PortMapping(mapping.host_ip, sock.getsockname()[1], mapping.container_port)
    return sock, bound


def _pump(src: socket.socket, dst: socket.socket) -> None:
    import socket

    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)  # pass the half-close on, as TCP would
        except OSError:
            pass


def _thread(target: Callable[..., None], *args: Any) -> threading.Thread:
    """A started daemon thread. threading is imported here: only published ports need it,
    and every `run` would pay for its import."""
    import threading

    t = threading.Thread(target=target, args=args, daemon=True)
    t.start()
    return t


def _serve_one(client: socket.socket, target: tuple[str, int]) -> None:
    import socket

    try:
        upstream = socket.create_connection(target, timeout=5)
        upstream.settimeout(None)
    except OSError:
        client.close()
        return
    back = _thread(_pump, upstream, client)
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _accept_loop(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        _thread(_serve_one, client, target)


def serve(listeners: list[tuple[socket.socket, PortMapping]], container_ip: str) -> None:
    """Start proxy threads (in the monitor); they end with its process."""
    for sock, mapping in listeners:
        _thread(_accept_loop, sock, (container_ip, mapping.container_port))
