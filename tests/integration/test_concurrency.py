"""Several isobench processes at once: runs, a build, rmi, network and volume changes.

Each test launches real CLI processes side by side against one private store and then
checks the store itself: `images --verify` re-hashes every layer, the listings parse with
no warning, addresses are distinct, and nothing is left behind.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import Cli, Leftovers

pytestmark = pytest.mark.root

NOTHING = Leftovers(0, 0, 0, 0)


def finish(procs: list[subprocess.Popen[str]], timeout: float = 90
           ) -> list[tuple[int, str, str]]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        out.append((p.returncode, stdout, stderr))
    return out


def assert_store_verifies(cli: Cli) -> None:
    proc = cli("images", "--verify", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "verified" in proc.stdout
    assert proc.stderr == ""


def write_context(ctx: Path, base: str, marker: str, sleep: float = 0) -> Path:
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "payload.txt").write_text(f"payload {marker}\n")
    pause = f"sleep {sleep} && " if sleep else ""
    (ctx / "Dockerfile").write_text(
        f"FROM {base}\n"
        f"RUN {pause}echo {marker} > /marker\n"
        "COPY payload.txt /payload.txt\n")
    return ctx


def test_four_runs_and_a_build_at_once(cli: Cli, tmp_path: Path) -> None:
    """From an empty store (so the built-in busybox is made by five processes at once)."""
    before = cli.census()
    cli("network", "create", "front", check=True)
    for rnd in range(4):
        names = [f"r{rnd}-{i}" for i in range(4)]
        nets = ["bridge", "bridge", "front", "front"]
        ctx = write_context(tmp_path / f"ctx{rnd}", "busybox", f"round{rnd}")
        procs = [cli.popen("run", "-d", "--name", n, "--network", net, "busybox",
                           "sleep", "60") for n, net in zip(names, nets, strict=True)]
        procs.append(cli.popen("build", "-t", f"built:{rnd}", str(ctx)))
        results = finish(procs)
        for (code, _, stderr), what in zip(results, [*names, "build"], strict=True):
            assert code == 0, (rnd, what, stderr)
        ips = {}
        for n in names:
            info = json.loads(cli("inspect", n, check=True).stdout)[0]
            assert info["State"]["Running"], n
            ips[n] = info["NetworkSettings"]["IPAddress"]
        assert len(set(ips.values())) == 4, ips  # distinct, and from the right network
        assert ips[names[0]].split(".")[:2] == ips[names[1]].split(".")[:2]
        assert ips[names[2]].split(".")[:2] != ips[names[0]].split(".")[:2]
        out = cli("run", "--rm", f"built:{rnd}", "cat", "/marker", "/payload.txt",
                  check=True).stdout
        assert out == f"round{rnd}\npayload round{rnd}\n"
        # Removal side by side as well.
        results = finish([cli.popen("rm", "-f", n) for n in names])
        assert all(code == 0 for code, _, _ in results), results
        assert_store_verifies(cli)
    listing = cli("images", check=True)
    assert listing.stderr == ""
    assert sum(line.startswith("built ") for line in listing.stdout.splitlines()) == 4
    cli("network", "rm", "front", check=True)
    assert cli.census() - before == NOTHING


def wait_until_pinned(cli: Cli, image: str, build: subprocess.Popen[str]) -> None:
    """Until the running build's pin (images/pins/) holds `image`: from then on the README
    promises that `rmi` of it is refused."""
    from runtime.image.store import ImageStore

    store = ImageStore(cli.root)
    image_id = store.get(image).id
    deadline = time.monotonic() + 30
    while not store.pinned_by(image_id):
        assert build.poll() is None, f"the build ended before it pinned {image}"
        assert time.monotonic() < deadline, f"the build never pinned {image}"
        time.sleep(0.01)


def test_build_racing_an_rmi_of_its_base(cli: Cli, tmp_path: Path) -> None:
    """Each outcome determined by when the rmi comes: after the build pinned its base, a plain
    rmi is refused with Docker's conflict (1, one line) and the build completes; a forced one
    untags it and the build still completes on the layers it pinned; before the build
    started, the rmi wins and the build fails on FROM. Never an image without layers."""
    cli("run", "--rm", "busybox", "true", check=True)
    before = cli.census()
    for i, (when, force) in enumerate([("pinned", False), ("pinned", True), ("before", False)]):
        base_ctx = write_context(tmp_path / f"base{i}", "busybox", f"base{i}")
        cli("build", "-t", "base", str(base_ctx), check=True)
        child_ctx = write_context(tmp_path / f"child{i}", "base", f"child{i}", sleep=0.8)
        if when == "before":
            cli("rmi", "base", check=True)
        build = cli.popen("build", "-t", f"child:{i}", str(child_ctx))
        if when == "pinned":
            wait_until_pinned(cli, "base", build)
            rmi = cli("rmi", *(["-f"] if force else []), "base")
        b_out, b_err = build.communicate(timeout=60)
        if when == "before":
            assert build.returncode == 1, b_err
            assert b_err.splitlines()[-1].startswith("isobench: "), b_err
            assert "FROM base" in b_err and "Traceback" not in b_err, b_err
        else:
            assert build.returncode == 0, b_err  # neither rmi breaks the build
            if force:
                assert rmi.returncode == 0, rmi.stderr
                assert cli("inspect", "base").returncode != 0  # untagged
            else:
                assert rmi.returncode == 1, rmi.stderr
                assert len(rmi.stderr.splitlines()) == 1 and "conflict" in rmi.stderr, rmi.stderr
                cli("rmi", "base", check=True)  # once the build is done, it goes
            out = cli("run", "--rm", f"child:{i}", "cat", "/marker", "/payload.txt",
                      check=True).stdout
            assert out == f"child{i}\npayload child{i}\n"
            cli("rmi", f"child:{i}", check=True)
        assert_store_verifies(cli)
    assert cli.census() - before == NOTHING


def test_network_and_volume_storms_keep_the_state_whole(cli: Cli) -> None:
    before = cli.census()
    names = [f"storm{i % 4}" for i in range(12)]
    procs = []
    for i, name in enumerate(names):  # creates and removes of the same names, interleaved
        verb = "create" if i % 3 != 2 else "rm"
        procs.append(cli.popen("network", verb, name))
        procs.append(cli.popen("volume", verb, name))
    for code, _, stderr in finish(procs):
        assert code in (0, 1), stderr
        assert "Traceback" not in stderr and len(stderr.splitlines()) <= 1, stderr
    nets = cli("network", "ls", check=True)
    assert nets.stderr == ""
    vols = cli("volume", "ls", "-q", check=True)
    assert vols.stderr == ""
    listed = [line.split()[1] for line in nets.stdout.splitlines()[1:]]
    subnets = [line.split()[2] for line in nets.stdout.splitlines()[1:]]
    assert len(set(subnets)) == len(subnets), nets.stdout  # IPAM never handed one out twice
    for name in listed:
        json.loads(cli("network", "inspect", name, check=True).stdout)
    for name in vols.stdout.split():
        info = json.loads(cli("volume", "inspect", name, check=True).stdout)[0]
        assert Path(info["mountpoint"]).is_dir(), info
    # A container on a storm network while the storm goes on around it.
    cli("network", "create", "steady", check=True)
    procs = [cli.popen("run", "--rm", "--network", "steady", "-v", "steady:/data", "busybox",
                       "sh", "-c", "echo ok > /data/f && cat /data/f")]
    procs += [cli.popen("network", "create", f"side{i}") for i in range(4)]
    procs += [cli.popen("volume", "create", f"side{i}") for i in range(4)]
    results = finish(procs)
    assert results[0][0] == 0 and results[0][1] == "ok\n", results[0]
    assert all(code == 0 for code, _, _ in results), results
    leftovers = [n for n in listed if n.startswith("storm")]
    rm = [cli.popen("network", "rm", n) for n in [*leftovers, "steady"]]
    rm += [cli.popen("network", "rm", f"side{i}") for i in range(4)]
    rm += [cli.popen("volume", "rm", n) for n in [*vols.stdout.split(), "steady"]]
    rm += [cli.popen("volume", "rm", f"side{i}") for i in range(4)]
    assert all(code == 0 for code, _, _ in finish(rm))
    assert cli("network", "ls", check=True).stdout.splitlines()[1:] == []
    assert cli("volume", "ls", "-q", check=True).stdout.strip() == ""
    assert cli.census() - before == NOTHING
