"""The lecture's claims, each given a verdict by a documented rule over the measurements.

One function per claim; each takes a results document and returns a `Verdict`:

    verdict     "supported", "refuted" or "inconclusive"
    numbers     the figures the rule used (plain numbers, strings, small dicts)
    figure      the id of the figure or table the report shows with it
    basis       (code, params): which branch of the rule decided, rendered as a sentence
    conditions  [(code, params)]: what qualifies the verdict, e.g. ("tcg", {}) when a VM
                figure comes from emulation, ("few_runs", {"n": 1}) for one repetition

No evidence at all is never a verdict either way: it is "inconclusive" with basis
"no_evidence". The rules, with their thresholds as module constants:

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

import math
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reports import data
from reports.data import CONTAINER_TARGETS, CPU_LIMIT, HOST_CGROUP_TARGETS, MIB

SUPPORTED, REFUTED, INCONCLUSIVE = "supported", "refuted", "inconclusive"
VERDICTS = (SUPPORTED, REFUTED, INCONCLUSIVE)

PID_INSIDE_MAX = 2
CPU_TOLERANCE = 0.10          # absolute: 0.4 .. 0.6 of a CPU passes for --cpus 0.5
HOLD_FRACTION = 0.90
LAZY_FRACTION = 0.50
RETURN_FRACTION = 0.50        # freed guest memory that left the host, of what it had touched
KEEP_FRACTION = 0.10          # below this, what the guest freed stayed on the host
WEIGHT_MARGIN = 1.5
CACHE_SPEEDUP_MAX = 0.50      # cached rebuild time / cold build time
FEW_RUNS = 5
RUNC_NAMESPACES = ("pid", "net", "mnt", "uts")
NET_MARGIN = 0.05             # a path is slower when 5 % worse on throughput or latency

Doc = Mapping[str, Any]
Note = tuple[str, dict[str, Any]]


@dataclass
class Verdict:
    claim: str
    verdict: str
    numbers: dict[str, Any] = field(default_factory=dict)
    figure: str | None = None
    basis: Note = ("no_evidence", {})
    conditions: list[Note] = field(default_factory=list)
    lecture: tuple[int, ...] = ()

    @property
    def condition_codes(self) -> list[str]:
        return [code for code, _ in self.conditions]


def _one(doc: Doc, workload: str, variant: str, target: str) -> dict[str, Any] | None:
    found = data.runs(doc, workload, variant, target)
    return found[-1] if found else None


def _accel_conditions(doc: Doc) -> list[Note]:
    mode = data.accel_mode(doc)
    return [(mode, {})] if mode in ("tcg", "kvm") else []


def _no_evidence(claim: str, figure: str | None, lecture: tuple[int, ...],
                 what: str) -> Verdict:
    return Verdict(claim, INCONCLUSIVE, {}, figure, ("no_evidence", {"what": what}), [],
                   lecture)


# -- 1 ------------------------------------------------------------------------------------------

def isolated_process(doc: Doc) -> Verdict:
    """Rule 1 (module docstring): namespaces make a container an isolated process."""
    claim, figure, lecture = "isolated_process", "namespaces", (2, 4)
    run = _one(doc, "evidence", "evidence.namespaces", "container")
    if run is None:
        return _no_evidence(claim, figure, lecture, "evidence.namespaces")
    extra = run.get("extra") or {}
    inside = extra.get("ns_inodes_container") or {}
    host = extra.get("ns_inodes_host") or {}
    compared = sorted(set(inside) & set(host))
    differing = [n for n in compared if inside[n] != host[n]]
    shared = [n for n in ("pid", "net", "mnt") if n in compared and inside[n] == host[n]]
    pid_in, pid_host = extra.get("pid_in_container"), extra.get("pid_on_host")
    numbers = {"pid_in_container": pid_in, "pid_on_host": pid_host,
               "pid1_command": extra.get("pid1_command"),
               "hostname_differs": extra.get("hostname_differs"),
               "net_interfaces": extra.get("net_interfaces"),
               "namespaces_differing": differing, "namespaces_compared": compared,
               "cgroup": extra.get("cgroup")}
    conditions: list[Note] = []
    if pid_in == 2:
        conditions.append(("pid1_init", {"command": extra.get("pid1_command") or "?"}))
    if extra.get("hostname_differs") is False:
        conditions.append(("same_hostname", {}))
    if shared:
        return Verdict(claim, REFUTED, numbers, figure,
                       ("shares_namespaces", {"names": ", ".join(shared)}), conditions, lecture)
    if pid_in is not None and pid_in == pid_host:
        return Verdict(claim, REFUTED, numbers, figure, ("same_pid", {"pid": pid_in}),
                       conditions, lecture)
    missing = [n for n in ("pid", "net", "mnt") if n not in compared]
    if missing or not isinstance(pid_in, int):
        return Verdict(claim, INCONCLUSIVE, numbers, figure,
                       ("incomplete", {"what": ", ".join(missing) or "pid_in_container"}),
                       conditions, lecture)
    if pid_in > PID_INSIDE_MAX:
        return Verdict(claim, INCONCLUSIVE, numbers, figure,
                       ("pid_not_small", {"pid": pid_in}), conditions, lecture)
    if not pid_host or not extra.get("cgroup"):
        return Verdict(claim, INCONCLUSIVE, numbers, figure,
                       ("incomplete", {"what": "pid_on_host, cgroup"}), conditions, lecture)
    return Verdict(claim, SUPPORTED, numbers, figure,
                   ("isolated", {"pid": pid_in, "pid_host": pid_host,
                                 "n": len(differing), "of": len(compared)}),
                   conditions, lecture)


# -- 2 ------------------------------------------------------------------------------------------

def chroot_no_isolation(doc: Doc) -> Verdict:
    """Rule 2: a chroot'ed process still sees the host's processes and network."""
    claim, figure, lecture = "chroot_no_isolation", "chroot", (3,)
    run = _one(doc, "evidence", "evidence.namespaces", "container")
    view = ((run or {}).get("extra") or {}).get("chroot")
    if not isinstance(view, dict):
        return _no_evidence(claim, figure, lecture, "evidence.namespaces (chroot)")
    pids, net = view.get("sees_host_pids"), view.get("sees_host_net")
    numbers = {"sees_host_pids": pids, "sees_host_net": net,
               "host_interfaces": view.get("host_interfaces")}
    if pids is True and net is True:
        return Verdict(claim, SUPPORTED, numbers, figure, ("chroot_sees_host", {}), [], lecture)
    if pids is False and net is False:
        return Verdict(claim, REFUTED, numbers, figure, ("chroot_isolated", {}), [], lecture)
    return Verdict(claim, INCONCLUSIVE, numbers, figure, ("chroot_mixed", {}), [], lecture)


# -- 3 ------------------------------------------------------------------------------------------

def cgroups_limit(doc: Doc) -> Verdict:
    """Rule 3: cgroups hold a busy loop to its CPU quota and a hog to its memory limit."""
    claim, figure, lecture = "cgroups_limit", "limits", (5,)
    cpu: dict[str, Any] = {}
    memory: dict[str, Any] = {}
    conditions: list[Note] = []
    for target in data.present_targets(doc):
        run = _one(doc, "limits", "limits.cpu_half", target)
        if run is not None:
            share, derived = data.cpu_share(run)
            if share is not None:
                cpu[target] = share
                if derived:
                    conditions.append(("derived_cpu_share", {"target": target}))
        run = _one(doc, "limits", "limits.memory_64m", target)
        if run is not None:
            memory[target] = data.memory_limit_outcome(run)
    numbers = {"cpu_limit": CPU_LIMIT, "cpu_share": cpu, "memory": memory}
    if "vm" in memory:
        conditions.append(("vm_guest_kernel", {}))
        conditions += _accel_conditions(doc)
    host = [t for t in HOST_CGROUP_TARGETS if t in cpu or t in memory]
    if not host:
        return _no_evidence(claim, figure, lecture, "limits")
    over = [t for t in host if t in cpu and cpu[t] > CPU_LIMIT + CPU_TOLERANCE]
    leaked = [t for t in host if t in memory and memory[t]["enforced"] is False]
    if over or leaked:
        return Verdict(claim, REFUTED, numbers, figure,
                       ("limit_exceeded", {"targets": ", ".join(sorted(set(over + leaked),
                                                                       key=data.target_order))}),
                       conditions, lecture)
    for target in ("container", "runc"):
        if target in cpu and target in memory:
            cpu_ok = abs(cpu[target] - CPU_LIMIT) <= CPU_TOLERANCE
            if cpu_ok and memory[target]["enforced"] is True:
                return Verdict(claim, SUPPORTED, numbers, figure,
                               ("limits_held", {"target": target, "share": cpu[target],
                                                "given": memory[target]["given_mib"]}),
                               conditions, lecture)
    return Verdict(claim, INCONCLUSIVE, numbers, figure, ("limits_unclear", {}), conditions,
                   lecture)


# -- 4 ------------------------------------------------------------------------------------------

def shared_kernel(doc: Doc) -> Verdict:
    """Rule 4: containers run on the host's kernel (its boot_id); a VM on its own."""
    claim, figure, lecture = "shared_kernel", "kernel", (6,)
    found = {r["target"]: r for r in data.runs(doc, "evidence", "evidence.kernel")}
    extras = {t: r.get("extra") or {} for t, r in found.items()}
    releases = {t: e.get("release") for t, e in extras.items()}
    host = next((e["host_release"] for e in extras.values() if e.get("host_release")), None) \
        or doc.get("machine", {}).get("kernel")
    numbers: dict[str, Any] = {"host_release": host, "releases": releases}
    boot_ids = {t: e["boot_id"] for t, e in extras.items() if e.get("boot_id")}
    if boot_ids:
        numbers["boot_ids"] = boot_ids
        numbers["host_boot_id"] = next((e["host_boot_id"] for e in extras.values()
                                        if e.get("host_boot_id")), None)
    containers = [t for t in CONTAINER_TARGETS if t in found]
    if not containers:
        return _no_evidence(claim, figure, lecture, "evidence.kernel")

    def same(target: str) -> bool:
        metric = (found[target].get("metrics") or {}).get("same_as_host")
        return bool(metric) if metric is not None else releases[target] == host

    conditions: list[Note] = []
    differ = [t for t in containers if not same(t)]
    if differ:
        return Verdict(claim, REFUTED, numbers, figure,
                       ("container_kernel_differs", {"targets": ", ".join(differ),
                                                     "release": releases[differ[0]],
                                                     "host": host}), conditions, lecture)
    if "vm" not in found:
        conditions.append(("no_vm", {}))
    elif same("vm") and "vm" in boot_ids:
        # one boot_id is one booted kernel: a VM showing the host's runs on the host's kernel
        return Verdict(claim, REFUTED, numbers, figure,
                       ("vm_shares_kernel", {"boot_id": boot_ids["vm"]}), conditions, lecture)
    elif same("vm"):
        conditions.append(("vm_same_release", {"release": releases["vm"]}))
    else:
        conditions += _accel_conditions(doc)
    if not all(t in boot_ids for t in containers):
        conditions.append(("release_only", {}))
    return Verdict(claim, SUPPORTED, numbers, figure,
                   ("same_kernel", {"targets": ", ".join(containers), "host": host,
                                    "vm": releases.get("vm") or "-"}), conditions, lecture)


