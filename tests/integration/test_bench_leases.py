"""A bench killed inside a native run, a runc run or a runc network placement leaves host
resources no container record describes; `isobench gc` finds them through their leases
(bench/leases.py) and removes them, and keeps those of a bench still running."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.integration.conftest import Cli

pytestmark = pytest.mark.root

# Each scenario starts the resource, waits until it exists, then SIGKILLs its own process:
# no finally, no atexit runs, as when a user kills the bench.
CRASH = textwrap.dedent("""
    import os, signal, subprocess, sys, threading, time
    from runtime.api import Runtime
    from bench import leases
    from bench.targets import Job, NativeTarget, RuncTarget
    from runtime.network import DEFAULT_NETWORK

    rt = Runtime()
    kind = sys.argv[1]
    die = lambda: os.kill(os.getpid(), signal.SIGKILL)
    if kind == "native":
        threading.Timer(1.0, die).start()
        NativeTarget(rt).run(Job("busybox", ["sleep", "60"], sample_hz=0))
    elif kind == "runc":
        with RuncTarget(rt)._instance(Job("busybox", ["sleep", "60"])) as inst:
            subprocess.Popen(inst.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
            time.sleep(1.5)
            die()
    elif kind == "endpoint":
        with leases.lease(rt) as lease:
            lease.note(endpoint={"network": DEFAULT_NETWORK, "id": "f" * 64})
            rt.networks.attach(DEFAULT_NETWORK, "f" * 64, "crashed", "crashed", [],
                               str(rt.root / "crashed.hosts"))
            die()
""")


def crash(cli: Cli, kind: str) -> None:
    proc = subprocess.run([sys.executable, "-c", CRASH, kind], env=cli.env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr[-2000:]


def host_mounts(root: Path) -> int:
    with open("/proc/self/mountinfo") as f:
        return sum(1 for line in f if str(root) in line)


def test_gc_undoes_what_a_killed_bench_left(cli: Cli) -> None:
    cli("run", "--rm", "busybox", "true", check=True)  # the image, and the default network
    before = cli.census()
    for kind in ("native", "runc", "endpoint"):
        crash(cli, kind)
    left = cli.census()
    assert left.cgroups > before.cgroups and left.netns > before.netns
    assert host_mounts(cli.root) > before.mounts  # runc's overlay, in the host's namespace
    assert len(list((cli.root / "bench-leases").iterdir())) == 3

    dry = cli("gc", "--dry-run", check=True)
    assert "would remove 3 bench leases" in dry.stdout
    assert cli.census() == left

    out = cli("gc", check=True).stdout
    assert "removed 3 bench leases" in out and "removed 1 runc containers" in out
    assert cli.census() == before, (before, cli.census())
    assert list((cli.root / "bench-leases").iterdir()) == []
    assert not list((cli.root / "runc" / "runs").iterdir())


def test_gc_keeps_a_running_bench(cli: Cli) -> None:
    from bench import leases
    from runtime.api import Runtime
    from runtime.network import DEFAULT_NETWORK

    rt = Runtime(cli.root)
    cid = "e" * 64
    rt.networks.get(DEFAULT_NETWORK)  # the record is made on first use
    with leases.lease(rt) as lease:
        lease.note(endpoint={"network": DEFAULT_NETWORK, "id": cid})
        ep = rt.networks.attach(DEFAULT_NETWORK, cid, "live", "live", [],
                                str(cli.root / "live.hosts"))
        try:
            out = cli("gc", check=True).stdout
            assert "removed 0 bench leases" in out
            assert Path(f"/run/netns/{ep.netns}").exists()
        finally:
            rt.networks.detach(DEFAULT_NETWORK, cid)
    assert not Path(f"/run/netns/{ep.netns}").exists()
    assert list((cli.root / "bench-leases").iterdir()) == []


# Ctrl-C reaching a native run just after its process started, while its shell may still be
# joining the cgroup one hierarchy at a time (what CI's Ctrl-C test once caught: three of the
# eight v1 dirs left, the command running on outside them).
INTERRUPTED = textwrap.dedent("""
    import subprocess
    from pathlib import Path
    from runtime.api import Runtime
    from bench.targets import Job, NativeTarget

    started = []
    real = subprocess.Popen.communicate
    def interrupted(self, *args, **kwargs):
        if self.args[:2] != ["/bin/sh", "-c"]:
            return real(self, *args, **kwargs)  # the mounts' helpers run as usual
        started.append(self)
        raise KeyboardInterrupt
    subprocess.Popen.communicate = interrupted
    try:
        NativeTarget(Runtime()).run(Job("busybox", ["sleep", "60"], sample_hz=0))
    except KeyboardInterrupt:
        pass
    proc = started[0]
    print("reaped" if proc.returncode is not None else "running")
    if proc.returncode is None:
        proc.kill()
""")


def test_an_interrupted_native_run_leaves_no_process_or_cgroup(cli: Cli) -> None:
    cli("run", "--rm", "busybox", "true", check=True)  # the image
    before = cli.census()
    proc = subprocess.run([sys.executable, "-c", INTERRUPTED], env=cli.env,
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "reaped", proc.stderr[-2000:]
    assert cli.census() == before
    assert list((cli.root / "bench-leases").iterdir()) == []


# The container's monitor SIGKILLed mid-run (an OOM killer's or a user's pick): the run fails
# saying so at once, not as a timeout after job.timeout, and the run's rm -f clears the rest.
MONITOR_KILLED = textwrap.dedent("""
    import os, signal, threading, time
    from runtime.api import Runtime
    from bench.targets import ContainerTarget, Job

    rt = Runtime()
    def kill_monitor():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for c in rt.list():
                if c.state.status == "running" and c.state.monitor_pid:
                    os.kill(c.state.monitor_pid, signal.SIGKILL)
                    return
            time.sleep(0.05)
    threading.Thread(target=kill_monitor, daemon=True).start()
    t0 = time.monotonic()
    try:
        ContainerTarget(rt).run(Job("busybox", ["sleep", "60"], sample_hz=0, timeout=40))
        print("no error")
    except RuntimeError as e:
        print(f"{time.monotonic() - t0:.1f}", e)
""")


def test_a_container_run_whose_monitor_dies_fails_saying_so(cli: Cli) -> None:
    cli("run", "--rm", "busybox", "true", check=True)  # the image
    before = cli.census()
    proc = subprocess.run([sys.executable, "-c", MONITOR_KILLED], env=cli.env,
                          capture_output=True, text=True, timeout=120)
    took, _, message = proc.stdout.strip().partition(" ")
    assert message.startswith("the container's monitor ended without recording an exit"), \
        proc.stdout + proc.stderr[-2000:]
    assert float(took) < 20  # the sleep is 60 s and the timeout 40 s: neither was waited out
    assert cli.census() == before
