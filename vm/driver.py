"""Run one command in a fresh VM through libvirt, the way `isobench run` runs it in a container.

define (paused) -> QEMU into an isobench cgroup -> resume -> the guest's init says ready ->
the spec goes down the channel -> output comes back as it is produced -> exit code ->
libvirt and cgroup stats while QEMU still lives -> the init powers off -> destroy, undefine,
remove every per-run file. Any failure or Ctrl-C takes the same way out.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import libvirt

from runtime.api import Runtime
from runtime.cgroups import Cgroup, CgroupError, open_cgroup
from runtime.containers import process_start_time
from runtime.errors import EXIT_RUNTIME, InvalidArgument, IsobenchError
from runtime.image.store import DEFAULT_PATH, Image
from runtime.limits import Limits
from runtime.users import UserError, resolve
from vm import accel, bootlog, guest, host
from vm.domain import Disk, Domain, Forward, OsBoot, Serial, UserNet
from vm.protocol import GuestSpec
from vm.session import GuestSession

DOMAIN_PREFIX = "isobench-"
DEFAULT_MEMORY_BYTES = 512 << 20
# The Debian kernel must unpack its initramfs (31 MB zstd -> 129 MB): with 192 MiB it panics
# ("System is deadlocked on memory"), 256 MiB boots (measured on these machines).
MIN_MEMORY_BYTES = 256 << 20
MAX_VCPUS = 64
GUEST_ADDRESS = "10.0.2.15/24"
POWEROFF_GRACE_S = 10.0
CONNECT_TIMEOUT_S = 5.0
KILLED_EXIT = 137          # a stopped run ends as `docker kill` ends a container: SIGKILL
STOP_POLL_S = 0.1          # how soon a set `stop` is noticed
MIN_CPU_QUOTA_US = 1000    # the kernel's floor for cfs_quota_us
KERNEL_CMDLINE = ("console=ttyS0 root=/dev/vda rootfstype=ext4 rw panic=-1 fsck.mode=skip "
                  "noresume net.ifnames=0")


class VmError(IsobenchError):
    """The VM could not run the command (exit code 125 unless said otherwise)."""


class VmStartError(IsobenchError):
    """The guest ran but the command did not start: 126/127 like Docker."""


@dataclass
class VmRequest:
    image: str
    command: list[str] | None = None
    env: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    entrypoint: list[str] | None = None
    hostname: str | None = None
    memory_bytes: int = DEFAULT_MEMORY_BYTES
    vcpus: int = 1
    accel: str = "auto"
    timeout: float | None = None          # the whole run, boot included
    scratch_bytes: int | None = None      # a raw disk at /dev/vdb
    forwards: list[Forward] | None = None  # None: no NIC at all
    sample_interval: float | None = None  # sample stats during the run
    cmdline_extra: str = ""
    console_copy: Path | None = None      # keep the guest console (ttyS0) here
    cgroup: str | None = None             # default: <ISOBENCH_CGROUP_PARENT>/vm-<run id>
    # --cpus as a container gets it: a CFS quota on the cgroup QEMU runs in, so every QEMU
    # thread (vCPUs, TCG, I/O) shares it. Not libvirt's <cputune>: that quota lives in
    # libvirt's cgroups, which QEMU leaves when the driver moves it into ours.
    cpu_quota_us: int | None = None
    cpu_period_us: int = 100_000
    # Cap from the guest's "ready" on (its command about to start) rather than from the first
    # instruction: a TCG boot at half a CPU takes 60 s here instead of 18, and a benchmark
    # of the cap measures the command, not the boot.
    cpu_cap_after_boot: bool = False
    # Set from another thread to end the run now: stats taken, the domain destroyed, exit
    # code 137 (an idle guest kept for a density count, or a server no longer needed).
    stop: threading.Event | None = None


@dataclass(frozen=True)
class RunningVm:
    """Given to `on_started` once QEMU sits in its cgroup and the guest runs: a harness can
    start sampling the cgroup (the same collectors as for a container) from here."""

    domain: str
    qemu_pid: int
    cgroup: Cgroup
    accel: str


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
    cgroup_name: str
    timings: dict[str, float | None]
    cgroup_live: dict[str, Any]     # at the command's exit, QEMU still holding the guest
    cgroup: dict[str, Any]          # after QEMU exited, as a container's final stats
    domain_stats: dict[str, Any]    # libvirt's, at the command's exit
    qemu_memory: dict[str, int]     # QEMU's RSS/PSS at the command's exit
    samples: list[dict[str, Any]] = field(default_factory=list)
    stdout: bytes = b""
    stderr: bytes = b""
    guest_messages: list[str] = field(default_factory=list)
    disk_cached: bool = True

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stdout"] = self.stdout.decode("utf-8", "replace")
        d["stderr"] = self.stderr.decode("utf-8", "replace")
        return d


def _merge_env(base: list[str], extra: list[str]) -> list[str]:
    merged: dict[str, str] = {}
    for item in [*base, *extra]:  # later wins, as Docker's image ENV then -e
        merged[item.partition("=")[0]] = item
    return list(merged.values())


def _quietly(errors: list[str], what: str, fn: Any, *args: Any) -> None:
    """Run a cleanup step; a failure is recorded, never allowed to hide the first error."""
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - every step must get its chance
        errors.append(f"{what}: {e}")


@dataclass
class Plan:
    """Everything decided before a resource exists; `disk` is set by prepare()."""

    image: Image
    kernel: guest.Kernel
    decision: accel.Decision
    spec: GuestSpec
    disk: guest.GuestDisk | None = None


class VmDriver:
    def __init__(self, runtime: Runtime | None = None, uri: str | None = None) -> None:
        self.rt = runtime or Runtime()
        self.uri = uri or host.uri()
        self.vm_root = guest.vm_dir(self.rt.root)

    # ---- before anything is created ----
    def plan(self, req: VmRequest, name: str) -> Plan:
        if req.memory_bytes < MIN_MEMORY_BYTES:
            raise InvalidArgument(
                f"--memory {req.memory_bytes >> 20}m is too small: the guest kernel needs at "
                f"least {MIN_MEMORY_BYTES >> 20}m to boot", EXIT_RUNTIME)
        if not 1 <= req.vcpus <= MAX_VCPUS:
            raise InvalidArgument(f"--cpus {req.vcpus}: a VM has 1 to {MAX_VCPUS} vCPUs")
        if req.timeout is not None and req.timeout <= 0:
            raise InvalidArgument(f"--timeout {req.timeout:g}: must be positive")
        cpu_limits(req)  # validated before anything exists
        image = self.rt.image(req.image)
        config = image.config
        entry = req.entrypoint if req.entrypoint is not None else config.Entrypoint
        cmd = req.command or (config.Cmd if req.entrypoint is None else None) or []
        argv = [*(entry or []), *cmd]
        if not argv:
            raise InvalidArgument("No command specified")
        kernel = guest.find_kernel()
        decision = accel.choose(req.accel)
        hostname = req.hostname or name.removeprefix(DOMAIN_PREFIX)[:12]
        spec = GuestSpec(argv=argv, env=_merge_env(config.Env, req.env),
                         workdir=req.workdir or config.WorkingDir or "/", hostname=hostname,
                         address=GUEST_ADDRESS if req.forwards is not None else "")
        spec.env = _merge_env([f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"], spec.env)
        if req.scratch_bytes:
            spec.env.append("ISOBENCH_SCRATCH=/dev/vdb")
        return Plan(image, kernel, decision, spec)

    def prepare(self, req: VmRequest, name: str) -> Plan:
        """plan() plus the cached disk and the user resolved against the image's files."""
        plan = self.plan(req, name)
        plan.disk = guest.ensure_disk(self.rt.images, plan.image, self.rt.root)
        self._identity(plan, req, plan.disk)
        return plan

    def _identity(self, plan: Plan, req: VmRequest, disk: guest.GuestDisk) -> None:
        user = req.user if req.user is not None else plan.image.config.User
        try:
            ident = resolve(user, disk.passwd, disk.group)
        except UserError as e:
            raise VmError(str(e)) from None
        plan.spec.uid, plan.spec.gid, plan.spec.groups = ident.uid, ident.gid, ident.groups
        if not any(e.startswith("HOME=") for e in plan.spec.env):
            plan.spec.env.append(f"HOME={ident.home}")

    def domain(self, name: str, req: VmRequest, plan: Plan, run_dir: Path, sock: Path,
               overlay: Path, scratch: Path | None) -> Domain:
        disks = [Disk(str(overlay), "vda", "qcow2")]
        if scratch is not None:
            # cache=none: the guest's I/O reaches the host's disk, not its page cache.
            disks.append(Disk(str(scratch), "vdb", "raw", cache="none", io="native"))
        cmdline = f"{KERNEL_CMDLINE} init={guest.SHIM_PATH} {req.cmdline_extra}".strip()
        return Domain(
            name=name, memory_kib=req.memory_bytes // 1024, vcpus=req.vcpus,
            type="kvm" if plan.decision.accel == "kvm" else "qemu",
            cpu_mode="host-passthrough" if plan.decision.accel == "kvm" else None,
            os=OsBoot(plan.kernel.kernel, plan.kernel.initrd, cmdline),
            disks=disks,
            serials=[Serial(0, "file", str(run_dir / "console.log")),
                     Serial(1, "unix", str(sock))],
            net=UserNet(list(req.forwards)) if req.forwards is not None else None,
            metadata={"id": name.removeprefix(DOMAIN_PREFIX), "root": str(self.rt.root),
                      "owner_pid": str(os.getpid())},
        )

    # ---- the run ----
    def run(self, req: VmRequest, *, stdout: BinaryIO | None = None,
            stderr: BinaryIO | None = None, capture: bool = True,
            on_started: Callable[[RunningVm], None] | None = None) -> VmResult:
        run_id = uuid.uuid4().hex[:16]
        name = f"{DOMAIN_PREFIX}{run_id}"
        t: dict[str, float | None] = {"request": time.monotonic()}
        plan = self.plan(req, name)
        conn = host.connect(self.uri)
        errors: list[str] = []
        stack = ExitStack()
        stack.callback(conn.close)
        try:
            result = self._run(stack, errors, conn, req, plan, run_id, name, t,
                               stdout, stderr, capture, on_started)
        except libvirt.libvirtError as e:
            raise VmError(f"libvirt: {host.one_line(e)}") from None
        finally:
            # Ctrl-C or SIGTERM waits until the domain, cgroup and files are gone.
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            try:
                stack.close()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if errors:
            raise VmError(f"the VM ran but cleanup failed: {'; '.join(errors)}")
        t["end"] = time.monotonic()
        result.timings = _durations(t)
        return result

    def _run(self, stack: ExitStack, errors: list[str], conn: libvirt.virConnect,
             req: VmRequest, plan: Plan, run_id: str, name: str, t: dict[str, float | None],
             stdout: BinaryIO | None, stderr: BinaryIO | None, capture: bool,
             on_started: Callable[[RunningVm], None] | None) -> VmResult:
        plan.disk = disk = guest.ensure_disk(self.rt.images, plan.image, self.rt.root)
        self._identity(plan, req, disk)
        t["disk_ready"] = time.monotonic()
        run_dir = self.vm_root / "runs" / run_id
        run_dir.mkdir(parents=True)
        stack.callback(_quietly, errors, "remove run dir", shutil.rmtree, run_dir)
        write_owner(run_dir)  # before the disks, cgroup and domain: gc knows whose they are
        sock_path = socket_dir() / f"{run_id}.sock"
        sock_path.parent.mkdir(parents=True, exist_ok=True)
        stack.callback(_quietly, errors, "remove socket", sock_path.unlink, True)
        overlay = run_dir / "root.qcow2"
        guest.create_overlay(disk.path, overlay)
        scratch = None
        if req.scratch_bytes:
            scratch = run_dir / "scratch.raw"
            guest.create_scratch(scratch, req.scratch_bytes)
        cg = open_cgroup(req.cgroup or f"{self.rt.cgroup_parent}/vm-{run_id}")
        cg.create()
        stack.callback(_quietly, errors, "remove cgroup", cg.destroy)
        _move_charges(cg)
        cap = cpu_limits(req)
        if cap is not None and not req.cpu_cap_after_boot:
            cg.set_limits(cap)  # before QEMU joins: not one unthrottled instruction
        dom = self._define(conn, self.domain(name, req, plan, run_dir, sock_path, overlay,
                                             scratch), stack, errors)
        t["defined"] = time.monotonic()
        self._start_paused(dom)
        t["started"] = time.monotonic()
        pid = host.qemu_pid(name)
        cg.add_pid(pid)  # before the guest runs a single instruction
        chan = _connect(sock_path)
        stack.callback(chan.close)
        session = GuestSession(chan, plan.spec, stdout=stdout, stderr=stderr, capture=capture)
        dom.resume()
        t["resumed"] = time.monotonic()
        if on_started is not None:
            on_started(RunningVm(name, pid, cg, plan.decision.accel))
        try:
            result = self._converse(conn, dom, cg, pid, session, req, plan, name, t, run_dir)
        except _GuestLost as lost:
            log = self._keep_log(name, run_dir, session, lost.summary)
            raise VmError(f"{lost.summary}; last console lines kept in {log}") from None
        result.disk_cached = disk.cached
        if session.wait_eof(POWEROFF_GRACE_S):
            t["powered_off"] = time.monotonic()
        result.cgroup = cg.stats().to_dict()
        if req.console_copy is not None:
            shutil.copyfile(run_dir / "console.log", req.console_copy)
        return result

    def _define(self, conn: libvirt.virConnect, spec: Domain, stack: ExitStack,
                errors: list[str]) -> libvirt.virDomain:
        try:
            dom = conn.defineXML(spec.to_xml())
        except libvirt.libvirtError as e:
            raise VmError(f"libvirt refused the domain: {host.one_line(e)}") from None
        name = spec.name
        stack.callback(_quietly, errors, "remove libvirt log", host.remove_qemu_log, name)
        stack.callback(_quietly, errors, "undefine domain", _undefine, dom)
        stack.callback(_quietly, errors, "destroy domain", _destroy, dom)
        return dom

    @staticmethod
    def _start_paused(dom: libvirt.virDomain) -> None:
        try:
            dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
        except libvirt.libvirtError as e:
            raise VmError(f"libvirt could not start the domain: {host.one_line(e)}") from None

    def _converse(self, conn: libvirt.virConnect, dom: libvirt.virDomain, cg: Cgroup, pid: int,
                  session: GuestSession, req: VmRequest, plan: Plan, name: str,
                  t: dict[str, float | None], run_dir: Path) -> VmResult:
        deadline = None if req.timeout is None else t["request"] + req.timeout  # type: ignore[operator]
        samples: list[dict[str, Any]] = []
        pending_cap = cpu_limits(req) if req.cpu_cap_after_boot else None
        next_sample = time.monotonic() if req.sample_interval else None
        while not session.finished:
            now = time.monotonic()
            if req.stop is not None and req.stop.is_set():
                return self._stopped(conn, dom, cg, pid, session, req, plan, name, t, samples)
            if deadline is not None and now >= deadline:
                raise _GuestLost(self._lost_summary(run_dir, session, f"timed out after "
                                                    f"{req.timeout:g} s"))
            if next_sample is not None and now >= next_sample:
                samples.append(self._sample(conn, dom, cg, pid, now - t["resumed"]))  # type: ignore[operator]
                next_sample += req.sample_interval  # type: ignore[operator]
            waits = [1.0 if req.stop is None else STOP_POLL_S]
            waits += [x - now for x in (deadline, next_sample) if x is not None]
            session.step(max(0.0, min(waits)))
            if pending_cap is not None and session.ready_at is not None:
                cg.set_limits(pending_cap)  # the spec went out with "ready": ms ago
                t["capped"], pending_cap = time.monotonic(), None
        t["ready"], t["first_output"] = session.ready_at, session.first_output_at
        t["exit"] = session.exit_at
        if session.failure is not None:
            code, message = session.failure
            session.ack()
            raise VmStartError(message, code)
        if session.exit_code is None:
            raise _GuestLost(self._lost_summary(run_dir, session, "the guest stopped"))
        result = self._result(conn, dom, cg, pid, session, req, plan, name, samples,
                              session.exit_code)
        session.ack()
        return result

    def _stopped(self, conn: libvirt.virConnect, dom: libvirt.virDomain, cg: Cgroup, pid: int,
                 session: GuestSession, req: VmRequest, plan: Plan, name: str,
                 t: dict[str, float | None], samples: list[dict[str, Any]]) -> VmResult:
        """The run was stopped from outside: the stats of the live guest, then destroy it
        (the cleanup stack undefines it and removes the rest, as after any run)."""
        t["ready"], t["first_output"] = session.ready_at, session.first_output_at
        result = self._result(conn, dom, cg, pid, session, req, plan, name, samples,
                              KILLED_EXIT)
        _destroy(dom)
        t["exit"] = time.monotonic()
        return result

    @staticmethod
    def _result(conn: libvirt.virConnect, dom: libvirt.virDomain, cg: Cgroup, pid: int,
                session: GuestSession, req: VmRequest, plan: Plan, name: str,
                samples: list[dict[str, Any]], exit_code: int) -> VmResult:
        """What the live guest's host side looks like now, with the session's output."""
        return VmResult(
            exit_code=exit_code, accel=plan.decision.accel,
            accel_note=plan.decision.note, accel_reason=plan.decision.reason, domain=name,
            image_id=plan.image.id, memory_bytes=req.memory_bytes, vcpus=req.vcpus,
            kernel_release=plan.kernel.release, cgroup_name=cg.name, timings={},
            cgroup_live=cg.stats().to_dict(), cgroup={}, domain_stats=host.domain_stats(conn, dom),
            qemu_memory=host.process_memory(pid), samples=samples, stdout=bytes(session.out),
            stderr=bytes(session.err), guest_messages=session.messages)

    @staticmethod
    def _sample(conn: libvirt.virConnect, dom: libvirt.virDomain, cg: Cgroup, pid: int,
                elapsed: float) -> dict[str, Any]:
        stats = cg.stats()
        return {"t": elapsed, "qemu": host.process_memory(pid),
                "cgroup_memory": stats.memory_current, "cgroup_cpu_ns": stats.cpu_total_ns,
                "libvirt": host.domain_stats(conn, dom)}

    @staticmethod
    def _lost_summary(run_dir: Path, session: GuestSession, what: str) -> str:
        console = _read(run_dir / "console.log")
        return f"{what} {bootlog.where_stopped(console, session.ready_at is not None)}"

    def _keep_log(self, name: str, run_dir: Path, session: GuestSession, summary: str) -> Path:
        """The failure log outlives the run: the console, the init's messages, QEMU's log."""
        logs = self.vm_root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / f"{name}.log"
        console = _read(run_dir / "console.log")
        parts = [f"# {summary}", "", "# guest console (ttyS0), last lines:",
                 *bootlog.tail(console, 60)]
        if session.messages:
            parts += ["", "# isobench init messages:", *session.messages]
        qemu_log = _read(host.qemu_log(name))
        if qemu_log:
            parts += ["", "# QEMU (libvirt's log), last lines:", *bootlog.tail(qemu_log, 20)]
        path.write_text("\n".join(parts) + "\n")
        return path


