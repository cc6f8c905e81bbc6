"""What every target shares: the job it is given, the outcome it returns, its interface.

A command that mentions {scratch} gets a scratch area there: a host directory natively, a
volume on the host disk in a container and under runc, a virtio disk in the VM. A job whose
scratch is "layer" writes inside the target's own root instead (LAYER_SCRATCH, a directory
of the image that no volume covers): a container's overlay upper, runc's bundle overlay.
"""

from __future__ import annotations

import secrets
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from runtime.api import Runtime
from runtime.cgroups import CgroupError, open_cgroup
from runtime.limits import Limits

SCRATCH = "/scratch"
LAYER_SCRATCH = "/var/tmp"  # in every Debian image, and no runtime mounts over it
SCRATCH_KINDS = ("volume", "layer")
TIMEOUT_EXIT = 124
# The targets that boot a guest kernel: the libvirt VM and QEMU's microvm machine. They
# share the VM's sizing, its shared boots, and its accounting rules (QEMU's cgroup).
VM_TARGETS = ("microvm", "vm")


def is_vm(target: str) -> bool:
    return target in VM_TARGETS


@contextmanager
def reaped_on_error(proc: subprocess.Popen[Any]) -> Iterator[None]:
    """Kill and reap a target's process when anything (Ctrl-C above all) interrupts the wait
    for it, before the instance's teardown: a process still starting (a native shell joining
    its cgroup one hierarchy at a time, `runc run` still creating) would race that teardown
    and outlive it. CI's Ctrl-C test once left three of eight v1 dirs so."""
    try:
        yield
    except BaseException:
        proc.kill()
        proc.wait()
        raise


@dataclass
class Job:
    image: str
    argv: list[str]                 # may contain "{scratch}"
    limits: Limits | None = None
    timeout: float = 900.0
    sample_hz: float = 10.0
    memory_bytes: int | None = None  # for a VM: the guest's RAM (defaults to the driver's)
    vcpus: int | None = None
    # footprint: read the memory of the host process that answers for the instance (the
    # container's monitor; runc's own foreground process) once it idles
    process_memory: bool = False
    scratch: str = "volume"          # where {scratch} is: bench.model.Variant.scratch

    def __post_init__(self) -> None:
        if self.scratch not in SCRATCH_KINDS:
            raise ValueError(f"scratch {self.scratch!r}: one of {', '.join(SCRATCH_KINDS)}")

    @property
    def wants_scratch(self) -> bool:
        return any("{scratch}" in a for a in self.argv)

    def command(self, scratch: str) -> list[str]:
        return [a.replace("{scratch}", scratch) for a in self.argv]


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    wall_s: float
    accounting: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    reps_per_boot: int | None = None  # a VM's: how many recorded repetitions shared its boot
    started_at: float | None = None   # epoch seconds its window began (a shared boot's rep)


class Target(ABC):
    name = ""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def unavailable(self) -> str | None:
        """None when this host can run the target, else why not."""
        return None

    def cannot_run(self, scratch: str) -> str | None:
        """Why this target cannot run a job whose scratch area is `scratch` (Job.scratch) in
        the setup asked for, as one line; None when it can. The harness lists such a variant
        as skipped on this target with the reason, never runs it some other way."""
        return None

    # False: only where asked for by name (--targets), not in a session's default set
    default = True

    # True: run_batch() runs several repetitions in one instance (the VM: one boot), each
    # accounted on its own window; the harness then asks for a cell's repetitions at once.
    batches = False

    def cgroup_problem(self) -> str | None:
        """Why a cgroup of ours cannot be made here with the controllers the collectors and
        limits need (cgroup v2: a controller not delegated, a parent holding processes), as
        the one line the cgroup code says; None when a probe cgroup came up. Checked once per
        session, so a target that cannot account its runs is listed as skipped, not run."""
        cg = open_cgroup(self._cgroup_name("probe"))
        try:
            cg.create()
        except CgroupError as e:
            return str(e)
        finally:
            try:
                cg.destroy()
            except CgroupError:
                pass  # nothing was made, or gc takes it
        return None

    @abstractmethod
    def run(self, job: Job) -> Outcome: ...

    def run_batch(self, job: Job, count: int, warmup: int) -> list[Outcome]:
        """`count` repetitions of `job` in one instance, after `warmup` unrecorded ones, one
        Outcome each with its own window (only where `batches`)."""
        raise NotImplementedError(f"target {self.name} runs one instance per repetition")

    def _cgroup_name(self, kind: str) -> str:
        # Under the runtime's parent (ISOBENCH_CGROUP_PARENT): one place to find them all.
        return f"{self.rt.cgroup_parent}/{kind}-{secrets.token_hex(6)}"
