"""`isobench daemon` (issue 18): the console script's container verbs served by a fork of a
warm process. Served runs behave as the CLI run here does: output, input, exit codes, the
client's cwd and environment, forwarded signals; a daemon that is gone, stale or refuses
makes the CLI run here; nothing of the daemon stays after it stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from isobench import verbs
from tests.integration.conftest import ISOBENCH, Cli, Leftovers

pytestmark = pytest.mark.root

DIRECT = {"ISOBENCH_DAEMON": "0"}


class Daemon:
    def __init__(self, cli: Cli) -> None:
        self.cli = cli
        self.sock = cli.root / "daemon.sock"
        self.log = cli.root.parent / f"{cli.root.name}-daemon.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([ISOBENCH, "daemon"], env=cli.env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while "serving" not in self.text():  # a dead daemon's socket may be there already
            assert self.proc.poll() is None, self.text()
            assert time.monotonic() < deadline, "not serving after 30 s"
            time.sleep(0.01)

    def text(self) -> str:
        return self.log.read_text()

    def served(self, client_pid: int) -> bool:
        return f"for pid {client_pid}\n" in self.text()

    def processes(self) -> list[int]:
        """The daemon and its children (the spare waiting in accept, served ones)."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if stat[0] != "Z" and self.proc.pid in (int(entry), int(stat[1])):
                    found.append(int(entry))
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.unlink(missing_ok=True)


@pytest.fixture
def daemon(cli: Cli) -> Iterator[Daemon]:
    cli("run", "--rm", "--network", "none", "busybox", "true", check=True)  # the image
    d = Daemon(cli)
    try:
        yield d
    finally:
        d.stop()