class _GuestLost(Exception):
    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary


OWNER_FILE = "owner"


def write_owner(run_dir: Path) -> None:
    """'PID START' of this process, so `isobench gc` can tell a run whose process died."""
    run_dir_owner_file(run_dir).write_text(f"{os.getpid()} {process_start_time(os.getpid())}\n")


def run_dir_owner_file(run_dir: Path) -> Path:
    return run_dir / OWNER_FILE


def socket_dir() -> Path:
    """Channel sockets live under /run (a short path: sun_path holds 108 bytes)."""
    return Path(os.environ.get("ISOBENCH_RUN_DIR", "/run/isobench")) / "vm"


def _connect(path: Path) -> socket.socket:
    """QEMU listens on the channel socket once the domain exists (paused)."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return sock
        except OSError as e:
            sock.close()
            if time.monotonic() >= deadline:
                raise VmError(f"cannot connect to the guest channel {path}: {e.strerror}") \
                    from None
            time.sleep(0.01)


def _move_charges(cg: Cgroup) -> None:
    """Memory QEMU touched before it joined (~25 MB here: the kernel and initrd it loaded while
    paused) stays charged to libvirt's cgroup unless charges move with the process. Only old
    v1 kernels can move them (6.18, on these machines, refuses: EINVAL); elsewhere our cgroup
    misses those pages, and QEMU's RSS/PSS in the result is the complete figure."""
    memory = cg.paths().get("memory")
    if memory and os.path.exists(os.path.join(memory, "memory.move_charge_at_immigrate")):
        try:
            with open(os.path.join(memory, "memory.move_charge_at_immigrate"), "w") as f:
                f.write("3")  # anonymous and file pages
        except OSError:
            pass  # accounting a little short, not a failed run


