"""Bad input: one clear line on stderr, Docker's exit code, and nothing left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import Cli, Leftovers

pytestmark = pytest.mark.root


@pytest.fixture
def running(cli: Cli) -> str:
    cli("run", "-d", "--name", "busy", "busybox", "sleep", "300", check=True)
    return "busy"


@pytest.fixture
def empty_rootfs(tmp_path: Path) -> str:
    (tmp_path / "rootfs").mkdir()
    return str(tmp_path / "rootfs")


CASES = [
    # (id, argv, exit code, text the one line must contain)
    ("unknown-image", ["run", "--rm", "nosuchimage"], 125,
     "Unable to find image 'nosuchimage:latest' locally"),
    ("no-arguments", ["run"], 125, "requires at least 1 argument"),
    ("no-command", ["run", "--rm", "--rootfs", "{rootfs}"], 125, "No command specified"),
    ("memory-unit", ["run", "--rm", "--memory", "12q", "busybox", "true"], 125,
     "invalid argument \"12q\" for \"-m, --memory\" flag: invalid size: '12q'"),
    ("cpus-negative", ["run", "--rm", "--cpus", "-1", "busybox", "true"], 125, "--cpus"),
    ("cpus-too-many", ["run", "--rm", "--cpus", "99", "busybox", "true"], 125,
     "range of CPUs is from 0.01 to"),
    ("pids-zero", ["run", "--rm", "--pids-limit", "0", "busybox", "true"], 125,
     "invalid pids limit: 0"),
    ("rootfs-not-dir", ["run", "--rm", "--rootfs", "/etc/hostname", "/bin/true"], 125,
     "not a directory"),
    ("rootfs-no-command", ["run", "--rm", "--rootfs", "{rootfs}", "/bin/true"], 127,
     'exec: "/bin/true": stat /bin/true: no such file or directory'),
    ("unknown-network", ["run", "--rm", "--network", "nonet", "busybox", "true"], 125,
     "network nonet not found"),
    ("exec-unknown", ["exec", "ghost", "true"], 1, "No such container: ghost"),
    ("stop-unknown", ["stop", "ghost"], 1, "No such container: ghost"),
    ("rm-unknown", ["rm", "ghost"], 1, "No such container: ghost"),
    ("kill-unknown", ["kill", "ghost"], 1, "No such container: ghost"),
    ("logs-unknown", ["logs", "ghost"], 1, "No such container: ghost"),
    ("rm-running", ["rm", "{running}"], 1, "You cannot remove a running container"),
    ("name-in-use", ["run", "--name", "{running}", "busybox", "true"], 125,
     'The container name "/busy" is already in use'),
    ("exec-missing-binary", ["exec", "{running}", "nosuchbinary"], 127,
     'exec: "nosuchbinary": executable file not found in $PATH'),
    ("unknown-flag", ["run", "--bogus", "busybox"], 125, "unrecognized arguments"),
    ("unknown-user", ["run", "--rm", "-u", "ghost", "busybox", "true"], 125,
     "unable to find user ghost"),
    ("bad-signal", ["kill", "-s", "SIGNOPE", "{running}"], 125, "invalid signal: SIGNOPE"),
]


@pytest.mark.parametrize("argv, code, text", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(cli: Cli, request: pytest.FixtureRequest, argv: list[str], code: int,
                   text: str) -> None:
    subs = {}
    if any("{running}" in a for a in argv):
        subs["running"] = request.getfixturevalue("running")
    if any("{rootfs}" in a for a in argv):
        subs["rootfs"] = request.getfixturevalue("empty_rootfs")
    cli("run", "--rm", "busybox", "true", check=True)  # the image exists before the count
    before = cli.census()
    proc = cli(*[a.format(**subs) for a in argv])
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert text in lines[0]
    assert lines[0].startswith("isobench: ")
    assert cli.census() - before == Leftovers(0, 0, 0, 0)
