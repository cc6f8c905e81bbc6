"""Every workload, declared once: the registry the harness and the command line use.

    from bench import workloads
    workloads.get("cpu").variants        # cpu.single, cpu.all
    workloads.variant("disk.randread")   # its command, parser and metrics

One module per workload, each a `Workload` (bench/model.py) that declares its variants and
their metrics. Command workloads (cpu, memory, disk) are variants of one command each, run
unchanged on every target from the one image bench/images/bench/ (isobench-bench), with
"{threads}", "{seconds}" and "{scratch}" filled in by the harness that schedules them. The
others (net, startup, footprint, density, limits, evidence) drive the targets themselves in
their own `run`.
"""

from __future__ import annotations

from bench.model import Variant, Workload
from bench.workloads import (
    cpu,
    density,
    disk,
    evidence,
    footprint,
    limits,
    memory,
    net,
    startup,
)

WORKLOADS: dict[str, Workload] = {
    w.WORKLOAD.name: w.WORKLOAD
    for w in (cpu, memory, disk, net, startup, footprint, density, limits, evidence)
}


def names() -> list[str]:
    """Workload names in the order they run and are reported."""
    return list(WORKLOADS)


def get(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise ValueError(f"unknown workload {name!r} (valid: {', '.join(WORKLOADS)})") from None


def command_workloads() -> list[Workload]:
    """The workloads that are a command and a parser (cpu, memory, disk)."""
    return [w for w in WORKLOADS.values() if w.scheduled_variants()]


def orchestration_workloads() -> list[Workload]:
    """The workloads that drive the targets themselves (net, startup, footprint, density,
    limits, evidence)."""
    return [w for w in WORKLOADS.values() if not w.scheduled_variants()]


def all_variants() -> list[Variant]:
    """Every command variant, workload by workload, in declaration order."""
    return [v for w in WORKLOADS.values() for v in w.scheduled_variants()]


def variant(name: str) -> Variant:
    """A command variant by name."""
    for v in all_variants():
        if v.name == name:
            return v
    valid = ", ".join(v.name for v in all_variants())
    raise ValueError(f"unknown variant {name!r} (valid: {valid})")


__all__ = ["WORKLOADS", "all_variants", "command_workloads", "get", "names",
           "orchestration_workloads", "variant"]
