"""Inside the KVM lane's guest (make test-kvm): the outer TCG emulates AMD SVM
(ISOBENCH_VM_CPU=max), kvm_amd runs in the guest, libvirtd is started, and the VM driver
takes the KVM path for real: the probe's checks, a `vm run` on KVM with its boot time, the
accounting in libvirt's cgroup, gc, and a tiny bench session on the vm target. Figures here
are nested emulation: they prove the code path, never performance."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import Cli
from tests.lanes.test_cgroup2_lane import seed

pytestmark = pytest.mark.root
SEED = Path("/lane/seed.tar")


def domains() -> list[str]:
    out = subprocess.run(["virsh", "-q", "-c", "qemu:///system", "list", "--all", "--name"],
                         capture_output=True, text=True, check=True).stdout
    return [d for d in out.split() if d.startswith("isobench-")]


def test_the_guest_cpu_has_svm_and_kvm_amd_runs() -> None:
    assert " svm" in Path("/proc/cpuinfo").read_text()
    assert Path("/sys/module/kvm_amd").is_dir()
    assert Path("/dev/kvm").exists()


def test_doctor_and_the_probe_pass_every_check(cli: Cli) -> None:
    out = cli("doctor", timeout=300).stdout
    print(out)
    # by the label (the /dev/kvm line mentions "the KVM probe" too)
    probe = next(line for line in out.splitlines() if line.split()[1:3] == ["KVM", "probe"])
    assert probe.startswith("ok") and "passed: sector, kernel, libvirt" in probe, probe
    accel = next(line for line in out.splitlines() if line.split()[1:2] == ["acceleration"])
    assert "KVM" in accel and "TCG (" not in accel, accel


def test_vm_run_on_kvm_returns_output_exit_code_and_libvirt_accounting(cli: Cli,
                                                                        tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    proc = cli("vm", "run", "--accel", "kvm", "-v", "--stats", str(stats), "busybox",
               "sh", "-c", "echo hi; exit 3", timeout=600)
    print(proc.stderr)
    assert proc.stdout == "hi\n" and proc.returncode == 3, proc
    result = json.loads(stats.read_text())
    print({k: result[k] for k in ("accel", "accel_reason", "cgroup_name", "timings")})
    assert result["accel"] == "kvm" and "passed: sector, kernel, libvirt" in \
        result["accel_reason"], result["accel_reason"]
    assert "machine" in result["cgroup_name"] or "libvirt" in result["cgroup_name"], \
        result["cgroup_name"]  # QEMU stays where libvirt put it (vCPU sub-cgroups kept)
    assert result["cgroup_live"]["cpu_total_ns"] > 0, result["cgroup_live"]
    assert result["timings"]["ready_s"] is not None
    assert domains() == []


def test_gc_leaves_no_domain_or_run_dir(cli: Cli) -> None:
    cli("vm", "run", "--accel", "kvm", "busybox", "true", timeout=600, check=True)
    out = cli("gc", check=True, timeout=120).stdout
    print(out)
    assert domains() == []
    runs = cli.root / "vm" / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []


@pytest.mark.skipif(not SEED.exists(), reason="no /lane/seed.tar: not in a lane guest")
def test_tiny_bench_session_on_the_vm_target_under_kvm(cli: Cli, tmp_path: Path) -> None:
    seed(cli.root)
    out = tmp_path / "session"
    proc = cli("bench", "--profile", "tiny", "--targets", "vm", "--workloads", "cpu",
               "--out", str(out), "--seed", "3", "--no-history", timeout=1800)
    print(proc.stderr[-3000:])
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    assert doc["machine"]["acceleration"]["mode"] == "kvm", doc["machine"]["acceleration"]
    runs = [r for r in doc["runs"] if r["target"] == "vm"]
    assert runs and all(r["ok"] for r in runs), [r.get("error") for r in runs]
    for r in runs:
        assert r["accounting"]["samples"], r["variant"]
        print(r["variant"], r["metrics"])
