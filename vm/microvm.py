"""A command in a microVM: QEMU's `microvm` machine (virtio-mmio, no PCI), started by isobench
itself, since libvirt cannot define that machine type.

The same kernel, initrd, image disk, shim and protocol as the libvirt VM (vm/driver.py);
only the machine and who holds QEMU differ. QEMU is a child of this process, in an isobench
cgroup from before the guest's first instruction: it listens on the channel socket with
wait=on, so it makes no machine (loads no kernel) until we connect, after moving it.

Garbage: the run directory (vm/runs/microvm-<id>) carries the owner file, as a `vm run`'s
does, and a `qemu` run file (QEMU's pid and start time, its cgroup, the socket). `isobench
gc` (vm/gc.py) kills a QEMU whose owner died, then removes its cgroup and files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from runtime.containers import is_alive, process_start_time
from runtime.fsutil import atomic_write
from vm import channel, guest
from vm.accel import QEMU
from vm.domain import Domain
from vm.driver import DOMAIN_PREFIX, Cleanup, RunFiles, VmDriver
from vm.rawqemu import microvm_argv
from vm.request import Plan, VmError
from vm.run import Attach, Timings, VmRun
from vm.session import GuestSession

MACHINE = "microvm"
NAME_PREFIX = f"{DOMAIN_PREFIX}{MACHINE}-"   # run ids "microvm-<hex>": vm/runs/microvm-<hex>
RUN_FILE = "qemu"
CONNECT_TIMEOUT_S = 30.0   # QEMU's own start-up, before it listens (a loaded host: seconds)
KILL_WAIT_S = 10.0


@lru_cache(maxsize=1)
def unavailable(qemu: str = QEMU) -> str | None:
    """Why this host cannot run a microVM (None: it can): QEMU without the machine type."""
    try:
        out = subprocess.run([qemu, "-machine", "help"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return f"no microVM here: {qemu} -machine help failed ({e})"
    if not any(line.split()[:1] == [MACHINE] for line in out.splitlines()):
        return f"no microVM here: {qemu} has no {MACHINE} machine type"
    return None


def host_tsc_khz(cpuinfo: str | None = None, cpufreq: bool | None = None) -> int | None:
    """The host's TSC rate in kHz, where the host knows it exactly: its kernel says
    tsc_known_freq and no cpufreq driver changes what "cpu MHz" shows. Under TCG the guest's
    TSC is the host's (QEMU reads the host's counter), and a microvm has neither HPET nor
    an ACPI PM timer: when the guest's quick PIT calibration fails (it did 1 boot in 4 here
    under TCG), nothing else calibrates the TSC and the boot hangs. tsc_early_khz= spares
    the guest that calibration."""
    if cpuinfo is None:
        cpuinfo = _read(Path("/proc/cpuinfo"))
    if cpufreq is None:
        cpufreq = Path("/sys/devices/system/cpu/cpu0/cpufreq").exists()
    flags = mhz = None
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags" and flags is None:
            flags = value.split()
        elif key.strip() == "cpu MHz" and mhz is None:
            try:
                mhz = float(value)
            except ValueError:
                return None
    if cpufreq or not flags or "tsc_known_freq" not in flags or not mhz:
        return None
    return round(mhz * 1000)


@dataclass
class QemuProcess:
    """QEMU as our child: the run's Machine (vm/run.py). It has no hypervisor-side counters
    beyond the cgroup's and /proc's, which the run reads anyway."""

    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stats(self) -> dict[str, Any]:
        return {}

    def destroy(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            raise VmError(f"QEMU (pid {self.pid}) did not exit after SIGKILL") from None

    def wait(self, timeout: float) -> None:
        """Until QEMU exits by itself (the guest powered off), else kill it."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.destroy()

    def exited(self) -> str | None:
        """QEMU's exit and its log's last line once it has exited, else None."""
        if self.proc.poll() is None:
            return None
        lines = [ln for ln in _read(self.log).splitlines() if ln.strip()]
        why = lines[-1].strip() if lines else "no message"
        return f"QEMU exited with {self.proc.returncode} before the guest ran: {why}"


