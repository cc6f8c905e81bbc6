"""Inside the cgroup v2 lane's guest (make test-cgroup2): real containers on a pure cgroup v2
hierarchy, their limits read back from the v2 files and enforced, the refusal of a
controller that cannot be enabled, gc, doctor, and a tiny bench session's accounting.
Runs in both passes: `ISOBENCH_LANE=cgroupfs` and `ISOBENCH_LANE=systemd` (systemd as PID 1
of the guest's PID namespace; the driver then makes a delegated scope)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import Cli

pytestmark = pytest.mark.root
CG = Path("/sys/fs/cgroup")
LANE = os.environ.get("ISOBENCH_LANE", "")
DRIVER = "systemd" if LANE == "systemd" else "cgroupfs"
SEED = Path("/lane/seed.tar")


def cgroup_of(pid: int) -> Path:
    """The process's cgroup directory (pure v2: the one `0::` line)."""
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("0::"), lines
    return CG / lines[0][3:].lstrip("/")


def started(cli: Cli, *args: str) -> tuple[str, int, Path]:
    """`run -d ARGS`: the container's id, its process and cgroup."""
    cid = cli("run", "-d", *args, check=True).stdout.strip()
    info = json.loads(cli("inspect", cid, check=True).stdout)[0]
    pid = info["State"]["Pid"]
    assert pid > 0, info["State"]
    return cid, pid, cgroup_of(pid)


def read(cg: Path, name: str) -> str:
    return (cg / name).read_text().strip()


def flat(cg: Path, name: str) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split() for line in read(cg, name).splitlines())}


def test_the_hierarchy_is_pure_cgroup2() -> None:
    types = [line.split(" - ")[1].split()[0] for line in
             Path("/proc/self/mountinfo").read_text().splitlines()
             if line.split(" - ")[1].startswith("cgroup")]
    assert types and set(types) == {"cgroup2"}, types
    assert {"cpu", "memory", "pids", "io"} <= set(read(CG, "cgroup.controllers").split())
    assert "cgroup_no_v1=all" in Path("/proc/cmdline").read_text()
    # no v1 hierarchy can be mounted at all
    target = Path("/tmp/v1-probe")
    target.mkdir(exist_ok=True)
    proc = subprocess.run(["mount", "-t", "cgroup", "-o", "memory", "none", str(target)],
                          capture_output=True, text=True)
    if proc.returncode == 0:
        subprocess.run(["umount", str(target)])
    assert proc.returncode != 0, "a v1 memory hierarchy mounted despite cgroup_no_v1=all"


def test_doctor_names_mode_driver_and_controllers(cli: Cli) -> None:
    out = cli("doctor", timeout=120).stdout
    line = next(s for s in out.splitlines() if " cgroups " in f" {s} ")
    print(line)
    assert "v2" in line and f"driver {DRIVER}" in line, line
    assert all(c in line for c in ("cpu", "memory", "pids", "io")), line
    assert ("systemd is PID 1" in line) == (LANE == "systemd"), line
    assert ("no systemd as PID 1" in line) == (LANE != "systemd"), line


def test_limits_are_written_to_the_v2_files(cli: Cli) -> None:
    dev = os.stat("/dev/vdb").st_rdev
    majmin = f"{os.major(dev)}:{os.minor(dev)}"
    cid, _pid, cg = started(cli, "--cpus", "0.5", "-m", "64m", "--pids-limit", "16",
                            "--device-write-bps", "/dev/vdb:1mb", "busybox", "sleep", "120")
    try:
        if DRIVER == "systemd":
            scope = f"{cli.cgroup_parent}.scope"
            assert scope in cg.parts, cg
        assert read(cg, "cpu.max") == "50000 100000"
        assert read(cg, "memory.max") == str(64 << 20)
        assert read(cg, "memory.swap.max") == "0"
        assert read(cg, "pids.max") == "16"
        io = {line.split()[0]: line.split()[1:] for line in read(cg, "io.max").splitlines()}
        assert "wbps=1048576" in io[majmin], io
        assert read(cg, "pids.current") == "1"
    finally:
        cli("rm", "-f", cid)
    assert not cg.exists()


def test_cpu_quota_is_enforced(cli: Cli) -> None:
    cid, _pid, cg = started(cli, "--cpus", "0.5", "busybox", "sh", "-c",
                            "while :; do :; done & while :; do :; done")
    try:
        time.sleep(1)
        u0, t0 = flat(cg, "cpu.stat")["usage_usec"], time.monotonic()
        time.sleep(4)
        u1, t1 = flat(cg, "cpu.stat")["usage_usec"], time.monotonic()
        share = (u1 - u0) / 1e6 / (t1 - t0)
        print(f"two spinning processes at --cpus 0.5: {share:.3f} CPU (n=1, 4 s)")
        assert 0.3 < share < 0.6, share
        assert flat(cg, "cpu.stat")["nr_throttled"] > 0
    finally:
        cli("rm", "-f", cid)


def test_memory_limit_oom_kills_and_memory_events_counts_it(cli: Cli) -> None:
    cid, _pid, cg = started(cli, "-m", "32m", "busybox", "sh", "-c",
                            "tail /dev/zero; echo tail-gone; sleep 120")
    try:
        deadline = time.monotonic() + 60
        while flat(cg, "memory.events")["oom_kill"] == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        events = flat(cg, "memory.events")
        assert events["oom_kill"] >= 1 and events["max"] > 0, events
        assert int(read(cg, "memory.peak")) <= 32 << 20
        assert "tail-gone" in cli("logs", cid).stdout
    finally:
        cli("rm", "-f", cid)


