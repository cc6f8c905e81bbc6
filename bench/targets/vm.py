"""The `vm` target: the same image and command in a libvirt/QEMU guest.

The guest is accounted like the others: the driver puts QEMU in an isobench cgroup and
samples it, and adds libvirt's domain stats. Every outcome records whether KVM or TCG ran:
a TCG figure measures emulation, not hardware virtualization. A job's --cpus becomes the
same CFS quota on QEMU's cgroup.

BackgroundVm keeps a guest up while the host measures it (net servers, density).
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

from bench.collectors import window_delta
from bench.contention import host_snapshot, host_window
from bench.targets.base import SCRATCH, Job, Outcome, Target
from bench.timers import FirstOutput
from runtime.errors import IsobenchError
from runtime.limits import Limits

if TYPE_CHECKING:
    from runtime.api import Runtime
    from vm.driver import RunningVm, VmDriver, VmRequest, VmResult

GUEST_MEMORY_BYTES = 1 << 30
SCRATCH_BYTES = 512 << 20
# The scratch disk arrives raw at /dev/vdb: the guest gives it a filesystem and mounts it
# where the command expects its scratch area once per boot, before the first repetition's
# mark (VmRequest.prepare), so no window holds the mkfs. Its inode tables and journal are
# zeroed then and there (e2fsprogs defers both to a kernel thread by default, which would
# write behind fio's back); e2fsprogs is in every Debian base.
MKFS_OPTIONS = "lazy_itable_init=0,lazy_journal_init=0"
PREPARE_SCRATCH = (f"mkfs.ext4 -q -F -E {MKFS_OPTIONS} /dev/vdb && mkdir -p {SCRATCH} && "
                   f"mount /dev/vdb {SCRATCH}")
# Each repetition starts on an empty scratch area, as a container's fresh volume does.
_EMPTY_SCRATCH = f"rm -rf {SCRATCH}/* && sync && exec \"$@\""


class VmTarget(Target):
    name = "vm"

    def unavailable(self) -> str | None:
        # Imported here, not at the top: libvirt-python is optional, and a host without it
        # still lists this target (with the reason) and benchmarks the others.
        try:
            from vm import host
            from vm.guest import find_kernel

            find_kernel()
            host.connect().close()
        except (ImportError, IsobenchError, OSError) as e:
            return f"no VM here: {e}"
        return None

    batches = True  # cpu, memory and disk: the repetitions of a cell share one boot

    def cannot_run(self, scratch: str) -> str | None:
        if scratch == "layer":
            return ("the VM has no container layer: its root is the image's ext4 disk under "
                    "a qcow2 overlay, not overlayfs")
        return None

    def driver(self) -> VmDriver:
        return vm_driver(self.rt)

    def _request(self, job: Job) -> tuple[VmRequest, int | None]:
        from vm.driver import VmRequest  # needs libvirt: see unavailable()

        argv = job.command(SCRATCH)
        if job.wants_scratch:
            argv = ["sh", "-c", _EMPTY_SCRATCH, "sh", *argv]
        memory = job.memory_bytes or (job.limits.memory_bytes if job.limits and
                                      job.limits.memory_bytes else GUEST_MEMORY_BYTES)
        quota, period = _cpu_cap(job.limits)
        req = VmRequest(image=job.image, command=argv, memory_bytes=memory,
                        vcpus=job.vcpus or os.cpu_count() or 1, timeout=job.timeout,
                        scratch_bytes=SCRATCH_BYTES if job.wants_scratch else None,
                        sample_interval=1.0 / job.sample_hz if job.sample_hz else None,
                        cpu_quota_us=quota, cpu_period_us=period, cpu_cap_after_boot=True,
                        prepare=["sh", "-c", PREPARE_SCRATCH] if job.wants_scratch else None)
        return req, quota

    def run(self, job: Job) -> Outcome:
        req, quota = self._request(job)
        t0, host0 = time.perf_counter(), host_snapshot()
        result = self.driver().run(req, capture=True)
        wall = time.perf_counter() - t0
        # the host's CPU over the whole run (boot included, as QEMU's cgroup reading is), for
        # the contention guard: QEMU's CPU is the run's, the rest is other processes'
        accounting: dict[str, Any] = {"start": None, "end": result.cgroup,
                                      "at_exit": result.cgroup_live, "samples": result.samples,
                                      "host": host_window(host0, host_snapshot())}
        return Outcome(result.exit_code, result.stdout.decode("utf-8", "replace"),
                       result.stderr.decode("utf-8", "replace"), wall, accounting,
                       _extra(result, req), reps_per_boot=1)

    def run_batch(self, job: Job, count: int, warmup: int) -> list[Outcome]:
        """One boot; the guest runs `warmup` + `count` repetitions back to back, and each
        recorded one is accounted between its own two marks: QEMU's cgroup and the host's
        CPU read as the mark arrived, its output its own. Never the boot's total split."""
        req, _ = self._request(job)
        total = warmup + count
        req.repeat = total
        req.timeout = job.timeout * total
        req.on_mark = _mark_reading
        t0 = time.perf_counter()
        result = self.driver().run(req, capture=True)
        boot_wall = time.perf_counter() - t0
        reps = {r["index"]: r for r in result.reps}
        outcomes = []
        for position, index in enumerate(range(warmup, total)):
            rep = reps.get(index)
            extra = _extra(result, req)
            if rep is None:  # the guest stopped before this one (its exit code says why)
                extra["shared_boot"] = {"reps": count, "warmup": warmup, "position": position,
                                        "domain": result.domain, "boot_wall_s": boot_wall}
                outcomes.append(Outcome(result.exit_code or 125, "",
                                        f"repetition {index} never ran in the guest",
                                        0.0, {}, extra, reps_per_boot=count))
                continue
            outcomes.append(rep_outcome(rep, result.samples, extra, count, warmup, position,
                                        result.domain, boot_wall, result.cgroup))
        return outcomes


