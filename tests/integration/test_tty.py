"""`run -it` as a user types it, in a real terminal (tmux), and `run -t` without one."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from tests.integration.conftest import ISOBENCH, Cli


def _tmux(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10)


@pytest.fixture
def tmux_session(cli: Cli) -> Iterator[str]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux not installed (Debian: tmux): no terminal to type into")
    name = f"isobench-tty-{os.getpid()}"
    yield name
    _tmux("kill-session", "-t", name)


def _wait_for(screen: Callable[[], str], found: Callable[[str], bool], timeout: float = 20
              ) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = screen()
        if found(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def test_run_it_busybox_sh_in_a_terminal(cli: Cli, tmux_session: str) -> None:
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in cli.env.items()
                   if k.startswith("ISOBENCH_"))
    shell = (f"env {env} {ISOBENCH} run -it --name tty busybox sh; echo EXIT=$?; "
             "sleep 60")
    started = _tmux("new-session", "-d", "-s", tmux_session, "-x", "100", "-y", "30", shell)
    assert started.returncode == 0, started.stderr

    def screen() -> str:
        return _tmux("capture-pane", "-p", "-t", tmux_session).stdout

    prompt = _wait_for(screen, lambda s: s.rstrip().endswith("#"))
    assert prompt.rstrip().endswith("#"), f"no shell prompt:\n{prompt}"
    _tmux("send-keys", "-t", tmux_session, "echo $$", "Enter")
    echoed = _wait_for(screen, lambda s: "\n1\n" in s)
    lines = [line.strip() for line in echoed.splitlines()]
    assert "1" in lines[lines.index(next(x for x in lines if x.endswith("echo $$"))):], echoed
    _tmux("send-keys", "-t", tmux_session, "tty", "Enter")
    _tmux("send-keys", "-t", tmux_session, "exit 3", "Enter")
    done = _wait_for(screen, lambda s: "EXIT=" in s)
    assert "/dev/console" in done, done  # stdin is a terminal inside, and it has a name
    assert "EXIT=3" in done, done
    assert cli("inspect", "--format", "{{.State.ExitCode}}", "tty").stdout == "3\n"
    cli("rm", "tty", check=True)


def test_run_t_without_a_terminal_merges_the_streams_into_the_pty(cli: Cli) -> None:
    proc = cli("run", "--rm", "-t", "busybox", "sh", "-c",
               "test -t 0 && test -t 1 && echo tty-yes; echo err >&2; exit 5")
    assert proc.returncode == 5
    assert proc.stdout.replace("\r\n", "\n") == "tty-yes\nerr\n"  # one stream, as in Docker
    plain = cli("run", "--rm", "busybox", "sh", "-c", "test -t 1 || echo no-tty")
    assert plain.stdout == "no-tty\n"
