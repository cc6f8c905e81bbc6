"""The benchmark's vocabulary: metrics, workloads and what one run of one produces.

A workload is declared once (image, command, parser, metrics) and runs unchanged on every
target (native, container, runc, vm). Command workloads (cpu, memory, disk) are a command
and a parser; orchestration workloads (net, startup, footprint, density, limits) drive the
targets themselves through the same Target interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Metric:
    name: str            # e.g. "events_per_s"
    unit: str            # e.g. "events/s"
    better: Better       # which direction is an improvement


class ParseError(ValueError):
    """A tool's output did not contain what its parser needs; the run is marked failed."""


@dataclass(frozen=True)
class Variant:
    """One command of a workload, e.g. cpu.single or disk.randread."""

    name: str                                   # "cpu.single"
    command: tuple[str, ...]                    # argv; "{threads}", "{seconds}", "{scratch}"
    parse: Callable[[str], dict[str, float]]    # stdout -> metric name -> value
    metrics: tuple[Metric, ...]
    needs_scratch: bool = False                 # a scratch area at "{scratch}" (disk)

    def argv(self, **values: Any) -> list[str]:
        return [part.format(**values) for part in self.command]


@dataclass(frozen=True)
class Workload:
    name: str                                   # "cpu"
    image: str                                  # a directory under bench/images/
    variants: tuple[Variant, ...] = ()
    description: str = ""


@dataclass
class RunRecord:
    """One repetition of one variant on one target, as stored in the results file."""

    workload: str
    variant: str
    target: str
    repetition: int
    ok: bool
    metrics: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    exit_code: int | None = None
    error: str = ""
    output: str = ""                            # kept when the run failed
    accounting: dict[str, Any] = field(default_factory=dict)   # cgroup start/end/samples
    extra: dict[str, Any] = field(default_factory=dict)        # libvirt stats, psutil, ...
    started_at: float = 0.0
