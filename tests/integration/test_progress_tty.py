"""Progress on a real terminal (tmux): `build --progress auto` draws BuildKit's live view,
`bench` a bar with an ETA over the whole session; what the screen shows mid-way."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.integration.conftest import ISOBENCH, Cli
from tests.integration.test_tty import _tmux, _wait_for, tmux_session  # noqa: F401 - fixture


def _start(cli: Cli, session: str, command: str, width: int = 100) -> None:
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in cli.env.items()
                   if k.startswith("ISOBENCH_"))
    shell = f"env {env} {ISOBENCH} {command}; echo EXIT=$?; sleep 600"
    started = _tmux("new-session", "-d", "-s", session, "-x", str(width), "-y", "30", shell)
    assert started.returncode == 0, started.stderr


def _screen(session: str) -> str:
    return _tmux("capture-pane", "-p", "-t", session).stdout


def test_build_in_a_terminal_shows_the_running_steps_last_lines(
        cli: Cli, tmux_session: str, tmp_path: Path) -> None:  # noqa: F811
    ctx = tmp_path / "slow"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nRUN for i in 1 2 3 4 5 6 7 8 9 10; do echo tick $i; sleep 0.4; done\n"
        "COPY Dockerfile /d\n")
    _start(cli, tmux_session, f"build -t slow {ctx}")  # auto: a terminal, so tty
    mid = _wait_for(lambda: _screen(tmux_session), lambda s: "# tick 3" in s)
    assert re.search(r"^\[\+\] Building \d+\.\ds \(1/3\)", mid, re.M), mid
    assert re.search(r"^ => \[2/3\] RUN /bin/sh -c for i in .* \d+\.\ds$", mid, re.M), mid
    assert " => => # tick 3" in mid and "#2 " not in mid  # the live view, not plain lines
    end = _wait_for(lambda: _screen(tmux_session), lambda s: "EXIT=" in s)
    assert "EXIT=0" in end, end
    assert re.search(r"^\[\+\] Building \d+\.\ds \(3/3\)", end, re.M), end
    assert re.search(r"^ => \[3/3\] COPY Dockerfile /d +\d+\.\ds$", end, re.M), end
    assert "# tick" not in end  # a finished step's output folds away, as BuildKit's
    assert " => writing image sha256:" in end and "\n => naming to slow\n" in end


def test_bench_in_a_terminal_shows_a_bar_with_an_eta_mid_session(
        cli: Cli, tmux_session: str, tmp_path: Path) -> None:  # noqa: F811
    _start(cli, tmux_session, f"bench --profile tiny --repeat 3 --targets native,container "
           f"--workloads cpu --seed 1 --out {tmp_path / 'out'}", width=110)
    # the first image build (apt) runs under the bar: its RUN step and its output lines
    building = _wait_for(lambda: _screen(tmux_session),
                         lambda s: " => [2/2] RUN" in s and " => => # " in s, timeout=600)
    assert re.search(r"session .* 0/(\d+) ", building), building
    # mid-session: units done and to do, an ETA in time, the unit running now
    bar = re.compile(r"^\S \S+ on \S+ .* (\d+)/(\d+) \d:\d\d:\d\d ETA (\d:\d\d:\d\d)$", re.M)

    running = re.compile(r"^  cpu\.\S+ (native|container) rep \d/3$", re.M)

    def mid(s: str) -> bool:  # a unit running, some done before it and some to come
        found = bar.search(s)
        return found is not None and 1 < int(found[1]) < int(found[2]) \
            and running.search(s) is not None

    screen = _wait_for(lambda: _screen(tmux_session), mid, timeout=600)
    assert mid(screen), screen
    assert re.search(r"^✓ cpu\.\S+ (native|container) rep \d/3 \d+\.\ds$", screen, re.M), screen
    end = _wait_for(lambda: _screen(tmux_session), lambda s: "EXIT=" in s, timeout=600)
    assert "EXIT=0" in end, end
    total = bar.search(screen)[2]  # type: ignore[index]
    assert re.search(rf" {total}/{total} ", end), end  # the bar ends full: every unit counted
