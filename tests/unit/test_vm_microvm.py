"""The microVM (vm/microvm.py): its QEMU command line (virtio-mmio and ISA, nothing on PCI),
the machine-type probe, the host TSC rate it passes under TCG, and what `isobench gc` does
with a microVM whose owner died (real processes stand in for QEMU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime.cgroups import CgroupFactory
from runtime.containers import is_alive, process_start_time
from runtime.image.store import ImageStore
from vm import gc, host, microvm
from vm.domain import Disk, Domain, Forward, OsBoot, Serial, UserNet
from vm.rawqemu import microvm_argv, qemu_argv


def domain(net: bool = True) -> Domain:
    return Domain(
        name="isobench-microvm-0123456789abcdef", memory_kib=256 << 10, vcpus=2,
        os=OsBoot("/boot/vmlinux", "/boot/initrd.cpio", "console=ttyS0 root=/dev/vda"),
        disks=[Disk("/r/root.qcow2", "vda", "qcow2"),
               Disk("/r/scratch.raw", "vdb", "raw", cache="none", io="native")],
        serials=[Serial(1, "unix", "/run/x.sock"), Serial(0, "file", "/r/console.log")],
        net=UserNet([Forward(8080, 80)]) if net else None)


def opt(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]


def test_microvm_argv_has_no_pci_and_puts_every_device_on_mmio_or_isa() -> None:
    argv = microvm_argv(domain())
    machine = opt(argv, "-machine")
    assert len(machine) == 1 and machine[0].split(",")[0] == "microvm"
    assert "pcie=off" in machine[0].split(",") and "isa-serial=off" in machine[0].split(",")
    assert not [a for a in argv if "pci" in a.replace("pcie=off", "")], argv
    assert "-serial" not in argv and "if=virtio" not in " ".join(argv)
    assert opt(argv, "-device") == [
        "isa-serial,chardev=serial0,index=0",   # the console: ttyS0, port order kept
        "isa-serial,chardev=serial1,index=1",   # the init's channel: ttyS1
        "virtio-blk-device,drive=vda",          # the root first: the guest's vda
        "virtio-blk-device,drive=vdb",
        "virtio-net-device,netdev=isonet0,mac=52:54:00:15:0b:01"]
    assert opt(argv, "-drive") == [
        "file=/r/root.qcow2,format=qcow2,if=none,id=vda",
        "file=/r/scratch.raw,format=raw,if=none,id=vdb,cache=none,aio=native"]
    assert opt(argv, "-chardev") == [
        "file,id=serial0,path=/r/console.log",
        "socket,id=serial1,path=/run/x.sock,server=on,wait=on"]  # QEMU waits for us
    assert opt(argv, "-netdev") == ["user,id=isonet0,restrict=on,"
                                    "hostfwd=tcp:127.0.0.1:8080-:80"]


def test_microvm_argv_boots_what_the_pc_machine_boots() -> None:
    """Same kernel, initrd, command line, memory, vCPUs and reboot policy as the pc's."""
    pc, micro = qemu_argv(domain()), microvm_argv(domain())
    for flag in ("-name", "-kernel", "-initrd", "-append", "-m", "-smp", "-accel", "-rtc"):
        assert opt(micro, flag) == opt(pc, flag), flag
    assert "-no-reboot" in micro and "-nodefaults" in micro
    assert "-netdev" not in microvm_argv(domain(net=False))


def fake_qemu(tmp_path: Path, machines: str) -> str:
    path = tmp_path / "qemu"
    path.write_text(f"#!/bin/sh\nprintf '{machines}'\n")
    path.chmod(0o755)
    return str(path)


def test_unavailable_says_why(tmp_path: Path) -> None:
    microvm.unavailable.cache_clear()
    has = fake_qemu(tmp_path, "Supported machines are:\\nmicrovm   microvm (i386)\\n"
                              "pc       Standard PC\\n")
    assert microvm.unavailable(has) is None
    (tmp_path / "old").mkdir()
    old = fake_qemu(tmp_path / "old", "Supported machines are:\\npc   Standard PC\\n"
                                      "microvm-like   not it\\n")
    assert microvm.unavailable(old) == f"no microVM here: {old} has no microvm machine type"
    missing = str(tmp_path / "nope")
    assert microvm.unavailable(missing).startswith(f"no microVM here: {missing} -machine help "
                                                   "failed")
    microvm.unavailable.cache_clear()


CPUINFO = "processor\t: 0\ncpu MHz\t\t: 2600.000\nflags\t\t: fpu tsc constant_tsc {}\n"


@pytest.mark.parametrize("text, cpufreq, khz", [
    (CPUINFO.format("tsc_known_freq"), False, 2600000),
    (CPUINFO.format("tsc_known_freq"), True, None),    # "cpu MHz" is the current clock
    (CPUINFO.format(""), False, None),                 # the host itself only estimated it
    ("flags\t: tsc_known_freq\n", False, None),
    ("cpu MHz\t: fast\nflags\t: tsc_known_freq\n", False, None),
])
def test_host_tsc_khz(text: str, cpufreq: bool, khz: int | None) -> None:
    assert microvm.host_tsc_khz(text, cpufreq) == khz


