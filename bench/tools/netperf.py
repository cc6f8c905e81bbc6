"""Host <-> container network cost: bridge (veth) against --network host, against native.

    .venv/bin/python -m bench.tools.netperf --runs 5      (in the checkout's root)

The server (iperf3 -s, qperf) runs natively, in a container on the default bridge network,
or in a container with --network host; the client is always a host process. Traffic stays
on this machine: loopback, or the container's address on isobench's own bridge. The image
is built from bench/images/net/Dockerfile by isobench's own builder. Placements alternate
within each round, so drift hits all alike. (Felter et al., IBM 2015, compared Docker's
NAT/bridge against host networking the same way.)

The harness's net workload (bench/workloads/net.py, whose placements and clients this uses)
adds two placements of its own: runc in a named netns with a veth on isobench's bridge
(RuncPlacement), and a VM reached through QEMU's user-mode networking, its ports forwarded
to 127.0.0.1 (VmPlacement).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.tools import reproduce_command
from bench.workloads.common import ISOBENCH
from bench.workloads.net import Placement, iperf3_gbits, qperf_latency_us
from results.stats import median, summarize
from runtime.fsutil import atomic_write

IMAGE_DIR = Path(__file__).parents[1] / "images" / "net"
IMAGE = "isobench-net"
PLACEMENTS = ("native", "container-bridge", "container-host")


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
                placement = Placement(kind, env, IMAGE)
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


def _spread(iqr: float | None, digits: int) -> str:
    """An IQR column: "-" for one run, which has no spread to show."""
    return f"{'-':>6}" if iqr is None else f"{iqr:>6.{digits}f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tools.netperf", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3, help="per iperf3/qperf run")
    parser.add_argument("--json", help="also write the raw values here")
    args = parser.parse_args(argv)
    results = run(args.runs, args.seconds)
    print(f"{'placement':<18} {'iperf3 Gbit/s':>14} {'IQR':>6} {'tcp_lat us':>11} {'IQR':>6} "
          f"{'n':>3}")
    for kind, metrics in results.items():
        bw, lat = summarize(metrics["iperf3_gbit_s"]), summarize(metrics["tcp_lat_us"])
        print(f"{kind:<18} {bw.median:>14.2f} {_spread(bw.iqr, 2)} {lat.median:>11.1f} "
              f"{_spread(lat.iqr, 1)} {bw.n:>3}")
    native = results["native"]
    for kind in PLACEMENTS[1:]:
        bw = median(results[kind]["iperf3_gbit_s"]) / median(native["iperf3_gbit_s"])
        lat = median(results[kind]["tcp_lat_us"]) / median(native["tcp_lat_us"])
        print(f"{kind}/native: throughput x{bw:.2f}, latency x{lat:.2f}")
    if args.json:
        atomic_write(Path(args.json), json.dumps(results, indent=2).encode())  # never half
    print("reproduce: " + reproduce_command("netperf", "--runs", str(args.runs),
                                            "--seconds", str(args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
