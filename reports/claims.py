"""The lecture's claims, each given a verdict by a documented rule over the measurements.

One function per claim; each takes a results document and returns a `Verdict`:

    verdict     "supported", "refuted" or "inconclusive"
    numbers     the figures the rule used (plain numbers, strings, small dicts)
    figure      the id of the figure or table the report shows with it
    basis       (code, params): which branch of the rule decided, rendered as a sentence
    conditions  [(code, params)]: what qualifies the verdict, e.g. ("tcg", {}) when a VM
                figure comes from emulation, ("few_runs", {"n": 1}) for one repetition

No evidence at all is never a verdict either way: it is "inconclusive" with basis
"no_evidence". The rules, with their thresholds as constants of the module that holds each
family (reports/claims_isolation.py: 1, 2, 4, 11; claims_resources.py: 3, 5, 7;
claims_startup.py: 6; claims_images.py: 8, 9, 10; claims_network.py: 12, 13, 14; the
verdict record and FEW_RUNS in claims_verdict.py, the shared look-ups in
claims_common.py). This module is their entry point: every
public name is importable from here, and `evaluate` runs them all in the report's order:

 1. isolated_process (lecture: a container is an isolated and limited process; namespaces
    give it its own PID tree, network and mounts). Run evidence.namespaces on the
    container. Refuted if the container shares the host's pid, net or mnt namespace (same
    inode) or its PID inside equals its PID on the host. Supported if those three differ
    and its PID inside is at most PID_INSIDE_MAX (1: it is PID 1; 2: the runtime's init is
    PID 1 and the command is its first child) and it has a host PID and a cgroup of its
    own. Otherwise inconclusive.
 2. chroot_no_isolation (chroot only changes the root directory). evidence.namespaces'
    `chroot` block. Supported if a chroot'ed process sees both the host's PIDs and its
    network; refuted if it sees neither; inconclusive if one, or not measured.
 3. cgroups_limit (cgroups control how much CPU and memory processes get). limits runs on
    the targets in a host cgroup (native, container, runc). CPU: the measured share of a
    busy loop under --cpus 0.5 must be within CPU_TOLERANCE of 0.5; memory: a hog asking
    twice the 64 MiB limit must meet the OOM killer or stay under the limit (see
    data.memory_limit_outcome). Refuted if any target's share exceeds 0.5 + CPU_TOLERANCE
    or its memory limit demonstrably did not hold. Supported if the container (else runc)
    has both checks passing and nothing refutes. Otherwise inconclusive.
 4. shared_kernel (containers run on the host's kernel; a VM has its own). evidence.kernel
    on every target. Refuted if a container target's `uname -r` differs from the host's.
    Supported if every container target's equals it (a VM whose release differs completes
    the contrast; without a VM, or with an equal release, that is a condition).
 5. vm_holds_memory (a VM consumes all the memory given to it). footprint.idle on the VM:
    the resident size of QEMU's guest-RAM mapping while the guest is up and idle (samples
    after the guest reported ready; where a run has no such samples, its cgroup's memory or
    QEMU's whole RSS, which under TCG includes the translation cache: condition tcg_cache)
    against `extra.memory_bytes`; and footprint.reclaim(_fpr): the share of 192 MiB the guest
    touched and then freed that left the host, without and with free page reporting.
    Refuted if, with free page reporting, at least RETURN_FRACTION went back (the VM gives
    back what its guest no longer uses). Otherwise supported if the median idle sample is at
    least HOLD_FRACTION of the allocation (condition reclaim_not_measured without the
    reporting run); refuted if even the largest stays under LAZY_FRACTION (QEMU allocates
    guest RAM lazily: an idle guest holds what it touched); inconclusive in between or
    without samples. Less than KEEP_FRACTION returned without reporting is a condition
    (freed_kept): what the guest frees stays on the host unless it reports it.
 6. start_faster (containers start faster than VMs). startup.true medians of container
    (API path) and VM with bootstrap 95 % CIs, or their ranges where either has fewer than
    results.stats.MIN_CI_N runs. Supported if the container's interval lies wholly below the
    VM's; refuted if wholly above; inconclusive if they overlap or one is missing.
 7. weigh_less (containers are lighter: an idle container holds less host memory than an
    idle VM). footprint.idle medians of host memory (measured as in rule 5): supported if
    the VM holds at least WEIGHT_MARGIN times the container's; refuted if the container
    holds at least as much as the VM; inconclusive in between or when one is missing.
 8. build_trace (Dockerfile -> image -> container). evidence.build. Supported if the trace
    is complete: an image id, at least one layer digest, a container with a host PID,
    namespaces and a cgroup; refuted if that container shares the host's pid and mnt
    namespaces (not an isolated instance); inconclusive if incomplete.
 9. layer_cache (each Dockerfile line is a cached layer; caching speeds rebuilds).
    evidence.build. Supported if every step after FROM was a cache hit on the rebuild and
    the rebuild took at most CACHE_SPEEDUP_MAX of the cold build; refuted if no step hit
    the cache or the rebuild was no faster; otherwise inconclusive.
10. volumes_outlive (a container's data goes with it; a volume keeps it). evidence.volume.
    Supported if the volume's data survived the container and data written to the
    container's own layer did not; refuted if the volume's data was lost, or the
    container layer's data survived; inconclusive if not measured.
11. runc_bundle, 12. networks_join, 13. compose_app: see their docstrings.
14. network_cost (networks join containers, at a cost: Felter et al. 2015 measured host
    networking ahead of Docker's bridge, and a KVM guest's virtio tap behind both). The net
    workload's medians of iperf3 throughput and qperf tcp_lat for the container on the host's
    network (net.hostnet), on isobench's bridge (net.bridge), and the VM on the same bridge
    through a tap (net.bridge, placement vm-tap). Two comparisons, each "expected slower"
    path against the faster: container bridge vs host, VM tap vs container bridge. Per
    metric, the slower path counts as slower when its throughput is below 1 - NET_MARGIN of
    the other's or its latency above 1 + NET_MARGIN times; faster, the other way round;
    otherwise even. A comparison agrees when one metric says slower and none faster;
    contradicts when one says faster and none slower. Supported if both agree; refuted if
    either contradicts; inconclusive otherwise or with a placement missing. The VM behind
    slirp (net.usernet) and native loopback are shown beside them, not judged.

Measurements from a VM that ran under TCG carry the condition "tcg": they measure
emulation, not hardware virtualization.
"""