# -- 5 ------------------------------------------------------------------------------------------

def _reclaim(doc: Doc) -> dict[str, Any]:
    """footprint.reclaim(_fpr) on the VM: the medians of returned_fraction (and n), keyed
    "returned" (the default balloon) and "returned_fpr" (free page reporting on)."""
    out: dict[str, Any] = {}
    for variant, key in (("footprint.reclaim", "returned"),
                         ("footprint.reclaim_fpr", "returned_fpr")):
        values = [r["metrics"]["returned_fraction"] for r in data.runs(doc, "footprint", variant,
                                                                        "vm")
                  if isinstance((r.get("metrics") or {}).get("returned_fraction"), int | float)]
        if values:
            out[key], out[f"{key}_n"] = statistics.median(values), len(values)
    return out


def _idle_guest_memory(run: dict[str, Any] | None) -> tuple[dict[str, Any], list[float],
                                                            str | None]:
    """footprint.idle on the VM: its figures, its idle samples and which series they are."""
    if run is None:
        return {}, [], None
    allocation = data.allocation_bytes(run)
    held, series = data.host_memory_bytes(run, idle_only=True,
                                          prefer=("guest_ram", "cgroup", "rss"))
    if not allocation or not held:
        return {"allocated_mib": (allocation or 0) / MIB}, [], series
    median, peak = statistics.median(held), max(held)
    return {"allocated_mib": allocation / MIB, "median_mib": median / MIB,
            "max_mib": peak / MIB, "median_fraction": median / allocation,
            "max_fraction": peak / allocation, "samples": len(held), "series": series,
            "idle_since_s": data.idle_since(run)}, held, series