def test_pids_limit_stops_forks(cli: Cli) -> None:
    cid, _pid, cg = started(cli, "--pids-limit", "8", "busybox", "sleep", "120")
    try:
        # the exec'd shell joins the cgroup: 1 + 1 + 6 sleeps, then a fork is refused
        proc = cli("exec", cid, "sh", "-c",
                   "for i in $(seq 20); do sleep 30 >/dev/null 2>&1 & done", timeout=60)
        assert "can't fork" in proc.stderr, proc
        assert int(read(cg, "pids.current")) <= 8
        assert flat(cg, "pids.events")["max"] > 0
    finally:
        cli("rm", "-f", cid)


def test_io_max_throttles_writes(cli: Cli, tmp_path: Path) -> None:
    """1 MiB/s on the scratch disk the volume lives on: 3 MiB, synced, take >= 2 s; io.stat
    counts them on that disk (cgroup v2 throttles writeback too)."""
    dev = os.stat("/dev/vdb").st_rdev
    majmin = f"{os.major(dev)}:{os.minor(dev)}"
    cid, _pid, cg = started(cli, "-v", f"{tmp_path}:/data", "--device-write-bps",
                            "/dev/vdb:1mb", "busybox", "sleep", "120")
    try:
        t0 = time.monotonic()
        cli("exec", cid, "dd", "if=/dev/zero", "of=/data/f", "bs=64k", "count=48",
            "conv=fsync", timeout=120, check=True)
        took = time.monotonic() - t0
        stat = {line.split()[0]: dict(kv.split("=") for kv in line.split()[1:])
                for line in read(cg, "io.stat").splitlines()}
        print(f"3 MiB at wbps=1048576: {took:.1f} s (n=1); io.stat {stat.get(majmin)}")
        assert took >= 2.0, took
        assert int(stat[majmin]["wbytes"]) >= 3 << 20, stat
    finally:
        cli("rm", "-f", cid)


def test_a_controller_that_cannot_be_enabled_is_one_line_125_nothing_left(cli: Cli) -> None:
    """A parent cgroup holding a process: cgroup v2's no-internal-processes rule refuses
    the domain controllers below it; `run` says which one and where, and leaves nothing."""
    parent = CG / cli.cgroup_parent
    parent.mkdir()
    holder = subprocess.Popen(["sleep", "300"])
    try:
        (parent / "cgroup.procs").write_text(str(holder.pid))
        env = {**cli.env, "ISOBENCH_CGROUP_DRIVER": "cgroupfs"}
        proc = subprocess.run([*cli_argv(), "run", "--rm", "busybox", "true"], env=env,
                              capture_output=True, text=True, timeout=120)
        print(proc.stderr)
        assert proc.returncode == 125, proc
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert "controller" in lines[0] and str(parent) in lines[0], lines
        assert any(f"the {c} controller" in lines[0] for c in ("memory", "pids", "io")), lines
        assert str(holder.pid) in lines[0], lines
        assert [p for p in parent.iterdir() if p.is_dir()] == []
        assert cli("ps", "-aq").stdout.strip() == ""
        assert read(parent, "cgroup.procs") == str(holder.pid)
    finally:
        holder.kill()
        holder.wait()
        parent.rmdir()


def seed(root: Path) -> None:
    """The bench image and its build cache, packed on the host (the guest has no network)."""
    subprocess.run(["tar", "-xpf", str(SEED), "-C", str(root)], check=True)


def cli_argv() -> list[str]:
    from tests.integration.conftest import ISOBENCH

    return [ISOBENCH]


def test_gc_removes_what_a_killed_monitor_left(cli: Cli) -> None:
    cid, pid, cg = started(cli, "busybox", "sleep", "300")
    monitor = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert monitor > 1
    os.kill(monitor, signal.SIGKILL)
    (cg / "cgroup.kill").write_text("1")
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cg.exists()
    out = cli("gc", check=True, timeout=120).stdout
    print(out)
    assert not cg.exists(), out
    assert cli("ps", "-q").stdout.strip() == ""


@pytest.mark.skipif(not SEED.exists(), reason="no /lane/seed.tar: not in a lane guest")
def test_tiny_bench_session_accounts_every_run(cli: Cli, tmp_path: Path) -> None:
    seed(cli.root)
    out = tmp_path / "session"
    targets = "native,container,runc"
    proc = cli("bench", "--profile", "tiny", "--targets", targets, "--workloads", "cpu,limits",
               "--out", str(out), "--seed", "3", "--no-history", timeout=1800)
    print(proc.stderr[-4000:])
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    assert doc["machine"]["cgroup_mode"] == "v2"
    assert {t for t, v in doc["targets"].items() if v["available"]} >= set(targets.split(","))
    runs = doc["runs"]
    assert {r["target"] for r in runs} == set(targets.split(","))
    for r in runs:
        acc = r["accounting"]
        assert r["ok"], json.dumps(r)[:4000]
        assert acc["samples"] and acc["samples_dropped"] == 0, (r["variant"], r["target"], acc)
        assert acc["end"]["memory_peak"] and acc["memory_peak_source"] == "kernel", acc["end"]
        assert all(s[1] is not None for s in acc["samples"]), (r["variant"], r["target"])
        print(f"{r['variant']:<22} {r['target']:<9} samples {len(acc['samples'])}, "
              f"cpu {acc['delta']['cpu_total_ns'] / 1e9:.2f} s, "
              f"peak {acc['end']['memory_peak'] / 2**20:.1f} MiB, "
              f"metrics {json.dumps(r['metrics'])[:120]}")
