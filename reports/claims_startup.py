"""Rule 6 (reports/claims.py): a container starts faster than a VM, judged by the intervals
around their start-up medians."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports import data
from reports.claims_common import accel_conditions, no_evidence
from reports.claims_verdict import FEW_RUNS, INCONCLUSIVE, REFUTED, SUPPORTED, Doc, Verdict

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
    conditions = accel_conditions(doc)
    if container is None and vm is None:
        return no_evidence(claim, figure, lecture, "startup")
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
