"""What network isolation changes and costs (issue 22), for one source tree at a time.

    python -m bench.tools.isolation --tree DIR [--starts 20] [--json OUT]

Runs `python -m isobench` from DIR (this checkout, or an older one such as a `git worktree`
of the commit before the rules) in a temporary ISOBENCH_ROOT, and reports:

- the isolation matrix with ip_forward 0 and 1 (restored afterwards): a container on neta
  fetching from one on neta, one on netb, a host behind a foreign bridge (a netns), and the
  published port through its own gateway; `yes` = it answered within 2 s;
- start-up: `run --rm busybox true` on the default network, --starts times (each run makes
  and removes the bridge, so it pays for the rules each time), median and IQR in ms;
- bridge throughput: iperf3 (the host's binary) between two containers' namespaces on one
  network, 5 s, Gbit/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
HTTPD = "mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www"
FB, FNS, FGW, FHOST = "fbr-isobench", "foreign-isobench", "10.231.9.1", "10.231.9.2"


class Tree:
    def __init__(self, tree: Path, root: Path) -> None:
        self.argv = [sys.executable, "-m", "isobench"]
        self.env = {**os.environ, "PYTHONPATH": str(tree), "ISOBENCH_ROOT": str(root),
                    "ISOBENCH_CGROUP_PARENT": f"isobench-measure-{root.name}"}
        self.cwd = tree

    def __call__(self, *args: str) -> str:
        proc = subprocess.run([*self.argv, *args], env=self.env, cwd=self.cwd,
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise SystemExit(f"isobench {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout


def fetch(netns: str, url: str) -> bool:
    return subprocess.run(["ip", "netns", "exec", netns, "curl", "-sf", "-m", "2", url],
                          capture_output=True).returncode == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def foreign(up: bool, www: str = "") -> subprocess.Popen[bytes] | None:
    if not up:
        for cmd in (["link", "del", "fveth-isob"], ["link", "del", FB], ["netns", "del", FNS]):
            subprocess.run(["ip", *cmd], capture_output=True)
        return None
    for cmd in [f"link add name {FB} type bridge", f"addr add {FGW}/24 dev {FB}",
                f"link set {FB} up", f"netns add {FNS}",
                f"link add fveth-isob type veth peer name eth0 netns {FNS}",
                f"link set fveth-isob master {FB}", "link set fveth-isob up",
                f"-n {FNS} link set lo up", f"-n {FNS} addr add {FHOST}/24 dev eth0",
                f"-n {FNS} link set eth0 up", f"-n {FNS} route add default via {FGW}"]:
        subprocess.run(["ip", *cmd.split()], check=True, capture_output=True)
    return subprocess.Popen(["ip", "netns", "exec", FNS, "busybox", "httpd", "-f", "-p", "8080",
                             "-h", www])


def endpoints(cli: Tree, net: str) -> tuple[str, dict[str, dict]]:
    d = json.loads(cli("network", "inspect", net))[0]
    return d["gateway"], {ep["name"]: ep for ep in d["endpoints"].values()}


def matrix(cli: Tree) -> dict[str, dict[str, bool]]:
    port = free_port()
    cli("network", "create", "--subnet", "10.233.1.0/24", "neta")
    cli("network", "create", "--subnet", "10.233.2.0/24", "netb")
    cli("run", "-d", "--name", "a1", "--network", "neta", "-p", f"{port}:80", "busybox", "sh",
        "-c", HTTPD.format(text="a1"))
    cli("run", "-d", "--name", "a2", "--network", "neta", "busybox", "sleep", "300")
    cli("run", "-d", "--name", "b1", "--network", "netb", "busybox", "sh", "-c",
        HTTPD.format(text="b1"))
    gw, eps = endpoints(cli, "neta")
    _, bps = endpoints(cli, "netb")
    ns = eps["a2"]["netns"]
    probes = {"same network": f"http://{eps['a1']['ip']}/index.html",
              "other network": f"http://{bps['b1']['ip']}/index.html",
              "foreign bridge host": f"http://{FHOST}:8080/index.html",
              "host on foreign bridge addr": f"http://{FGW}:{port}/index.html",
              "published port via own gateway": f"http://{gw}:{port}/index.html"}
    deadline = time.monotonic() + 10
    while not fetch(ns, probes["same network"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    out: dict[str, dict[str, bool]] = {}
    old = IP_FORWARD.read_text()
    try:
        for fwd in ("0", "1"):
            IP_FORWARD.write_text(fwd + "\n")
            out[f"ip_forward={fwd}"] = {k: fetch(ns, url) for k, url in probes.items()}
            out[f"ip_forward={fwd}"]["published port from foreign netns"] = fetch(
                FNS, f"http://{FGW}:{port}/index.html")
    finally:
        IP_FORWARD.write_text(old)
    cli("rm", "-f", "a1", "a2", "b1")
    cli("network", "rm", "neta", "netb")
    return out


def starts(cli: Tree, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        cli("run", "--rm", "busybox", "true")
        times.append((time.perf_counter() - t0) * 1000)
    return times


def throughput(cli: Tree) -> float:
    cli("network", "create", "--subnet", "10.233.3.0/24", "perf")
    cli("run", "-d", "--name", "srv", "--network", "perf", "busybox", "sleep", "300")
    cli("run", "-d", "--name", "cln", "--network", "perf", "busybox", "sleep", "300")
    _, eps = endpoints(cli, "perf")
    server = subprocess.Popen(["ip", "netns", "exec", eps["srv"]["netns"], "iperf3", "-s", "-1"],
                              stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    out = subprocess.run(["ip", "netns", "exec", eps["cln"]["netns"], "iperf3", "-c",
                          eps["srv"]["ip"], "-t", "5", "-J"], capture_output=True, text=True)
    server.wait(timeout=10)
    cli("rm", "-f", "srv", "cln")
    cli("network", "rm", "perf")
    return json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"] / 1e9


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[2])
    ap.add_argument("--starts", type=int, default=20)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="isobench-measure-"))
    www = tempfile.mkdtemp(prefix="isobench-www-")
    Path(www, "index.html").write_text("foreign\n")
    cli = Tree(args.tree.resolve(), root)
    server = foreign(True, www)
    try:
        cli("run", "--rm", "--network", "none", "busybox", "true")  # the base image, once
        result = {"tree": str(args.tree), "matrix": matrix(cli)}
        t = starts(cli, args.starts)
        q = statistics.quantiles(t, n=4)
        result["start_ms"] = {"median": statistics.median(t), "iqr": q[2] - q[0], "n": len(t)}
        result["iperf3_gbps"] = throughput(cli)
    finally:
        if server is not None:
            server.kill()
        foreign(False)
        subprocess.run([*cli.argv, "gc"], env=cli.env, cwd=cli.cwd, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(www, ignore_errors=True)
        for d in Path("/sys/fs/cgroup").glob(f"*/isobench-measure-{root.name}"):
            try:
                d.rmdir()
            except OSError:
                pass
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
