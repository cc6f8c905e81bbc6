"""Volumes, bridge networks and published ports against the real kernel."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import Cli, Leftovers

pytestmark = pytest.mark.root

HTTPD = "mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www"
NOTHING = Leftovers(0, 0, 0, 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """As a server would bind it: TIME_WAIT leftovers of closed connections do not count."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def host_address() -> str | None:
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True).stdout.split()
    return out[out.index("inet") + 1].split("/")[0] if "inet" in out else None


def test_published_port_answers_and_is_released_on_stop(cli: Cli) -> None:
    before = cli.census()
    port, any_port = free_port(), free_port()
    cli("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", "-p", f"{any_port}:80",
        "busybox", "sh", "-c", HTTPD.format(text="hello-published"), check=True)
    assert fetch(f"http://127.0.0.1:{port}/index.html") == "hello-published\n"
    address = host_address()
    if address:  # -p without an address listens on the host's own addresses too
        assert fetch(f"http://{address}:{any_port}/index.html") == "hello-published\n"
    assert f"127.0.0.1:{port}->80/tcp" in cli("ps", check=True).stdout
    info = json.loads(cli("inspect", "web", check=True).stdout)[0]
    assert f"127.0.0.1:{port}->80/tcp" in info["NetworkSettings"]["Ports"]
    assert info["NetworkSettings"]["IPAddress"].startswith("10.")
    cli("stop", "-t", "1", "web", check=True)
    assert port_is_free(port) and port_is_free(any_port, "0.0.0.0")
    cli("rm", "web", check=True)
    assert cli.census() - before == NOTHING


def test_containers_on_a_user_network_reach_each_other_by_name(cli: Cli) -> None:
    before = cli.census()
    cli("network", "create", "--subnet", "10.201.0.0/24", "appnet", check=True)
    cli("run", "-d", "--name", "server", "--network", "appnet", "busybox", "sh", "-c",
        HTTPD.format(text="by-name"), check=True)
    out = cli("run", "--rm", "--network", "appnet", "busybox", "sh", "-c",
              "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://server/index.html && exit 0; "
              "sleep 0.3; done; exit 1", check=True).stdout
    assert out == "by-name\n"
    # members come and go: /etc/hosts of the server follows
    cli("run", "-d", "--name", "visitor", "--network", "appnet", "busybox", "sleep", "60",
        check=True)
    hosts = cli("exec", "server", "cat", "/etc/hosts", check=True).stdout
    assert "visitor" in hosts and "10.201.0." in hosts
    cli("rm", "-f", "visitor", check=True)
    assert "visitor" not in cli("exec", "server", "cat", "/etc/hosts", check=True).stdout
    refused = cli("network", "rm", "appnet")
    assert refused.returncode == 1 and "has active endpoints" in refused.stderr
    cli("rm", "-f", "server", check=True)
    cli("network", "rm", "appnet", check=True)
    assert cli.census() - before == NOTHING


def test_named_volume_outlives_its_containers_and_ro_is_read_only(cli: Cli) -> None:
    before = cli.census()
    cli("run", "--rm", "-v", "keep:/data", "busybox", "sh", "-c", "echo kept > /data/f",
        check=True)
    assert "keep" in cli("volume", "ls", check=True).stdout
    assert cli("run", "--rm", "-v", "keep:/data", "busybox", "cat", "/data/f",
               check=True).stdout == "kept\n"
    ro = cli("run", "--rm", "-v", "keep:/data:ro", "busybox", "sh", "-c",
             "touch /data/g 2>&1; cat /data/f")
    assert "Read-only file system" in ro.stdout and "kept" in ro.stdout
    cli("run", "-d", "--name", "holder", "-v", "keep:/data", "busybox", "sleep", "60",
        check=True)
    in_use = cli("volume", "rm", "keep")
    assert in_use.returncode == 1 and "volume is in use" in in_use.stderr
    cli("rm", "-f", "holder", check=True)
    cli("volume", "rm", "keep", check=True)
    assert cli.census() - before == NOTHING


