"""net: iperf3 TCP throughput and qperf tcp_lat latency between a host client and the
servers in each target, against the same clients over native loopback.

Placements: the container both on isobench's bridge network and with --network host
(Placement, through the CLI), runc in a named netns with a veth on isobench's bridge
(RuncPlacement), and a VM either on that same bridge through a tap device and virtio-net
(VmTapPlacement: how a VM is deployed) or reached through QEMU's user-mode networking, its
ports forwarded to 127.0.0.1 (VmPlacement: slirp, QEMU's user-space TCP stack). Traffic
stays on this machine. (Felter et al., IBM 2015, compared host networking against Docker's
bridge and a KVM guest's virtio/vhost tap the same way.) The standalone
benchmark of the first three is bench/tools/netperf.py.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any, TypeVar

from bench import leases, setup
from bench.model import ParseError, RunRecord, Session, Variant, Workload, image_tag
from bench.parsers import parse_iperf3, parse_qperf_latency
from bench.progress import Unit
from bench.targets import Job, RuncTarget
from bench.targets.vm import BackgroundVm, vm_driver
from bench.workloads.common import ISOBENCH, cli_env
from results.metrics import named
from runtime.api import Runtime
from runtime.network import DEFAULT_NETWORK, netns_path
from vm.domain import Forward, vhost_net

T = TypeVar("T")

SERVERS = {"iperf3": ["iperf3", "-s"], "qperf": ["qperf"]}
CLIENT_GRACE_S = 30      # a client run may take this long beyond its test duration
VM_BOOT_TIMEOUT_S = 300  # a TCG boot takes ~20 s here; two at once on 2 cores, longer
VM_NET_MEMORY_BYTES = 512 << 20


class Placement:
    """Start/stop the servers in one placement; give the address a client uses."""

    def __init__(self, kind: str, env: dict[str, str], image: str) -> None:
        self.kind, self.env, self.image = kind, env, image
        self.procs: list[subprocess.Popen[bytes]] = []
        self.names: list[str] = []
        self.addresses = dict.fromkeys(SERVERS, "127.0.0.1")
        self.ports: dict[str, int | None] = dict.fromkeys(("iperf3", "qperf", "qperf_data"))
        self.extra: dict[str, Any] = {}

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)  # a container's: not known here

    def start(self) -> None:
        for tool, argv in SERVERS.items():
            if self.kind == "native":
                self.procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                                   stderr=subprocess.DEVNULL))
                continue
            name = f"netperf-{tool}-{os.getpid()}"
            network = "host" if self.kind == "container-host" else "bridge"
            started = subprocess.run([ISOBENCH, "run", "-d", "--name", name, "--network",
                                      network, self.image, *argv], env=self.env,
                                     capture_output=True, text=True)
            if started.returncode != 0:
                raise RuntimeError(f"{tool} server in a container: {started.stderr.strip()}")
            self.names.append(name)
            if network == "bridge":
                info = json.loads(subprocess.run([ISOBENCH, "inspect", name], env=self.env,
                                                 capture_output=True, check=True).stdout)
                self.addresses[tool] = info[0]["NetworkSettings"]["IPAddress"]
        time.sleep(0.5)  # both servers listening

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait()
        if self.names:
            subprocess.run([ISOBENCH, "rm", "-f", *self.names], env=self.env,
                           capture_output=True)
        self.procs, self.names = [], []


class RuncPlacement:
    """The servers under runc, in a named netns with a veth on isobench's default bridge
    network (NetworkStore.attach, as a bridged container gets), the OCI config joining
    /run/netns/<name>. The netns, veth and bridge go with stop(), also after a failure."""

    kind = "runc-bridge"

    def __init__(self, runc: RuncTarget, image: str) -> None:
        self.runc, self.image = runc, image
        self.addresses = dict.fromkeys(SERVERS, "")
        self.ports: dict[str, int | None] = dict.fromkeys(("iperf3", "qperf", "qperf_data"))
        self.extra: dict[str, Any] = {}
        self._stack = ExitStack()
        self._proc: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        try:
            store = self.runc.rt.networks
            store.get(DEFAULT_NETWORK)  # the record is made on first use, as for containers
            cid = secrets.token_hex(32)
            hosts = self.runc.rt.root / "runc" / f"netperf-{cid[:12]}.hosts"
            lease = self._stack.enter_context(leases.lease(self.runc.rt))
            lease.note(endpoint={"network": DEFAULT_NETWORK, "id": cid}, dirs=[str(hosts)])
            hosts.parent.mkdir(parents=True, exist_ok=True)
            hosts.touch()
            self._stack.callback(hosts.unlink, True)
            ep = store.attach(DEFAULT_NETWORK, cid, f"runc-netperf-{cid[:8]}", "runc", [],
                              str(hosts))
            self._stack.callback(store.detach, DEFAULT_NETWORK, cid)
            servers = "qperf & exec iperf3 -s"
            proc = self._proc = self._stack.enter_context(self.runc.serve(
                Job(self.image, ["sh", "-c", servers], sample_hz=0), netns=netns_path(ep)))
            wait_listening(ep.netns, (5201, 19765), proc)
            self.addresses = dict.fromkeys(SERVERS, ep.ip)
            self.extra = {"placement": self.kind, "network": (
                f"runc in a named netns ({ep.netns}) with a veth on isobench's bridge "
                f"network; the OCI config's network namespace path is /run/netns/{ep.netns}")}
        except BaseException:
            self._stack.close()
            raise

    def stop(self) -> None:
        self._stack.close()


def wait_listening(netns: str, ports: Sequence[int], proc: subprocess.Popen[bytes],
                   timeout: float = 20.0) -> None:
    """Until every port listens inside `netns` (read from there: a probe connection would
    count as a client to the servers)."""
    deadline = time.monotonic() + timeout
    wanted = {f":{p:04X} " for p in ports}
    while True:
        tables = subprocess.run(["ip", "netns", "exec", netns, "cat", "/proc/net/tcp",
                                 "/proc/net/tcp6"], capture_output=True, text=True).stdout
        listening = {w for w in wanted for line in tables.splitlines()
                     if w in line and line.split()[3] == "0A"}  # 0A: TCP_LISTEN
        if listening == wanted:
            return
        if proc.poll() is not None:
            raise RuntimeError(f"the servers' runtime exited with code {proc.returncode}")
        if time.monotonic() >= deadline:
            raise RuntimeError(f"servers not listening after {timeout:g} s")
        time.sleep(0.05)


class VmPlacement:
    """The servers in a VM, reached over QEMU's user-mode networking (slirp): each server's
    port forwarded from 127.0.0.1 on the host, the same number inside (qperf's data port
    must be the same on both ends). The guest is destroyed by stop()."""

    kind = "vm-usernet"

    def __init__(self, rt: Runtime, image: str, vcpus: int | None = None) -> None:
        self.rt, self.image, self.vcpus = rt, image, vcpus or os.cpu_count() or 1
        self.addresses = dict.fromkeys(SERVERS, "127.0.0.1")
        self.ports: dict[str, int | None] = dict.fromkeys(("iperf3", "qperf", "qperf_data"))
        self.extra: dict[str, Any] = {}
        self.vm: Any = None

    def alive(self) -> bool:
        return self.vm is not None and not self.vm.finished

    def start(self) -> None:
        from vm.driver import VmRequest  # needs libvirt: see bench/targets/vm.py

        iperf3, qperf, data = free_ports(3)
        self.ports = {"iperf3": iperf3, "qperf": qperf, "qperf_data": data}
        # "up" says the guest booted; a probe of a forwarded port proves nothing (slirp
        # accepts it whether or not the guest listens), so the clients retry until served.
        script = f"echo up; qperf -lp {qperf} & exec iperf3 -s -p {iperf3}"
        req = VmRequest(image=self.image, command=["sh", "-c", script],
                        memory_bytes=VM_NET_MEMORY_BYTES, vcpus=self.vcpus,
                        timeout=VM_BOOT_TIMEOUT_S * 2,
                        forwards=[Forward(p, p) for p in (iperf3, qperf, data)])
        self.vm = BackgroundVm(vm_driver(self.rt), req).start()
        try:
            boot = self.vm.wait_output(VM_BOOT_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        accel = self.vm.running.accel if self.vm.running else None
        emulation = "TCG emulation" if accel == "tcg" else f"{accel or 'unknown'} acceleration"
        self.extra = {"placement": self.kind,
                      "network": f"user-mode networking (slirp), {emulation}",
                      "accel": accel, "forwards": self.ports, "boot_to_servers_s": boot,
                      "memory_bytes": VM_NET_MEMORY_BYTES, "vcpus": self.vcpus}

    def stop(self) -> None:
        if self.vm is not None:
            self.vm.stop()
            if self.vm.error is not None:
                raise self.vm.error  # the driver's cleanup failed, or the guest never ran


class VmTapPlacement(VmPlacement):
    """The servers in a VM on isobench's default bridge network, as a container's: a tap
    device on the bridge, virtio-net in the guest (vhost-net where the host has it and the
    guest runs under KVM), an address on the bridge's subnet; the servers' own ports. The
    driver removes the tap (and the bridge with its last member) when the guest goes."""

    kind = "vm-tap"

    def start(self) -> None:
        from vm.driver import VmRequest  # needs libvirt: see bench/targets/vm.py

        req = VmRequest(image=self.image, command=["sh", "-c", "echo up; qperf & exec iperf3 -s"],
                        memory_bytes=VM_NET_MEMORY_BYTES, vcpus=self.vcpus,
                        timeout=VM_BOOT_TIMEOUT_S * 2, network=DEFAULT_NETWORK)
        self.vm = BackgroundVm(vm_driver(self.rt), req).start()
        try:
            boot = self.vm.wait_output(VM_BOOT_TIMEOUT_S)
            running = self.vm.running
            if running is None or not running.address:
                raise RuntimeError("the guest on the bridge has no address")
        except BaseException:
            self.stop()
            raise
        self.addresses = dict.fromkeys(SERVERS, running.address)
        vhost = vhost_net(running.accel)
        emulation = "TCG emulation" if running.accel == "tcg" else \
            f"{running.accel} acceleration"
        self.extra = {"placement": self.kind, "accel": running.accel, "vhost_net": vhost,
                      "network": f"a tap on isobench's bridge, virtio-net, vhost-net "
                                 f"{'on' if vhost else 'off'}, {emulation}",
                      "guest_address": running.address, "boot_to_servers_s": boot,
                      "memory_bytes": VM_NET_MEMORY_BYTES, "vcpus": self.vcpus}


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (all held at once, so they differ)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def retry(fn: Callable[[], T], timeout: float, pause: float = 0.5,
          alive: Callable[[], bool] = lambda: True) -> T:
    """A client run again until it succeeds or `timeout` passes (a server still starting
    refuses or resets the first connections); the last failure is raised, at once when
    the server's instance is gone."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except (SystemExit, subprocess.SubprocessError) as e:
            if not alive():
                raise SystemExit(f"{e} (the servers' instance has ended)") from None
            if time.monotonic() >= deadline:
                raise SystemExit(str(e)) from None
            time.sleep(pause)


