"""One guest from the moment it runs until its result (VmRun), and what a run gives back.

The driver (vm/driver.py) makes the resources and hands them over in a VmRun: the machine
(a libvirt domain, or QEMU started by vm/microvm.py), the cgroup QEMU sits in, QEMU's pid,
the session with the guest's init and the timings. From there the run converses with the
init until the command exits (or the request's timeout or stop comes), and takes the host
side's stats while QEMU still holds the guest.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import libvirt

from runtime.cgroups import Cgroup
from vm import bootlog, host
from vm.protocol import Mark
from vm.request import Plan, VmRequest, VmStartError, cpu_limits
from vm.session import GuestSession

POWEROFF_GRACE_S = 10.0
KILLED_EXIT = 137          # a stopped run ends as `docker kill` ends a container: SIGKILL
STOP_POLL_S = 0.1          # how soon a set `stop` is noticed
HEAVY_SAMPLE_INTERVAL_S = 1.0  # QEMU's smaps and libvirt's stats: issue 15 asks for <= 1 Hz


@dataclass(frozen=True)
class RunningVm:
    """Given to `on_started` once QEMU sits in its cgroup and the guest runs: a harness can
    start sampling the cgroup (the same collectors as for a container) from here."""

    domain: str
    qemu_pid: int
    cgroup: Cgroup
    accel: str
    address: str = ""    # the guest's on a bridge network (VmRequest.network), else ""


@dataclass
class Attach:
    """Where the guest's output goes (and whether it is also kept), and who is told that the
    guest runs."""

    stdout: BinaryIO | None = None
    stderr: BinaryIO | None = None
    capture: bool = True
    on_started: Callable[[RunningVm], None] | None = None


@dataclass
class VmResult:
    exit_code: int
    accel: str
    accel_note: str        # says plainly when the numbers come from emulation (TCG)
    accel_reason: str
    domain: str
    image_id: str
    memory_bytes: int
    vcpus: int
    kernel_release: str
    boot: dict[str, Any]            # the kernel and initrd booted, and why (guest.boot_kernel)
    cgroup_name: str
    timings: dict[str, float | None]
    cgroup_live: dict[str, Any]     # at the command's exit, QEMU still holding the guest
    cgroup: dict[str, Any]          # after QEMU exited, as a container's final stats
    domain_stats: dict[str, Any]    # libvirt's, at the command's exit ({} for a microVM)
    qemu_memory: dict[str, int]     # QEMU's RSS/PSS at the command's exit
    samples: list[dict[str, Any]] = field(default_factory=list)
    stdout: bytes = b""
    stderr: bytes = b""
    # one per repetition the guest ran (VmRequest.repeat): "index", "exit_code", "stdout",
    # "stderr", and "begin"/"end" readings taken as its marks arrived: "t_s" (seconds since
    # the guest was resumed), "guest_s" (the guest's uptime), "cgroup" (QEMU's cgroup stats),
    # "caller" (what VmRequest.on_mark returned)
    reps: list[dict[str, Any]] = field(default_factory=list)
    guest_messages: list[str] = field(default_factory=list)
    disk_cached: bool = True

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stdout"] = self.stdout.decode("utf-8", "replace")
        d["stderr"] = self.stderr.decode("utf-8", "replace")
        return d


def rep_windows(reps: list[Any], readings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The session's Repetitions with the readings taken at their marks (in mark order:
    begin 0, end 0, begin 1, ...), as VmResult.reps; an unfinished repetition is left out."""
    out = []
    for i, rep in enumerate(reps):
        if rep.end is None or 2 * i + 1 >= len(readings):
            continue
        out.append({"index": rep.begin.index, "exit_code": rep.end.exit_code,
                    "begin": readings[2 * i], "end": readings[2 * i + 1],
                    "stdout": bytes(rep.out).decode("utf-8", "replace"),
                    "stderr": bytes(rep.err).decode("utf-8", "replace")})
    return out


