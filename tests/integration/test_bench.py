"""`isobench bench` end to end on a tiny profile: every workload, the non-VM targets, the
results document validated against its schema, Ctrl-C and --resume, and `compare`."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from bench import results
from tests.integration.conftest import Cli

pytestmark = pytest.mark.root

TARGETS = "native,container,runc"
ALL_WORKLOADS = "cpu,memory,disk,net,startup,footprint,density,limits,evidence"


def test_tiny_profile_end_to_end_then_compare(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "session"
    before = cli.census()
    proc = cli("bench", "--profile", "tiny", "--targets", TARGETS, "--workloads",
               ALL_WORKLOADS, "--out", str(out), "--seed", "7", timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = results.load(out / "results.json")
    results.validate(doc)
    assert doc["session"]["complete"] is True
    assert doc["machine"]["cgroup_mode"] in ("v1", "v2", "hybrid")
    failed = [(r["variant"], r["target"], r["error"]) for r in doc["runs"] if not r["ok"]]
    assert failed == []
    ran = {(r["workload"], r["target"]) for r in doc["runs"]}
    for workload in ALL_WORKLOADS.split(","):
        assert any(w == workload for w, _ in ran), workload
    for target in TARGETS.split(","):
        assert ("cpu", target) in ran and ("startup", target) in ran
    cell = doc["summary"]["cpu"]["cpu.single"]["events_per_s"]
    assert cell["native"]["ratio_to_native"] == 1.0
    assert 0.5 < cell["container"]["ratio_to_native"] < 2.0
    # every command run was accounted by its cgroup: CPU time seen on each target
    for r in doc["runs"]:
        if r["workload"] == "cpu":
            assert r["accounting"]["delta"]["cpu_total_ns"] > 1e8, (r["target"], r["accounting"])
    limits = {r["target"]: r["metrics"] for r in doc["runs"] if r["variant"] == "limits.cpu_half"}
    for target, metrics in limits.items():
        assert 0.35 < metrics["cpu_share"] < 0.65, (target, metrics)
    # every instance torn down: mounts, cgroups (runc's in every hierarchy), veths, netns...
    assert cli.census() - before == type(before)(0, 0, 0, 0)
    # compare against itself: nothing regressed
    same = cli("compare", str(out), str(out))
    assert same.returncode == 0, same.stdout + same.stderr


def test_ctrl_c_keeps_finished_runs_and_resume_completes(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    argv = ["bench", "--profile", "tiny", "--repeat", "3", "--targets", "native,container",
            "--workloads", "cpu", "--out", str(out), "--seed", "3"]
    before = cli.census()
    proc = cli.popen(*argv)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        path = out / "results.json"
        if path.exists() and len(json.loads(path.read_text())["runs"]) >= 2:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    cut = results.load(out / "results.json")
    assert cut["session"]["complete"] is False
    kept = len(cut["runs"])
    assert 2 <= kept < 12
    assert cli.census() - before == type(before)(0, 0, 0, 0)  # every instance torn down
    done = cli(*argv[:-4], "--resume", str(out), timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    final = results.load(out / "results.json")
    assert final["session"]["complete"] is True
    assert len(final["runs"]) == 12  # 2 variants x 2 targets x 3 repetitions, none twice
    assert {r["started_at"] for r in cut["runs"]} <= {r["started_at"] for r in final["runs"]}


def test_bad_bench_input(cli: Cli) -> None:
    proc = cli("bench", "--workloads", "cpu,bogus")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "unknown workload: bogus" in proc.stderr
    assert "valid: cpu" in proc.stderr
    proc = cli("bench", "--targets", "native,xen")
    assert proc.returncode == 2 and "unknown target: xen" in proc.stderr