def vm_holds_memory(doc: Doc) -> Verdict:
    """Rule 5: an idle VM's guest-RAM residency against its allocation, and whether memory
    the guest freed goes back to the host."""
    claim, figure, lecture = "vm_holds_memory", "vm_memory", (6,)
    run = _one(doc, "footprint", "footprint.idle", "vm")
    reclaim = _reclaim(doc)
    conditions = _accel_conditions(doc)
    numbers, held, series = _idle_guest_memory(run)
    numbers.update(reclaim)
    if reclaim.get("returned_fpr", 0.0) >= RETURN_FRACTION:
        # memory the guest freed left the host: a VM need not keep all it was given
        return Verdict(claim, REFUTED, numbers, figure,
                       ("vm_returns", {"fraction": reclaim["returned_fpr"]}), conditions,
                       lecture)
    if run is None:
        if reclaim:
            return Verdict(claim, INCONCLUSIVE, numbers, figure,
                           ("incomplete", {"what": "footprint.idle"}), conditions, lecture)
        return _no_evidence(claim, figure, lecture, "footprint.idle on vm")
    if not held:
        what = "samples" if numbers.get("allocated_mib") else "memory_bytes"
        return Verdict(claim, INCONCLUSIVE, {"allocated_mib": numbers["allocated_mib"]}, figure,
                       ("incomplete", {"what": what}), conditions, lecture)
    allocation = numbers["allocated_mib"] * MIB
    median, peak = statistics.median(held), max(held)
    if series == "rss_at_exit":
        conditions.append(("single_sample", {}))
    if data.idle_since(run) is not None:
        conditions.append(("idle_phase", {"since": data.idle_since(run)}))
    if "tcg" in dict(conditions) and series != "guest_ram":
        conditions.append(("tcg_cache", {}))
    if reclaim.get("returned", 1.0) < KEEP_FRACTION:
        conditions.append(("freed_kept", {"fraction": reclaim["returned"]}))
    if median >= HOLD_FRACTION * allocation:
        basis: Note = ("vm_holds", {"fraction": median / allocation})
        verdict = SUPPORTED
        if "returned_fpr" not in reclaim:
            conditions.append(("reclaim_not_measured", {}))
    elif peak < LAZY_FRACTION * allocation:
        basis, verdict = ("vm_lazy", {"fraction": peak / allocation}), REFUTED
    else:
        basis, verdict = ("vm_partial", {"fraction": median / allocation}), INCONCLUSIVE
    return Verdict(claim, verdict, numbers, figure, basis, conditions, lecture)


