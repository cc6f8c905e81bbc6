"""Fixtures for root tests against the real kernel: a private ISOBENCH_ROOT, the CLI, and
a census of everything a container could leave behind."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

ISOBENCH = str(Path(sys.executable).with_name("isobench"))
CGROUP_ROOT = Path("/sys/fs/cgroup")

# A shell without job control starts background commands with SIGINT ignored (`make test &`
# from a script), and an ignored signal stays ignored across exec: every isobench the
# Ctrl-C tests start would then ignore their SIGINT and those tests would fail for the
# launcher's reason. A handled signal is reset to the default at exec, so handle it here.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: namespaces, mounts and cgroups of the real kernel")


@dataclass
class Leftovers:
    mounts: int
    cgroups: int
    containers: int
    names: int
    veths: int = 0
    bridges: int = 0
    netns: int = 0
    rules: int = 0
    volumes: int = 0
    overlay_dirs: int = 0  # upper/work/rootfs of container records
    taps: int = 0          # a VM's tap on a bridge network (tun/tap devices, host-wide)

    def __sub__(self, other: Leftovers) -> Leftovers:
        return Leftovers(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))


def _count_lines(argv: list[str], pattern: str = "") -> int:
    out = subprocess.run(argv, capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if pattern in line)


TEARDOWN_WAIT_S = 20.0


def tearing_down(root: Path) -> list[str]:
    """Records whose teardown runs now: the monitor holds the lock and PID 1 is gone (`run
    --rm` returns at the exit, before the teardown: "removing")."""
    from runtime.containers import ContainerStore, is_alive

    store = ContainerStore(root)
    # held ones first, renamed ones after: a removal renames its record out of sight while
    # still holding it, so one renamed between the two reads is seen by the second; the other
    # order misses it (a CI census raced exactly that: overlay_dirs -3)
    held = store.held()
    busy = [p.name for p in store.removed_leftovers()]  # renamed, being deleted
    for cid in held:
        try:
            state = store.load(cid).state
        except (OSError, ValueError):
            busy.append(cid)  # being created or removed
            continue
        if not is_alive(state.pid, state.pid_start):
            busy.append(cid)
    return busy


def census(root: Path, cgroup_parent: str) -> Leftovers:
    """Mounts mentioning the state root, the test's cgroup dirs, container records and names,
    once the teardowns under way have ended (bounded: one that never ends is counted)."""
    deadline = time.monotonic() + TEARDOWN_WAIT_S
    while tearing_down(root) and time.monotonic() < deadline:
        time.sleep(0.02)
    with open("/proc/self/mountinfo") as f:
        mounts = sum(1 for line in f if str(root) in line)
    cgroups = 0
    for parent in [*CGROUP_ROOT.glob(f"*/{cgroup_parent}"), CGROUP_ROOT / cgroup_parent]:
        if parent.is_dir():
            cgroups += sum(1 for p in parent.iterdir() if p.is_dir())
    cdir = root / "containers"
    containers = (sum(1 for p in cdir.iterdir() if not p.name.startswith("."))
                  if cdir.exists() else 0)
    ndir = cdir / ".names"
    names = sum(1 for _ in ndir.iterdir()) if ndir.exists() else 0
    netns = sum(1 for _ in Path("/run/netns").iterdir()) if Path("/run/netns").exists() else 0
    vdir = root / "volumes"
    volumes = sum(1 for _ in vdir.iterdir()) if vdir.exists() else 0
    overlay_dirs = sum(1 for sub in ("upper", "work", "rootfs") for _ in cdir.glob(f"*/{sub}"))
    return Leftovers(mounts, cgroups, containers, names,
                     veths=_count_lines(["ip", "-o", "link", "show", "type", "veth"]),
                     bridges=_count_lines(["ip", "-o", "link", "show", "type", "bridge"]),
                     netns=netns, rules=_count_lines(["iptables-save"], "-A "),
                     volumes=volumes, overlay_dirs=overlay_dirs,
                     taps=_count_lines(["ip", "-o", "link", "show", "type", "tun"]))


class Cli:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cgroup_parent = f"isobench-test-{root.name}"
        self.env = {**os.environ, "ISOBENCH_ROOT": str(root),
                    "ISOBENCH_CGROUP_PARENT": self.cgroup_parent}

    def __call__(self, *args: str, timeout: float = 60, check: bool = False,
                 input: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([ISOBENCH, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise AssertionError(f"isobench {' '.join(args)} -> {proc.returncode}: {proc.stderr}")
        return proc

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([ISOBENCH, *args], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def census(self) -> Leftovers:
        return census(self.root, self.cgroup_parent)


@pytest.fixture(autouse=True)
def one_integration_test_at_a_time() -> Iterator[None]:
    """Censuses count host-wide veths, bridges, netns and rules: two pytest processes on one
    machine (developers working side by side) take turns, one test at a time."""
    with open("/tmp/isobench-integration.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture
def iso_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private state root; after the test, its containers are removed and the census must
    be back where it started: what is left then (a mount, a cgroup, a veth, a bridge, a netns,
    a rule, a container record) fails the test that leaked it."""
    require_root()
    root = Path(tempfile.mkdtemp(prefix="isobench-test-"))
    monkeypatch.setenv("ISOBENCH_ROOT", str(root))
    monkeypatch.setenv("ISOBENCH_CGROUP_PARENT", f"isobench-test-{root.name}")
    before = Cli(root).census()
    yield root
    leaked = teardown(Cli(root)) - before
    leaked.volumes = 0  # volumes live in the root, which goes with it
    if leaked != Leftovers(0, 0, 0, 0):
        pytest.fail(f"the test left behind (after rm -f of its containers): {leaked}",
                    pytrace=False)


def teardown(cli: Cli) -> Leftovers:
    """Remove every container of this root, its cgroup parents and the root itself. Returns
    the census taken after the containers were removed, before the rest goes."""
    ids = cli("ps", "-aq", "--no-trunc").stdout.split()
    if ids:
        cli("rm", "-f", *ids)
    left = cli.census()
    for parent in [*CGROUP_ROOT.glob(f"*/{cli.cgroup_parent}")]:
        try:
            parent.rmdir()
        except OSError:
            pass  # still holds a cgroup: counted in `left`, which fails the test
    shutil.rmtree(cli.root, ignore_errors=True)
    return left


@pytest.fixture
def cli(iso_root: Path) -> Cli:
    return Cli(iso_root)
