"""Bridge networks: a bridge per network, a veth pair and a named netns per container,
addresses from a persisted allocator, and /etc/hosts files so members find each other by
name.

The plumbing is iproute2 in batch mode (one `ip` process on the host side and one inside
the namespace per attach). pyroute2 was the first choice, but importing it costs 350-550 ms
on these machines, more than a whole container start; `ip -batch` costs a few ms.

No masquerade or egress NAT is installed: traffic stays between the host and the
project's own namespaces. Bridges exist while a network has members, and each bridge's
isolation rules (firewall.py: nothing crosses to another bridge or interface, the host answers
only on the network's own gateway) exist exactly as long as the bridge: made just before the
bridge (by name), removed with it. An `internal` network's members also get no
default route, and start nothing towards the host.
"""

from __future__ import annotations

import ipaddress
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime import firewall
from runtime.errors import Conflict, InvalidArgument, IsobenchError, NotFound
from runtime.fsutil import CorruptState, locked, read_json, warn_corrupt, write_json

if TYPE_CHECKING:
    import subprocess

DEFAULT_NETWORK = "bridge"
DEFAULT_BRIDGE = "isobench0"
BASE_POOL = ipaddress.ip_network("10.88.0.0/16")
NETWORK_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
NETNS_DIR = Path("/run/netns")
SPECIAL_MODES = ("none", "host")
CONTAINER_MODE = "container:"  # --network container:ID: another container's namespace


def is_named(mode: str) -> bool:
    """A network of the store (a bridge with an endpoint per member), not none, host or
    another container's."""
    return mode not in SPECIAL_MODES and not mode.startswith(CONTAINER_MODE)


class NetworkError(IsobenchError):
    """iproute2 refused a step of the plumbing."""


@dataclass
class Endpoint:
    ip: str
    name: str
    aliases: list[str]
    veth: str
    netns: str
    hosts_file: str
    hostname: str
    extra_hosts: list[str] = field(default_factory=list)  # --add-host HOST:IP, as written
    # "veth" (a container's: a pair into its netns) or "tap" (a VM's: QEMU holds the tap's
    # file; no netns, no hosts file, `veth` names the tap)
    kind: str = "veth"


