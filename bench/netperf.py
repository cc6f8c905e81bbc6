"""Host <-> container network cost: bridge (veth) against --network host, against native.

    cd /work/main && .venv/bin/python -m bench.netperf --runs 5

The server (iperf3 -s, qperf) runs natively, in a container on the default bridge network,
or in a container with --network host; the client is always a host process. Traffic stays
on this machine: loopback, or the container's address on isobench's own bridge. The image
is built from bench/images/net/Dockerfile by isobench's own builder. Placements alternate
within each round, so drift hits all alike. (Felter et al., IBM 2015, compared Docker's
NAT/bridge against host networking the same way.)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.startup import iqr, median

ISOBENCH = str(Path(sys.executable).with_name("isobench"))
IMAGE_DIR = Path(__file__).parent / "images" / "net"
IMAGE = "isobench-net"
PLACEMENTS = ("native", "container-bridge", "container-host")
SERVERS = {"iperf3": ["iperf3", "-s"], "qperf": ["qperf"]}


class Placement:
    """Start/stop the servers in one placement; give the address a client uses."""

    def __init__(self, kind: str, env: dict[str, str], image: str = IMAGE) -> None:
        self.kind, self.env, self.image = kind, env, image
        self.procs: list[subprocess.Popen[bytes]] = []
        self.names: list[str] = []
        self.addresses = dict.fromkeys(SERVERS, "127.0.0.1")

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


def iperf3_gbits(address: str, seconds: int) -> float:
    out = json.loads(subprocess.run(["iperf3", "-c", address, "-t", str(seconds), "-J"],
                                    capture_output=True, text=True).stdout)
    if "error" in out:
        raise SystemExit(f"iperf3 to {address}: {out['error']}")
    return out["end"]["sum_received"]["bits_per_second"] / 1e9


def qperf_latency_us(address: str, seconds: int) -> float:
    out = subprocess.run(["qperf", "-t", str(seconds), address, "tcp_lat"],
                         capture_output=True, text=True, check=True).stdout
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
        Path(args.json).write_text(json.dumps(results, indent=2))
    print(f"reproduce: cd /work/main && .venv/bin/python -m bench.netperf --runs {args.runs} "
          f"--seconds {args.seconds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