def _run(cli: Cli, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
         input: str | None = None) -> tuple[subprocess.CompletedProcess[str], int]:
    proc = subprocess.Popen([ISOBENCH, *args], env={**cli.env, **(env or {})}, cwd=cwd,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(input, timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), proc.pid


def test_a_served_run_is_the_clis_run(cli: Cli, daemon: Daemon, tmp_path: Path) -> None:
    """Same stdout, stderr, exit code, stdin and environment (-e NAME takes the client's
    value) served as run here; the daemon's log names the client's pid for the served one
    only."""
    before = cli.census()
    args = ("run", "--rm", "-i", "--network", "none", "-e", "FROM_CLIENT", "busybox", "sh",
            "-c", 'read line; echo "$line $FROM_CLIENT"; echo err >&2; exit 5')
    env = {"FROM_CLIENT": "client"}
    served, pid = _run(cli, *args, env=env, cwd=tmp_path, input="in\n")
    here, here_pid = _run(cli, *args, env={**env, **DIRECT}, cwd=tmp_path, input="in\n")
    assert (served.returncode, served.stdout, served.stderr) == (5, "in client\n", "err\n")
    assert (here.returncode, here.stdout, here.stderr) == (
        served.returncode, served.stdout, served.stderr)
    assert daemon.served(pid) and not daemon.served(here_pid), daemon.text()
    usage, pid = _run(cli, "run", "--help")  # argparse's exit: 0 and the text, served too
    assert (usage.returncode, usage.stderr) == (0, "") and "usage: isobench run" in usage.stdout
    assert daemon.served(pid)
    bad, _ = _run(cli, "rm", "nosuchcontainer")  # a failure: Docker's one line and code
    assert (bad.returncode, bad.stdout) == (1, "") and bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("isobench: ") and "nosuchcontainer" in bad.stderr
    detached, _ = _run(cli, "run", "-d", "--name", "kept", "--network", "none", "busybox",
                       "sleep", "300")  # outlives the served child that started it
    assert detached.returncode == 0
    assert _run(cli, "inspect", "-f", "{{.State.Running}}", "kept")[0].stdout == "true\n"
    assert _run(cli, "rm", "-f", "kept")[0].returncode == 0
    assert cli.census() - before == Leftovers(0, 0, 0, 0)


def test_signals_reach_the_served_run_as_they_reach_one_run_here(cli: Cli,
                                                                   daemon: Daemon) -> None:
    """SIGTERM to the client: the attached run forwards it to PID 1, whose trap exits 7;
    both ways the client ends with that code."""
    codes = []
    for env in ({}, DIRECT):
        proc = subprocess.Popen(
            [ISOBENCH, "run", "--rm", "--network", "none", "busybox", "sh", "-c",
             "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done"],
            env={**cli.env, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        codes.append(proc.returncode)
        assert daemon.served(proc.pid) == (env == {})
    assert codes == [7, 7]


def test_a_daemon_whose_code_changed_stands_down(cli: Cli, daemon: Daemon) -> None:
    """A newer source file than the daemon imported: the request runs here instead, the
    daemon exits and takes its socket and spare with it."""
    path = Path(verbs.__file__)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    try:
        proc, pid = _run(cli, "run", "--rm", "--network", "none", "busybox", "sh", "-c",
                         "exit 3")
        assert proc.returncode == 3 and not daemon.served(pid)
        assert daemon.proc.wait(timeout=30) == 0
    finally:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f"{path} changed since the start" in daemon.text()
    assert not daemon.sock.exists() and daemon.processes() == []


def test_a_killed_daemon_leaves_no_process_and_its_socket_is_taken_over(
        cli: Cli, daemon: Daemon) -> None:
    """SIGKILL: its spare dies with it (PDEATHSIG); the socket left behind refuses, so the
    CLI runs here; the next daemon replaces it and serves; SIGTERM removes it."""
    spare = [p for p in daemon.processes() if p != daemon.proc.pid]
    assert len(spare) == 1
    assert {daemon.proc.pid, *spare} <= _daemons()  # what the startup test counts
    daemon.proc.kill()
    daemon.proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{spare[0]}").exists() and time.monotonic() < deadline:
        stat = Path(f"/proc/{spare[0]}/stat").read_text().rsplit(")", 1)[1].split()
        if stat[0] == "Z":
            break
        time.sleep(0.01)
    assert daemon.processes() == []
    assert daemon.sock.exists()
    proc, pid = _run(cli, "run", "--rm", "--network", "none", "busybox", "true")
    assert proc.returncode == 0 and not daemon.served(pid)
    second = Daemon(cli)
    try:
        twice = subprocess.run([ISOBENCH, "daemon"], env=cli.env, capture_output=True,
                               text=True, timeout=60)
        assert twice.returncode == 1 and "a daemon already serves" in twice.stderr
        proc, pid = _run(cli, "ps", "-a")
        assert proc.returncode == 0 and second.served(pid)
    finally:
        second.stop()
    assert second.proc.returncode == 0 and not second.sock.exists()
    assert second.processes() == []


def test_another_uid_is_refused_and_runs_here(cli: Cli, daemon: Daemon) -> None:
    """SO_PEERCRED: a client of another uid (the root and the socket opened up to reach
    it) gets "refused", and the daemon says so."""
    root_mode = cli.root.stat().st_mode & 0o7777
    os.chmod(cli.root, 0o711)
    os.chmod(daemon.sock, 0o666)
    try:
        probe = ("import _socket, sys\n"
                 "s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)\n"
                 f"s.connect({str(daemon.sock)!r})\n"
                 "print(s.recv(1).decode())")
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               sys.executable, "-I", "-S", "-c", probe],
                              capture_output=True, text=True, timeout=60)
    finally:
        os.chmod(cli.root, root_mode)
    assert (proc.returncode, proc.stdout) == (0, "R\n"), proc.stderr
    assert "refused uid 65534" in daemon.text()
    proc, pid = _run(cli, "ps")  # still serving its own uid
    assert proc.returncode == 0 and daemon.served(pid)


def _daemons() -> set[int]:
    """Every `isobench daemon` process on the machine (and its spares)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[-3:-1] == [ISOBENCH.encode(), b"daemon"] or argv[-2:] == [b"daemon", b""]:
                found.add(int(entry))
    return found


def test_the_startup_benchmark_times_served_and_direct_cli_runs(tmp_path: Path) -> None:
    """bench.tools.startup starts a daemon for its own root, times `cli` through it and
    `cli-direct` without it, and stops it: every run counted, no daemon left."""
    import json

    before = _daemons()
    out = tmp_path / "startup.json"
    proc = subprocess.run([sys.executable, "-m", "bench.tools.startup", "--runs", "2",
                           "--warmup", "1", "--methods", "runc,cli,cli-direct", "--seed", "1",
                           "--json", str(out)], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    assert {m: s["n"] for m, s in doc["summary"].items()} == {
        "runc": 2, "cli": 2, "cli-direct": 2}
    # served, the CLI skips its imports (measured: ~0.4 of the direct time)
    assert doc["summary"]["cli"]["median_ms"] < doc["summary"]["cli-direct"]["median_ms"]
    assert _daemons() == before


def test_each_served_request_checks_the_state_root_again(cli: Cli, daemon: Daemon) -> None:
    """A root opened to everyone after the daemon started is refused to the next served
    verb, as to a CLI run (the daemon's own check at its start is not handed down)."""
    mode = cli.root.stat().st_mode & 0o7777
    os.chmod(cli.root, 0o777)
    try:
        proc, pid = _run(cli, "ps")
    finally:
        os.chmod(cli.root, mode)
    assert daemon.served(pid), daemon.text()
    assert proc.returncode == 125 and "world-writable" in proc.stderr, proc.stderr