# -- 6 ------------------------------------------------------------------------------------------

def _interval(stats: Mapping[str, Any]) -> tuple[float, float]:
    """A median's CI, or its range where too few runs carry a CI (data.median_ci): with every
    run of one below every run of the other, the order is clear all the same (for 3 against
    5 runs, equal distributions do that with probability 2/56)."""
    if stats["low"] is None or stats["high"] is None:
        return stats["min"], stats["max"]
    return stats["low"], stats["high"]


def start_faster(doc: Doc) -> Verdict:
    """Rule 6: container start-up (API path) against the VM's, by their medians' CIs."""
    claim, figure, lecture = "start_faster", "startup", (6, 1)
    values = data.startup_values(doc)
    stats = {f"{t}:{v}": data.median_ci(vals) for (t, v), vals in values.items()}
    numbers: dict[str, Any] = {"startup_ms": stats}
    container = data.median_ci(values.get(("container", "startup.true"), []))
    vm = data.median_ci(values.get(("vm", "startup.true"), []))
    conditions = _accel_conditions(doc)
    if container is None and vm is None:
        return _no_evidence(claim, figure, lecture, "startup")
    if container is None or vm is None:
        conditions.append(("no_vm", {}) if vm is None else ("no_container", {}))
        return Verdict(claim, INCONCLUSIVE, numbers, figure,
                       ("one_side", {"missing": "vm" if vm is None else "container"}),
                       conditions, lecture)
    n = min(container["n"], vm["n"])
    if n < FEW_RUNS:
        conditions.append(("few_runs", {"n": n}))
    numbers["vm_over_container"] = vm["median"] / container["median"] \
        if container["median"] else None
    params = {"container": container["median"], "vm": vm["median"],
              "ratio": numbers["vm_over_container"] or 0.0}
    (c_low, c_high), (vm_low, vm_high) = _interval(container), _interval(vm)
    numbers["intervals"] = "ci" if container["low"] is not None and vm["low"] is not None \
        else "range"
    if c_high < vm_low:
        return Verdict(claim, SUPPORTED, numbers, figure, ("faster", params), conditions,
                       lecture)
    if c_low > vm_high:
        return Verdict(claim, REFUTED, numbers, figure, ("slower", params), conditions, lecture)
    return Verdict(claim, INCONCLUSIVE, numbers, figure, ("overlap", params), conditions,
                   lecture)


