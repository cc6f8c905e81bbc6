"""Run one command in a fresh VM through libvirt, the way `isobench run` runs it in a container.

define (paused) -> QEMU into an isobench cgroup -> resume -> the guest's init says ready ->
the spec goes down the channel -> output comes back as it is produced -> exit code ->
libvirt and cgroup stats while QEMU still lives -> the init powers off -> destroy, undefine,
remove every per-run file. Any failure or Ctrl-C takes the same way out.

The driver makes the resources (below) and hands the running guest to a VmRun (vm/run.py),
which converses with it. It needs three things of the runtime's state, not the runtime: the
image store (a guest's disk is made from an image's layers), the state root (vm/ keeps its
disks, runs and logs under it) and the cgroup factory (QEMU runs in a cgroup beside the
containers').
"""

from __future__ import annotations

import os
import shutil
import signal
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import libvirt

from runtime import private
from runtime.cgroups import Cgroup, CgroupError, CgroupFactory
from runtime.containers import process_start_time
from runtime.errors import EXIT_RUNTIME, InvalidArgument, NotFound
from runtime.fsutil import state_root
from runtime.image import config as image_config
from runtime.image.bases import get_image
from runtime.image.store import DEFAULT_PATH, ImageStore
from runtime.network import NetworkStore
from runtime.users import UserError, resolve
from vm import accel, bootlog, channel, guest, host
from vm.domain import (
    Disk,
    Domain,
    DomainCpu,
    DomainXMLError,
    OsBoot,
    Serial,
    TapNet,
    UserNet,
    vhost_net,
)
from vm.placement import libvirt_cgroup, placement
from vm.protocol import GuestSpec
from vm.request import Plan, VmError, VmRequest, VmStartError, cpu_limits
from vm.run import (
    Attach,
    GuestLost,
    LibvirtMachine,
    RunningVm,
    Timings,
    VmResult,
    VmRun,
    read_text,
)
from vm.session import GuestSession

DOMAIN_PREFIX = "isobench-"
# What a guest needs to boot and run the cpu and memory workloads (measured on these
# machines, 2 vCPUs, TCG). With isobench's initrd (5 MB, no udev): 64 MiB never starts the
# kernel, 80 MiB panics before the initramfs ("System is deadlocked on memory"), 96 MiB boots
# (48 MB MemTotal, 19 MB free) and runs sysbench cpu and memory (issue 16). The Debian initrd
# must unpack 31 MB zstd into 129 MB: at 192 MiB it panics the same way, 256 MiB boots.
MIN_MEMORY_BYTES = 96 << 20
MIN_MEMORY_DEBIAN_INITRD_BYTES = 256 << 20
MAX_VCPUS = 64
GUEST_ADDRESS = "10.0.2.15/24"
CONNECT_TIMEOUT_S = 5.0
KERNEL_CMDLINE = ("console=ttyS0 root=/dev/vda rootfstype=ext4 rw panic=-1 fsck.mode=skip "
                  "noresume net.ifnames=0")


@dataclass(frozen=True)
class RunFiles:
    """One run's files: its directory (console log, disks), the channel's socket."""

    run_dir: Path
    socket: Path
    overlay: Path              # the guest's root: a qcow2 over the cached image disk
    scratch: Path | None       # a raw disk at /dev/vdb, when asked for


class Cleanup:
    """A run's undo steps, last first; close() runs them with Ctrl-C and SIGTERM held off.
    A quiet step's failure is recorded in `errors`, never allowed to hide the first error."""

    def __init__(self) -> None:
        self.stack = ExitStack()
        self.errors: list[str] = []

    def always(self, fn: Callable[[], Any]) -> None:
        self.stack.callback(fn)

    def quietly(self, what: str, fn: Callable[..., Any], *args: Any) -> None:
        self.stack.callback(self._step, what, fn, *args)

    def _step(self, what: str, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - every step must get its chance
            self.errors.append(f"{what}: {e}")

    def close(self) -> None:
        """Ctrl-C or SIGTERM waits until the domain, cgroup and files are gone."""
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self.stack.close()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)


