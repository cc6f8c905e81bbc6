"""Soak: hundreds of container runs and a few VM runs, some of them SIGKILLed mid-run (the
CLI, its process group, or the CLI and the container's monitor), then `isobench gc`: the
census must be back to what it was before. Counts are printed for the record.

The counts are printed even without -s; each test takes 1.5-4 minutes on a 2-core machine.
SOAK_RUNS overrides the number of container runs (20 of them are killed whatever it is).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import pytest

from runtime.containers import is_alive
from tests.integration.conftest import ISOBENCH, Cli
from tests.integration.test_vm_run import VmCli, libvirt_domains, vm_census
from tests.integration.test_vm_run import vm as vm  # noqa: F401 - the fixture, reused

pytestmark = pytest.mark.root

RUNS = int(os.environ.get("SOAK_RUNS", "200"))          # in all, the killed ones included
KILLS = 20
PARALLEL = 4        # CLIs at once (this machine has 2 cores; a run is mostly Python start)
VM_RUNS = 10
VM_KILLS = 2
VM_PARALLEL = 2
KILL_MODES = ["cli"] * 6 + ["group"] * 4 + ["cli+monitor"] * 6 + ["early"] * 4


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def record_of(root: Path, name: str) -> dict | None:
    try:
        cid = os.readlink(root / "containers" / ".names" / name)
        return json.loads((root / "containers" / cid / "config.json").read_text())
    except (OSError, ValueError):
        return None


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def kill_run(cli: Cli, i: int, mode: str, rng: random.Random, logs: Path) -> str:
    """Start one `run` and SIGKILL it: while its container runs (`cli`: the CLI alone,
    `group`: the CLI's process group, `cli+monitor`: the CLI and the container's monitor),
    or at a random moment of its start (`early`: the CLI and whatever it forked)."""
    name = f"soak-kill-{i}"
    # The monitor outlives `cli` and `group` kills and cleans up once `sleep` ends;
    # `cli+monitor` leaves a container nobody answers for: gc must kill it.
    sleep = "2" if mode in ("cli", "group") else "60"
    extra = (["--network", "bridge"] if i % 2 else []) + (["-v", "/scratch"] if i % 3 == 0
                                                           else [])
    proc = subprocess.Popen([ISOBENCH, "run", "--rm", "--name", name, *extra, "busybox",
                             "sleep", sleep], env=cli.env, stdout=subprocess.DEVNULL,
                            stderr=(logs / f"{name}.err").open("w"), start_new_session=True)
    try:
        if mode == "early":
            time.sleep(rng.uniform(0.05, 0.9))
        else:
            wait_for(lambda: (record_of(cli.root, name) or {}).get("state", {}).get("status")
                     == "running", 30, f"{name} to run")
        os.kill(proc.pid, signal.SIGSTOP)  # no fork from here on: its children are all known
        victims = [proc.pid] + (children(proc.pid) if mode in ("cli+monitor", "early") else [])
        if mode == "group":
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    finally:
        proc.kill()
        proc.wait()
    return mode


def normal_run(cli: Cli, i: int) -> None:
    """One of six kinds of ordinary runs; each must succeed with the right exit code."""
    kind = i % 6
    if kind == 3:  # detached, then rm -f while it runs
        cid = cli("run", "-d", "--network", "bridge", "busybox", "sleep", "30",
                  check=True).stdout.strip()
        cli("rm", "-f", cid, check=True)
        return
    argv, code = {
        0: (["--network", "bridge", "busybox", "true"], 0),
        1: (["-v", "soak-vol:/data", "busybox", "sh", "-c", f"echo {i} >> /data/log"], 0),
        2: (["-v", "/scratch", "busybox", "true"], 0),
        4: (["busybox", "echo", "hi"], 0),
        5: (["--network", "bridge", "-v", "/scratch", "busybox", "sh", "-c", "exit 3"], 3),
    }[kind]
    proc = cli("run", "--rm", *argv)
    assert proc.returncode == code, f"run {i}: {proc.returncode}: {proc.stderr}"


def gc_counts(cli: Cli | VmCli) -> dict[str, int]:
    proc = cli("gc", check=True)
    counts = {}
    for line in proc.stdout.splitlines():
        words = line.split(" ", 2)
        if words[0] == "removed" and words[1].isdigit():
            counts[words[2]] = int(words[1])
    return counts


def table(title: str, rows: dict[str, dict[str, int]]) -> str:
    kinds = list(next(iter(rows.values())))
    lines = [title, f"{'':14}" + "".join(f"{k:>14}" for k in kinds)]
    lines += [f"{label:14}" + "".join(f"{row[k]:>14}" for k in kinds)
              for label, row in rows.items()]
    return "\n".join(lines)


def test_soak_200_runs_20_killed_then_gc(cli: Cli, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    cli("volume", "create", "soak-vol", check=True)
    cli("run", "--rm", "busybox", "true", check=True)  # the busybox image exists from here
    before = cli.census()
    started = time.monotonic()
    rng = random.Random(8)
    kill_at = set(range(RUNS // KILLS // 2, RUNS, RUNS // KILLS))
    modes = iter(KILL_MODES)
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = [pool.submit(kill_run, cli, i, next(modes), random.Random(rng.random()),
                               tmp_path)
                   if i in kill_at else pool.submit(normal_run, cli, i) for i in range(RUNS)]
        results = [f.result() for f in futures]
    assert sorted(r for r in results if r) == sorted(KILL_MODES)
    ran = time.monotonic() - started
    # The monitors that survived (`cli`, `group`) finish their 2-second containers, and
    # remove them (--rm) with everything they had: no gc needed for those.
    survivors = [i for i, mode in zip(range(RUNS), results, strict=True)
                 if mode in ("cli", "group")]
    try:
        wait_for(lambda: all(record_of(cli.root, f"soak-kill-{i}") is None for i in survivors),
                 60, "the surviving monitors to finish")
    except AssertionError:
        left = {f"soak-kill-{i}": record_of(cli.root, f"soak-kill-{i}") for i in survivors}
        raise AssertionError({name: (r["state"]["status"], "monitor alive" if is_alive(
            r["state"]["monitor_pid"], r["state"]["monitor_start"]) else "monitor dead",
            (tmp_path / f"{name}.err").read_text()) for name, r in left.items() if r}) from None
    after_kill = cli.census()
    dead = after_kill - before
    # At least the six whose monitor was killed under a running container are left.
    assert dead.containers >= 6 and dead.cgroups >= 6 and dead.overlay_dirs >= 18, dead

    # A `run -d` (no --rm) whose monitor dies: gc tears it down and keeps it as "dead".
    orphan = cli("run", "-d", "--name", "soak-orphan", "busybox", "sleep", "60",
                 check=True).stdout.strip()
    state = record_of(cli.root, "soak-orphan")["state"]  # type: ignore[index]
    os.kill(state["monitor_pid"], signal.SIGKILL)
    wait_for(lambda: not is_alive(state["monitor_pid"], state["monitor_start"]), 10,
             "the orphan's monitor to die")
    keeper = cli("run", "-d", "--network", "bridge", "busybox", "sleep", "60",
                 check=True).stdout.strip()  # legitimately running: gc must not touch it
    with_keeper = cli.census()
    dry = cli("gc", "--dry-run", check=True)
    assert "would remove" in dry.stdout and cli.census() == with_keeper, "a dry run changed"
    removed = gc_counts(cli)
    assert keeper[:12] in cli("ps", "-q").stdout.split()
    cli("exec", keeper, "true", check=True)  # its namespaces, cgroup and monitor are whole
    info = json.loads(cli("inspect", orphan, check=True).stdout)[0]
    assert info["State"]["Status"] == "dead" and not is_alive(state["pid"], state["pid_start"])
    assert not any(os.path.isdir(p) for p in info["Cgroup"]["Paths"].values())
    cli("rm", "soak-orphan", check=True)  # not running any more: no -f needed
    assert removed["processes"] >= 7 and removed["containers"] >= 7, removed
    cli("rm", "-f", keeper, check=True)
    cli("volume", "rm", "soak-vol", check=True)
    cli("volume", "create", "soak-vol", check=True)  # as in `before`
    after_gc = cli.census()
    with capsys.disabled():
        print()
        print(table(f"container soak: {RUNS} runs ({KILLS} SIGKILLed: {KILL_MODES.count('cli')}"
                    f" CLI, {KILL_MODES.count('group')} process group, "
                    f"{KILL_MODES.count('cli+monitor')} CLI+monitor, "
                    f"{KILL_MODES.count('early')} at a random moment of the start) in "
                    f"{ran:.0f} s, {PARALLEL} at once",
                    {"before": asdict(before), "after kill": asdict(after_kill),
                     "after gc": asdict(after_gc)}))
        print("gc:", ", ".join(f"{k} {v}" for k, v in removed.items() if v))
    assert after_gc == before, after_gc - before
    assert cli("ps", "-aq").stdout.split() == []


def vm_disks(cli: Cli) -> int:
    disks = cli.root / "vm" / "disks"
    return sum(1 for _ in disks.glob("*.raw")) if disks.exists() else 0


def vm_row(cli: VmCli) -> dict[str, int]:
    c = vm_census(cli)
    return {"domains": len(c.domains), "runs": c.runs, "sockets": c.sockets,
            "cgroups": c.cgroups, "libvirt logs": c.libvirt_logs, "disks": vm_disks(cli)}


def vm_run(vm: VmCli) -> None:
    proc = vm("vm", "run", "--accel", "tcg", "busybox", "sh", "-c", "echo soak; exit 4")
    assert proc.returncode == 4 and proc.stdout == "soak\n", proc.stderr


def vm_kill(vm: VmCli, under_way: Callable[[], bool], then: float = 0.0) -> None:
    proc = subprocess.Popen([*vm.argv0, "vm", "run", "--accel", "tcg", "busybox", "sleep",
                             "600"], env=vm.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(under_way, 120, "the VM run to be under way")
        time.sleep(then)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()


def test_vm_soak_10_runs_2_killed_then_gc(vm: VmCli,  # noqa: F811
                                          capsys: pytest.CaptureFixture[str]) -> None:
    vm_run(vm)  # the cached guest disk exists from here
    before = vm_row(vm)
    started = time.monotonic()
    with ThreadPoolExecutor(VM_PARALLEL) as pool:
        for f in [pool.submit(vm_run, vm) for _ in range(VM_RUNS - VM_KILLS - 1)]:
            f.result()
    runs = vm.root / "vm" / "runs"
    # One killed as soon as its run directory exists (before its domain may), one once its
    # guest boots.
    vm_kill(vm, lambda: runs.exists() and any(runs.iterdir()))
    domains = len(libvirt_domains(vm.root))
    vm_kill(vm, lambda: len(libvirt_domains(vm.root)) > domains, then=3.0)
    ran = time.monotonic() - started
    after_kill = vm_row(vm)
    assert after_kill["domains"] >= 1 and after_kill["runs"] == 2, after_kill
    removed = gc_counts(vm)
    after_gc = vm_row(vm)
    with capsys.disabled():
        print()
        print(table(f"vm soak: {VM_RUNS} runs ({VM_KILLS} SIGKILLed) in {ran:.0f} s, "
                    f"{VM_PARALLEL} at once", {"before": before, "after kill": after_kill,
                                               "after gc": after_gc}))
        print("gc:", ", ".join(f"{k} {v}" for k, v in removed.items() if v))
    assert after_gc == before
    assert removed["vm runs"] == 2 and removed["domains"] == after_kill["domains"]


def test_gc_removes_a_bridge_nobody_uses_and_keeps_one_in_use(cli: Cli) -> None:
    before = cli.census()
    cli("network", "create", "gcnet", check=True)
    bridge = json.loads((cli.root / "networks" / "gcnet.json").read_text())["bridge"]
    keeper = cli("run", "-d", "busybox", "sleep", "60", check=True).stdout.strip()
    proc = subprocess.Popen([ISOBENCH, "run", "--rm", "--name", "lost", "--network", "gcnet",
                             "busybox", "sleep", "60"], env=cli.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for(lambda: (record_of(cli.root, "lost") or {}).get("state", {}).get("status")
             == "running", 30, "lost to run")
    os.kill(proc.pid, signal.SIGSTOP)
    for pid in [proc.pid, *children(proc.pid)]:  # the CLI and the monitor
        os.kill(pid, signal.SIGKILL)
    proc.wait()
    assert Path(f"/sys/class/net/{bridge}").exists() and Path("/sys/class/net/isobench0").exists()
    removed = gc_counts(cli)
    assert removed["bridges"] == 1 and removed["veths"] == 1 and removed["processes"] == 1
    assert not Path(f"/sys/class/net/{bridge}").exists()      # nothing used it any more
    assert Path("/sys/class/net/isobench0").exists()          # the keeper is plugged into it
    cli("exec", keeper, "true", check=True)
    cli("rm", "-f", keeper, check=True)
    cli("network", "rm", "gcnet", check=True)
    assert cli.census() == before
