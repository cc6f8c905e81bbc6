"""Every metric any workload produces, in one table: unit, direction, regression threshold.

Every workload in bench/workloads/ declares its variants' metrics by name from here
(named()); a document's `workloads` block holds those with a direction. A document written
before the orchestration workloads declared theirs (net, startup, footprint, density,
limits, evidence) has none for them, and metrics with no direction are never declared, so
readers fall back to this table (unit_and_direction). The table also holds what the parsers
return that no run records (iperf3's gbit_s, stress-ng's bogo_ops, ...), so a workload that
starts recording one needs no new entry.

`better` is None for a metric that is an outcome or a setting rather than a cost (how many
instances ran, the memory given, an exit code): such a metric is reported, never judged.
tests/unit/test_results_metrics.py checks that every metric name the parsers and the
orchestration code write is here, and that every metric a workload declares is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Better = Literal["higher", "lower"]

DEFAULT_THRESHOLD = 0.05    # a relative change beyond 5 % counts (pytest-benchmark's habit)
DEFAULT_CV_LIMIT = 0.10     # a cell spread wider than this carries no ratio (results.stats)


@dataclass(frozen=True)
class Metric:
    name: str                   # e.g. "events_per_s"
    unit: str                   # e.g. "events/s"; "" for a count or a flag
    better: Better | None       # which direction is an improvement; None: not judged
    description: str
    threshold: float = DEFAULT_THRESHOLD   # the change compare calls a regression (beyond CI)
    cv_limit: float = DEFAULT_CV_LIMIT     # above it a cell is "noisy": no ratio, no verdict


# Thresholds and CV limits by group; why each, measured where the DESIGN's facts say so:
# - CPU and memory throughput (sysbench): 5 %. Long runs agree within 1 % across targets and
#   2 s runs vary +-4 %, so 5 % is a real change once the CI (n >= 5) clears it; CV limit
#   10 % (memory.random's bimodal 22 % is the case to catch).
_CPU = {"threshold": 0.05, "cv_limit": 0.10}
# - Disk (fio on a shared, cached file system) and network (veth, bridge, TAP; iperf3 and
#   qperf): 10 %, and 15 % spread before a cell is noisy: page cache and softirq placement
#   move single runs by several per cent. A tail latency (p99) is noisier still: 15 %/25 %.
_IO = {"threshold": 0.10, "cv_limit": 0.15}
_TAIL = {"threshold": 0.15, "cv_limit": 0.25}
# - Start-up and density start times (ms): 10 %. A start is a few ms to seconds of fork,
#   exec, mounts or a VM boot, right-skewed; 10 % is a user-visible change and the CV limit
#   20 % allows the skew.
_START = {"threshold": 0.10, "cv_limit": 0.20}
# - Memory footprint (MiB): 10 %. Idle memory is near-deterministic, but page cache and
#   allocator arenas move it by a few MiB on a base of tens.
_FOOTPRINT = {"threshold": 0.10, "cv_limit": 0.10}
# - Image build times (evidence) and counts that are often near zero (retransmits): wide,
#   a retransmit count doubling from 2 to 4 is noise.
_BUILD = {"threshold": 0.15, "cv_limit": 0.25}
_COUNT = {"threshold": 0.50, "cv_limit": 1.00}


_LOWER, _HIGHER = "lower", "higher"

TABLE: tuple[Metric, ...] = (
    # cpu, memory (sysbench)
    Metric("events_per_s", "events/s", _HIGHER, "sysbench cpu: prime searches per second", **_CPU),
    Metric("latency_avg_ms", "ms", _LOWER, "sysbench: mean time of one event", **_CPU),
    Metric("events_per_cpu_s", "events/CPU-s", _HIGHER,
           "sysbench cpu: events per CPU-second the run's cgroup received (work per CPU, "
           "whatever share of the machine it got); host-cgroup targets only", **_CPU),
    Metric("mib_per_s", "MiB/s", _HIGHER, "sysbench memory: throughput, all threads", **_CPU),
    Metric("access_ns", "ns", _LOWER, "sysbench memory rnd: time of one random access", **_CPU),
    # disk (fio)
    Metric("iops", "IO/s", _HIGHER, "fio random I/O: operations per second", **_IO),
    Metric("clat_mean_us", "us", _LOWER, "fio: mean completion latency of one I/O", **_IO),
    Metric("clat_p99_us", "us", _LOWER, "fio: 99th percentile completion latency", **_TAIL),
    Metric("mb_s", "MB/s", _HIGHER, "fio sequential I/O: 10^6 bytes per second", **_IO),
    # net (iperf3, qperf)
    Metric("iperf3_gbit_s", "Gbit/s", _HIGHER, "net: TCP throughput received, iperf3", **_IO),
    Metric("tcp_lat_us", "us", _LOWER, "net: one-way TCP latency, qperf tcp_lat", **_IO),
    Metric("gbit_s", "Gbit/s", _HIGHER, "iperf3 parser: TCP throughput received", **_IO),
    Metric("retransmits", "", _LOWER, "iperf3 parser: the sender's TCP retransmits", **_COUNT),
    Metric("latency_us", "us", _LOWER, "qperf parser: one-way latency", **_IO),
    # startup
    Metric("launch_to_exit_ms", "ms", _LOWER, "startup: launch of /bin/true to its exit", **_START),
    Metric("launch_to_first_output_ms", "ms", _LOWER,
           "startup: launch to the first byte of output on the host", **_START),
    Metric("boot_to_first_output_ms", "ms", _LOWER,
           "startup: a VM's launch to its command's first output", **_START),
    # footprint, density
    Metric("memory_mean_mib", "MiB", _LOWER, "footprint: mean host memory of an idle instance",
           **_FOOTPRINT),
    Metric("memory_max_mib", "MiB", _LOWER, "footprint: peak host memory of an idle instance",
           **_FOOTPRINT),
    Metric("qemu_rss_mib", "MiB", _LOWER, "footprint, density: QEMU's resident set", **_FOOTPRINT),
    Metric("qemu_pss_mib", "MiB", _LOWER, "footprint, density: QEMU's proportional set",
           **_FOOTPRINT),
    Metric("monitor_rss_mib", "MiB", _LOWER,
           "footprint, density: the container monitor's resident set (outside the cgroup)",
           **_FOOTPRINT),
    Metric("monitor_pss_mib", "MiB", _LOWER,
           "footprint, density: the container monitor's proportional set (outside the cgroup)",
           **_FOOTPRINT),
    Metric("allocated_mib", "MiB", None, "footprint, density: the memory a VM was given"),
    Metric("guest_ram_mib", "MiB", _LOWER,
           "footprint: resident size of QEMU's guest-RAM mapping (smaps), at the command's exit",
           **_FOOTPRINT),
    Metric("guest_ram_idle_mib", "MiB", _LOWER,
           "footprint.reclaim: guest-RAM resident size before the guest touches memory",
           **_FOOTPRINT),
    Metric("guest_ram_touched_mib", "MiB", _LOWER,
           "footprint.reclaim: guest-RAM resident size while the touched memory is held",
           **_FOOTPRINT),
    Metric("guest_ram_freed_mib", "MiB", _LOWER,
           "footprint.reclaim: guest-RAM resident size after the guest freed it and settled",
           **_FOOTPRINT),
    Metric("returned_fraction", "", _HIGHER,
           "footprint.reclaim: share of the touched-then-freed memory that left the host"),
    Metric("touched_mib", "MiB", None, "footprint.reclaim: the memory the guest touched"),
    Metric("instances", "", None, "density: idle instances started"),
    Metric("start_ms_mean", "ms", _LOWER, "density: mean start time of one instance", **_START),
    Metric("memory_per_instance_mib", "MiB", _LOWER,
           "density: host memory per idle instance", **_FOOTPRINT),
    # limits (and stress-ng's own report)
    Metric("cpu_share", "CPU", None, "limits: CPUs' worth used under --cpus 0.5"),
    Metric("exit_code", "", None, "limits: the memory hog's exit code"),
    Metric("given_mib", "MiB", None, "limits: the memory limit given"),
    Metric("peak_mib", "MiB", None, "limits: peak memory charged under the limit"),
    Metric("oom_kills", "", None, "limits: OOM kills the cgroup counted"),
    Metric("oom_restarts", "", None, "limits: stressors stress-ng saw killed by the OOM killer"),
    Metric("killed", "", None, "limits (sessions before oom_kills): the hog was killed"),
    Metric("bogo_ops", "", None, "stress-ng parser: work done (depends on the duration)"),
    Metric("bogo_ops_per_s", "ops/s", _HIGHER, "stress-ng parser: work per second of real time",
           **_CPU),
    Metric("real_time_s", "s", None, "stress-ng parser: wall time of the stressor"),
    Metric("usr_time_s", "s", None, "stress-ng parser: user CPU time the stressor saw"),
    Metric("sys_time_s", "s", None, "stress-ng parser: system CPU time the stressor saw"),
    Metric("premature", "", None, "stress-ng parser: 1 when a stressor finished prematurely"),
    Metric("successful", "", None, "stress-ng parser: 1 for a successful run"),
    # evidence
    Metric("same_as_host", "", None,
           "evidence: 1 when the kernel inside is the host's (the same boot_id)"),
    Metric("namespaces_differing", "", None,
           "evidence: a container's namespaces that differ from the host's"),
    Metric("cold_s", "s", _LOWER, "evidence: a Dockerfile built with every step executed",
           **_BUILD),
    Metric("cached_s", "s", _LOWER, "evidence: the same build again, every step cached", **_BUILD),
    Metric("cached_steps", "", None, "evidence: steps the second build took from the cache"),
    Metric("survived", "", None, "evidence: 1 when data in a volume outlived its container"),
    Metric("container_layer_survived", "", None,
           "evidence: 1 when data in the container's own layer did (it must not)"),
    Metric("reached_by_name", "", None,
           "evidence: 1 when a container fetched a page from another by its name"),
    Metric("published_port_answered", "", None,
           "evidence: 1 when the host fetched it from the published port on loopback"),
    Metric("down_removed_all", "", None,
           "evidence: 1 when `compose down` left none of the project's containers or networks"),
)

METRICS: dict[str, Metric] = {m.name: m for m in TABLE}


def get(name: str) -> Metric | None:
    return METRICS.get(name)


def named(*names: str) -> tuple[Metric, ...]:
    """The table's definitions, for a workload to declare its variants' metrics by name (so
    a unit or a direction is written once, here)."""
    missing = [n for n in names if n not in METRICS]
    if missing:
        raise KeyError(f"not in results.metrics (add them to TABLE): {', '.join(missing)}")
    return tuple(METRICS[n] for n in names)


def threshold(name: str) -> float:
    """The relative change that counts as a regression of `name` (5 % when unknown)."""
    metric = METRICS.get(name)
    return metric.threshold if metric is not None else DEFAULT_THRESHOLD


def cv_limit(name: str) -> float:
    """The CV above which a cell of `name` is noisy (10 % when unknown)."""
    metric = METRICS.get(name)
    return metric.cv_limit if metric is not None else DEFAULT_CV_LIMIT


def unit_and_direction(doc: Mapping[str, Any], workload: str, variant: str,
                       metric: str) -> tuple[str, str | None]:
    """(unit, better) of a metric: declared in the document, else this table, else
    ("", None)."""
    declared = (doc.get("workloads", {}).get(workload, {}).get("variants", {})
                .get(variant, {}).get("metrics", {}).get(metric))
    if isinstance(declared, dict):
        better = declared.get("better")
        return str(declared.get("unit", "")), better if better in ("higher", "lower") else None
    known = METRICS.get(metric)
    return (known.unit, known.better) if known is not None else ("", None)