class VmDriver:
    def __init__(self, images: ImageStore | None = None, root: Path | None = None,
                 cgroups: CgroupFactory | None = None, uri: str | None = None) -> None:
        """Each defaults to the environment's: ISOBENCH_ROOT's store and root,
        ISOBENCH_CGROUP_PARENT's cgroups, ISOBENCH_LIBVIRT_URI."""
        self.root = Path(root) if root else state_root()
        self.images = images or ImageStore(self.root)
        self.cgroups = cgroups or CgroupFactory.from_env()
        self.uri = uri or host.uri()
        private.secure_state(self.root)
        self.vm_root = guest.vm_dir(self.root)
        self.networks = NetworkStore(self.root)

    # ---- before anything is created ----
    def plan(self, req: VmRequest, name: str) -> Plan:
        _check_memory(req.memory_bytes, MIN_MEMORY_BYTES)
        if not 1 <= req.vcpus <= MAX_VCPUS:
            raise InvalidArgument(f"--cpus {req.vcpus}: a VM has 1 to {MAX_VCPUS} vCPUs")
        if req.repeat < 1:
            raise InvalidArgument(f"repeat {req.repeat}: at least 1")
        if req.timeout is not None and req.timeout <= 0:
            raise InvalidArgument(f"--timeout {req.timeout:g}: must be positive")
        if req.network is not None:
            if req.forwards is not None:
                raise InvalidArgument("a VM on a bridge network has no port forwards: "
                                      "-p needs --network user")
            try:
                self.networks.get(req.network)
            except NotFound as e:
                raise VmError(str(e)) from None
        cpu_limits(req)  # validated before anything exists
        domain_cpu("tcg")  # ISOBENCH_VM_CPU too
        placement("tcg")  # and ISOBENCH_VM_QEMU_CGROUP
        image = get_image(self.images, req.image)
        process = image_config.resolve(image.config, req)  # as a container's
        kernel = guest.boot_kernel(req.boot, self.root)
        if not kernel.initrd.endswith(".cpio"):  # the Debian initrd (chosen, or a fallback)
            _check_memory(req.memory_bytes, MIN_MEMORY_DEBIAN_INITRD_BYTES,
                          " with the Debian initrd")
        decision = accel.choose(req.accel)
        run_id = name.removeprefix(DOMAIN_PREFIX)
        hostname = req.hostname or run_id[:12]
        spec = GuestSpec(argv=process.argv, env=process.env, workdir=process.workdir,
                         hostname=hostname,
                         address=GUEST_ADDRESS if req.forwards is not None else "",
                         repeat=req.repeat, prepare=list(req.prepare or ()))
        # The defaults a container's init sets at exec (runtime/init.py), sent in the spec.
        spec.env = image_config.merge_env([f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"],
                                          spec.env)
        if req.scratch_bytes:
            spec.env.append("ISOBENCH_SCRATCH=/dev/vdb")
        return Plan(req=req, name=name, run_id=run_id, image=image, user=process.user,
                    kernel=kernel, decision=decision, spec=spec)

    def prepare(self, req: VmRequest, name: str) -> Plan:
        """plan() plus the cached disk and the user resolved against the image's files."""
        plan = self.plan(req, name)
        plan.disk = guest.ensure_disk(self.images, plan.image, self.root)
        self._identity(plan, plan.disk)
        return plan

    @staticmethod
    def _identity(plan: Plan, disk: guest.GuestDisk) -> None:
        try:
            ident = resolve(plan.user, disk.passwd, disk.group)
        except UserError as e:
            raise VmError(str(e)) from None
        plan.spec.uid, plan.spec.gid, plan.spec.groups = ident.uid, ident.gid, ident.groups
        if not any(e.startswith("HOME=") for e in plan.spec.env):
            plan.spec.env.append(f"HOME={ident.home}")

    def domain(self, plan: Plan, files: RunFiles, tap: TapNet | None = None) -> Domain:
        req = plan.req
        disks = [Disk(str(files.overlay), "vda", "qcow2")]
        if files.scratch is not None:
            # cache=none: the guest's I/O reaches the host's disk, not its page cache.
            disks.append(Disk(str(files.scratch), "vdb", "raw", cache="none", io="native"))
        cmdline = f"{KERNEL_CMDLINE} init={guest.SHIM_PATH} {req.cmdline_extra}".strip()
        return Domain(
            name=plan.name, memory_kib=req.memory_bytes // 1024, vcpus=req.vcpus,
            type="kvm" if plan.decision.accel == "kvm" else "qemu",
            cpu=domain_cpu(plan.decision.accel),
            os=OsBoot(plan.kernel.kernel, plan.kernel.initrd, cmdline),
            disks=disks,
            serials=[Serial(0, "file", str(files.run_dir / "console.log")),
                     Serial(1, "unix", str(files.socket))],
            net=tap or (UserNet(list(req.forwards)) if req.forwards is not None else None),
            metadata={"id": plan.run_id, "root": str(self.root),
                      "owner_pid": str(os.getpid())},
            free_page_reporting=req.free_page_reporting,
        )

    # ---- the run ----
    def run(self, req: VmRequest, *, stdout: BinaryIO | None = None,
            stderr: BinaryIO | None = None, capture: bool = True,
            on_started: Callable[[RunningVm], None] | None = None) -> VmResult:
        timings = Timings()
        plan = self.plan(req, self.new_name())
        cleanup = Cleanup()
        try:
            vm = self._boot(cleanup, plan, timings, Attach(stdout, stderr, capture))
            if on_started is not None:
                on_started(vm.running())
            try:
                result = vm.complete()
            except GuestLost as lost:
                raise VmError(self._lost(vm, lost.summary)) from None
        except libvirt.libvirtError as e:
            raise VmError(f"libvirt: {host.one_line(e)}") from None
        finally:
            cleanup.close()
        if cleanup.errors:
            raise VmError(f"the VM ran but cleanup failed: {'; '.join(cleanup.errors)}")
        timings.mark("end")
        result.timings = timings.durations()
        return result

    def new_name(self) -> str:
        """A fresh run's name: DOMAIN_PREFIX and its run id."""
        return f"{DOMAIN_PREFIX}{uuid.uuid4().hex[:16]}"

    def _boot(self, cleanup: Cleanup, plan: Plan, timings: Timings, attach: Attach) -> VmRun:
        """Every resource of the run, each undone by `cleanup`; the guest resumed last."""
        conn = host.connect(self.uri)
        cleanup.always(conn.close)
        plan.disk = guest.ensure_disk(self.images, plan.image, self.root)
        self._identity(plan, plan.disk)
        timings.mark("disk_ready")
        files = self._files(cleanup, plan, plan.disk)
        tap = self._tap(cleanup, plan) if plan.req.network is not None else None
        ours = self._cgroup(cleanup, plan) if placement(plan.decision.accel) == "isobench" \
            else None
        dom = self._define(conn, self.domain(plan, files, tap), cleanup)
        timings.mark("defined")
        self._start_paused(dom)
        timings.mark("started")
        pid = host.qemu_pid(plan.name)
        if ours is not None:
            cg = ours
            cg.add_pid(pid)  # before the guest runs a single instruction
        else:
            cg = self._stay_in_libvirt(pid, plan)
        # QEMU listens on the channel socket once the domain exists (paused).
        chan = channel.connect(files.socket, CONNECT_TIMEOUT_S, 0.01,
                               "cannot connect to the guest channel")
        cleanup.always(chan.close)
        session = GuestSession(chan, plan.spec, stdout=attach.stdout, stderr=attach.stderr,
                               capture=attach.capture)
        dom.resume()
        timings.mark("resumed")
        return VmRun(plan, LibvirtMachine(conn, dom), cg, pid, session, timings,
                     files.run_dir)

    def _files(self, cleanup: Cleanup, plan: Plan, disk: guest.GuestDisk) -> RunFiles:
        run_dir = self.vm_root / "runs" / plan.run_id
        run_dir.mkdir(parents=True)
        cleanup.quietly("remove run dir", shutil.rmtree, run_dir)
        write_owner(run_dir)  # before the disks, cgroup and domain: gc knows whose they are
        sock_path = socket_dir() / f"{plan.run_id}.sock"
        private.make_private(private.run_dir())  # 0700: the channel is root's alone
        private.make_private(sock_path.parent)
        cleanup.quietly("remove socket", sock_path.unlink, True)
        overlay = run_dir / "root.qcow2"
        guest.create_overlay(disk.path, overlay)
        scratch = None
        if plan.req.scratch_bytes:
            scratch = run_dir / "scratch.raw"
            guest.create_scratch(scratch, plan.req.scratch_bytes)
        return RunFiles(run_dir, sock_path, overlay, scratch)

    def _tap(self, cleanup: Cleanup, plan: Plan) -> TapNet:
        """A tap on the network's bridge (after the owner file: gc keeps a live run's tap and
        removes a dead one's); the guest's address goes down with the spec."""
        assert plan.req.network is not None
        store = self.networks
        ep = store.attach_tap(plan.req.network, plan.run_id, plan.name)
        cleanup.quietly("remove tap", store.detach, plan.req.network, plan.run_id)
        net = store.get(plan.req.network)
        plan.spec.address = f"{ep.ip}/{net.prefix}"
        return TapNet(ep.veth, vhost=vhost_net(plan.decision.accel))

    def _cgroup(self, cleanup: Cleanup, plan: Plan) -> Cgroup:
        req = plan.req
        cg = self.cgroups.open(req.cgroup) if req.cgroup else \
            self.cgroups.child(f"vm-{plan.run_id}")
        cg.create()
        cleanup.quietly("remove cgroup", cg.destroy)
        _move_charges(cg)
        cap = cpu_limits(req)
        if cap is not None and not req.cpu_cap_after_boot:
            cg.set_limits(cap)  # before QEMU joins: not one unthrottled instruction
        return cg

    @staticmethod
    def _stay_in_libvirt(pid: int, plan: Plan) -> Cgroup:
        """KVM: QEMU keeps libvirt's cgroup (its vCPU sub-cgroups included); the cap and the
        collectors go there instead, before the guest runs."""
        cg = libvirt_cgroup(pid)
        cap = cpu_limits(plan.req)
        if cap is not None and not plan.req.cpu_cap_after_boot:
            cg.set_limits(cap)
        return cg

    @staticmethod
    def _define(conn: libvirt.virConnect, spec: Domain, cleanup: Cleanup) -> libvirt.virDomain:
        try:
            dom = conn.defineXML(spec.to_xml())
        except libvirt.libvirtError as e:
            raise VmError(f"libvirt refused the domain: {host.one_line(e)}") from None
        cleanup.quietly("remove libvirt log", host.remove_qemu_log, spec.name)
        cleanup.quietly("undefine domain", host.undefine, dom)
        cleanup.quietly("destroy domain", host.destroy, dom)
        return dom

    @staticmethod
    def _start_paused(dom: libvirt.virDomain) -> None:
        try:
            dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
        except libvirt.libvirtError as e:
            raise VmError(f"libvirt could not start the domain: {host.one_line(e)}") from None

    def _lost(self, vm: VmRun, summary: str) -> str:
        """The one line for a guest that went away: why, and where its logs are kept."""
        log = self._keep_log(vm, summary)
        return f"{summary}; last console lines kept in {log}"

    def _keep_log(self, vm: VmRun, summary: str) -> Path:
        """The failure log outlives the run: the console, the init's messages, QEMU's log."""
        logs = self.vm_root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / f"{vm.plan.name}.log"
        console = read_text(vm.run_dir / "console.log")
        parts = [f"# {summary}", "", "# guest console (ttyS0), last lines:",
                 *bootlog.tail(console, 60)]
        if vm.session.messages:
            parts += ["", "# isobench init messages:", *vm.session.messages]
        qemu_log = read_text(self._qemu_log(vm))
        if qemu_log:
            parts += ["", "# QEMU's log, last lines:", *bootlog.tail(qemu_log, 20)]
        path.write_text("\n".join(parts) + "\n")
        return path


    @staticmethod
    def _qemu_log(vm: VmRun) -> Path:
        return host.qemu_log(vm.plan.name)  # libvirt's


def _check_memory(size: int, minimum: int, how: str = "") -> None:
    if size < minimum:
        raise InvalidArgument(f"--memory {size >> 20}m is too small: the guest kernel needs at "
                              f"least {minimum >> 20}m to boot{how}", EXIT_RUNTIME)


OWNER_FILE = "owner"


def domain_cpu(accel: str, configured: str | None = None) -> DomainCpu | None:
    """ISOBENCH_VM_CPU where set (e.g. "max": an SVM-capable guest for the KVM lane), else
    host-passthrough under KVM and QEMU's default model under TCG."""
    text = os.environ.get("ISOBENCH_VM_CPU", "") if configured is None else configured
    if text:
        try:
            return DomainCpu.parse(text)
        except DomainXMLError as e:
            raise InvalidArgument(str(e)) from None
    return DomainCpu("host-passthrough") if accel == "kvm" else None


def write_owner(run_dir: Path) -> None:
    """'PID START' of this process, so `isobench gc` can tell a run whose process died."""
    run_dir_owner_file(run_dir).write_text(f"{os.getpid()} {process_start_time(os.getpid())}\n")


def run_dir_owner_file(run_dir: Path) -> Path:
    return run_dir / OWNER_FILE


def socket_dir() -> Path:
    """Channel sockets live under /run (a short path: sun_path holds 108 bytes)."""
    return private.run_dir() / "vm"


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


# The driver's public names, wherever they are defined.
__all__ = ["DOMAIN_PREFIX", "CgroupError", "Plan", "RunFiles", "RunningVm", "VmDriver",
           "VmError", "VmRequest", "VmResult", "VmStartError", "cpu_limits", "socket_dir"]