@dataclass
class Network:
    name: str
    id: str
    subnet: str
    gateway: str
    bridge: str
    created: float = field(default_factory=time.time)
    labels: dict[str, str] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    internal: bool = False   # no route out: no default route, nothing started to the host

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Network:
        eps = {cid: Endpoint(**e) for cid, e in d.get("endpoints", {}).items()}
        return cls(**{**d, "endpoints": eps})

    @property
    def prefix(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    @property
    def rules(self) -> firewall.BridgeRules:
        return firewall.BridgeRules(self.bridge, self.gateway, self.internal)


def _run(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """argv's output, captured as text. subprocess is imported here: `run --network none`
    never plumbs a bridge and should not pay for its import."""
    import subprocess

    return subprocess.run(argv, input=stdin, capture_output=True, text=True)


def ip_batch(commands: list[str], netns: str | None = None) -> None:
    """Run iproute2 commands in one process; the first failure aborts with its message."""
    argv = ["ip", *(["-n", netns] if netns else []), "-batch", "-"]
    proc = _run(argv, "\n".join(commands) + "\n")
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["failed"])[0]
        raise NetworkError(f"network setup: {detail}")


def host_networks() -> list[ipaddress.IPv4Network]:
    """Subnets already routed on the host (a new network must not overlap them)."""
    out = _run(["ip", "-4", "-o", "addr", "show"]).stdout
    nets = []
    for line in out.splitlines():
        m = re.search(r"inet (\S+)", line)
        if m and not m.group(1).startswith("127."):
            nets.append(ipaddress.ip_interface(m.group(1)).network)
    return nets


def extra_host_lines(extra_hosts: list[str]) -> list[str]:
    """--add-host HOST:IP entries as /etc/hosts lines (Docker writes them last)."""
    out = []
    for entry in extra_hosts:
        host, _, ip = entry.partition(":")
        out.append(f"{ip}\t{host}")
    return out


def write_hosts(ep: Endpoint, peers: list[Endpoint]) -> None:
    """Rewrite in place: the file is bind-mounted, so replacing its inode would hide it."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             f"{ep.ip}\t{' '.join(dict.fromkeys([ep.hostname, ep.name, *ep.aliases]))}"]
    lines += [f"{p.ip}\t{' '.join(dict.fromkeys([p.name, *p.aliases]))}" for p in peers]
    lines += extra_host_lines(ep.extra_hosts)
    with open(ep.hosts_file, "w") as f:
        f.write("\n".join(lines) + "\n")


class NetworkStore:
    def __init__(self, root: Path) -> None:
        self.dir = root / "networks"

    @contextmanager
    def lock(self) -> Iterator[None]:
        """IPAM and membership: allocation, attach and detach all happen under it."""
        with locked(self.dir / ".lock"):
            yield

    def _path(self, name: str) -> Path:
        return self.dir / f"{name}.json"

    def _save(self, net: Network) -> None:
        write_json(self._path(net.name), net.to_dict())

    def _load(self, name: str, strict: bool = False) -> Network | None:
        """None when missing, or corrupt (`strict`: CorruptState, for who asked by name)."""
        path = self._path(name)
        try:
            return Network.from_dict(read_json(path))
        except OSError:
            return None
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            if strict:
                raise CorruptState(path, f"network {name}", e) from None
            return None

    def list(self) -> list[Network]:
        """Every network; a corrupt one is reported on stderr and skipped."""
        if not self.dir.exists():
            return []
        found = []
        for path in sorted(self.dir.glob("*.json")):
            try:
                net = self._load(path.stem, strict=True)
            except CorruptState as e:
                warn_corrupt(path, e)
                continue
            if net is not None:
                found.append(net)
        return found

    def get(self, name: str) -> Network:
        net = self._load(name, strict=True)
        if net is None:
            if name == DEFAULT_NETWORK:
                return self.create(DEFAULT_NETWORK, predefined=True)
            raise NotFound(f"network {name} not found", 1)
        return net

    def create(self, name: str, subnet: str | None = None,
               labels: dict[str, str] | None = None, predefined: bool = False,
               internal: bool = False) -> Network:
        """`predefined`: the default network's record, made on first use (get()); as in
        Docker, a user's `network create bridge` finds it already there."""
        if not NETWORK_NAME.match(name) or name in SPECIAL_MODES:
            raise InvalidArgument(f"invalid network name: {name!r}", 1)
        if name == DEFAULT_NETWORK and not predefined:
            raise Conflict(f"network with name {name} already exists", 1)
        with self.lock():
            if self._load(name) is not None:
                if predefined:
                    return self._load(name)  # type: ignore[return-value]
                raise Conflict(f"network with name {name} already exists", 1)
            taken = [ipaddress.ip_network(n.subnet) for n in self.list()] + host_networks()
            pool = self._choose_subnet(subnet, taken)
            net_id = os.urandom(32).hex()  # = secrets.token_hex, see ContainerStore
            bridge = DEFAULT_BRIDGE if name == DEFAULT_NETWORK else f"ib-{net_id[:12]}"
            net = Network(name, net_id, str(pool), str(pool.network_address + 1), bridge,
                          labels=dict(labels or {}), internal=internal)
            self._save(net)
            return net

    @staticmethod
    def _choose_subnet(subnet: str | None, taken: list[ipaddress.IPv4Network]
                       ) -> ipaddress.IPv4Network:
        if subnet is not None:
            try:
                pool = ipaddress.ip_network(subnet, strict=True)
            except ValueError as e:
                raise InvalidArgument(f"invalid subnet {subnet}: {e}", 1) from None
            if pool.version != 4 or pool.prefixlen > 30:
                raise InvalidArgument(f"invalid subnet {subnet}: an IPv4 /30 or larger is "
                                      "needed", 1)
            if any(pool.overlaps(t) for t in taken):
                raise Conflict(f"invalid pool request: Pool overlaps with other one on this "
                               f"address space ({subnet})", 1)
            return pool
        for i in range(0, 256 - 88):
            candidate = ipaddress.ip_network(f"10.{88 + i}.0.0/16")
            if not any(candidate.overlaps(t) for t in taken):
                return candidate
        raise Conflict("no free subnet left in 10.88.0.0/16 and up", 1)

    def remove(self, name: str) -> None:
        with self.lock():
            net = self._load(name, strict=True)
            if net is None:
                raise NotFound(f"network {name} not found", 1)
            if net.endpoints:
                raise Conflict(f"error while removing network: network {name} id "
                               f"{net.id[:12]} has active endpoints", 1)
            if not os.path.exists(f"/sys/class/net/{net.bridge}"):
                firewall.release([net.bridge])  # what a killed detach left
            self._path(name).unlink()

    # ---- members ----
    def attach(self, name: str, cid: str, cname: str, hostname: str, aliases: list[str],
               hosts_file: str, extra_hosts: list[str] | None = None) -> Endpoint:
        """Named netns + veth into it, an address, the default route, hosts files."""
        with self.lock():
            net = self._load(name)
            if net is None:
                raise NotFound(f"network {name} not found", 1)
            ep = Endpoint(self._allocate(net), cname, aliases, f"veth{cid[:8]}",
                          f"isobench-{cid[:12]}", hosts_file, hostname, list(extra_hosts or []))
            host_cmds = [f"netns add {ep.netns}",
                         f"link add {ep.veth} type veth peer name eth0 netns {ep.netns}",
                         f"link set {ep.veth} master {net.bridge}", f"link set {ep.veth} up"]
            inside = ["link set lo up", f"addr add {ep.ip}/{net.prefix} dev eth0",
                      "link set eth0 up"]
            if not net.internal:
                inside.append(f"route add default via {net.gateway}")
            net.endpoints[cid] = ep
            self._save(net)  # recorded before created: a crash leaves something to clean
            try:
                plug_in(net, host_cmds)
                ip_batch(inside, netns=ep.netns)
            except BaseException:
                self._teardown(net, cid)
                raise
            self._write_all_hosts(net)
            return ep

    def attach_tap(self, name: str, cid: str, vm_name: str) -> Endpoint:
        """A persistent tap device on the network's bridge for a VM (QEMU opens it by name:
        libvirt's `<interface type='ethernet'>` with `managed='no'`), and an address for the
        guest, which sets it itself. Recorded before made, undone by detach() or gc."""
        with self.lock():
            net = self._load(name)
            if net is None:
                raise NotFound(f"network {name} not found", 1)
            ep = Endpoint(self._allocate(net), vm_name, [], tap_name(cid), "", "", vm_name,
                          kind="tap")
            net.endpoints[cid] = ep
            self._save(net)
            try:
                plug_in(net, [f"tuntap add dev {ep.veth} mode tap",
                              f"link set {ep.veth} master {net.bridge}",
                              f"link set {ep.veth} up"])
            except BaseException:
                self._teardown(net, cid)
                raise
            self._write_all_hosts(net)  # the containers on it find the guest by its name
            return ep

    def detach(self, name: str, cid: str) -> None:
        with self.lock():
            net = self._load(name)
            if net is not None and cid in net.endpoints:
                self._teardown(net, cid)
                self._write_all_hosts(net)

    def _teardown(self, net: Network, cid: str, drop_bridge: bool = True) -> None:
        ep = net.endpoints.pop(cid)
        commands = [f"link del {ep.veth}"] + ([f"netns del {ep.netns}"] if ep.netns else [])
        if drop_bridge and not net.endpoints:
            commands.append(f"link del {net.bridge}")
        # -force: go on past what a half-made attach never created
        _run(["ip", "-force", "-batch", "-"], "\n".join(commands) + "\n")
        if drop_bridge and not net.endpoints and \
                not os.path.exists(f"/sys/class/net/{net.bridge}"):
            firewall.release([net.bridge])
        self._save(net)

    def prune(self, live: set[str], dry_run: bool = False) -> dict[str, int]:
        """What crashes left (for `isobench gc`): the endpoints (netns, veth) of containers
        not in `live`, then each bridge nothing uses any more. Returns counts of what
        existed and was (or, dry, would be) removed."""
        counts = {"netns": 0, "veths": 0, "taps": 0, "bridges": 0}
        if not self.dir.is_dir():
            return counts  # no network was ever made here (and a dry run makes nothing)
        with self.lock():
            for net in self.list():
                stale = [cid for cid in net.endpoints if cid not in live]
                for cid in stale:
                    ep = net.endpoints[cid]
                    counts["netns"] += bool(ep.netns) and (NETNS_DIR / ep.netns).exists()
                    counts["taps" if ep.kind == "tap" else "veths"] += \
                        os.path.exists(f"/sys/class/net/{ep.veth}")
                    if not dry_run:
                        self._teardown(net, cid, drop_bridge=False)
                gone = {net.endpoints[cid].veth for cid in stale} if dry_run else set()
                ports = bridge_ports(net.bridge)
                members = len(net.endpoints) - len(gone)
                if bridge_unused(members, None if ports is None else
                                 [p for p in ports if p not in gone]):
                    counts["bridges"] += 1
                    if not dry_run:
                        _run(["ip", "link", "del", net.bridge])
                        firewall.release([net.bridge])
                if stale and not dry_run:
                    self._write_all_hosts(net)
        return counts

    @staticmethod
    def _allocate(net: Network) -> str:
        pool = ipaddress.ip_network(net.subnet)
        used = {ep.ip for ep in net.endpoints.values()} | {net.gateway}
        for host in pool.hosts():
            if str(host) not in used:
                return str(host)
        raise Conflict(f"no available IPv4 addresses on network {net.name}", 1)

    def _write_all_hosts(self, net: Network) -> None:
        for cid, ep in net.endpoints.items():
            if ep.kind == "tap":
                continue  # a guest has its own /etc/hosts on its own disk
            peers = [p for other, p in net.endpoints.items() if other != cid]
            try:
                write_hosts(ep, peers)
            except OSError:
                pass  # that container is being removed right now


def plug_in(net: Network, host_cmds: list[str]) -> None:
    """Run a member's host-side commands; the first member's batch makes the bridge too (one
    `ip` process makes, addresses and raises it and plugs the member in), with its rules
    installed just before: they match the bridge by name, so nothing crosses it unfiltered."""
    if os.path.exists(f"/sys/class/net/{net.bridge}"):
        ip_batch(host_cmds)
        return
    with firewall.isolated(net.rules):
        ip_batch([f"link add name {net.bridge} type bridge",
                  f"addr add {net.gateway}/{net.prefix} dev {net.bridge}",
                  f"link set {net.bridge} up", *host_cmds])


TAP_PREFIX = "ibtap"


def tap_name(cid: str) -> str:
    """15 characters at most (IFNAMSIZ): the prefix and the id's first 10."""
    return f"{TAP_PREFIX}{cid[:10]}"


def bridge_ports(bridge: str) -> list[str] | None:
    """The interfaces plugged into a host bridge; None when there is no such bridge."""
    try:
        return os.listdir(f"/sys/class/net/{bridge}/brif")
    except FileNotFoundError:
        return None


def bridge_unused(members: int, ports: list[str] | None) -> bool:
    """A bridge may go when it exists, no endpoint of this root is recorded on it, and
    nothing is plugged into it on the host (another state root's containers may share the
    default bridge's name)."""
    return ports is not None and members == 0 and not ports


def netns_path(ep: Endpoint) -> str:
    return str(NETNS_DIR / ep.netns)