class MicrovmTarget(VmTarget):
    """The same guest on QEMU's microvm machine (virtio-mmio, no PCI), started by isobench
    without libvirt (vm/microvm.py): every workload the VM runs, shared boots included."""

    name = "microvm"
    # --targets ...,microvm: a quick session's default set stays as it was (its VM cells
    # once more would add minutes under TCG)
    default = False

    def unavailable(self) -> str | None:
        try:
            from vm.guest import find_kernel
            from vm.microvm import unavailable

            find_kernel()
        except (ImportError, IsobenchError, OSError) as e:
            return f"no microVM here: {e}"
        return unavailable()

    def driver(self) -> VmDriver:
        from vm.microvm import MicrovmDriver  # needs libvirt's bindings too (vm.driver)

        return MicrovmDriver(self.rt.images, self.rt.root, self.rt.cgroups)


def _mark_reading() -> dict[str, Any]:
    """The harness's side of a repetition mark: the host's CPU, and the wall clock."""
    return {"host": host_snapshot(), "time": time.time()}


def rep_outcome(rep: dict[str, Any], samples: list[dict[str, Any]], extra: dict[str, Any],
                count: int, warmup: int, position: int, domain: str, boot_wall: float,
                boot_cgroup: dict[str, Any]) -> Outcome:
    """One repetition of a shared boot, accounted on its own window (vm.run.VmResult.reps):
    the cgroup's and the host's readings at its two marks, the samples between them."""
    begin, end = rep["begin"], rep["end"]
    t0, t1 = begin["t_s"], end["t_s"]
    accounting: dict[str, Any] = {
        "start": begin["cgroup"], "end": end["cgroup"],
        "delta": window_delta(begin["cgroup"], end["cgroup"]),
        "host": host_window(begin["caller"]["host"], end["caller"]["host"]),
        "samples": [s for s in samples if t0 <= s["t"] <= t1]}
    extra["shared_boot"] = {"reps": count, "warmup": warmup, "position": position,
                            "index": rep["index"], "domain": domain, "window_s": [t0, t1],
                            "guest_window_s": [begin["guest_s"], end["guest_s"]],
                            "boot_wall_s": boot_wall, "boot_cgroup": boot_cgroup}
    return Outcome(rep["exit_code"], rep["stdout"], rep["stderr"], t1 - t0, accounting, extra,
                   reps_per_boot=count, started_at=begin["caller"]["time"])


def _extra(result: VmResult, req: VmRequest) -> dict[str, Any]:
    extra = {"accel": result.accel, "accel_note": result.accel_note,
             "accel_reason": result.accel_reason, "kernel_release": result.kernel_release,
             "boot": result.boot,
             "domain_stats": result.domain_stats, "qemu_memory": result.qemu_memory,
             "timings": result.timings, "memory_bytes": result.memory_bytes,
             "vcpus": result.vcpus}
    if req.cpu_quota_us is not None:
        extra["cpu_cap"] = {"quota_us": req.cpu_quota_us, "period_us": req.cpu_period_us,
                            "where": "CFS quota on the cgroup QEMU runs in, set when the "
                                     "guest said ready (the boot runs uncapped)"}
    return extra


def vm_driver(rt: Runtime) -> VmDriver:
    """The VM driver over this runtime's image store, state root and cgroup parent."""
    from vm.driver import VmDriver  # needs libvirt: see VmTarget.unavailable()

    return VmDriver(rt.images, rt.root, rt.cgroups)


def _cpu_cap(limits: Limits | None) -> tuple[int | None, int]:
    if limits is None or limits.cpu_quota_us is None:
        return None, Limits().cpu_period_us
    return limits.cpu_quota_us, limits.cpu_period_us


class BackgroundVm:
    """One VM run on a thread of its own while the caller measures it; stop() destroys it
    and waits for the driver's cleanup (domain, cgroup, files), also after a failure."""

    def __init__(self, driver: VmDriver, req: VmRequest) -> None:
        self.driver = driver
        self.req = req
        req.stop = threading.Event()
        self.output = FirstOutput()
        self.running: RunningVm | None = None
        self.result: VmResult | None = None
        self.error: BaseException | None = None
        self.launched_at = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> BackgroundVm:
        self.launched_at = time.perf_counter()
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = self.driver.run(self.req, stdout=self.output,  # type: ignore[arg-type]
                                          capture=False, on_started=self._started)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            self.error = e
        finally:
            self._done.set()
            self.output.event.set()  # nobody waits for output that will never come

    @property
    def finished(self) -> bool:
        """The driver's run has returned or raised: the guest is gone."""
        return self._done.is_set()

    def _started(self, running: RunningVm) -> None:
        self.running = running

    def wait_output(self, timeout: float) -> float:
        """Seconds from launch to the command's first output; raises why there was none."""
        if not self.output.event.wait(timeout):
            raise TimeoutError(f"no output from the guest within {timeout:g} s")
        if self.output.at is None:
            if self.error is not None:
                raise self.error
            code = self.result.exit_code if self.result else None
            raise RuntimeError(f"the guest's command ended (exit code {code}) without output")
        return self.output.at - self.launched_at

    def stop(self, timeout: float = 120.0) -> None:
        assert self.req.stop is not None
        self.req.stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
