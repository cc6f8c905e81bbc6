"""The results document as tables (pandas) and as the series the plots and claims need.

Everything here reads the document only. Metric directions and units come from the
document's `workloads` block; the orchestration workloads (startup, footprint, density,
limits, net, evidence) declare no variants there, so results.metrics' table gives theirs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from results.document import counted, keeps_contended, tool_versions
from results.metrics import threshold, unit_and_direction
from results.stats import bootstrap_median_ci, ci_supported, finite, quartiles

NATIVE = "native"
EXPECTED_TARGETS = ("native", "container", "runc", "vm")
# The order targets are shown in: the containers, then the microVM (a guest kernel on a
# minimal machine), then the VM. crun and microvm are not expected: asked for by name.
TARGET_ORDER = ("native", "container", "runc", "crun", "microvm", "vm")
VM_TARGETS = ("microvm", "vm")
CONTAINER_TARGETS = ("container", "runc")
# Targets whose instances live in a cgroup of ours on the host (the VM's QEMU does too, but
# its guest has a kernel of its own that decides what the workload inside gets).
HOST_CGROUP_TARGETS = ("native", "container", "runc")
# Workloads with a section of their own rather than rows in the overhead summary.
NOT_IN_SUMMARY = ("limits", "evidence")
WORKLOAD_ORDER = ("cpu", "memory", "disk", "net", "startup", "footprint", "density", "limits",
                  "evidence")

# Limits the limits workload asks for (bench/workloads/limits.py): --cpus 0.5, --memory 64m.
CPU_LIMIT = 0.5
MEMORY_LIMIT_MIB = 64.0

MIB = 2.0 ** 20


def target_order(name: str) -> tuple[int, str]:
    return (TARGET_ORDER.index(name) if name in TARGET_ORDER else len(TARGET_ORDER), name)


def workload_order(name: str) -> tuple[int, str]:
    return (WORKLOAD_ORDER.index(name) if name in WORKLOAD_ORDER else len(WORKLOAD_ORDER),
            name)


def _median_per_target(doc: Mapping[str, Any], pick: Callable[[Mapping[str, Any]], Any]
                       ) -> dict[str, tuple[float, int]]:
    """Per target: the median of `pick(accounting)` over the runs that have it, and their n."""
    found: dict[str, list[float]] = {}
    for run in runs(doc, ok=None):
        value = pick(run.get("accounting") or {})
        if isinstance(value, int | float) and not isinstance(value, bool):
            found.setdefault(run["target"], []).append(float(value))
    return {t: (statistics.median(found[t]), len(found[t]))
            for t in sorted(found, key=target_order)}


def sampler_fractions(doc: Mapping[str, Any]) -> dict[str, tuple[float, int]]:
    """Per target: the median sampler CPU fraction over its sampled runs, and their n."""
    return _median_per_target(doc, lambda acc: acc.get("sampler_cpu_fraction"))


def launcher_cpu(doc: Mapping[str, Any]) -> dict[str, tuple[float, int]]:
    """Per target: the median CPU-seconds its instance's monitor used outside the cgroup
    (a container's: setup, relay, teardown), and the runs' n; targets that record none
    (runc records nothing of its own, a VM's QEMU is in its cgroup) are absent."""
    return _median_per_target(doc, lambda acc: (acc.get("instance") or {}).get("launcher_cpu_s"))


def setups(doc: Mapping[str, Any], workload: str, variant: str) -> dict[str, dict[str, Any]]:
    """Each target's setup block for a variant (the last successful run's: every run of a
    variant on a target shares it), in the targets' order; {} for documents before it."""
    found: dict[str, dict[str, Any]] = {}
    for run in runs(doc, workload, variant, ok=None):
        block = (run.get("extra") or {}).get("setup")
        if isinstance(block, dict) and (run.get("ok") or run.get("target") not in found):
            found[run["target"]] = block
    return {t: found[t] for t in sorted(found, key=target_order)}


def skips(doc: Mapping[str, Any], workload: str, variant: str) -> dict[str, str]:
    """target -> why it did not run `variant` in the setup it asks for (a session lists such
    a variant as skipped rather than run it another way)."""
    block = doc.get("workloads", {}).get(workload, {}).get("variants", {}).get(variant, {})
    return dict(block.get("skipped") or {})


def runs(doc: Mapping[str, Any], workload: str | None = None, variant: str | None = None,
         target: str | None = None, *, ok: bool | None = True) -> list[dict[str, Any]]:
    """The runs matching every given field (ok=None: failed ones too). ok=True: the runs
    that count, successful and not contended (unless the session kept contended runs)."""
    keep = keeps_contended(doc)
    out = []
    for run in doc.get("runs", []):
        if workload is not None and run.get("workload") != workload:
            continue
        if variant is not None and run.get("variant") != variant:
            continue
        if target is not None and run.get("target") != target:
            continue
        if ok is not None and bool(run.get("ok")) != ok:
            continue
        if ok and not counted(run, keep):
            continue
        out.append(run)
    return out


def metric_values(doc: Mapping[str, Any], workload: str, variant: str, target: str,
                  metric: str) -> list[float]:
    return finite([r.get("metrics", {}).get(metric) for r in runs(doc, workload, variant,
                                                                   target)])


def runs_frame(doc: Mapping[str, Any]) -> pd.DataFrame:
    """One row per (run, metric) of the successful runs."""
    rows = [{"workload": r["workload"], "variant": r["variant"], "target": r["target"],
             "repetition": r.get("repetition", 0), "metric": m, "value": float(v)}
            for r in runs(doc) for m, v in (r.get("metrics") or {}).items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)]
    return pd.DataFrame(rows, columns=["workload", "variant", "target", "repetition", "metric",
                                       "value"])


def contended_runs(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Successful runs the contention guard flagged (left out unless kept)."""
    return [r for r in doc.get("runs", []) if r.get("ok") and r.get("contended")]


def ratio_class(better: str | None, ratio: float | None, low: float | None,
                high: float | None, tolerance: float = 0.05, *, n: int | None = None,
                native_n: int | None = None, noisy: bool = False) -> str:
    """How a ratio to native reads, in the metric's own direction.

    "same": within ±tolerance of 1; "better"/"worse": beyond it with the CI excluding 1;
    "better-noisy"/"worse-noisy": beyond it but the CI includes 1; "neutral": no direction.
    Never coloured: "noisy" (either side's spread cannot carry a ratio) and "insufficient"
    (fewer than MIN_CI_N repetitions on either side: no CI, so nothing to read it by).
    """
    if ratio is None:
        return "none"
    if better not in ("higher", "lower"):
        return "neutral"
    if noisy:
        return "noisy"
    if (n is not None and not ci_supported(n)) or \
            (native_n is not None and not ci_supported(native_n)):
        return "insufficient"
    if abs(ratio - 1.0) <= tolerance:
        return "same"
    good = (ratio > 1.0) == (better == "higher")
    lo = low if low is not None else ratio
    hi = high if high is not None else ratio
    clear = lo > 1.0 or hi < 1.0
    return ("better" if good else "worse") + ("" if clear else "-noisy")


def _versions(tools: Mapping[tuple[str, str, str], set[str]], workload: str, variant: str,
              target: str, cell: Mapping[str, Any]) -> str | None:
    """The tool versions one side of a refused ratio ran; None where no ratio was refused
    (or the runs no longer say: the report then shows the results' own line)."""
    if not cell.get("ratio_refused"):
        return None
    return ", ".join(sorted(tools.get((workload, variant, target), ()))) or None


def summary_frame(doc: Mapping[str, Any], exclude: Iterable[str] = NOT_IN_SUMMARY
                  ) -> pd.DataFrame:
    """The document's summary as rows (workload, variant, metric, target) with the unit,
    direction and how the ratio to native reads (ratio_class)."""
    skip = set(exclude)
    tools = tool_versions(doc)
    rows = []
    for workload, variants in (doc.get("summary") or {}).items():
        if workload in skip:
            continue
        for variant, metrics in variants.items():
            for metric, targets in metrics.items():
                unit, better = unit_and_direction(doc, workload, variant, metric)
                base = targets.get(NATIVE) or {}
                for target, cell in targets.items():
                    ratio, lo, hi = (cell.get("ratio_to_native"), cell.get("ci_low"),
                                     cell.get("ci_high"))
                    noisy = cell.get("noisy") or (base.get("noisy") if target != NATIVE
                                                  else None)
                    rows.append({"workload": workload, "variant": variant, "metric": metric,
                                 "unit": unit, "better": better, "target": target,
                                 "n": cell.get("n"), "median": cell.get("median"),
                                 "iqr": cell.get("iqr"), "q1": cell.get("q1"),
                                 "q3": cell.get("q3"), "min": cell.get("min"),
                                 "max": cell.get("max"), "ratio": ratio, "ci_low": lo,
                                 "ci_high": hi, "noisy": noisy or None,
                                 "refused": cell.get("ratio_refused"),
                                 # the versions behind a refusal, for the report's own words
                                 "refused_mine": _versions(tools, workload, variant, target,
                                                           cell),
                                 "refused_native": _versions(tools, workload, variant,
                                                             NATIVE, cell),
                                 "contended": cell.get("contended_excluded", 0),
                                 "class": ratio_class(better, ratio, lo, hi, threshold(metric),
                                                      n=cell.get("n"),
                                                      native_n=base.get("n"),
                                                      noisy=bool(noisy))
                                 if target != NATIVE else "baseline"})
    rows += _all_contended_rows(doc, skip, {(r["workload"], r["variant"], r["metric"],
                                             r["target"]) for r in rows})
    columns = ["workload", "variant", "metric", "unit", "better", "target", "n", "median",
               "iqr", "q1", "q3", "min", "max", "ratio", "ci_low", "ci_high", "noisy",
               "refused", "refused_mine", "refused_native", "contended", "class"]
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        return frame
    frame["_w"] = frame["workload"].map(workload_order)
    frame["_t"] = frame["target"].map(target_order)
    return frame.sort_values(["_w", "variant", "metric", "_t"]).drop(columns=["_w", "_t"])


def _all_contended_rows(doc: Mapping[str, Any], skip: set[str],
                        present: set[tuple[str, str, str, str]]) -> list[dict[str, Any]]:
    """A row for each cell whose every run was left out as contended: it has no summary
    cell, but the table says it was measured and why it shows nothing."""
    counts: dict[tuple[str, str, str, str], int] = {}
    for run in contended_runs(doc) if not keeps_contended(doc) else []:
        for metric, value in (run.get("metrics") or {}).items():
            key = (run["workload"], run["variant"], metric, run["target"])
            if run["workload"] not in skip and key not in present and _num(value) is not None:
                counts[key] = counts.get(key, 0) + 1
    rows = []
    for (workload, variant, metric, target), count in counts.items():
        unit, better = unit_and_direction(doc, workload, variant, metric)
        rows.append({"workload": workload, "variant": variant, "metric": metric, "unit": unit,
                     "better": better, "target": target, "n": 0, "median": None,
                     "iqr": None, "q1": None, "q3": None, "min": None, "max": None,
                     "ratio": None, "ci_low": None, "ci_high": None, "noisy": None,
                     "refused": None, "contended": count, "class": "contended"})
    return rows


# -- conditions ---------------------------------------------------------------------------------

def accel_mode(doc: Mapping[str, Any]) -> str | None:
    """"tcg" when the machine block or any VM run says TCG ran; else "kvm" if either says
    KVM; else None (no VM measured)."""
    modes = {(doc.get("machine", {}).get("acceleration") or {}).get("mode")}
    modes |= {(r.get("extra") or {}).get("accel") for r in doc.get("runs", [])}
    if "tcg" in modes:
        return "tcg"
    if "kvm" in modes:
        return "kvm"
    return None


def is_tcg(doc: Mapping[str, Any]) -> bool:
    return accel_mode(doc) == "tcg"


def missing_targets(doc: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every expected target that produced nothing, with why: declared unavailable (its
    reason), not part of this session, ran with no successful run, or every successful run
    was left out as contended."""
    targets = doc.get("targets", {})
    out = []
    for name in sorted(set(EXPECTED_TARGETS) | set(targets), key=target_order):
        info = targets.get(name)
        if info is None:
            out.append({"name": name, "kind": "not_requested", "reason": ""})
        elif not info.get("available", False):
            out.append({"name": name, "kind": "unavailable", "reason": info.get("reason", "")})
        elif not runs(doc, target=name):
            contended = [r for r in contended_runs(doc) if r["target"] == name]
            failed = runs(doc, target=name, ok=False)
            if contended:
                out.append({"name": name, "kind": "contended",
                            "reason": f"all {len(contended)} successful runs contended"})
            else:
                out.append({"name": name, "kind": "failed" if failed else "no_runs",
                            "reason": (failed[0].get("error") or "").strip() if failed else ""})
    return out


def present_targets(doc: Mapping[str, Any]) -> list[str]:
    return sorted({r["target"] for r in runs(doc)}, key=target_order)


# -- series for the plots and claims ------------------------------------------------------------

def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def memory_series(run: Mapping[str, Any]) -> dict[str, tuple[list[float], list[float]]]:
    """name -> (seconds, bytes) sampled during a run.

    Host-side samples are lists named by `accounting.sample_fields` ("t_s",
    "memory_current", ...): series "cgroup". The VM driver's samples are dicts
    ({"t", "cgroup_memory", "qemu": {"rss", "pss"}}, older ones {"cgroup":
    {"memory_current"}}): series "cgroup", "rss", "pss" and "guest_ram" (QEMU's guest-RAM
    mapping alone).
    """
    acc = run.get("accounting") or {}
    samples = acc.get("samples") or []
    fields = acc.get("sample_fields") or []
    out: dict[str, tuple[list[float], list[float]]] = {}

    def add(name: str, t: float | None, v: float | None) -> None:
        if t is None or v is None:
            return
        ts, vs = out.setdefault(name, ([], []))
        ts.append(t)
        vs.append(v)

    if fields and samples and isinstance(samples[0], list | tuple):
        ti = fields.index("t_s") if "t_s" in fields else None
        mi = fields.index("memory_current") if "memory_current" in fields else None
        for i, s in enumerate(samples):
            t = _num(s[ti]) if ti is not None and ti < len(s) else float(i)
            add("cgroup", t, _num(s[mi]) if mi is not None and mi < len(s) else None)
    else:
        for i, s in enumerate(samples):
            if not isinstance(s, dict):
                continue
            t = _num(s.get("t", s.get("t_s", i)))
            cg = s.get("cgroup_memory")
            if cg is None and isinstance(s.get("cgroup"), dict):
                cg = s["cgroup"].get("memory_current")
            if cg is None:
                cg = s.get("memory_current")
            add("cgroup", t, _num(cg))
            qemu = s.get("qemu") if isinstance(s.get("qemu"), dict) else {}
            add("rss", t, _num(qemu.get("rss", s.get("qemu_rss"))))
            add("pss", t, _num(qemu.get("pss", s.get("qemu_pss"))))
            add("guest_ram", t, _num(qemu.get("guest_ram_rss")))
    return out


def host_memory_bytes(run: Mapping[str, Any], *, idle_only: bool = False,
                      prefer: tuple[str, ...] = ("cgroup", "rss")
                      ) -> tuple[list[float], str | None]:
    """The samples of what an instance holds on the host, and which series they are.

    The cgroup's memory is preferred: every target is accounted by the same collector (for a
    VM, the cgroup holds QEMU). Without it, QEMU's RSS sampled over time; without samples,
    QEMU's RSS at the command's exit ("rss_at_exit"). idle_only keeps the samples taken
    after the guest said it was ready (extra.timings ready_s - resumed_s; sample times count
    from the resume), so a VM's boot is not part of its idle footprint; with no sample that
    late, the last one. `prefer`: the series in the order wanted ("guest_ram": the resident
    size of QEMU's guest-RAM mapping alone, for what the guest holds).
    """
    series = memory_series(run)
    for name in prefer:
        if name in series and series[name][1]:
            times, values = series[name]
            if idle_only:
                since = idle_since(run)
                if since is not None:
                    late = [v for t, v in zip(times, values, strict=True) if t >= since]
                    values = late or values[-1:]
            return list(values), name
    qemu = (run.get("extra") or {}).get("qemu_memory") or {}
    if _num(qemu.get("rss")):
        return [float(qemu["rss"])], "rss_at_exit"
    return [], None


def idle_since(run: Mapping[str, Any]) -> float | None:
    """Seconds after the first sample from which a VM's guest was up (None: no timings)."""
    timings = (run.get("extra") or {}).get("timings") or {}
    ready, resumed = _num(timings.get("ready_s")), _num(timings.get("resumed_s"))
    if ready is None:
        return None
    return ready - (resumed or 0.0)


def allocation_bytes(run: Mapping[str, Any]) -> float | None:
    extra = run.get("extra") or {}
    if _num(extra.get("memory_bytes")):
        return float(extra["memory_bytes"])
    mib = _num((run.get("metrics") or {}).get("allocated_mib"))
    return mib * MIB if mib else None


def cpu_share(run: Mapping[str, Any]) -> tuple[float | None, bool]:
    """(share of one CPU, derived?) of a limits.cpu_half run: the `cpu_share` metric, else
    derived from the accounting: cpu_total_ns of `delta`, or of `end` when `start` is null
    (a fresh cgroup starts at 0), over the run's wall time."""
    share = _num((run.get("metrics") or {}).get("cpu_share"))
    if share is not None:
        return share, False
    acc = run.get("accounting") or {}
    used = _num((acc.get("delta") or {}).get("cpu_total_ns"))
    if used is None and acc.get("start") is None:
        used = _num((acc.get("end") or {}).get("cpu_total_ns"))
    wall = _num(run.get("wall_s"))
    if used is None or not wall:
        return None, False
    return used / (wall * 1e9), True


def memory_limit_outcome(run: Mapping[str, Any]) -> dict[str, Any]:
    """What a limits.memory_64m run shows: given, peak, OOM kills and restarts, exit code,
    and whether the limit held (`enforced`: True, False or None when it cannot be told).

    Enforced: the OOM killer acted (oom_kills, killed, oom_restarts > 0, or exit 137), or
    the peak stayed within 5 % of the limit. Not enforced: the hog (twice the limit)
    finished with exit 0, no OOM action, and a peak above the limit by more than 10 % or
    unknown.
    """
    metrics = run.get("metrics") or {}
    end = (run.get("accounting") or {}).get("end") or {}
    given = _num(metrics.get("given_mib")) or MEMORY_LIMIT_MIB
    peak = _num(metrics.get("peak_mib"))
    if peak is None and _num(end.get("memory_peak")):
        peak = float(end["memory_peak"]) / MIB
    kills = _num(metrics.get("oom_kills"))
    if kills is None:
        kills = _num(metrics.get("killed"))
    if kills is None:
        kills = _num(end.get("oom_kills"))
    restarts = _num(metrics.get("oom_restarts"))
    code = run.get("exit_code")
    if code is None:
        code = _num(metrics.get("exit_code"))
    code = int(code) if code is not None else None
    acted = bool(kills) or bool(restarts) or code == 137 or \
        bool((run.get("extra") or {}).get("oom_killed"))
    if acted or (peak is not None and 0 < peak <= given * 1.05):
        enforced: bool | None = True
    elif code == 0 and (peak is None or peak > given * 1.10):
        enforced = False
    else:
        enforced = None
    return {"given_mib": given, "peak_mib": peak, "oom_kills": kills, "oom_restarts": restarts,
            "exit_code": code, "enforced": enforced}


def peak_sampled(run: Mapping[str, Any]) -> bool:
    """The peak is the highest sample, not the kernel's counter (v2 before Linux 5.19)."""
    return (run.get("accounting") or {}).get("memory_peak_source") == "sampled"


STARTUP_SERIES = (("native", "startup.true"), ("container", "startup.true"),
                  ("container", "startup.cli"), ("runc", "startup.true"), ("vm", "startup.true"))


def startup_values(doc: Mapping[str, Any]) -> dict[tuple[str, str], list[float]]:
    """(target, variant) -> launch-to-exit ms of every successful repetition."""
    out = {}
    for target, variant in STARTUP_SERIES:
        values = metric_values(doc, "startup", variant, target, "launch_to_exit_ms")
        if values:
            out[(target, variant)] = values
    return out


def median_ci(values: list[float]) -> dict[str, Any] | None:
    """n, median, quartiles, range, and a bootstrap CI of the median (low and high None
    below MIN_CI_N values: too few to carry one)."""
    if not values:
        return None
    q1, median, q3 = quartiles(values)
    low = high = None
    if ci_supported(len(values)):
        median, low, high = bootstrap_median_ci(values)
    return {"n": len(values), "median": median, "low": low, "high": high, "q1": q1, "q3": q3,
            "min": min(values), "max": max(values)}


def mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None
