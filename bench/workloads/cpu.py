"""cpu: sysbench's prime search, one thread and every thread (events/s, ms per event)."""

from __future__ import annotations

from bench.model import Variant, Workload
from bench.parsers import parse_sysbench_cpu
from results.metrics import named

METRICS = named("events_per_s", "latency_avg_ms", "events_per_cpu_s")


def _sysbench_cpu(threads: str) -> tuple[str, ...]:
    return ("sysbench", "cpu", "--cpu-max-prime=10000", f"--threads={threads}",
            "--time={seconds}", "run")


WORKLOAD = Workload(
    name="cpu",
    image="bench",
    variants=(
        Variant("cpu.single", _sysbench_cpu("1"), parse_sysbench_cpu, METRICS,
                cpu_threads="1", work_per_cpu=True),
        Variant("cpu.all", _sysbench_cpu("{threads}"), parse_sysbench_cpu, METRICS,
                cpu_threads="{threads}", work_per_cpu=True),
    ),
    description="sysbench cpu (primes up to 10000 per event) for the profile's duration, "
                "on one thread and on every CPU: pure user-space computation, so a container "
                "should match native and a VM shows the cost of its CPU virtualization (KVM "
                "or TCG).",
)
