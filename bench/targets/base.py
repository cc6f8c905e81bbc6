"""What every target shares: the job it is given, the outcome it returns, its interface.

A command that mentions {scratch} gets a scratch area there: a host directory natively, a
volume on the host disk in a container and under runc, a virtio disk in the VM.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from runtime.api import Runtime
from runtime.limits import Limits

SCRATCH = "/scratch"
TIMEOUT_EXIT = 124


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


class Target(ABC):
    name = ""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def unavailable(self) -> str | None:
        """None when this host can run the target, else why not."""
        return None

    @abstractmethod
    def run(self, job: Job) -> Outcome: ...

    def _cgroup_name(self, kind: str) -> str:
        # Under the runtime's parent (ISOBENCH_CGROUP_PARENT): one place to find them all.
        return f"{self.rt.cgroup_parent}/{kind}-{secrets.token_hex(6)}"