def stand_in(run_name: str) -> subprocess.Popen[bytes]:
    """A process whose command line names the run's guest, as its QEMU's does."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)",
                             "-name", f"guest=isobench-{run_name}"])


def dead_owner() -> str:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return f"{proc.pid} 12345\n"


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    def no_libvirt(_uri: str | None = None) -> None:
        raise host.LibvirtError("not in a unit test")

    monkeypatch.setattr(host, "connect", no_libvirt)
    path = tmp_path / "vm" / "runs"
    path.mkdir(parents=True)
    return path


def test_gc_kills_the_qemu_of_a_dead_owner_and_keeps_a_live_ones(runs: Path) -> None:
    dead, live = runs / "microvm-dead", runs / "microvm-live"
    procs = {name: stand_in(name) for name in ("microvm-dead", "microvm-live")}
    try:
        for run, owner in ((dead, dead_owner()), (live, f"{os.getpid()} "
                                                      f"{process_start_time(os.getpid())}\n")):
            run.mkdir()
            (run / "owner").write_text(owner)
            (run / "root.qcow2").write_bytes(b"")
        time.sleep(0.2)  # the stand-ins' command lines are readable once they exec
        # the dead run's file names no process: found by its command line all the same
        (dead / microvm.RUN_FILE).write_text(json.dumps({"pid": 1, "start": 1}))
        victim = procs["microvm-dead"]
        found = gc.microvm_qemus(dead)
        assert found == [(victim.pid, process_start_time(victim.pid))]
        removed = gc.collect(ImageStore(runs.parent.parent), runs.parent.parent,
                             CgroupFactory("isobench-unit-gc-absent"))
        assert removed == [f"microvm microvm-dead (QEMU pid {victim.pid})",
                           "vm run microvm-dead"]
        assert victim.wait(5) == -9 and not dead.exists()
        assert procs["microvm-live"].poll() is None and live.exists()
        assert gc.microvm_qemus(live) == [(procs["microvm-live"].pid,
                                           process_start_time(procs["microvm-live"].pid))]
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()


def test_dry_run_names_the_qemu_and_kills_nothing(runs: Path) -> None:
    run = runs / "microvm-dry"
    proc = stand_in(run.name)
    try:
        run.mkdir()
        (run / "owner").write_text(dead_owner())
        time.sleep(0.2)
        microvm.write_run_file(run, proc.pid, "isobench-x/vm-microvm-dry", Path("/run/x.sock"))
        removed = gc.collect(ImageStore(runs.parent.parent), runs.parent.parent,
                             CgroupFactory("isobench-unit-gc-absent"), dry_run=True)
        assert removed == [f"microvm microvm-dry (QEMU pid {proc.pid})", "vm run microvm-dry"]
        assert proc.poll() is None and run.exists()
    finally:
        proc.kill()
        proc.wait()


def test_kill_spares_a_reused_pid() -> None:
    proc = subprocess.Popen(["sleep", "60"])
    try:
        start = process_start_time(proc.pid)
        assert microvm.kill(proc.pid, start + 1)   # not that process: nothing to kill
        assert proc.poll() is None
        assert microvm.kill(proc.pid, start)
        proc.wait(5)
        assert not is_alive(proc.pid, start)
    finally:
        proc.kill()
        proc.wait()


def test_a_libvirt_run_has_no_microvm_qemu(runs: Path) -> None:
    run = runs / "0123456789abcdef"
    proc = stand_in(run.name)   # even a process naming it: only microvm-* runs are scanned
    try:
        run.mkdir()
        time.sleep(0.2)
        assert gc.microvm_qemus(run) == []
    finally:
        proc.kill()
        proc.wait()


def test_the_bench_target_is_skipped_with_qemus_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.targets import MicrovmTarget
    from bench.targets.base import is_vm

    why = "no microVM here: qemu-system-x86_64 has no microvm machine type"
    monkeypatch.setattr(microvm, "unavailable", lambda: why)
    target = MicrovmTarget(None)  # type: ignore[arg-type]
    assert target.unavailable() == why
    assert target.batches and not target.default and is_vm(target.name)
    monkeypatch.setattr(microvm, "unavailable", lambda: None)
    assert target.unavailable() is None


def test_reports_place_the_microvm_between_the_containers_and_the_vm() -> None:
    from reports import data, plots
    from reports.i18n import Translator
    from results.document import _target_order

    names = ["vm", "microvm", "crun", "native", "runc", "container"]
    order = ["native", "container", "runc", "crun", "microvm", "vm"]
    assert sorted(names, key=data.target_order) == order
    assert sorted(names, key=_target_order) == order
    assert plots.target_label(Translator("en"), "microvm") == "microVM (QEMU microvm)"
    assert plots.target_label(Translator("ru"), "microvm") == "микроВМ (QEMU microvm)"
    assert plots.color("microvm") != plots.color("vm")
    # asked for by name only: a session without it does not report it missing
    assert "microvm" not in data.EXPECTED_TARGETS


def test_a_qemu_that_refused_its_kernel_is_told_by_its_own_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """QEMU waits for our connection, then fails to load the kernel and exits 1: the one
    line is QEMU's error, not "the guest stopped"; a guest that was up keeps the summary."""
    from types import SimpleNamespace

    from vm.driver import VmDriver

    log = tmp_path / "qemu.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["sh", "-c", "echo 'qemu: linux kernel too old to load a ram "
                                 "disk'; exit 1"], stdout=out)
    qemu = microvm.QemuProcess(proc, log)
    monkeypatch.setattr(VmDriver, "_keep_log", lambda self, vm, summary: Path("/kept.log"))
    drv = microvm.MicrovmDriver.__new__(microvm.MicrovmDriver)
    never = SimpleNamespace(machine=qemu, session=SimpleNamespace(ready_at=None))
    assert drv._lost(never, "the guest stopped before the kernel started") == (  # type: ignore[arg-type]
        "QEMU exited with 1 before the guest ran: qemu: linux kernel too old to load a ram "
        "disk; last console lines kept in /kept.log")
    was_up = SimpleNamespace(machine=qemu, session=SimpleNamespace(ready_at=1.0))
    assert drv._lost(was_up, "timed out after 5 s") == \
        "timed out after 5 s; last console lines kept in /kept.log"  # type: ignore[arg-type]
