"""Rules 3, 5 and 7 (reports/claims.py): what a container and a VM get and hold of the host —
cgroup limits, a VM's guest RAM, an idle container's weight against an idle VM's."""

from __future__ import annotations

import statistics
from typing import Any

from reports import data
from reports.claims_common import accel_conditions, no_evidence, one_run
from reports.claims_verdict import INCONCLUSIVE, REFUTED, SUPPORTED, Doc, Note, Verdict
from reports.data import CPU_LIMIT, HOST_CGROUP_TARGETS, MIB

CPU_TOLERANCE = 0.10          # absolute: 0.4 .. 0.6 of a CPU passes for --cpus 0.5
HOLD_FRACTION = 0.90
LAZY_FRACTION = 0.50
RETURN_FRACTION = 0.50        # freed guest memory that left the host, of what it had touched
KEEP_FRACTION = 0.10          # below this, what the guest freed stayed on the host
WEIGHT_MARGIN = 1.5


# -- 3 ------------------------------------------------------------------------------------------

def cgroups_limit(doc: Doc) -> Verdict:
    """Rule 3: cgroups hold a busy loop to its CPU quota and a hog to its memory limit."""
    claim, figure, lecture = "cgroups_limit", "limits", (5,)
    cpu: dict[str, Any] = {}
    memory: dict[str, Any] = {}
    conditions: list[Note] = []
    for target in data.present_targets(doc):
        run = one_run(doc, "limits", "limits.cpu_half", target)
        if run is not None:
            share, derived = data.cpu_share(run)
            if share is not None:
                cpu[target] = share
                if derived:
                    conditions.append(("derived_cpu_share", {"target": target}))
        run = one_run(doc, "limits", "limits.memory_64m", target)
        if run is not None:
            memory[target] = data.memory_limit_outcome(run)
    numbers = {"cpu_limit": CPU_LIMIT, "cpu_share": cpu, "memory": memory}
    if "vm" in memory:
        conditions.append(("vm_guest_kernel", {}))
        conditions += accel_conditions(doc)
    host = [t for t in HOST_CGROUP_TARGETS if t in cpu or t in memory]
    if not host:
        return no_evidence(claim, figure, lecture, "limits")
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
    run = one_run(doc, "footprint", "footprint.idle", "vm")
    reclaim = _reclaim(doc)
    conditions = accel_conditions(doc)
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
        return no_evidence(claim, figure, lecture, "footprint.idle on vm")
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


# -- 7 ------------------------------------------------------------------------------------------

def _idle_memory(doc: Doc, target: str) -> tuple[float | None, str | None]:
    run = one_run(doc, "footprint", "footprint.idle", target)
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
    fp = one_run(doc, "footprint", "footprint.idle", "container")
    monitor = ((fp or {}).get("metrics") or {}).get("monitor_pss_mib")
    container = cgroup + monitor if cgroup is not None and monitor is not None else cgroup
    numbers = {"container_mib": container, "container_cgroup_mib": cgroup,
               "container_monitor_pss_mib": monitor, "vm_mib": vm, "vm_series": series,
               "density_per_instance_mib": per_instance}
    conditions = accel_conditions(doc)
    if cgroup is not None and monitor is None:
        conditions.append(("monitor_not_counted", {}))
    if container is None and vm is None:
        return no_evidence(claim, figure, lecture, "footprint.idle")
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