class Machine(Protocol):
    """What a run needs of the thing that holds the guest: a libvirt domain, or a QEMU
    process of isobench's own (vm/microvm.py)."""

    def stats(self) -> dict[str, Any]:
        """The hypervisor's own counters now ({} where there are none, or it is gone)."""
        ...

    def destroy(self) -> None:
        """Power the guest off now, if it still runs."""
        ...


@dataclass
class LibvirtMachine:
    conn: libvirt.virConnect
    dom: libvirt.virDomain

    def stats(self) -> dict[str, Any]:
        return host.domain_stats(self.conn, self.dom)

    def destroy(self) -> None:
        host.destroy(self.dom)


class Timings:
    """Monotonic milestones of one run, in the order they happened."""

    def __init__(self) -> None:
        self.at: dict[str, float | None] = {"request": time.monotonic()}

    def mark(self, key: str) -> None:
        """Reached now."""
        self.at[key] = time.monotonic()

    def record(self, key: str, when: float | None) -> None:
        """Reached at `when`, as the session saw it (None: never)."""
        self.at[key] = when

    def durations(self) -> dict[str, float | None]:
        """Seconds from the request to each milestone (None: not reached)."""
        start = self.at["request"]
        assert start is not None
        return {f"{k}_s": (None if v is None else v - start)
                for k, v in self.at.items() if k != "request"}


class GuestLost(Exception):
    """The guest went away, or timed out, before its command's exit code came."""

    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary


