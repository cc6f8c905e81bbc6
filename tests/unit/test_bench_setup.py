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
from results import document
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
    assert disks["native"] == f"a host directory ({fs}) bound on /tmp in the chroot"
    assert disks["container"].startswith(f"a volume: a host directory bind-mounted ({fs})")
    assert "not the overlay layer" in disks["container"]
    assert disks["runc"] == f"a host directory bind-mounted ({fs})"
    assert disks["vm"].startswith(f"virtio-blk, a sparse raw file on the host ({fs}), "
                                  "cache=none io=native")


def test_a_vm_repetition_from_a_shared_boot_says_its_window(tmp_path: Path) -> None:
    own = setup.describe("vm", SCRATCH_JOB, tmp_path, reps_per_boot=1)
    shared = setup.describe("vm", SCRATCH_JOB, tmp_path, reps_per_boot=5)
    assert own["timer"] == setup.TIMER["vm"]
    assert "ext4 made in the guest before the first mark (lazy_itable_init=0,lazy_journal_" \
        "init=0: inode tables and journal zeroed then" in own["disk"]
    assert shared["timer"].startswith("the guest's start and end marks around this "
                                      "repetition, one of 5 in one boot")
    assert "ext4 made once per boot before the first mark, emptied before each repetition " \
        "(lazy_itable_init=0,lazy_journal_init=0" in shared["disk"]


def test_a_job_without_scratch_has_no_disk_line(tmp_path: Path) -> None:
    block = setup.describe("container", CPU_JOB, tmp_path)
    assert "disk" not in block
    assert block == {"tools": "the image's",
                     "network": "none: a network namespace of its own, loopback only",
                     "timer": setup.TIMER["container"], "limits": "none"}
    assert setup.describe("native", CPU_JOB, tmp_path)["tools"].startswith(
        "the image's, chrooted into its layers merged read-only")


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


LAYER_JOB = Job("busybox", ["fio", "--directory={scratch}"], scratch="layer")


def test_a_layer_job_names_the_overlay_upper_or_the_equivalent(tmp_path: Path) -> None:
    fs = setup.fs_type(tmp_path)
    disks = {t: setup.describe(t, LAYER_JOB, tmp_path)["disk"]
             for t in ("native", "container", "runc")}
    assert disks["container"].startswith(f"overlay upper ({fs}): /var/tmp inside the "
                                         "container's root")
    assert disks["runc"].startswith(f"overlay upper ({fs})") and "no volume" in disks["runc"]
    assert disks["native"] == (f"a host directory ({fs}) bound on /tmp in the chroot; native "
                               "has no container layer: the host filesystem is its equivalent")
    assert not setup.describe("container", SCRATCH_JOB, tmp_path)["disk"].startswith("overlay")


def test_the_layer_variants_write_in_the_root_and_the_vm_skips_them() -> None:
    from bench import workloads
    from bench.targets.base import LAYER_SCRATCH
    from bench.targets.vm import VmTarget

    layer = [v for v in workloads.get("disk").variants if v.scratch == "layer"]
    assert [v.name for v in layer] == ["disk.layer.randread", "disk.layer.randwrite"]
    assert all(v.needs_scratch for v in layer)
    vm = VmTarget(None)  # type: ignore[arg-type]
    assert "no container layer" in (vm.cannot_run("layer") or "")
    assert vm.cannot_run("volume") is None
    job = Job("busybox", ["fio", "--filename={scratch}/f"], scratch="layer")
    assert job.command(LAYER_SCRATCH) == ["fio", "--filename=/var/tmp/f"]
    with pytest.raises(ValueError, match="scratch 'tmpfs': one of volume, layer"):
        Job("busybox", ["fio"], scratch="tmpfs")


def test_the_vm_makes_its_scratch_disk_before_the_first_mark() -> None:
    """The mkfs (inode tables and journal zeroed, not lazily behind fio) is the guest's
    preparation, run once before any repetition's mark; each repetition only empties it."""
    from bench.targets.vm import VmTarget  # libvirt-python is a dependency (pyproject)

    req, _ = VmTarget(None)._request(SCRATCH_JOB)  # type: ignore[arg-type]
    assert req.prepare == ["sh", "-c", "mkfs.ext4 -q -F -E lazy_itable_init=0,"
                           "lazy_journal_init=0 /dev/vdb && mkdir -p /scratch && "
                           "mount /dev/vdb /scratch"]
    assert not any("mkfs" in a for a in req.command)
    assert "rm -rf /scratch/*" in req.command[2]
    plain, _ = VmTarget(None)._request(CPU_JOB)  # type: ignore[arg-type]
    assert plain.prepare is None and plain.scratch_bytes is None


def test_the_setup_row_says_why_a_target_skipped_the_variant(tmp_path: Path) -> None:
    blocks = {t: setup.describe(t, LAYER_JOB if t != "vm" else SCRATCH_JOB, tmp_path)
              for t in ("native", "container", "vm")}
    runs = [run("disk", v, t, {"iops": 100.0}, rep=i, extra={"setup": blocks[t]})
            for v, ts in (("disk.layer.randread", ("native", "container")),
                          ("disk.randread", ("native", "vm")))
            for t in ts for i in range(3)]
    reason = "the VM has no container layer: its root is the image's ext4 disk"
    d = doc(*runs, targets=("native", "container", "vm"), workloads={"disk": {"variants": {
        "disk.layer.randread": {"metrics": {"iops": {"unit": "IOPS", "better": "higher"}},
                                "skipped": {"vm": reason}},
        "disk.randread": {"metrics": {"iops": {"unit": "IOPS", "better": "higher"}}}}}})
    document.recompute_summary(d)
    document.validate(d)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(d))
    html = render.generate(path, formats="html").html.read_text()
    rows = re.findall(r'<tr class="setup">(.*?)</tr>', html, re.S)
    layer = [r for r in rows if "overlay upper" in r]
    assert len(layer) == 1, rows
    cells = re.findall(r"<td>(.*?)</td>", layer[0], re.S)
    assert len(cells) == 3 and "<b>skipped:</b> " + reason.replace("'", "&#39;") in cells[2]
    assert "skipped" not in "".join(r for r in rows if r is not layer[0])