def iperf3_gbits(address: str, seconds: int, port: int | None = None) -> float:
    """TCP throughput to the iperf3 server at `address`: bench.parsers.parse_iperf3's
    gbit_s (what the receiver got). A failure (no server yet, an error, output not
    understood) is a SystemExit with one line, which `retry` retries."""
    argv = ["iperf3", "-c", address, "-t", str(seconds), "-J"]
    if port is not None:
        argv += ["-p", str(port)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + CLIENT_GRACE_S)
    try:
        return parse_iperf3(proc.stdout)["gbit_s"]
    except ParseError as e:
        stderr = proc.stderr.strip()
        raise SystemExit(f"iperf3 to {address}: {e}" + (f" ({stderr[:200]})" if stderr
                                                         else "")) from None


def qperf_latency_us(address: str, seconds: int, listen_port: int | None = None,
                     data_port: int | None = None) -> float:
    """qperf tcp_lat to `address`: bench.parsers.parse_qperf_latency's latency_us."""
    ports = [] if listen_port is None else ["-lp", str(listen_port)]
    ports += [] if data_port is None else ["-ip", str(data_port)]
    out = subprocess.run(["qperf", *ports, "-t", str(seconds), address, "tcp_lat"],
                         capture_output=True, text=True, check=True,
                         timeout=seconds + CLIENT_GRACE_S).stdout
    try:
        return parse_qperf_latency(out)["latency_us"]
    except ParseError as e:
        raise SystemExit(f"qperf to {address}: {e}") from None


