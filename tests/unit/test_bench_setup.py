"""bench/setup.py: the setup block each run carries (issue 15), and the report's setup rows
that show it under every variant of the summary."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from bench import setup
from bench.targets.base import Job
from bench.targets.vm import GUEST_MEMORY_BYTES
from reports import render
from results.document import summary_cell
from runtime.limits import Limits
from tests.unit.test_report_support import doc, run

SCRATCH_JOB = Job("busybox", ["fio", "--directory={scratch}"])
CPU_JOB = Job("busybox", ["sysbench", "cpu", "run"])


@pytest.mark.parametrize("path", ["/", "/proc/self", "/sys/fs", "/tmp", "/dev/shm", "/work"])
def test_fs_type_agrees_with_findmnt(path: str) -> None:
    """The filesystem named under a disk figure is the one the kernel reports for the path
    (findmnt, from util-linux, is the independent reading)."""
    if not Path(path).exists():
        pytest.skip(f"{path} does not exist on this host")
    expected = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "--target", path],
                              capture_output=True, text=True, check=True).stdout.split()[0]
    assert setup.fs_type(Path(path)) == expected


def test_fs_type_of_a_path_not_yet_made_is_its_parents(tmp_path: Path) -> None:
    assert setup.fs_type(tmp_path / "not" / "made") == setup.fs_type(tmp_path)


def test_a_scratch_job_names_each_targets_disk(tmp_path: Path) -> None:
    fs = setup.fs_type(tmp_path)
    disks = {t: setup.describe(t, SCRATCH_JOB, tmp_path)["disk"]
             for t in ("native", "container", "runc", "vm")}
    assert disks["native"] == f"a host directory ({fs})"
    assert disks["container"].startswith(f"a volume: a host directory bind-mounted ({fs})")
    assert "not the overlay layer" in disks["container"]
    assert disks["runc"] == f"a host directory bind-mounted ({fs})"
    assert disks["vm"].startswith(f"virtio-blk, a sparse raw file on the host ({fs}), "
                                  "cache=none io=native")


def test_a_vm_repetition_from_a_shared_boot_says_its_window(tmp_path: Path) -> None:
    own = setup.describe("vm", SCRATCH_JOB, tmp_path, reps_per_boot=1)
    shared = setup.describe("vm", SCRATCH_JOB, tmp_path, reps_per_boot=5)
    assert own["timer"] == setup.TIMER["vm"] and "just before the command" in own["disk"]
    assert shared["timer"].startswith("the guest's start and end marks around this "
                                      "repetition, one of 5 in one boot")
    assert shared["disk"].endswith("ext4 made once per boot, emptied before each repetition")


def test_a_job_without_scratch_has_no_disk_line(tmp_path: Path) -> None:
    block = setup.describe("container", CPU_JOB, tmp_path)
    assert "disk" not in block
    assert block == {"tools": "the image's",
                     "network": "none: a network namespace of its own, loopback only",
                     "timer": setup.TIMER["container"], "limits": "none"}
    assert setup.describe("native", CPU_JOB, tmp_path)["tools"] == "the host's (PATH)"


def test_limits_as_applied() -> None:
    limits = Limits.from_flags(memory="64m", cpus="0.5", pids_limit="100")
    job = Job("busybox", ["true"], limits=limits)
    assert setup.limits_text("container", job) == "cpus 0.5, memory 64 MiB, pids 100"
    # in the VM a memory limit is the guest's RAM, and the CPU cap QEMU's quota
    assert setup.limits_text("vm", Job("busybox", ["true"], limits=limits, vcpus=2)) == \
        "2 vCPU, 64 MiB guest RAM, cpus 0.5, pids 100"
    assert setup.limits_text("vm", Job("busybox", ["true"], vcpus=1)) == \
        f"1 vCPU, {GUEST_MEMORY_BYTES >> 20} MiB guest RAM"
    assert setup.limits_text("runc", Job("busybox", ["true"])) == "none"


def test_the_summary_shows_each_targets_setup_under_its_variant(tmp_path: Path) -> None:
    blocks = {"native": setup.describe("native", SCRATCH_JOB, tmp_path),
              "vm": setup.describe("vm", SCRATCH_JOB, tmp_path)}
    runs = [run("disk", "disk.seqwrite", t, {"mb_per_s": v}, rep=i, extra={"setup": blocks[t]})
            for t, v in (("native", 900.0), ("vm", 300.0)) for i in range(3)]
    d = doc(*runs, targets=("native", "vm"))
    native = [900.0] * 3
    d["summary"] = {"disk": {"disk.seqwrite": {"mb_per_s": {
        t: summary_cell([v] * 3, None if t == "native" else native)
        for t, v in (("native", 900.0), ("vm", 300.0))}}}}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(d))
    html = render.generate(path, formats="html").html.read_text()
    row = re.search(r'<tr class="setup">(.*?)</tr>', html, re.S)
    assert row is not None, "no setup row under disk.seqwrite"
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert len(cells) == 2  # one per target, in the table's order
    assert "a host directory" in cells[0] and "virtio-blk" not in cells[0]
    assert "virtio-blk" in cells[1] and "no network device" in cells[1]


def test_the_environment_shows_what_measuring_cost(tmp_path: Path) -> None:
    """The harness's own CPU over the session and each target's sampler, with its n."""
    runs = [run("cpu", "cpu.single", t, {"events_per_s": 1.0}, rep=i,
                accounting={"sampler_cpu_fraction": f})
            for t, fs in (("native", [0.01, 0.03, 0.02]), ("vm", [0.10, 0.30]))
            for i, f in enumerate(fs)]
    d = doc(*runs, targets=("native", "vm"))
    d["session"]["harness"] = {"cpu_s": 12.5, "wall_s": 250.0, "cpu_fraction": 0.05}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(d))
    html = render.generate(path, formats="html").html.read_text()
    assert "12.5 s over 250 s (5.0% of one CPU)" in html
    assert "native 2.0% (n=3), vm 20.0% (n=2)" in html
