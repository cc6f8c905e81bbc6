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

from bench.targets.base import LAYER_SCRATCH, Job, is_vm
from bench.targets.vm import GUEST_MEMORY_BYTES, MKFS_OPTIONS
from runtime.limits import Limits

MIB = 1 << 20
TOOLS = {
    "native": "the image's, chrooted into its layers merged read-only (overlayfs; no "
              "namespaces)",
    "container": "the image's",
    "runc": "the image's (the same layers as a bundle)",
    "crun": "the image's (the same layers as a bundle)",
    "vm": "the image's, in the guest",
    "microvm": "the image's, in the guest",
}
NETWORK = {
    "native": "the host's own (no namespace)",
    "container": "none: a network namespace of its own, loopback only",
    "runc": "none: a network namespace of its own, loopback only",
    "crun": "none: a network namespace of its own, loopback only",
    "vm": "none: the guest has no network device, loopback only",
    "microvm": "none: no NIC (virtio-mmio disks and two ISA serial ports only)",
}
TIMER = {
    "native": "fork of a shell that joins the cgroup and execs chroot into the image → its "
              "exit; the overlay mount and unmount outside",
    "container": "isobench start (namespaces, mounts, cgroup) → the container's exit",
    "runc": "`runc run` (namespaces, cgroup) → exit; the overlay mount and teardown outside",
    "crun": "`crun run` (namespaces, cgroup) → exit; the overlay mount and teardown outside",
    "vm": "define and boot the domain → poweroff: boot and shutdown included",
    "microvm": "start QEMU (microvm machine, no libvirt) and boot → poweroff: boot and "
               "shutdown included",
}


def describe(target: str, job: Job, root: Path | None,
             reps_per_boot: int | None = None) -> dict[str, Any]:
    """The setup block of one run of `job` on `target` under the state root `root` (None: a
    harness without a runtime, as in unit tests of the harness: no disk line);
    `reps_per_boot`: how many repetitions shared the VM's boot (None or 1: its own)."""
    timer = TIMER.get(target, "?")
    if is_vm(target) and reps_per_boot and reps_per_boot > 1:
        timer = (f"the guest's start and end marks around this repetition, one of "
                 f"{reps_per_boot} in one boot after a warm-up: boot and poweroff outside")
    block: dict[str, Any] = {"tools": TOOLS.get(target, "?"),
                             "network": NETWORK.get(target, "?"), "timer": timer,
                             "limits": limits_text(target, job)}
    if job.wants_scratch and root is not None:
        block["disk"] = disk_text(target, root, job.scratch)
        if is_vm(target) and reps_per_boot and reps_per_boot > 1:
            block["disk"] = block["disk"].replace(
                "ext4 made in the guest before the first mark",
                "ext4 made once per boot before the first mark, emptied before each "
                "repetition")
    return block


def block(target: str, *, timer: str | None = None, network: str | None = None,
          limits: str = "none") -> dict[str, Any]:
    """The setup block of a run a workload times itself (startup's API and CLI paths, net's
    placements): the target's defaults with what that workload did differently."""
    return {"tools": TOOLS.get(target, "?"), "network": network or NETWORK.get(target, "?"),
            "timer": timer or TIMER.get(target, "?"), "limits": limits}


def disk_text(target: str, root: Path, scratch: str = "volume") -> str:
    """Where a scratch job's files lay on `target`: `scratch` is Job.scratch ("layer": the
    target's own root, read in bench.targets.base.LAYER_SCRATCH)."""
    layer = scratch == "layer"
    where = {"native": root / "scratch",
             "container": root / ("containers" if layer else "volumes"),
             "runc": root / "runc", "crun": root / "crun", "vm": root / "vm",
             "microvm": root / "vm"}.get(target, root)
    fs = fs_type(where)
    if target == "native":
        return f"a host directory ({fs}) bound on /tmp in the chroot" + (
            "; native has no container layer: the host filesystem is its equivalent"
            if layer else "")
    if layer and target in ("container", "runc", "crun"):
        return (f"overlay upper ({fs}): {LAYER_SCRATCH} inside the container's root, an "
                "overlayfs over the image's layers; no volume")
    if target == "container":
        return f"a volume: a host directory bind-mounted ({fs}); not the overlay layer"
    if target in ("runc", "crun"):
        return f"a host directory bind-mounted ({fs})"
    if is_vm(target):
        bus = "virtio-blk on virtio-mmio" if target == "microvm" else "virtio-blk"
        return (f"{bus}, a sparse raw file on the host ({fs}), cache=none io=native; "
                f"ext4 made in the guest before the first mark ({MKFS_OPTIONS}: inode tables "
                "and journal zeroed then, not behind the command)")
    return fs


def limits_text(target: str, job: Job) -> str:
    parts = _limit_parts(job.limits)
    if is_vm(target):
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


def image_tool(layers: list[str], path_env: str, name: str) -> dict[str, Any]:
    """The tool `name` as every image-based target sees it: where the image's PATH finds it
    in `layers` (overlay order, topmost first) and the version of the Debian package that
    ships it, from the image's own dpkg database. Every target runs these very files (native
    chrooted into the layers, the containers over them, the VM from a disk made of them)."""
    found = {"name": name, "path": None, "version": None}
    for d in path_env.split(":"):
        candidate = f"{d.rstrip('/')}/{name}"
        if any(os.path.lexists(f"{layer}{candidate}") for layer in layers):
            found["path"] = candidate
            break
    if found["path"] is None:
        return found
    dpkgs = [Path(layer) / "var/lib/dpkg" for layer in layers]
    status = next((d / "status" for d in dpkgs if (d / "status").is_file()), None)
    if status is not None:
        found["version"] = _package_version(dpkgs, status, found["path"])
    return found


def _package_version(dpkgs: list[Path], status: Path, path: str) -> str | None:
    """'<package> <version>' of the package whose file list (in any layer's dpkg database)
    holds `path` or its /usr twin (Debian's merged /usr lists /usr/bin/x where PATH finds
    /bin/x), from the topmost `status`; None when no package ships it."""
    wanted = {path, "/usr" + path, path.removeprefix("/usr")}
    owner = None
    for listing in (p for d in dpkgs for p in sorted((d / "info").glob("*.list"))):
        with open(listing, errors="replace") as f:
            if any(line.rstrip("\n") in wanted for line in f):
                owner = listing.stem.split(":")[0]
                break
    if owner is None:
        return None
    for stanza in status.read_text(errors="replace").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines()
                      if ": " in line and not line.startswith(" "))
        if fields.get("Package") == owner and "Version" in fields:
            return f"{owner} {fields['Version']}"
    return None