# (variant, target, placement): the container both on the bridge and on the host's network
# stack, runc and the VM (a tap) on the same bridge, the VM also behind QEMU's user-mode
# networking (slirp); each compared
# with the same native loopback figures (recorded under every variant).
# What the traffic crosses in the placements whose servers say nothing of it themselves
NETWORK_PATHS = {
    "native": "loopback on the host: servers are host processes",
    "container-bridge": "isobench's bridge: a veth pair into the containers' network namespace",
    "container-host": "the host's network (--network host): loopback, no namespace",
}
NET_PLACEMENTS = (("net.bridge", "container", "container-bridge"),
                  ("net.hostnet", "container", "container-host"),
                  ("net.bridge", "runc", "runc-bridge"),
                  ("net.bridge", "vm", "vm-tap"),
                  ("net.usernet", "vm", "vm-usernet"))
SERVER_START_S = 60.0  # a client retries this long while a server is still starting
NET_METRICS = named("iperf3_gbit_s", "tcp_lat_us")


# Why a target has no placement for a variant (what each variant's name promises).
NOT_PLACED = {
    "net.hostnet": "only a container shares the host's network stack here (--network host)",
    "net.usernet": "user-mode networking (slirp) is QEMU's; a container has no such path",
    "net.bridge": "no bridge placement for this target in this suite",
}


