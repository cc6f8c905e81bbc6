"""The `vm` target: the same image and command in a libvirt/QEMU guest.

The guest is accounted like the others: the driver puts QEMU in an isobench cgroup and
samples it, and adds libvirt's domain stats. Every outcome records whether KVM or TCG ran:
a TCG figure measures emulation, not hardware virtualization.
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.targets import SCRATCH, Job, Outcome, Target
from runtime.errors import IsobenchError

GUEST_MEMORY_BYTES = 1 << 30
SCRATCH_BYTES = 512 << 20
# The scratch disk arrives raw at /dev/vdb: give it a filesystem and put it where the
# command expects its scratch area (e2fsprogs is in every Debian base).
_MOUNT_SCRATCH = (f"mkfs.ext4 -q -F /dev/vdb && mkdir -p {SCRATCH} && mount /dev/vdb {SCRATCH} "
                  '&& exec "$@"')


class VmTarget(Target):
    name = "vm"

    def unavailable(self) -> str | None:
        try:
            from vm import host
            from vm.guest import find_kernel

            find_kernel()
            host.connect().close()
        except (ImportError, IsobenchError, OSError) as e:
            return f"no VM here: {e}"
        return None

    def run(self, job: Job) -> Outcome:
        from vm.driver import VmDriver, VmRequest

        argv = job.command(SCRATCH)
        if job.wants_scratch:
            argv = ["sh", "-c", _MOUNT_SCRATCH, "sh", *argv]
        memory = job.memory_bytes or (job.limits.memory_bytes if job.limits and
                                      job.limits.memory_bytes else GUEST_MEMORY_BYTES)
        req = VmRequest(image=job.image, command=argv, memory_bytes=memory,
                        vcpus=job.vcpus or os.cpu_count() or 1, timeout=job.timeout,
                        scratch_bytes=SCRATCH_BYTES if job.wants_scratch else None,
                        sample_interval=1.0 / job.sample_hz if job.sample_hz else None)
        t0 = time.perf_counter()
        result = VmDriver(self.rt).run(req, capture=True)
        wall = time.perf_counter() - t0
        accounting: dict[str, Any] = {"start": None, "end": result.cgroup,
                                      "at_exit": result.cgroup_live, "samples": result.samples}
        extra = {"accel": result.accel, "accel_note": result.accel_note,
                 "accel_reason": result.accel_reason, "kernel_release": result.kernel_release,
                 "domain_stats": result.domain_stats, "qemu_memory": result.qemu_memory,
                 "timings": result.timings, "memory_bytes": result.memory_bytes,
                 "vcpus": result.vcpus}
        return Outcome(result.exit_code, result.stdout.decode("utf-8", "replace"),
                       result.stderr.decode("utf-8", "replace"), wall, accounting, extra)
