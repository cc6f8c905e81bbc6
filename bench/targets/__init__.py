"""Targets: where a workload's command runs, each accounted by a cgroup the same way.

    native     a host process in a fresh cgroup of its own (the baseline), chrooted into the
               image's layers merged read-only: its tools, no namespaces
    container  isobench's own runtime, the workload's image, --network none
    runc       the same image flattened into an OCI bundle, run by `runc run`
    crun       the same bundle run by `crun run`, where crun can run (listed either way)
    microvm    the same image and guest on QEMU's microvm machine, started without libvirt
    vm         the same image booted by libvirt/QEMU (KVM when proven to work, else TCG)

Each is a plug-in (bench/targets/<name>.py) behind one interface (base.Target); this
module is the registry.
"""

from __future__ import annotations

from bench.targets.base import SCRATCH, Job, Outcome, Target
from bench.targets.container import ContainerTarget
from bench.targets.native import NativeTarget
from bench.targets.oci import CrunTarget, RuncTarget
from bench.targets.vm import MicrovmTarget, VmTarget
from runtime.api import Runtime

TARGETS: tuple[type[Target], ...] = (NativeTarget, ContainerTarget, RuncTarget, CrunTarget,
                                     MicrovmTarget, VmTarget)


def all_targets(rt: Runtime) -> dict[str, Target]:
    """Every target, by name, in the order they are listed and reported."""
    return {t.name: t for t in (cls(rt) for cls in TARGETS)}


__all__ = ["SCRATCH", "TARGETS", "ContainerTarget", "CrunTarget", "Job", "NativeTarget",
           "MicrovmTarget", "Outcome", "RuncTarget", "Target", "VmTarget", "all_targets"]
