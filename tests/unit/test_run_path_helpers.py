"""The stdlib stand-ins that keep `isobench run`'s imports short (s6): each gives what the
module it replaces gave; the thin client's request to `isobench daemon` survives its round
trip, and the client loads nothing but built-in modules."""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from pathlib import Path

import pytest

from isobench import client
from isobench.daemon import parse_request
from runtime import containers
from runtime.fsutil import _temp_beside, atomic_write, sha256_hex


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


def test_the_clients_request_parses_back(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ISOBENCH_X", "a=b=c")
    monkeypatch.setenv("ODD", "caf\udce9")  # an undecodable byte, as the shell may pass
    old = os.umask(0o027)
    try:
        wire = client.request(["run", "--rm", "-e", "K=V", ""])
    finally:
        os.umask(old)
    assert int.from_bytes(wire[:4], "little") == len(wire) - 4
    argv, env, cwd, mask = parse_request(wire[4:])
    assert argv == ["run", "--rm", "-e", "K=V", ""]
    assert env["ISOBENCH_X"] == "a=b=c" and env["ODD"] == "caf\udce9"
    assert env == dict(os.environ) and cwd == str(tmp_path) and mask == 0o027


def test_the_client_finds_the_runtimes_default_root(monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime.fsutil import DEFAULT_ROOT

    assert client.DEFAULT_ROOT == DEFAULT_ROOT
    monkeypatch.delenv("ISOBENCH_ROOT", raising=False)
    assert client.socket_path(os.environ) == f"{DEFAULT_ROOT}/daemon.sock"


def test_the_client_loads_only_built_in_modules() -> None:
    """What makes a served `run` cheap: the console script's import of the client adds no
    module of the standard library written in Python, and none of the runtime's."""
    import subprocess

    probe = ("import sys\nbefore = set(sys.modules)\nfrom isobench.client import entry\n"
             "print(' '.join(sorted(m for m in set(sys.modules) - before\n"
             "                      if (getattr(sys.modules[m], '__file__', None) or '')"
             ".endswith('.py'))))")
    added = set(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                               check=True).stdout.split())  # in Python source, not C
    assert "isobench.client" in added  # the probe is real
    assert added == {"isobench", "isobench.client", "isobench.verbs", "__future__"}


def test_a_verb_is_served_only_when_it_is_a_container_verb(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    """No socket, ISOBENCH_DAEMON=0, or a verb the daemon has not imported: None (run it
    here), without a connection tried where none is wanted."""
    monkeypatch.setenv("ISOBENCH_ROOT", str(tmp_path))
    assert client.served(["run", "busybox"]) is None  # no daemon.sock there
    assert client.served(["--debug", "build", "."]) is None
    assert client.served([]) is None
    assert "run" in client.SERVED and "build" not in client.SERVED and "daemon" not in \
        client.SERVED