# -- 7 ------------------------------------------------------------------------------------------

def _idle_memory(doc: Doc, target: str) -> tuple[float | None, str | None]:
    run = _one(doc, "footprint", "footprint.idle", target)
    if run is None:
        return None, None
    held, series = data.host_memory_bytes(run, idle_only=True)
    return (statistics.median(held) / MIB, series) if held else (None, None)


def weigh_less(doc: Doc) -> Verdict:
    """Rule 7: an idle container's host memory against an idle VM's."""
    claim, figure, lecture = "weigh_less", "weight", (1, 6)
    cgroup, _ = _idle_memory(doc, "container")
    vm, series = _idle_memory(doc, "vm")
    density = data.runs(doc, "density", "density.idle", "container")
    per_instance = (density[-1].get("metrics") or {}).get("memory_per_instance_mib") \
        if density else None
    # A container also costs its monitor, a host process outside its cgroup, as a VM costs
    # its QEMU: weigh both, or say the monitor is missing.
    fp = _one(doc, "footprint", "footprint.idle", "container")
    monitor = ((fp or {}).get("metrics") or {}).get("monitor_pss_mib")
    container = cgroup + monitor if cgroup is not None and monitor is not None else cgroup
    numbers = {"container_mib": container, "container_cgroup_mib": cgroup,
               "container_monitor_pss_mib": monitor, "vm_mib": vm, "vm_series": series,
               "density_per_instance_mib": per_instance}
    conditions = _accel_conditions(doc)
    if cgroup is not None and monitor is None:
        conditions.append(("monitor_not_counted", {}))
    if container is None and vm is None:
        return _no_evidence(claim, figure, lecture, "footprint.idle")
    if container is None or vm is None:
        conditions.append(("no_vm", {}) if vm is None else ("no_container", {}))
        return Verdict(claim, INCONCLUSIVE, numbers, figure,
                       ("one_side", {"missing": "vm" if vm is None else "container"}),
                       conditions, lecture)
    ratio = vm / container if container > 0 else float("inf")
    numbers["vm_over_container"] = ratio
    params = {"container": container, "vm": vm, "ratio": ratio}
    if ratio >= WEIGHT_MARGIN:
        return Verdict(claim, SUPPORTED, numbers, figure, ("lighter", params), conditions,
                       lecture)
    if container >= vm:
        return Verdict(claim, REFUTED, numbers, figure, ("heavier", params), conditions,
                       lecture)
    return Verdict(claim, INCONCLUSIVE, numbers, figure, ("close", params), conditions, lecture)


# -- 8 ------------------------------------------------------------------------------------------

def build_trace(doc: Doc) -> Verdict:
    """Rule 8: one Dockerfile traced to an image (layers, digests) and a container."""
    claim, figure, lecture = "build_trace", "trace", (8,)
    run = _one(doc, "evidence", "evidence.build", "container")
    if run is None:
        return _no_evidence(claim, figure, lecture, "evidence.build")
    extra = run.get("extra") or {}
    image = extra.get("image") or {}
    container = extra.get("container") or {}
    layers = [d for d in image.get("layers") or [] if isinstance(d, str) and ":" in d]
    namespaces = container.get("namespaces") or {}
    numbers = {"image_id": image.get("id"), "layers": len(layers),
               "steps": len(extra.get("cold_steps") or []),
               "container_pid": container.get("pid"), "namespaces": len(namespaces),
               "cgroup": container.get("cgroup"),
               "same_id_when_cached": image.get("same_id_when_cached")}
    ns_run = _one(doc, "evidence", "evidence.namespaces", "container")
    host = ((ns_run or {}).get("extra") or {}).get("ns_inodes_host") or {}
    if host and all(n in namespaces and n in host and namespaces[n] == host[n]
                    for n in ("pid", "mnt")):
        return Verdict(claim, REFUTED, numbers, figure, ("not_isolated", {}), [], lecture)
    # the trace checked against what it claims: each digest re-hashed from its layer's files,
    # and the container's root an overlay of exactly the image's layers
    rehashed, stacked = image.get("layers_rehashed_equal"), container.get("root_is_image_layers")
    numbers.update(layers_rehashed_equal=rehashed, root_is_image_layers=stacked)
    if rehashed is not None and rehashed < len(layers):
        return Verdict(claim, REFUTED, numbers, figure,
                       ("digest_mismatch", {"equal": rehashed, "layers": len(layers)}), [],
                       lecture)
    if stacked is False:
        return Verdict(claim, REFUTED, numbers, figure, ("root_not_layers", {}), [], lecture)
    complete = image.get("id") and layers and container.get("pid") and namespaces and \
        container.get("cgroup")
    if not complete:
        return Verdict(claim, INCONCLUSIVE, numbers, figure,
                       ("incomplete", {"what": "image/container"}), [], lecture)
    conditions: list[Note] = []
    if image.get("same_id_when_cached") is False:
        conditions.append(("rebuild_new_id", {}))
    if rehashed is None or stacked is None:
        conditions.append(("trace_not_verified", {}))
    return Verdict(claim, SUPPORTED, numbers, figure,
                   ("traced", {"layers": len(layers), "pid": container.get("pid")}),
                   conditions, lecture)


