"""The benchmark's vocabulary: metrics, workloads, the session they run in, and what one run
of one produces.

A workload is declared once (image, variants, metrics) and runs unchanged on every target
(native, container, runc, crun, vm). Its variants that are a command and a parser (cpu,
memory, disk) are scheduled and run by the harness, interleaved with every other
workload's; everything else a workload measures (net, startup, footprint, density, limits,
evidence) its own `run` drives through the same Target interface. It reaches the harness
only through a `Session`, so no workload imports the harness and the harness names no
workload.

Light on purpose (the targets, the runtime and the profiles are only named for the type
checker): every `isobench` command that reads a results file imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from results.metrics import Metric

if TYPE_CHECKING:
    from bench.profiles import Profile
    from bench.progress import Unit
    from bench.targets import Job, Target
    from runtime.api import Runtime

RunKey = tuple[str, str, str, int]      # (workload, variant, target, repetition)
Parser = Callable[[str], dict[str, float]]


class ParseError(ValueError):
    """A tool's output did not contain what its parser needs; the run is marked failed."""


@dataclass(frozen=True)
class FixedWork:
    """A variant's command doing a fixed amount of work instead of running for a fixed time,
    for pytest-benchmark (bench/test_workloads.py): there the time taken is the metric, so a
    slower runtime or host shows as a longer run (a timed run always takes its seconds)."""

    command: tuple[str, ...]                    # argv; "{work}" as well as the timed one's
    work: int                                   # the default amount, in `unit`
    unit: str                                   # "events", "MiB"

    def argv(self, work: int, **values: Any) -> list[str]:
        return [part.format(work=work, **values) for part in self.command]


@dataclass(frozen=True)
class Variant:
    """One measurement of a workload, e.g. cpu.single, disk.randread or startup.cli.

    A variant with a command is scheduled and run by the harness; one without is measured
    by its workload's own `run` and is declared here for its metrics."""

    name: str                                   # "cpu.single"
    command: tuple[str, ...] = ()               # argv; "{threads}", "{seconds}", "{scratch}"
    parse: Parser | None = None                 # stdout -> metric name -> value
    metrics: tuple[Metric, ...] = ()            # results.metrics.named(...)
    needs_scratch: bool = False                 # a scratch area at "{scratch}" (disk)
    # where that scratch area is: "volume" (a volume, a bind, a host directory: beside the
    # root) or "layer" (inside the target's own root: a container's overlay upper)
    scratch: str = "volume"
    # CPU-bound: how many threads it keeps busy ("1", "{threads}"), so the contention guard
    # knows what it asked for; None for a run that waits (disk) rather than computes.
    cpu_threads: str | None = None
    # events_per_cpu_s beside its events_per_s: work per CPU-second received (sysbench cpu)
    work_per_cpu: bool = False
    # the same command with a fixed amount of work (pytest-benchmark), where one is cheap
    fixed: FixedWork | None = None

    @property
    def scheduled(self) -> bool:
        return bool(self.command)

    def argv(self, **values: Any) -> list[str]:
        return [part.format(**values) for part in self.command]


@dataclass
class RunRecord:
    """One repetition of one variant on one target, as stored in the results file."""

    workload: str
    variant: str
    target: str
    repetition: int
    ok: bool
    metrics: dict[str, float | None] = field(default_factory=dict)  # None: not read
    wall_s: float = 0.0
    exit_code: int | None = None
    error: str = ""
    output: str = ""                            # kept when the run failed
    accounting: dict[str, Any] = field(default_factory=dict)   # cgroup start/end/samples
    extra: dict[str, Any] = field(default_factory=dict)        # libvirt stats, ...
    started_at: float = 0.0
    contended: bool = False                     # the contention guard's verdict (bench/contention)
    contention: dict[str, Any] | None = None    # what it read: CPU asked/received, others, steal
    # a VM's: how many recorded repetitions shared its boot (1: a boot of its own); None
    # where nothing boots
    reps_per_boot: int | None = None


class Session(Protocol):
    """What a workload may ask of the harness running it (bench/harness.py)."""

    rt: Runtime
    profile: Profile
    targets: Mapping[str, Target]       # the available ones, in the order they are listed
    done: Set[RunKey]                   # recorded already (--resume skips them)
    progress: Callable[[str], None]     # one line for the user

    def plan(self, variants: Sequence[str], repetitions: int,
             targets: Sequence[str] | None = None) -> list[tuple[str, str, int]]:
        """(variant, target, repetition) steps, interleaved with the session's seed."""
        ...

    def run_job(self, workload: str, variant: str, target: str, rep: int, job: Job,
                parse: Parser | None, quiet: bool = False, threads: int | None = None
                ) -> RunRecord:
        """One job on one target, accounted and read by the contention guard; failures
        come back as a failed record."""
        ...

    def record(self, rec: RunRecord) -> None:
        """Into the results document, written at once."""
        ...


def image_tag(image: str) -> str:
    """The tag a workload's image (a directory under bench/images/) is built as."""
    return f"isobench-{image}"


@dataclass(frozen=True)
class Workload:
    name: str                                   # "cpu"
    image: str                                  # a directory under bench/images/
    variants: tuple[Variant, ...] = ()
    description: str = ""

    def scheduled_variants(self) -> list[Variant]:
        """The variants the harness schedules (interleaved with every workload's)."""
        return [v for v in self.variants if v.scheduled]

    def units(self, session: Session) -> list[Unit] | None:
        """The runs this workload makes beyond its scheduled variants, in order and without
        what --resume finds done: counted up front for the session's progress, each then
        made by `run_unit`. None: a workload that runs itself in `run`, uncounted."""
        return None

    def skips(self, targets: Sequence[str]) -> list[tuple[str, str, str]]:
        """(variant, target, reason) for each of its variants a target in `targets` does not
        run in the setup the variant names: listed in the results as skipped, with why."""
        return []

    def run_unit(self, session: Session, unit: Unit) -> None:
        """One of `units`: run, and recorded through `session.record`."""
        raise NotImplementedError(f"{self.name} lists units but does not run them")

    def run(self, session: Session) -> None:
        """What a workload that lists no units measures beyond its scheduled variants:
        nothing for a command workload."""
