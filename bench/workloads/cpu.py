"""cpu: sysbench's prime search, one thread and every thread (events/s, ms per event)."""

from __future__ import annotations

from bench.model import FixedWork, Variant, Workload
from bench.parsers import parse_sysbench_cpu
from results.metrics import named

METRICS = named("events_per_s", "latency_avg_ms", "events_per_cpu_s")


def _sysbench_cpu(threads: str, *until: str) -> tuple[str, ...]:
    return ("sysbench", "cpu", "--cpu-max-prime=10000", f"--threads={threads}",
            *(until or ("--time={seconds}",)), "run")


def _fixed(threads: str, events: int) -> FixedWork:
    # --time=0 lifts sysbench's default 10 s cap, so only the event count ends the run.
    # Sized for 0.5-1 s natively on the 2-core reference host (1800-3000 events/s per
    # thread, as its neighbours allow): well above pytest-benchmark's 10 % of start-up noise.
    return FixedWork(_sysbench_cpu(threads, "--time=0", "--events={work}"), events, "events")


WORKLOAD = Workload(
    name="cpu",
    image="bench",
    variants=(
        Variant("cpu.single", _sysbench_cpu("1"), parse_sysbench_cpu, METRICS,
                cpu_threads="1", work_per_cpu=True, fixed=_fixed("1", 2000)),
        Variant("cpu.all", _sysbench_cpu("{threads}"), parse_sysbench_cpu, METRICS,
                cpu_threads="{threads}", work_per_cpu=True, fixed=_fixed("{threads}", 3000)),
    ),
    description="sysbench cpu (primes up to 10000 per event) for the profile's duration, "
                "on one thread and on every CPU: pure user-space computation, so a container "
                "should match native and a VM shows the cost of its CPU virtualization (KVM "
                "or TCG).",
)
