"""What a caller asks of the VM driver (VmRequest), how it can fail, and what the driver
decides from it before any resource exists (Plan)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import InvalidArgument, IsobenchError
from runtime.image.store import Image
from runtime.limits import Limits
from vm import accel, guest
from vm.domain import Forward
from vm.protocol import GuestSpec

DEFAULT_MEMORY_BYTES = 512 << 20
MIN_CPU_QUOTA_US = 1000    # the kernel's floor for cfs_quota_us


class VmError(IsobenchError):
    """The VM could not run the command (exit code 125 unless said otherwise)."""


class VmStartError(IsobenchError):
    """The guest ran but the command did not start: 126/127 like Docker."""


@dataclass
class VmRequest:
    image: str
    # The process, resolved against the image's config as a container's is
    # (runtime/image/config.py).
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
    # An isobench network (e.g. "bridge") to join with a tap device and virtio-net, as a
    # container joins it with a veth; the guest gets an address on its subnet. Exclusive
    # with `forwards` (slirp).
    network: str | None = None
    # virtio-balloon's free page reporting: the guest hands the pages it frees back to the host
    free_page_reporting: bool = False
    sample_interval: float | None = None  # sample stats during the run
    cmdline_extra: str = ""
    # guest.BOOT_MODES: "fast" (extracted vmlinux + isobench initrd), "initrd" (bzImage +
    # isobench initrd), "debian" (bzImage + Debian initrd: the path before issue 16)
    boot: str = "fast"
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
    # Run the command this many times in one boot (after each other, each between two marks
    # read on the host: VmResult.reps); `on_mark` adds the caller's own reading at each mark
    # (the bench harness: the host's CPU times, for the contention guard).
    repeat: int = 1
    on_mark: Callable[[], dict[str, Any]] | None = None
    # A command the guest runs once before the first repetition's mark (protocol.GuestSpec
    # .prepare): the scratch disk's mkfs, outside every window.
    prepare: list[str] | None = None


def cpu_limits(req: VmRequest) -> Limits | None:
    """The CFS cap for QEMU's cgroup, or None; a bad value is refused like --cpus."""
    if req.cpu_quota_us is None:
        return None
    if req.cpu_quota_us < MIN_CPU_QUOTA_US or req.cpu_period_us < MIN_CPU_QUOTA_US:
        raise InvalidArgument(f"cpu quota {req.cpu_quota_us} us per {req.cpu_period_us} us: "
                              f"both must be at least {MIN_CPU_QUOTA_US} us")
    return Limits(cpu_quota_us=req.cpu_quota_us, cpu_period_us=req.cpu_period_us)


@dataclass
class Plan:
    """Everything decided before a resource exists; `disk` is set by prepare()."""

    req: VmRequest
    name: str            # the libvirt domain's: DOMAIN_PREFIX + the run id
    run_id: str
    image: Image
    user: str            # resolved against the guest disk's /etc/passwd once it exists
    kernel: guest.Kernel
    decision: accel.Decision
    spec: GuestSpec
    disk: guest.GuestDisk | None = None
