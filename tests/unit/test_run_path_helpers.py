"""The stdlib stand-ins that keep `isobench run`'s imports short (s6): each gives what the
module it replaces gave, and the fork-server prototype's request survives its round trip."""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from pathlib import Path

import pytest

from runtime import containers
from runtime.fsutil import _temp_beside, atomic_write, sha256_hex

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "tools"))
import forkclient  # noqa: E402 - a script of bench/tools, run with -I -S

from isobench.forkserver import parse_request  # noqa: E402


@pytest.mark.parametrize("data", [b"", b"abc", bytes(range(256)) * 70])
def test_sha256_hex_is_hashlibs(data: bytes) -> None:
    assert sha256_hex(data) == hashlib.sha256(data).hexdigest()


def test_temp_beside_is_a_private_new_file_next_to_the_target(tmp_path: Path) -> None:
    target = tmp_path / "config.v2.json"
    fd, tmp = _temp_beside(target)
    try:
        assert Path(tmp).parent == tmp_path and Path(tmp).name.startswith(".config.v2.json.")
        assert stat.S_IMODE(os.fstat(fd).st_mode) == 0o600
        assert os.get_inheritable(fd) is False
    finally:
        os.close(fd)
    assert _temp_beside(target)[1] != tmp  # a fresh name each time, never the same file


def test_atomic_write_leaves_only_the_target(tmp_path: Path) -> None:
    atomic_write(tmp_path / "a", b"one", mode=0o644)
    atomic_write(tmp_path / "a", b"two", mode=0o644)
    assert [p.name for p in tmp_path.iterdir()] == ["a"]
    assert (tmp_path / "a").read_bytes() == b"two"
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o644


def test_generated_names_use_every_word() -> None:
    words = ("a", "b", "c", "d")
    seen = {containers._pick(words) for _ in range(400)}
    assert seen == set(words)  # each missed with p = (3/4)^400


def test_a_container_id_is_64_hex(tmp_path: Path) -> None:
    cid = containers.ContainerStore(tmp_path).new_id()
    assert len(cid) == 64 and int(cid, 16) >= 0


def test_the_fork_clients_request_parses_back(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ISOBENCH_X", "a=b=c")
    monkeypatch.setenv("ODD", "caf\udce9")  # an undecodable byte, as the shell may pass
    wire = forkclient.request(["run", "--rm", "-e", "K=V", ""])
    assert int.from_bytes(wire[:4], "little") == len(wire) - 4
    argv, env, cwd = parse_request(wire[4:])
    assert argv == ["run", "--rm", "-e", "K=V", ""]
    assert env["ISOBENCH_X"] == "a=b=c" and env["ODD"] == "caf\udce9"
    assert env == dict(os.environ) and cwd == str(tmp_path)


REPO = Path(__file__).resolve().parents[2]


def _clients(tmp_path: Path) -> list[list[str]]:
    """The Python client, and the C one where a compiler is (skipped with a reason if not)."""
    import shutil
    import subprocess

    clients = [[sys.executable, "-I", "-S", str(REPO / "bench" / "tools" / "forkclient.py")]]
    if shutil.which("cc"):
        subprocess.run(["cc", "-O2", "-o", str(tmp_path / "forkclient"),
                        str(REPO / "bench" / "tools" / "forkclient.c")], check=True)
        clients.append([str(tmp_path / "forkclient")])
    else:
        print("no cc: the C fork client is not tested here")
    return clients


@pytest.mark.parametrize("mode", [[], ["--prefork"]])
def test_the_fork_server_runs_the_cli_on_the_clients_stdio(tmp_path: Path,
                                                           mode: list[str]) -> None:
    """End to end, no container, with each client, forked per request or pre-forked: the
    client's stdout/stderr are the child's, its exit code is the CLI's; killing the
    server's process group leaves no process of it."""
    import signal
    import subprocess
    import time

    repo = REPO
    sock = str(tmp_path / "s.sock")
    env = dict(os.environ, ISOBENCH_ROOT=str(tmp_path / "root"))
    server = subprocess.Popen([sys.executable, "-m", "isobench.forkserver", sock, *mode],
                              cwd=repo, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):
            assert server.poll() is None and time.monotonic() < deadline, "no server"
            time.sleep(0.01)
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600

        for prog in _clients(tmp_path):
            def client(*argv: str, prog: list[str] = prog) -> subprocess.CompletedProcess[str]:
                return subprocess.run([*prog, sock, *argv], capture_output=True, text=True,
                                      env=env, cwd=tmp_path, timeout=60)

            ping = client("__ping__")
            assert (ping.returncode, ping.stdout, ping.stderr) == (0, "", "")
            ps = client("ps", "-a")  # a fresh root: the header only, on the client's stdout
            assert (ps.returncode, ps.stdout.split()[:2], ps.stderr) == (
                0, ["CONTAINER", "ID"], "")
            bad = client("rm", "nosuchcontainer")
            assert bad.returncode == 1 and "nosuchcontainer" in bad.stderr and bad.stdout == ""
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        os.unlink(sock)
    deadline = time.monotonic() + 10
    while _group_alive(server.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _group_alive(server.pid)


def _group_alive(pgid: int) -> bool:
    """Any live (not zombie) process in process group pgid."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False
