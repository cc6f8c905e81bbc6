"""Rules 12, 13 and 14 (reports/claims.py): networks — containers reaching each other by name,
a compose app, and what each network path costs against the next."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from typing import Any

from reports import data
from reports.claims_common import accel_conditions, no_evidence, one_run
from reports.claims_verdict import FEW_RUNS, INCONCLUSIVE, REFUTED, SUPPORTED, Doc, Verdict

NET_MARGIN = 0.05             # a path is slower when 5 % worse on throughput or latency


# -- 12, 13 -------------------------------------------------------------------------------------

def _app_checks(doc: Doc, claim: str, variant: str, checks: tuple[str, ...],
                lecture: tuple[int, ...]) -> Verdict:
    """Rules 12 and 13: each check a yes/no the evidence observed; all yes supports, any no
    refutes, a missing one leaves it open."""
    run = one_run(doc, "evidence", variant, "container")
    if run is None:
        return no_evidence(claim, claim, lecture, variant)
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
        return no_evidence(claim, figure, lecture, "net")
    numbers: dict[str, Any] = {"paths": paths}
    conditions = accel_conditions(doc) if "vm_tap" in paths else []
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
