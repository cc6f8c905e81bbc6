"""`isobench vm run --machine microvm` against real QEMU (TCG here): QEMU's microvm machine,
started by isobench without libvirt. A boot is ~2-3 s here under TCG, so each test boots
once or twice. After every test: no QEMU of this root, no run directory, socket or cgroup
(vm_census, extended with the microVMs' QEMU processes)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.integration.test_vm_run import VmCli, microvm_qemus, nothing_left, vm, vm_census

pytestmark = pytest.mark.root
__all__ = ["nothing_left", "vm"]  # fixtures, used by name

MICROVM = ("vm", "run", "--machine", "microvm", "--accel", "tcg")


def test_output_and_exit_code_are_exact(vm: VmCli, nothing_left: None, tmp_path: Path) -> None:
    proc = vm(*MICROVM, "busybox", "echo", "hi")
    assert (proc.stdout, proc.stderr, proc.returncode) == ("hi\n", "", 0)
    stats = tmp_path / "stats.json"
    proc = vm(*MICROVM, "--stats", str(stats), "--scratch", "64m", "busybox", "sh", "-c",
              "echo out; echo err >&2; grep -c \"^virtio_mmio \" /proc/modules; "
              "ls /sys/bus/pci/devices | wc -l; cat /sys/block/vdb/size; exit 3")
    assert proc.returncode == 3, proc.stderr
    # virtio_mmio loaded, not one PCI device, the scratch disk where the pc machine has it
    assert proc.stdout == f"out\n1\n0\n{64 * 1024 * 1024 // 512}\n", proc.stdout
    assert proc.stderr == "err\n"
    result = json.loads(stats.read_text())
    assert result["domain"].startswith("isobench-microvm-")
    assert result["cgroup_name"].endswith(f"/vm-{result['domain'].removeprefix('isobench-')}")
    assert result["cgroup"]["cpu_total_ns"] > 0  # QEMU ran in our cgroup, boot included
    assert result["qemu_memory"]["rss"] > 0 and result["domain_stats"] == {}


def test_gc_ends_the_microvm_of_a_killed_isobench(vm: VmCli, nothing_left: None) -> None:
    before = vm_census(vm)
    proc = vm.popen(*MICROVM, "busybox", "sleep", "600")
    deadline = time.monotonic() + 120
    while not microvm_qemus(vm.root):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "QEMU never started"
        time.sleep(0.05)
    time.sleep(1.0)  # in its cgroup, the guest booting
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    time.sleep(0.5)
    left = vm_census(vm)
    assert left.microvms == 1 and left.runs == 1 and left.cgroups > before.cgroups, left
    assert left.sockets == before.sockets + 1
    gc = vm("gc", timeout=120)
    assert gc.returncode == 0, gc.stderr
    assert "removed 1 microvms" in gc.stdout and "removed 1 vm runs" in gc.stdout, gc.stdout
    after = vm_census(vm)
    assert (after.microvms, after.runs, after.cgroups, after.sockets) == \
        (0, 0, before.cgroups, before.sockets), after


@pytest.mark.parametrize("kernel, message", [
    ("/nonexistent/vmlinuz-x", "isobench: guest kernel /nonexistent/vmlinuz-x not found\n"),
    ("not-a-kernel", "isobench: QEMU exited with 1 before the guest ran: "),
])
def test_a_bad_kernel_is_one_line_and_leaves_nothing(vm: VmCli, nothing_left: None,
                                                     tmp_path: Path, kernel: str,
                                                     message: str) -> None:
    if kernel == "not-a-kernel":  # a file that is there: QEMU itself refuses it
        bogus = tmp_path / "vmlinuz-bogus"
        bogus.write_bytes(b"not a kernel\n" * 100)
        (tmp_path / "initrd.img-bogus").write_bytes(b"")
        kernel = str(bogus)
    saved = dict(vm.env)
    vm.env["ISOBENCH_VM_KERNEL"] = kernel
    try:
        proc = vm(*MICROVM, "busybox", "true", timeout=120)
    finally:
        vm.env = saved
    assert proc.returncode == 125 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(message), proc.stderr


def test_bench_runs_microvm_cells_in_shared_boots(vm: VmCli, nothing_left: None,
                                                  tmp_path: Path) -> None:
    """The bench target: cpu and disk, two repetitions a cell from one microVM boot each,
    each on its own window; recorded as target microvm with the VM's accel."""
    from results import document

    out = tmp_path / "session"
    proc = vm("bench", "--profile", "tiny", "--repeat", "2", "--targets", "microvm",
              "--workloads", "cpu,disk", "--out", str(out), "--seed", "5", "--no-history",
              "--keep-contended", timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = document.load(out / "results.json")
    document.validate(doc)
    assert doc["targets"]["microvm"]["available"], doc["targets"]
    variants = ["cpu.single", "cpu.all", "disk.randread", "disk.randwrite", "disk.seqread",
                "disk.seqwrite"]
    for variant in variants:
        assert f"{variant} on microvm reps 1, 2 in one boot" in proc.stderr, proc.stderr[-3000:]
        runs = sorted((r for r in doc["runs"] if r["variant"] == variant),
                      key=lambda r: r["repetition"])
        assert [r["target"] for r in runs] == ["microvm", "microvm"], variant
        assert all(r["ok"] for r in runs), [(r["error"], r["output"]) for r in runs]
        shared = [r["extra"]["shared_boot"] for r in runs]
        assert all(s["domain"].startswith("isobench-microvm-") for s in shared)
        assert all(r["extra"]["accel"] in ("tcg", "kvm") for r in runs)
        assert all(r["accounting"]["delta"]["cpu_total_ns"] > 0 for r in runs), variant
        if variant.startswith("disk"):
            assert "virtio-blk on virtio-mmio" in runs[0]["extra"]["setup"]["disk"]
        assert doc["summary"][variant.split(".")[0]][variant] is not None