def test_empty_volume_is_filled_from_the_image_and_binds_work(cli: Cli, tmp_path: Path) -> None:
    out = cli("run", "--rm", "-v", "etc:/etc", "busybox", "cat", "/etc/passwd", check=True)
    assert out.stdout.startswith("root:x:0:0")
    data = Path(json.loads(cli("volume", "inspect", "etc", check=True).stdout)[0]["mountpoint"])
    assert (data / "passwd").exists() and (data / "group").exists()
    host = tmp_path / "shared"
    host.mkdir()
    (host / "in.txt").write_text("from host\n")
    cli("run", "--rm", "-v", f"{host}:/mnt", "busybox", "sh", "-c",
        "cat /mnt/in.txt; echo back > /mnt/out.txt", check=True)
    assert (host / "out.txt").read_text() == "back\n"
    ro = cli("run", "--rm", "-v", f"{host}:/mnt:ro", "busybox", "touch", "/mnt/x")
    assert ro.returncode != 0 and not (host / "x").exists()
    cli("volume", "rm", "etc", check=True)


def test_anonymous_volume_of_an_image_volume_goes_with_rm_v(cli: Cli, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN mkdir /data && echo seed > /data/s\n"
                                    "VOLUME /data\n")
    cli("build", "-t", "withvol", str(ctx), check=True)
    before = cli.census()
    out = cli("run", "--name", "v1", "withvol", "sh", "-c", "cat /data/s; echo new > /data/n",
              check=True).stdout
    assert out == "seed\n"  # the anonymous volume was seeded from the image
    mounts = json.loads(cli("inspect", "v1", check=True).stdout)[0]["Mounts"]
    anon = [m for m in mounts if m["Destination"] == "/data"]
    assert len(anon) == 1 and anon[0]["Type"] == "volume"
    assert anon[0]["Source"] in cli("volume", "ls", "-q", check=True).stdout
    cli("rm", "-v", "v1", check=True)
    assert anon[0]["Source"] not in cli("volume", "ls", "-q", check=True).stdout
    assert cli.census() - before == NOTHING


def test_bad_network_volume_and_port_input(cli: Cli, tmp_path: Path) -> None:
    cli("network", "create", "--subnet", "10.202.0.0/16", "taken", check=True)
    cli("run", "--rm", "busybox", "true", check=True)
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    busy = blocker.getsockname()[1]
    cases = [
        (["network", "create", "--subnet", "10.202.128.0/17", "overlap"], 1, "overlaps"),
        (["network", "create", "--subnet", "10.300.0.0/16", "bogus"], 1, "invalid subnet"),
        (["network", "create", "taken"], 1, "already exists"),
        (["network", "rm", "nonet"], 1, "network nonet not found"),
        (["run", "--rm", "-p", "70000:80", "busybox", "true"], 125, "invalid hostPort: 70000"),
        (["run", "--rm", "-p", "8080:0", "busybox", "true"], 125, "invalid containerPort: 0"),
        (["run", "--rm", "-p", f"127.0.0.1:{busy}:80", "busybox", "true"], 125,
         "port is already allocated"),
        (["run", "--rm", "-v", "rel/path:/x", "busybox", "true"], 125,
         "If you intended to pass a host directory, use absolute path"),
        (["run", "--rm", "-v", f"{tmp_path}/missing:/x", "busybox", "true"], 125,
         "bind source path does not exist"),
        (["run", "--rm", "-v", "vol:relative", "busybox", "true"], 125, "must be absolute"),
        (["volume", "rm", "novol"], 1, "no such volume"),
    ]
    try:
        for argv, code, text in cases:
            before = cli.census()
            proc = cli(*argv)
            assert proc.returncode == code, (argv, proc.stderr)
            lines = proc.stderr.splitlines()
            assert len(lines) == 1 and text in lines[0], (argv, proc.stderr)
            assert cli.census() - before == NOTHING, argv
    finally:
        blocker.close()
        cli("network", "rm", "taken")
