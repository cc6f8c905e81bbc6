"""Which cgroup QEMU runs in, and where its accounting is read.

Under TCG (these machines) the driver moves QEMU into a cgroup of ours, beside the
containers': one CFS quota caps every QEMU thread, and the collectors read it as a
container's. Under KVM, QEMU stays where libvirt put it: libvirt keeps per-vCPU sub-cgroups
(libvirt/vcpuN, libvirt/emulator) and machined-managed hosts complain on destroy when QEMU
left its scope. The collectors then read libvirt's domain cgroup, whose counters take in the
emulator and every vCPU thread below it.

ISOBENCH_VM_QEMU_CGROUP=libvirt|isobench overrides the choice (auto: by the accelerator).
"""

from __future__ import annotations

import os

from runtime.cgroups import Cgroup, CgroupError, open_cgroup
from runtime.errors import InvalidArgument

PLACEMENTS = ("libvirt", "isobench")
# libvirt's own levels under a domain's cgroup, innermost first (v2: <scope>/libvirt/emulator;
# v1: <machine>/qemu-N-name.libvirt-qemu/emulator).
LIBVIRT_LEAVES = ("emulator", "libvirt")


def placement(accel: str, configured: str | None = None) -> str:
    text = os.environ.get("ISOBENCH_VM_QEMU_CGROUP", "") if configured is None else configured
    if text:
        if text not in PLACEMENTS:
            raise InvalidArgument(f"invalid ISOBENCH_VM_QEMU_CGROUP {text!r}: libvirt or "
                                  "isobench")
        return text
    return "libvirt" if accel == "kvm" else "isobench"


def domain_cgroup_name(proc_cgroup: str) -> str:
    """/proc/<qemu>/cgroup -> the domain's cgroup, relative to the hierarchy root: the
    unified line where there is one with a path, else the memory hierarchy's; libvirt's
    emulator (and, on v2, its libvirt/) levels stripped so the vCPU threads are below it."""
    unified = memory = None
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            unified = path
        elif "memory" in controllers.split(","):
            memory = path
    path = memory if memory not in (None, "/") else unified
    if path in (None, "", "/"):
        raise CgroupError(f"QEMU is in no cgroup of libvirt's ({proc_cgroup.strip()!r})")
    parts = path.strip("/").split("/")
    for leaf in LIBVIRT_LEAVES:
        if len(parts) > 1 and parts[-1] == leaf:
            parts.pop()
    return "/".join(parts)


def libvirt_cgroup(pid: int, proc: str = "/proc") -> Cgroup:
    """The cgroup libvirt gave domain process `pid`."""
    try:
        with open(os.path.join(proc, str(pid), "cgroup")) as f:
            text = f.read()
    except OSError as e:
        raise CgroupError(f"cannot read QEMU's cgroup (pid {pid}): {e.strerror}") from None
    return open_cgroup(domain_cgroup_name(text))