def cpu_limits(req: VmRequest) -> Limits | None:
    """The CFS cap for QEMU's cgroup, or None; a bad value is refused like --cpus."""
    if req.cpu_quota_us is None:
        return None
    if req.cpu_quota_us < MIN_CPU_QUOTA_US or req.cpu_period_us < MIN_CPU_QUOTA_US:
        raise InvalidArgument(f"cpu quota {req.cpu_quota_us} us per {req.cpu_period_us} us: "
                              f"both must be at least {MIN_CPU_QUOTA_US} us")
    return Limits(cpu_quota_us=req.cpu_quota_us, cpu_period_us=req.cpu_period_us)


def _destroy(dom: libvirt.virDomain) -> None:
    try:
        if dom.isActive():
            dom.destroy()
    except libvirt.libvirtError as e:
        # It may power off between the check and the destroy: that is the goal anyway.
        if e.get_error_code() not in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_OPERATION_INVALID):
            raise IsobenchError(host.one_line(e)) from None


def _undefine(dom: libvirt.virDomain) -> None:
    try:
        dom.undefine()
    except libvirt.libvirtError as e:
        if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
            raise IsobenchError(host.one_line(e)) from None


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _durations(t: dict[str, float | None]) -> dict[str, float | None]:
    """Seconds from the request to each milestone (None: not reached)."""
    start = t["request"]
    assert start is not None
    return {f"{k}_s": (None if v is None else v - start) for k, v in t.items() if k != "request"}


__all__ = ["CgroupError", "RunningVm", "VmDriver", "VmError", "VmRequest", "VmResult",
           "VmStartError"]