class Net(Workload):
    def skips(self, targets: Sequence[str]) -> list[tuple[str, str, str]]:
        """Each variant a target has no placement for (native runs the loopback baseline
        every variant compares with, so it skips none)."""
        placed = {(v, t) for v, t, _ in NET_PLACEMENTS}
        return [(v.name, t, NOT_PLACED.get(v.name, "no placement for this target"))
                for v in self.variants for t in targets
                if t != "native" and (v.name, t) not in placed]

    def units(self, session: Session) -> list[Unit]:
        """One run a placement and repetition; native's records every variant compared."""
        profile = session.profile
        variants = list(dict.fromkeys(v for v, t, _ in NET_PLACEMENTS
                                      if t in session.targets)) or ["net.bridge", "net.hostnet"]
        units = []
        for rep in range(profile.repeat):
            runs = [("native", "native", variants)] + [
                (t, p, [v]) for v, t, p in NET_PLACEMENTS
                if t in session.targets and rep < profile.repetitions(t, profile.repeat)]
            for target, kind, wanted in runs:
                todo = [v for v in wanted if ("net", v, target, rep) not in session.done]
                if target in session.targets and todo:
                    units.append(Unit("net", todo[0], target, rep,
                                      profile.repetitions(target, profile.repeat),
                                      records=tuple(todo), label=f"({kind})"))
        return units

    def run_unit(self, session: Session, unit: Unit) -> None:
        kind = unit.label.strip("()")
        rec = _net_run(session, image_tag(self.image), unit.target, kind, unit.rep)
        for variant in unit.records:
            session.record(RunRecord(**{**rec.__dict__, "variant": variant}))


def _placement(session: Session, image: str, target: str,
               kind: str) -> Placement | RuncPlacement | VmPlacement:
    """The placement `kind` names (NET_PLACEMENTS); VmTapPlacement is a VmPlacement."""
    if kind == "runc-bridge":
        runc = session.targets[target]
        assert isinstance(runc, RuncTarget)
        return RuncPlacement(runc, image=image)
    if kind == "vm-usernet":
        return VmPlacement(session.rt, image=image)
    if kind == "vm-tap":
        return VmTapPlacement(session.rt, image=image)
    return Placement(kind, cli_env(session.rt), image=image)


def _net_run(session: Session, image: str, target: str, kind: str, rep: int) -> RunRecord:
    rec = RunRecord("net", "", target, rep, ok=False, started_at=time.time())
    placement = _placement(session, image, target, kind)
    t0 = time.perf_counter()
    try:
        placement.start()
        ports, seconds = placement.ports, session.profile.seconds
        rec.metrics = {
            "iperf3_gbit_s": retry(lambda: iperf3_gbits(
                placement.addresses["iperf3"], seconds, ports["iperf3"]), SERVER_START_S,
                alive=placement.alive),
            "tcp_lat_us": retry(lambda: qperf_latency_us(
                placement.addresses["qperf"], seconds, ports["qperf"], ports["qperf_data"]),
                SERVER_START_S, alive=placement.alive)}
        rec.ok = True
    except (SystemExit, Exception) as e:  # noqa: BLE001
        rec.error = str(e)
    finally:
        try:
            placement.stop()
        except Exception as e:  # noqa: BLE001 - a failed teardown fails the run, loudly
            rec.ok, rec.error = False, f"{rec.error}; teardown: {e}".lstrip("; ")
    rec.wall_s = time.perf_counter() - t0
    rec.extra = {"placement": kind, **placement.extra,
                 "setup": setup.block(target, network=placement.extra.get("network")
                                      or NETWORK_PATHS.get(kind, kind),
                                      timer="iperf3's and qperf's own reports (host client → "
                                            "server in the target)")}
    if rec.error:
        session.progress(f"  failed: {rec.error}")
    return rec


WORKLOAD = Net(
    "net", "bench", tuple(Variant(name, metrics=NET_METRICS)
                          for name in ("net.bridge", "net.hostnet", "net.usernet")),
    "iperf3 TCP throughput (Gbit/s received, retransmits; parse_iperf3) and qperf tcp_lat "
    "request/response latency (µs; parse_qperf_latency) between a host client and a server in "
    "the target, over loopback or isobench's bridge only; containers both on the bridge "
    "network and with --network host; the VM on the bridge (a tap, virtio-net: net.bridge) "
    "and behind QEMU's user-mode networking (slirp: net.usernet).")