# -- 9 ------------------------------------------------------------------------------------------

def layer_cache(doc: Doc) -> Verdict:
    """Rule 9: the rebuild of an unchanged Dockerfile hits the cache and is faster."""
    claim, figure, lecture = "layer_cache", "build", (9,)
    run = _one(doc, "evidence", "evidence.build", "container")
    if run is None:
        return _no_evidence(claim, figure, lecture, "evidence.build")
    metrics, extra = run.get("metrics") or {}, run.get("extra") or {}
    cold, cached = metrics.get("cold_s"), metrics.get("cached_s")
    steps = [s for s in extra.get("cached_steps") or []
             if not str(s.get("text", "")).strip().upper().startswith("FROM")]
    hits = sum(bool(s.get("cached")) for s in steps)
    numbers = {"cold_s": cold, "cached_s": cached, "steps": len(steps), "cache_hits": hits,
               "cached_over_cold": cached / cold if cold and cached is not None else None}
    if not cold or cached is None or not steps:
        return Verdict(claim, INCONCLUSIVE, numbers, figure,
                       ("incomplete", {"what": "cold_s, cached_s, cached_steps"}), [], lecture)
    params = {"hits": hits, "steps": len(steps), "cold": cold, "cached": cached,
              "speedup": cold / cached if cached else float("inf")}
    if hits == 0 or cached >= cold:
        return Verdict(claim, REFUTED, numbers, figure, ("no_cache_gain", params), [], lecture)
    if hits == len(steps) and cached <= CACHE_SPEEDUP_MAX * cold:
        return Verdict(claim, SUPPORTED, numbers, figure, ("cache_fast", params), [], lecture)
    return Verdict(claim, INCONCLUSIVE, numbers, figure, ("cache_partial", params), [], lecture)


# -- 10 -----------------------------------------------------------------------------------------

def volumes_outlive(doc: Doc) -> Verdict:
    """Rule 10: a volume's data outlives its container; the container layer's does not."""
    claim, figure, lecture = "volumes_outlive", "volume", (10,)
    run = _one(doc, "evidence", "evidence.volume", "container")
    if run is None:
        return _no_evidence(claim, figure, lecture, "evidence.volume")
    metrics = run.get("metrics") or {}
    survived, layer = metrics.get("survived"), metrics.get("container_layer_survived")
    numbers = {"survived": survived, "container_layer_survived": layer,
               "volume": (run.get("extra") or {}).get("volume")}
    if survived is None:
        return Verdict(claim, INCONCLUSIVE, numbers, figure, ("incomplete", {"what": "survived"}),
                       [], lecture)
    if not survived:
        return Verdict(claim, REFUTED, numbers, figure, ("volume_lost", {}), [], lecture)
    if layer:
        return Verdict(claim, REFUTED, numbers, figure, ("layer_kept", {}), [], lecture)
    conditions: list[Note] = [] if layer is not None else [("layer_not_measured", {})]
    return Verdict(claim, SUPPORTED, numbers, figure, ("volume_kept", {}), conditions, lecture)


# -- 11 -----------------------------------------------------------------------------------------

