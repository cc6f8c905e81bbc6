"""What each target's run really had, written next to every figure: the tools it ran, where
its scratch disk lived, its network, what its wall-clock timer covers, the limits applied.

The targets differ by design (that is what is measured) but also by setup, and a ratio is
only read right when both are known: native's disk is a host directory while the VM's is a
virtio disk on a sparse file; native runs the host's sysbench, the others the image's. The
descriptions follow the target code (bench/targets/*); tests/unit/test_bench_setup.py checks
each against a real job."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.targets.base import Job
from bench.targets.vm import GUEST_MEMORY_BYTES
from runtime.limits import Limits

MIB = 1 << 20
TOOLS = {
    "native": "the host's (PATH)",
    "container": "the image's",
    "runc": "the image's (the same layers as a bundle)",
    "crun": "the image's (the same layers as a bundle)",
    "vm": "the image's, in the guest",
}
NETWORK = {
    "native": "the host's own (no namespace)",
    "container": "none: a network namespace of its own, loopback only",
    "runc": "none: a network namespace of its own, loopback only",
    "crun": "none: a network namespace of its own, loopback only",
    "vm": "none: the guest has no network device, loopback only",
}
TIMER = {
    "native": "fork of a shell that joins the cgroup and execs the command → its exit",
    "container": "isobench start (namespaces, mounts, cgroup) → the container's exit",
    "runc": "`runc run` (namespaces, cgroup) → exit; the overlay mount and teardown outside",
    "crun": "`crun run` (namespaces, cgroup) → exit; the overlay mount and teardown outside",
    "vm": "define and boot the domain → poweroff: boot and shutdown included",
}


def describe(target: str, job: Job, root: Path | None,
             reps_per_boot: int | None = None) -> dict[str, Any]:
    """The setup block of one run of `job` on `target` under the state root `root` (None: a
    harness without a runtime, as in unit tests of the harness: no disk line);
    `reps_per_boot`: how many repetitions shared the VM's boot (None or 1: its own)."""
    timer = TIMER.get(target, "?")
    if target == "vm" and reps_per_boot and reps_per_boot > 1:
        timer = (f"the guest's start and end marks around this repetition, one of "
                 f"{reps_per_boot} in one boot after a warm-up: boot and poweroff outside")
    block: dict[str, Any] = {"tools": TOOLS.get(target, "?"),
                             "network": NETWORK.get(target, "?"), "timer": timer,
                             "limits": limits_text(target, job)}
    if job.wants_scratch and root is not None:
        block["disk"] = disk_text(target, root)
        if target == "vm" and reps_per_boot and reps_per_boot > 1:
            block["disk"] = block["disk"].replace(
                "ext4 made in the guest just before the command",
                "ext4 made once per boot, emptied before each repetition")
    return block


def block(target: str, *, timer: str | None = None, network: str | None = None,
          limits: str = "none") -> dict[str, Any]:
    """The setup block of a run a workload times itself (startup's API and CLI paths, net's
    placements): the target's defaults with what that workload did differently."""
    return {"tools": TOOLS.get(target, "?"), "network": network or NETWORK.get(target, "?"),
            "timer": timer or TIMER.get(target, "?"), "limits": limits}


def disk_text(target: str, root: Path) -> str:
    where = {"native": root / "scratch", "container": root / "volumes",
             "runc": root / "runc", "crun": root / "crun", "vm": root / "vm"}.get(target, root)
    fs = fs_type(where)
    if target == "native":
        return f"a host directory ({fs})"
    if target == "container":
        return f"a volume: a host directory bind-mounted ({fs}); not the overlay layer"
    if target in ("runc", "crun"):
        return f"a host directory bind-mounted ({fs})"
    if target == "vm":
        return (f"virtio-blk, a sparse raw file on the host ({fs}), cache=none io=native; "
                "ext4 made in the guest just before the command")
    return fs


def limits_text(target: str, job: Job) -> str:
    parts = _limit_parts(job.limits)
    if target == "vm":
        # as VmTarget.run sizes the guest: a memory limit becomes the guest's RAM, and a CPU
        # cap is set on QEMU's cgroup once the guest is up
        memory = job.memory_bytes or (job.limits.memory_bytes if job.limits else None) \
            or GUEST_MEMORY_BYTES
        guest = f"{job.vcpus or os.cpu_count() or 1} vCPU, {memory // MIB} MiB guest RAM"
        return ", ".join([guest, *(p for p in parts if not p.startswith("memory"))])
    return ", ".join(parts) or "none"


def _limit_parts(limits: Limits | None) -> list[str]:
    if limits is None:
        return []
    parts = []
    if limits.cpu_quota_us:
        parts.append(f"cpus {limits.cpu_quota_us / limits.cpu_period_us:g}")
    if limits.cpu_shares:
        parts.append(f"cpu-shares {limits.cpu_shares}")
    if limits.memory_bytes:
        parts.append(f"memory {limits.memory_bytes // MIB} MiB")
    if limits.pids_max:
        parts.append(f"pids {limits.pids_max}")
    for what, rates in (("read", limits.device_read_bps), ("write", limits.device_write_bps)):
        parts += [f"device-{what}-bps {r.path}:{r.bytes_per_sec}" for r in rates]
    return parts


def fs_type(path: Path) -> str:
    """The filesystem type of the mount holding `path` (its nearest existing ancestor)."""
    path = Path(os.path.abspath(path))
    best, fstype = "", "?"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mount_point = fields[4].replace("\\040", " ")
            inside = str(path) == mount_point or str(path).startswith(
                mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best):
                best, fstype = mount_point, fields[fields.index("-") + 1]
    return fstype