from __future__ import annotations

from collections.abc import Callable

from reports.claims_images import CACHE_SPEEDUP_MAX, build_trace, layer_cache, volumes_outlive
from reports.claims_isolation import (
    PID_INSIDE_MAX,
    RUNC_NAMESPACES,
    chroot_no_isolation,
    isolated_process,
    runc_bundle,
    shared_kernel,
)
from reports.claims_network import (
    NET_COMPARED,
    NET_MARGIN,
    NET_PATHS,
    compose_app,
    net_direction,
    network_cost,
    networks_join,
)
from reports.claims_resources import (
    CPU_TOLERANCE,
    HOLD_FRACTION,
    KEEP_FRACTION,
    LAZY_FRACTION,
    RETURN_FRACTION,
    WEIGHT_MARGIN,
    cgroups_limit,
    vm_holds_memory,
    weigh_less,
)
from reports.claims_startup import start_faster
from reports.claims_verdict import (
    FEW_RUNS,
    INCONCLUSIVE,
    REFUTED,
    SUPPORTED,
    VERDICTS,
    Doc,
    Note,
    Verdict,
)

CLAIMS: tuple[Callable[[Doc], Verdict], ...] = (
    isolated_process, chroot_no_isolation, cgroups_limit, shared_kernel, vm_holds_memory,
    start_faster, weigh_less, build_trace, layer_cache, volumes_outlive, runc_bundle,
    networks_join, compose_app, network_cost)


def evaluate(doc: Doc) -> list[Verdict]:
    """Every claim's verdict, in the report's order."""
    return [claim(doc) for claim in CLAIMS]


# The public names, wherever they are defined (the rules live in reports/claims_*.py).
__all__ = [
    "CACHE_SPEEDUP_MAX", "CLAIMS", "CPU_TOLERANCE", "FEW_RUNS", "HOLD_FRACTION", "INCONCLUSIVE",
    "KEEP_FRACTION", "LAZY_FRACTION", "NET_COMPARED", "NET_MARGIN", "NET_PATHS",
    "PID_INSIDE_MAX", "REFUTED", "RETURN_FRACTION", "RUNC_NAMESPACES", "SUPPORTED", "VERDICTS",
    "WEIGHT_MARGIN", "Doc", "Note", "Verdict", "build_trace", "cgroups_limit",
    "chroot_no_isolation", "compose_app", "evaluate", "isolated_process", "layer_cache",
    "net_direction", "network_cost", "networks_join", "runc_bundle", "shared_kernel",
    "start_faster", "vm_holds_memory", "volumes_outlive", "weigh_less"]