def runc_bundle(doc: Doc) -> Verdict:
    """Rule 11: runc runs the image's bundle and isolates it as isobench's container does."""
    claim, figure, lecture = "runc_bundle", "runc", (7,)
    found = {r["target"]: r for r in data.runs(doc, "evidence", "evidence.runc")}
    if "runc" not in found:
        return _no_evidence(claim, figure, lecture, "evidence.runc on runc")
    extras = {t: r.get("extra") or {} for t, r in found.items()}
    numbers = {t: {"pid_inside": e.get("pid_inside"),
                   "namespaces_differing": (found[t].get("metrics") or {})
                   .get("namespaces_differing"),
                   "rootfs_busybox_sha256": e.get("rootfs_busybox_sha256")}
               for t, e in extras.items()}
    shared = {t: [n for n in RUNC_NAMESPACES
                  if (e.get("ns_inodes") or {}).get(n) is not None
                  and (e.get("ns_inodes") or {}).get(n) == (e.get("ns_inodes_host") or {}).get(n)]
              for t, e in extras.items()}
    for t in ("runc", "container"):
        if shared.get(t):
            return Verdict(claim, REFUTED, numbers, figure,
                           ("runtime_not_isolated", {"target": t,
                                                     "names": ", ".join(shared[t])}), [], lecture)
    runc = numbers["runc"]
    if runc["pid_inside"] is None or runc["namespaces_differing"] is None:
        return Verdict(claim, INCONCLUSIVE, numbers, figure,
                       ("incomplete", {"what": "pid_inside, namespaces"}), [], lecture)
    if runc["pid_inside"] > PID_INSIDE_MAX:
        return Verdict(claim, REFUTED, numbers, figure,
                       ("pid_not_small", {"pid": runc["pid_inside"]}), [], lecture)
    if "container" not in numbers:
        return Verdict(claim, SUPPORTED, numbers, figure,
                       ("runc_isolated", {"pid": runc["pid_inside"]}),
                       [("no_container", {})], lecture)
    if runc["rootfs_busybox_sha256"] != numbers["container"]["rootfs_busybox_sha256"]:
        return Verdict(claim, INCONCLUSIVE, numbers, figure, ("different_rootfs", {}), [],
                       lecture)
    return Verdict(claim, SUPPORTED, numbers, figure,
                   ("same_bundle_isolated", {"pid": runc["pid_inside"],
                                             "pid_container": numbers["container"]["pid_inside"]}),
                   [], lecture)


# -- 12, 13 -------------------------------------------------------------------------------------

def _app_checks(doc: Doc, claim: str, variant: str, checks: tuple[str, ...],
                lecture: tuple[int, ...]) -> Verdict:
    """Rules 12 and 13: each check a yes/no the evidence observed; all yes supports, any no
    refutes, a missing one leaves it open."""
    run = _one(doc, "evidence", variant, "container")
    if run is None:
        return _no_evidence(claim, claim, lecture, variant)
    metrics = run.get("metrics") or {}
    numbers: dict[str, Any] = {c: metrics.get(c) for c in checks}
    missing = [c for c in checks if metrics.get(c) is None]
    failed = [c for c in checks if c not in missing and not metrics[c]]
    if failed:
        return Verdict(claim, REFUTED, numbers, claim,
                       ("checks_failed", {"failed": ", ".join(failed)}), [], lecture)
    if missing:
        return Verdict(claim, INCONCLUSIVE, numbers, claim,
                       ("incomplete", {"what": ", ".join(missing)}), [], lecture)
    return Verdict(claim, SUPPORTED, numbers, claim,
                   ("checks_passed", {"passed": ", ".join(checks)}), [], lecture)


def networks_join(doc: Doc) -> Verdict:
    """Rule 12: containers on one network reach each other by name; -p opens a port."""
    return _app_checks(doc, "networks_join", "evidence.network",
                       ("reached_by_name", "published_port_answered"), (11,))


def compose_app(doc: Doc) -> Verdict:
    """Rule 13: one compose file brings a two-service app up and down."""
    return _app_checks(doc, "compose_app", "evidence.compose",
                       ("reached_by_name", "published_port_answered", "down_removed_all"),
                       (12,))


# -- 14 -----------------------------------------------------------------------------------------

# (name, variant, target, placement or None): the paths the rule reads, and the two it shows
NET_PATHS = (("native", "net.bridge", "native", None),
             ("container_host", "net.hostnet", "container", None),
             ("container_bridge", "net.bridge", "container", None),
             ("vm_tap", "net.bridge", "vm", "vm-tap"),
             ("vm_slirp", "net.usernet", "vm", None))
NET_COMPARED = (("container_bridge", "container_host"), ("vm_tap", "container_bridge"))


