"""The orchestration workloads: they drive the targets themselves (bench/scenarios.py) and
have no command of their own to declare; their parsers, where a tool's output is read, are
in bench/parsers.py (parse_iperf3, parse_qperf_latency, parse_stress_ng_metrics)."""

from __future__ import annotations

from bench.model import Workload

NET = Workload(
    name="net",
    image="bench",
    description="iperf3 TCP throughput (Gbit/s received, retransmits; parse_iperf3) and qperf "
                "tcp_lat request/response latency (µs; parse_qperf_latency) between a host "
                "client and a server in the target, over loopback or isobench's bridge only; "
                "containers both on the bridge network and with --network host.",
)

STARTUP = Workload(
    name="startup",
    image="bench",
    description="launch-to-exit of /bin/true and launch-to-first-output: containers through "
                "the runtime's Python API and through the CLI, runc with `runc run`, VMs "
                "through libvirt.",
)

FOOTPRINT = Workload(
    name="footprint",
    image="bench",
    description="host-side memory charged for one idle instance (its cgroup's memory; for a "
                "VM also QEMU's RSS and PSS) against the memory it was given, sampled over "
                "time.",
)

DENSITY = Workload(
    name="density",
    image="bench",
    description="idle instances started one by one up to the profile's budget: the start "
                "time and memory of each.",
)

LIMITS = Workload(
    name="limits",
    image="bench",
    description="--cpus 0.5 and --memory 64m: the CPU share a busy process gets (host "
                "cgroup accounting; stress-ng's own view via parse_stress_ng_metrics) and "
                "what overrunning the memory does (OOM kill, or the guest's own OOM killer "
                "in a VM given the same size).",
)

EVIDENCE = Workload(
    name="evidence",
    image="bench",
    description="the lecture's claims checked directly: the kernel release inside each target "
                "against the host's; namespaces seen from inside and outside a container and "
                "what chroot alone leaves visible; a Dockerfile traced to an image (layers, "
                "digests, cache hits, cold and cached build times) and to a container (pid, "
                "namespaces, cgroup); data in a volume outliving its container.",
)

WORKLOADS = (NET, STARTUP, FOOTPRINT, DENSITY, LIMITS, EVIDENCE)