@dataclass
class VmRun:
    """A running guest and everything the conversation with it needs."""

    plan: Plan
    machine: Machine
    cgroup: Cgroup
    qemu_pid: int
    session: GuestSession
    timings: Timings
    run_dir: Path
    samples: list[dict[str, Any]] = field(default_factory=list)
    readings: list[dict[str, Any]] = field(default_factory=list)  # one per repetition mark
    heavy_at: float | None = None  # when _sample last read QEMU's smaps and libvirt's stats

    @property
    def req(self) -> VmRequest:
        return self.plan.req

    def running(self) -> RunningVm:
        address = self.plan.spec.address.partition("/")[0] if self.req.network else ""
        return RunningVm(self.plan.name, self.qemu_pid, self.cgroup, self.plan.decision.accel,
                         address)

    def complete(self) -> VmResult:
        """Converse until the command's exit, let the init power off, take the final stats.
        Raises GuestLost when the guest never told an exit code."""
        self.session.on_mark = self._on_mark
        result = self._converse()
        assert self.plan.disk is not None
        result.disk_cached = self.plan.disk.cached
        if self.session.wait_eof(POWEROFF_GRACE_S):
            self.timings.mark("powered_off")
        result.cgroup = self.cgroup.stats().to_dict()
        if self.req.console_copy is not None:
            shutil.copyfile(self.run_dir / "console.log", self.req.console_copy)
        return result

    def _converse(self) -> VmResult:
        req, session, t = self.req, self.session, self.timings
        deadline = None if req.timeout is None else t.at["request"] + req.timeout  # type: ignore[operator]
        pending_cap = cpu_limits(req) if req.cpu_cap_after_boot else None
        next_sample = time.monotonic() if req.sample_interval else None
        while not session.finished:
            now = time.monotonic()
            if req.stop is not None and req.stop.is_set():
                return self._stopped()
            if deadline is not None and now >= deadline:
                raise GuestLost(self.lost_summary(f"timed out after {req.timeout:g} s"))
            if next_sample is not None and now >= next_sample:
                self.samples.append(self._sample(now - t.at["resumed"]))  # type: ignore[operator]
                next_sample += req.sample_interval  # type: ignore[operator]
            waits = [1.0 if req.stop is None else STOP_POLL_S]
            waits += [x - now for x in (deadline, next_sample) if x is not None]
            session.step(max(0.0, min(waits)))
            if pending_cap is not None and session.ready_at is not None:
                self.cgroup.set_limits(pending_cap)  # the spec went out with "ready": ms ago
                t.mark("capped")
                pending_cap = None
        t.record("ready", session.ready_at)
        t.record("first_output", session.first_output_at)
        t.record("exit", session.exit_at)
        if session.failure is not None:
            code, message = session.failure
            session.ack()
            raise VmStartError(message, code)
        if session.exit_code is None:
            raise GuestLost(self.lost_summary("the guest stopped"))
        result = self._result(session.exit_code)
        session.ack()
        return result

    def _stopped(self) -> VmResult:
        """The run was stopped from outside: the stats of the live guest, then destroy it
        (the driver's cleanup undefines it and removes the rest, as after any run)."""
        self.timings.record("ready", self.session.ready_at)
        self.timings.record("first_output", self.session.first_output_at)
        result = self._result(KILLED_EXIT)
        self.machine.destroy()
        self.timings.mark("exit")
        return result

    def _result(self, exit_code: int) -> VmResult:
        """What the live guest's host side looks like now, with the session's output."""
        plan, session = self.plan, self.session
        return VmResult(
            exit_code=exit_code, accel=plan.decision.accel,
            accel_note=plan.decision.note, accel_reason=plan.decision.reason,
            domain=plan.name, image_id=plan.image.id, memory_bytes=plan.req.memory_bytes,
            vcpus=plan.req.vcpus, kernel_release=plan.kernel.release,
            boot={"kernel": plan.kernel.kernel, "initrd": plan.kernel.initrd,
                  "mode": plan.req.boot, "notes": list(plan.kernel.notes)},
            cgroup_name=self.cgroup.name, timings={}, cgroup_live=self.cgroup.stats().to_dict(),
            cgroup={}, domain_stats=self.machine.stats(),
            qemu_memory=self._qemu_memory(), samples=self.samples,
            stdout=bytes(session.out), stderr=bytes(session.err),
            reps=rep_windows(session.reps, self.readings), guest_messages=session.messages)

    def _on_mark(self, mark: Mark) -> None:
        """Read QEMU's cgroup the moment a repetition's mark arrives: its window's edge."""
        stats = self.cgroup.stats().to_dict()
        caller = self.req.on_mark() if self.req.on_mark is not None else None
        resumed = self.timings.at["resumed"]
        self.readings.append({"t_s": mark.at - resumed if resumed is not None else None,
                              "guest_s": mark.guest_s, "cgroup": stats, "caller": caller})

    def _qemu_memory(self) -> dict[str, int]:
        """QEMU's RSS/PSS (smaps_rollup) and its guest-RAM mapping's resident size (smaps)."""
        out = host.process_memory(self.qemu_pid)
        guest_ram = host.guest_ram_rss(self.qemu_pid, self.req.memory_bytes)
        if guest_ram is not None:
            out["guest_ram_rss"] = guest_ram
        return out

    def _sample(self, elapsed: float) -> dict[str, Any]:
        """QEMU's cgroup at the run's sample rate, like every target's sampler; QEMU's smaps
        and libvirt's domain stats at most once a second (HEAVY_SAMPLE_INTERVAL_S): reading
        the whole smaps of a guest's QEMU and a bulk stats call 10 times a second was the
        VM's sampler costing more than the containers'."""
        stats = self.cgroup.stats()
        sample: dict[str, Any] = {"t": elapsed, "cgroup_memory": stats.memory_current,
                                  "cgroup_cpu_ns": stats.cpu_total_ns}
        if self.heavy_at is None or elapsed - self.heavy_at >= HEAVY_SAMPLE_INTERVAL_S:
            self.heavy_at = elapsed
            sample["qemu"] = self._qemu_memory()
            sample["libvirt"] = self.machine.stats()
        return sample

    def lost_summary(self, what: str) -> str:
        console = read_text(self.run_dir / "console.log")
        return f"{what} {bootlog.where_stopped(console, self.session.ready_at is not None)}"


def read_text(path: Path) -> str:
    """A log's text, "" when it is not there (or not readable)."""
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