def _net_medians(doc: Doc) -> dict[str, dict[str, Any]]:
    """Each path's n and medians of iperf3_gbit_s and tcp_lat_us (paths without runs left
    out); a VM's net.bridge run counts only from a tap (its placement says so)."""
    out: dict[str, dict[str, Any]] = {}
    for name, variant, target, placement in NET_PATHS:
        found = [r for r in data.runs(doc, "net", variant, target)
                 if placement is None or (r.get("extra") or {}).get("placement") == placement]
        gbit = [r["metrics"]["iperf3_gbit_s"] for r in found
                if isinstance((r.get("metrics") or {}).get("iperf3_gbit_s"), int | float)]
        lat = [r["metrics"]["tcp_lat_us"] for r in found
               if isinstance((r.get("metrics") or {}).get("tcp_lat_us"), int | float)]
        if gbit and lat:
            out[name] = {"n": min(len(gbit), len(lat)), "gbit_s": statistics.median(gbit),
                         "lat_us": statistics.median(lat)}
    return out


def net_direction(slower: Mapping[str, float], faster: Mapping[str, float]) -> str:
    """"agrees" when `slower` is slower by the margin on a metric and faster on none,
    "contradicts" the other way round, else "even" (or mixed)."""
    throughput = slower["gbit_s"] / faster["gbit_s"] if faster["gbit_s"] else 1.0
    latency = slower["lat_us"] / faster["lat_us"] if faster["lat_us"] else 1.0
    signs = [1 if throughput < 1 - NET_MARGIN else -1 if throughput > 1 + NET_MARGIN else 0,
             1 if latency > 1 + NET_MARGIN else -1 if latency < 1 - NET_MARGIN else 0]
    if 1 in signs and -1 not in signs:
        return "agrees"
    if -1 in signs and 1 not in signs:
        return "contradicts"
    return "even"


def network_cost(doc: Doc) -> Verdict:
    """Rule 14: host network > bridge for containers; a VM's tap behind a container's bridge."""
    claim, figure, lecture = "network_cost", "net", (11,)
    paths = _net_medians(doc)
    if not paths:
        return _no_evidence(claim, figure, lecture, "net")
    numbers: dict[str, Any] = {"paths": paths}
    conditions = _accel_conditions(doc) if "vm_tap" in paths else []
    missing = [p for pair in NET_COMPARED for p in pair if p not in paths]
    if missing:
        return Verdict(claim, INCONCLUSIVE, numbers, figure,
                       ("incomplete", {"what": ", ".join(dict.fromkeys(missing))}),
                       conditions, lecture)
    n = min(paths[p]["n"] for pair in NET_COMPARED for p in pair)
    if n < FEW_RUNS:
        conditions.append(("few_runs", {"n": n}))
    outcome = {f"{a}_vs_{b}": net_direction(paths[a], paths[b]) for a, b in NET_COMPARED}
    numbers.update(outcome)
    for a, b in NET_COMPARED:
        for metric, key in (("gbit_s", "gbit"), ("lat_us", "lat")):
            numbers[f"{a}_vs_{b}_{key}_ratio"] = paths[a][metric] / paths[b][metric] \
                if paths[b][metric] else math.nan
    bridge = outcome["container_bridge_vs_container_host"]
    tap = outcome["vm_tap_vs_container_bridge"]
    params = {"bridge": bridge, "tap": tap,
              "bridge_gbit": numbers["container_bridge_vs_container_host_gbit_ratio"],
              "bridge_lat": numbers["container_bridge_vs_container_host_lat_ratio"],
              "tap_gbit": numbers["vm_tap_vs_container_bridge_gbit_ratio"],
              "tap_lat": numbers["vm_tap_vs_container_bridge_lat_ratio"]}
    if "contradicts" in outcome.values():
        return Verdict(claim, REFUTED, numbers, figure, ("net_contradicts", params),
                       conditions, lecture)
    if set(outcome.values()) == {"agrees"}:
        return Verdict(claim, SUPPORTED, numbers, figure, ("net_agrees", params), conditions,
                       lecture)
    return Verdict(claim, INCONCLUSIVE, numbers, figure, ("net_even", params), conditions,
                   lecture)


CLAIMS: tuple[Callable[[Doc], Verdict], ...] = (
    isolated_process, chroot_no_isolation, cgroups_limit, shared_kernel, vm_holds_memory,
    start_faster, weigh_less, build_trace, layer_cache, volumes_outlive, runc_bundle,
    networks_join, compose_app, network_cost)


def evaluate(doc: Doc) -> list[Verdict]:
    """Every claim's verdict, in the report's order."""
    return [claim(doc) for claim in CLAIMS]