def write_run_file(run_dir: Path, pid: int, cgroup: str, sock: Path) -> None:
    """What `isobench gc` needs to end this microVM once its owner is dead."""
    record = {"pid": pid, "start": process_start_time(pid), "cgroup": cgroup,
              "socket": str(sock)}
    atomic_write(run_dir / RUN_FILE, json.dumps(record).encode(), durable=False)


def read_run_file(run_dir: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((run_dir / RUN_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


class MicrovmDriver(VmDriver):
    """VmDriver's plan, disk, files, cgroup and conversation; QEMU started here instead of
    by libvirt, always in our cgroup (there is no libvirt cgroup to stay in)."""

    def plan(self, req: Any, name: str) -> Plan:
        why = unavailable()
        if why is not None:
            raise VmError(why)
        return super().plan(req, name)

    def new_name(self) -> str:
        return f"{NAME_PREFIX}{uuid.uuid4().hex[:16]}"

    def domain(self, plan: Plan, files: RunFiles) -> Domain:
        dom = super().domain(plan, files)
        khz = host_tsc_khz() if plan.decision.accel == "tcg" else None
        if khz is not None:
            dom.os.cmdline = f"{dom.os.cmdline} tsc_early_khz={khz}"
        return dom

    def _boot(self, cleanup: Cleanup, plan: Plan, timings: Timings, attach: Attach) -> VmRun:
        plan.disk = guest.ensure_disk(self.images, plan.image, self.root)
        self._identity(plan, plan.disk)
        timings.mark("disk_ready")
        files = self._files(cleanup, plan, plan.disk)
        cg = self._cgroup(cleanup, plan)
        log = files.run_dir / "qemu.log"
        qemu = _start(microvm_argv(self.domain(plan, files)), log)
        cleanup.quietly("stop QEMU", qemu.destroy)  # before the cgroup goes (pushed later)
        write_run_file(files.run_dir, qemu.pid, cg.name, files.socket)
        cg.add_pid(qemu.pid)  # it waits for our connection: no guest instruction yet
        timings.mark("started")
        # QEMU listens once its options are parsed; if it exits first, say why (its log).
        chan = channel.connect(files.socket, CONNECT_TIMEOUT_S, 0.005,
                               "QEMU never listened on the guest channel", qemu.exited)
        cleanup.always(chan.close)
        session = GuestSession(chan, plan.spec, stdout=attach.stdout, stderr=attach.stderr,
                               capture=attach.capture)
        timings.mark("resumed")
        return VmRun(plan, qemu, cg, qemu.pid, session, timings, files.run_dir)

    def _lost(self, vm: VmRun, summary: str) -> str:
        """QEMU refused what it was given (a kernel it cannot load, say) after we connected:
        its own error says why, not the empty console."""
        qemu = vm.machine
        if isinstance(qemu, QemuProcess) and vm.session.ready_at is None:
            try:
                qemu.proc.wait(KILL_WAIT_S)
            except subprocess.TimeoutExpired:
                pass
            why = qemu.exited()
            if why is not None and qemu.proc.returncode != 0:
                summary = why
        return super()._lost(vm, summary)

    @staticmethod
    def _qemu_log(vm: VmRun) -> Path:
        return vm.run_dir / "qemu.log"


def _start(argv: list[str], log: Path) -> QemuProcess:
    """QEMU in a session of its own (a Ctrl-C at the terminal reaches isobench, which tears
    the run down; not QEMU first), its output to the run's log."""
    with open(log, "wb") as out:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as e:
            raise VmError(f"cannot start {argv[0]}: {e.strerror}") from None
    return QemuProcess(proc, log)


def kill(pid: int, start: int, timeout: float = KILL_WAIT_S) -> bool:
    """SIGKILL QEMU `pid` if it is still the process that started at `start`; True once it
    is gone (not ours to reap: a dead owner's child belongs to init now)."""
    if not is_alive(pid, start):
        return True
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while is_alive(pid, start):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
