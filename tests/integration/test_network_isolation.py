"""Networks are isolated as Docker isolates them, whether or not the host forwards: a member
of one network reaches neither another network's members nor what is behind a bridge
isobench does not own, while its own network, its gateway and published ports still answer.
The rules go with `network rm` and with `gc` of a killed run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import ISOBENCH, Cli, Leftovers
from tests.integration.test_soak import children, gc_counts, record_of, wait_for

IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
HTTPD = "mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www"
FOREIGN_BRIDGE = "fbr-isotest"
FOREIGN_NS = "foreign-isotest"
FOREIGN_GW, FOREIGN_HOST = "10.231.7.1", "10.231.7.2"
NOTHING = Leftovers(0, 0, 0, 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def isobench_rules() -> list[str]:
    out = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if "isobench" in line.lower()]


@pytest.fixture
def forwarding() -> Iterator[None]:
    """The host forwards IPv4 for the test's duration (as Docker, libvirt and podman make it);
    the value found is put back."""
    for tool in ("iptables-save", "curl"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed: isolation cannot be made or probed here")
    old = IP_FORWARD.read_text()
    IP_FORWARD.write_text("1\n")
    try:
        yield
    finally:
        IP_FORWARD.write_text(old)


@pytest.fixture
def foreign_bridge() -> Iterator[str]:
    """A bridge isobench does not own (docker0, virbr0) with a web server behind it, in a
    network namespace of its own whose default route is that bridge."""
    www = tempfile.mkdtemp(prefix="isotest-www-")
    Path(www, "index.html").write_text("foreign\n")
    cmds = [f"link add name {FOREIGN_BRIDGE} type bridge",
            f"addr add {FOREIGN_GW}/24 dev {FOREIGN_BRIDGE}", f"link set {FOREIGN_BRIDGE} up",
            f"netns add {FOREIGN_NS}",
            f"link add fveth-iso type veth peer name eth0 netns {FOREIGN_NS}",
            f"link set fveth-iso master {FOREIGN_BRIDGE}", "link set fveth-iso up",
            f"-n {FOREIGN_NS} link set lo up",
            f"-n {FOREIGN_NS} addr add {FOREIGN_HOST}/24 dev eth0",
            f"-n {FOREIGN_NS} link set eth0 up",
            f"-n {FOREIGN_NS} route add default via {FOREIGN_GW}"]
    server = None
    try:
        for cmd in cmds:
            subprocess.run(["ip", *cmd.split()], check=True, capture_output=True)
        server = subprocess.Popen(["ip", "netns", "exec", FOREIGN_NS, BUSYBOX, "httpd", "-f",
                                   "-p", "8080", "-h", www])
        yield FOREIGN_NS
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "link", "del", "fveth-iso"], capture_output=True)
        subprocess.run(["ip", "link", "del", FOREIGN_BRIDGE], capture_output=True)
        subprocess.run(["ip", "netns", "del", FOREIGN_NS], capture_output=True)
        shutil.rmtree(www, ignore_errors=True)


def fetch(netns: str, url: str, tries: int = 1) -> str | None:
    """The page, fetched from inside `netns` with the host's curl (busybox-static's wget
    segfaults on this host); None: no answer in 2 s."""
    for attempt in range(tries):
        proc = subprocess.run(["ip", "netns", "exec", netns, "curl", "-sf", "-m", "2", url],
                              capture_output=True, text=True, timeout=20)
        if proc.returncode == 0:
            return proc.stdout.strip()
        if attempt + 1 < tries:
            time.sleep(0.3)
    return None


def endpoint(cli: Cli, network: str, name: str) -> dict:
    net = json.loads(cli("network", "inspect", network, check=True).stdout)[0]
    return next(ep for ep in net["endpoints"].values() if ep["name"] == name)


def test_networks_are_isolated_from_each_other_and_from_foreign_bridges(
        cli: Cli, forwarding: None, foreign_bridge: str) -> None:
    before = cli.census()
    assert isobench_rules() == []
    cli("network", "create", "--subnet", "10.232.1.0/24", "neta", check=True)
    cli("network", "create", "--subnet", "10.232.2.0/24", "netb", check=True)
    host_port = free_port()
    cli("run", "-d", "--name", "a1", "--network", "neta", "-p", f"{host_port}:80", "busybox",
        "sh", "-c",
        HTTPD.format(text="a1"), check=True)
    cli("run", "-d", "--name", "a2", "--network", "neta", "busybox", "sleep", "120", check=True)
    cli("run", "-d", "--name", "b1", "--network", "netb", "busybox", "sh", "-c",
        HTTPD.format(text="b1"), check=True)
    a1, a2, b1 = (endpoint(cli, n, c) for n, c in (("neta", "a1"), ("neta", "a2"),
                                                   ("netb", "b1")))
    gw_a = json.loads(cli("network", "inspect", "neta", check=True).stdout)[0]["gateway"]

    # still working: the same network, the own gateway (published port), the port from outside
    assert fetch(a2["netns"], f"http://{a1['ip']}/index.html", tries=10) == "a1"
    assert fetch(a2["netns"], f"http://{gw_a}:{host_port}/index.html") == "a1"
    assert fetch(foreign_bridge, f"http://{FOREIGN_GW}:{host_port}/index.html") == "a1"
    # the foreign host itself answers from the host: the probe can tell an answer apart
    assert fetch(foreign_bridge, f"http://{FOREIGN_HOST}:8080/index.html") == "foreign"
    assert fetch(b1["netns"], f"http://{b1['ip']}/index.html", tries=10) == "b1"

    # dropped, though the host forwards: the other network, the foreign bridge's host, and
    # the host on an address that is not the network's own gateway
    assert fetch(a2["netns"], f"http://{b1['ip']}/index.html") is None
    assert fetch(b1["netns"], f"http://{a1['ip']}/index.html") is None
    assert fetch(a2["netns"], f"http://{FOREIGN_HOST}:8080/index.html") is None
    assert fetch(a2["netns"], f"http://{FOREIGN_GW}:{host_port}/index.html") is None
    assert fetch(foreign_bridge, f"http://{a1['ip']}/index.html") is None

    assert len(isobench_rules()) > 0
    cli("rm", "-f", "a1", "a2", "b1", check=True)
    cli("network", "rm", "neta", "netb", check=True)
    assert isobench_rules() == []
    assert cli.census() - before == NOTHING


def test_internal_network_has_no_route_out(cli: Cli, forwarding: None,
                                           foreign_bridge: str) -> None:
    cli("network", "create", "--internal", "--subnet", "10.232.3.0/24", "inner", check=True)
    host_port = free_port()
    cli("run", "-d", "--name", "i1", "--network", "inner", "-p", f"{host_port}:80", "busybox",
        "sh", "-c",
        HTTPD.format(text="i1"), check=True)
    cli("run", "-d", "--name", "i2", "--network", "inner", "busybox", "sleep", "120",
        check=True)
    i1, i2 = endpoint(cli, "inner", "i1"), endpoint(cli, "inner", "i2")
    net = json.loads(cli("network", "inspect", "inner", check=True).stdout)[0]
    routes = subprocess.run(["ip", "-n", i2["netns"], "route"], capture_output=True,
                            text=True, check=True).stdout
    assert net["internal"] is True and "default" not in routes
    assert fetch(i2["netns"], f"http://{i1['ip']}/index.html", tries=10) == "i1"
    assert fetch(i2["netns"], f"http://{net['gateway']}:{host_port}/index.html") is None
    assert fetch(i2["netns"], f"http://{FOREIGN_HOST}:8080/index.html") is None
    # published from the host side, the port still answers
    assert fetch(foreign_bridge, f"http://{FOREIGN_GW}:{host_port}/index.html") == "i1"
    cli("rm", "-f", "i1", "i2", check=True)
    cli("network", "rm", "inner", check=True)
    assert isobench_rules() == []


def test_gc_of_a_killed_run_removes_its_rules(cli: Cli, forwarding: None) -> None:
    before = cli.census()
    cli("network", "create", "--subnet", "10.232.4.0/24", "lostnet", check=True)
    bridge = json.loads(cli("network", "inspect", "lostnet", check=True).stdout)[0]["bridge"]
    proc = subprocess.Popen([ISOBENCH, "run", "--rm", "--name", "lost", "--network", "lostnet",
                             "busybox", "sleep", "60"], env=cli.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for(lambda: (record_of(cli.root, "lost") or {}).get("state", {}).get("status")
             == "running", 30, "lost to run")
    os.kill(proc.pid, signal.SIGSTOP)
    for pid in [proc.pid, *children(proc.pid)]:  # the CLI and the monitor, as a crash would
        os.kill(pid, signal.SIGKILL)
    proc.wait()
    assert any(bridge in rule for rule in isobench_rules())
    removed = gc_counts(cli)
    assert removed["bridges"] == 1, removed  # and its rules with it
    assert not any(bridge in rule for rule in isobench_rules())
    assert isobench_rules() == []
    cli("network", "rm", "lostnet", check=True)
    assert isobench_rules() == []
    assert cli.census() - before == NOTHING
