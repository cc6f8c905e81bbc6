"""The report's evidence beside its figures: each variant's setup row under the summary,
what measuring cost (the harness and the samplers), the traced build, and the small
evidence tables the claims show."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from reports import data, plots
from reports.i18n import Translator


def harness_rows(doc: Mapping[str, Any], t: Translator) -> list[tuple[str, str]]:
    """What measuring cost: the harness's own CPU over the session, and each target's
    sampler (the median over its runs of the sampler thread's CPU over its window); and what
    a container costs outside its cgroup: its monitor's CPU per run (median)."""
    rows = []
    harness = doc.get("session", {}).get("harness") or {}
    if harness.get("cpu_fraction") is not None:
        rows.append((t("env_harness"), t("env_harness_value", cpu=harness["cpu_s"],
                                         wall=harness["wall_s"],
                                         fraction=harness["cpu_fraction"])))
    per_target = data.sampler_fractions(doc)
    if per_target:
        rows.append((t("env_sampler"), ", ".join(
            f"{target} {fraction:.1%} (n={n})" for target, (fraction, n) in per_target.items())))
    monitors = data.launcher_cpu(doc)
    if monitors:
        rows.append((t("env_launcher"), ", ".join(
            t("env_launcher_value", target=target, cpu=cpu, n=n)
            for target, (cpu, n) in monitors.items())))
    return rows


SETUP_KEYS = ("tools", "disk", "network", "limits", "timer")


def with_setup_rows(doc: Mapping[str, Any], workload: str, rows: list[dict[str, Any]],
                     targets: list[str], t: Translator) -> list[dict[str, Any]]:
    """`rows` with a setup row after each variant's last metric: what each target's runs of
    it had (tools, disk, network, limits, timer), so a ratio is read with its setup; a
    target that skipped the variant says why there instead."""
    out: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        out.append(row)
        if i + 1 < len(rows) and rows[i + 1]["variant"] == row["variant"]:
            continue
        blocks = data.setups(doc, workload, row["variant"])
        skipped = data.skips(doc, workload, row["variant"])
        if blocks or skipped:
            out.append({"setup": [
                [(t("setup_skipped"), skipped[target])] if target in skipped else
                [(t(f"setup_{k}"), blocks[target][k]) for k in SETUP_KEYS
                 if k in blocks.get(target, {})] for target in targets]})
    return out


def trace(doc: Mapping[str, Any], t: Translator) -> dict[str, Any] | None:
    found = data.runs(doc, "evidence", "evidence.build", "container")
    if not found:
        return None
    run = found[-1]
    extra, metrics = run.get("extra") or {}, run.get("metrics") or {}
    cached = {str(s.get("text")): s for s in extra.get("cached_steps") or []}
    steps = []
    for s in extra.get("cold_steps") or []:
        c = cached.get(str(s.get("text"))) or {}
        steps.append({"text": s.get("text"), "cold": s.get("seconds"),
                      "cached": c.get("seconds"), "hit": c.get("cached"),
                      "layer": s.get("layer") or c.get("layer")})
    return {"steps": steps, "image": extra.get("image") or {},
            "container": extra.get("container") or {}, "cold_s": metrics.get("cold_s"),
            "cached_s": metrics.get("cached_s"), "dockerfile": extra.get("dockerfile"),
            "build_svg": Markup(plots.build_plot(extra.get("cold_steps") or [],
                                                 extra.get("cached_steps") or [], t))
            if extra.get("cold_steps") else None}


def evidence_tables(doc: Mapping[str, Any]) -> dict[str, Any]:
    kernel = [{"target": r["target"], "release": (r.get("extra") or {}).get("release"),
               "boot_id": (r.get("extra") or {}).get("boot_id"),
               "same": (r.get("metrics") or {}).get("same_as_host"),
               "host": (r.get("extra") or {}).get("host_release"),
               "host_boot_id": (r.get("extra") or {}).get("host_boot_id")}
              for r in sorted(data.runs(doc, "evidence", "evidence.kernel"),
                              key=lambda r: data.target_order(r["target"]))]
    ns_runs = data.runs(doc, "evidence", "evidence.namespaces", "container")
    ns = None
    if ns_runs:
        extra = ns_runs[-1].get("extra") or {}
        inside = extra.get("ns_inodes_container") or {}
        host = extra.get("ns_inodes_host") or {}
        ns = {"rows": [{"name": n, "container": inside.get(n), "host": host.get(n),
                        "differs": inside.get(n) != host.get(n)}
                       for n in sorted(set(inside) | set(host))],
              "pid_in": extra.get("pid_in_container"), "pid_host": extra.get("pid_on_host"),
              "pid1": extra.get("pid1_command"), "hostname": extra.get("hostname_differs"),
              "interfaces": ", ".join(extra.get("net_interfaces") or []) or "–",
              "cgroup": extra.get("cgroup"), "chroot": extra.get("chroot") or None}
    vol_runs = data.runs(doc, "evidence", "evidence.volume", "container")
    volume = (vol_runs[-1].get("metrics") or {}) if vol_runs else None
    return {"kernel": kernel, "ns": ns, "volume": volume}
