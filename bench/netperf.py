"""Host <-> container network cost: bridge (veth) against --network host, against native.

    cd /work/main && .venv/bin/python -m bench.netperf --runs 5

The server (iperf3 -s, qperf) runs natively, in a container on the default bridge network,
or in a container with --network host; the client is always a host process. Traffic stays
on this machine: loopback, or the container's address on isobench's own bridge. The image
is built from bench/images/net/Dockerfile by isobench's own builder. Placements alternate
within each round, so drift hits all alike. (Felter et al., IBM 2015, compared Docker's
NAT/bridge against host networking the same way.)

The harness adds two placements of its own: runc in a named netns with a veth on isobench's
bridge (RuncPlacement), and a VM reached through QEMU's user-mode networking, its ports
forwarded to 127.0.0.1 (VmPlacement).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bench import leases
from results.stats import iqr, median
from runtime.fsutil import atomic_write

if TYPE_CHECKING:
    from bench.targets import RuncTarget
    from runtime.api import Runtime

T = TypeVar("T")

ISOBENCH = str(Path(sys.executable).with_name("isobench"))
IMAGE_DIR = Path(__file__).parent / "images" / "net"
IMAGE = "isobench-net"
PLACEMENTS = ("native", "container-bridge", "container-host")
SERVERS = {"iperf3": ["iperf3", "-s"], "qperf": ["qperf"]}
CLIENT_GRACE_S = 30      # a client run may take this long beyond its test duration
VM_BOOT_TIMEOUT_S = 300  # a TCG boot takes ~20 s here; two at once on 2 cores, longer
VM_NET_MEMORY_BYTES = 512 << 20


class Placement:
    """Start/stop the servers in one placement; give the address a client uses."""

    def __init__(self, kind: str, env: dict[str, str], image: str = IMAGE) -> None:
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

    def __init__(self, runc: RuncTarget, image: str = IMAGE) -> None:
        self.runc, self.image = runc, image
        self.addresses = dict.fromkeys(SERVERS, "")
        self.ports: dict[str, int | None] = dict.fromkeys(("iperf3", "qperf", "qperf_data"))
        self.extra: dict[str, Any] = {}
        self._stack = ExitStack()
        self._proc: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        from bench.targets import Job
        from runtime.network import DEFAULT_NETWORK, netns_path

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

    def __init__(self, rt: Runtime, image: str = IMAGE, vcpus: int | None = None) -> None:
        self.rt, self.image, self.vcpus = rt, image, vcpus or os.cpu_count() or 1
        self.addresses = dict.fromkeys(SERVERS, "127.0.0.1")
        self.ports: dict[str, int | None] = dict.fromkeys(("iperf3", "qperf", "qperf_data"))
        self.extra: dict[str, Any] = {}
        self.vm: Any = None

    def alive(self) -> bool:
        return self.vm is not None and not self.vm.finished

    def start(self) -> None:
        from bench.vmtarget import BackgroundVm, vm_driver
        from vm.domain import Forward
        from vm.driver import VmRequest

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
    argv = ["iperf3", "-c", address, "-t", str(seconds), "-J"]
    if port is not None:
        argv += ["-p", str(port)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + CLIENT_GRACE_S)
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise SystemExit(f"iperf3 to {address}: no JSON ({proc.stderr.strip()[:200]})") \
            from None
    if "error" in out:
        raise SystemExit(f"iperf3 to {address}: {out['error']}")
    return out["end"]["sum_received"]["bits_per_second"] / 1e9


def qperf_latency_us(address: str, seconds: int, listen_port: int | None = None,
                     data_port: int | None = None) -> float:
    ports = [] if listen_port is None else ["-lp", str(listen_port)]
    ports += [] if data_port is None else ["-ip", str(data_port)]
    out = subprocess.run(["qperf", *ports, "-t", str(seconds), address, "tcp_lat"],
                         capture_output=True, text=True, check=True,
                         timeout=seconds + CLIENT_GRACE_S).stdout
    m = re.search(r"latency\s*=\s*([\d.]+)\s*(ns|us|ms|sec)", out)
    if not m:
        raise SystemExit(f"qperf output not understood: {out!r}")
    return float(m.group(1)) * {"ns": 1e-3, "us": 1.0, "ms": 1e3, "sec": 1e6}[m.group(2)]


def run(runs: int, seconds: int) -> dict[str, dict[str, list[float]]]:
    root = Path(tempfile.mkdtemp(prefix="isobench-netperf-"))
    env = {**os.environ, "ISOBENCH_ROOT": str(root)}
    results = {p: {"iperf3_gbit_s": [], "tcp_lat_us": []} for p in PLACEMENTS}
    try:
        subprocess.run([ISOBENCH, "build", "-q", "-t", IMAGE, str(IMAGE_DIR)], env=env,
                       check=True, capture_output=True)
        for round_ in range(runs):
            order = PLACEMENTS if round_ % 2 == 0 else tuple(reversed(PLACEMENTS))
            for kind in order:
                placement = Placement(kind, env)
                placement.start()
                try:
                    address = placement.addresses
                    results[kind]["iperf3_gbit_s"].append(iperf3_gbits(address["iperf3"],
                                                                       seconds))
                    results[kind]["tcp_lat_us"].append(qperf_latency_us(address["qperf"],
                                                                        seconds))
                finally:
                    placement.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.netperf", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3, help="per iperf3/qperf run")
    parser.add_argument("--json", help="also write the raw values here")
    args = parser.parse_args(argv)
    results = run(args.runs, args.seconds)
    print(f"{'placement':<18} {'iperf3 Gbit/s':>14} {'IQR':>6} {'tcp_lat us':>11} {'IQR':>6}")
    for kind, metrics in results.items():
        bw, lat = metrics["iperf3_gbit_s"], metrics["tcp_lat_us"]
        print(f"{kind:<18} {median(bw):>14.2f} {iqr(bw):>6.2f} {median(lat):>11.1f} "
              f"{iqr(lat):>6.1f}")
    native = results["native"]
    for kind in PLACEMENTS[1:]:
        bw = median(results[kind]["iperf3_gbit_s"]) / median(native["iperf3_gbit_s"])
        lat = median(results[kind]["tcp_lat_us"]) / median(native["tcp_lat_us"])
        print(f"{kind}/native: throughput x{bw:.2f}, latency x{lat:.2f}")
    if args.json:
        atomic_write(Path(args.json), json.dumps(results, indent=2).encode())  # never half
    print(f"reproduce: cd /work/main && .venv/bin/python -m bench.netperf --runs {args.runs} "
          f"--seconds {args.seconds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
