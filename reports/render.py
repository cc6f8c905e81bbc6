"""From a results document to the report: one Jinja2 template, one self-contained HTML
file (CSS and SVG inline), and the same HTML printed to PDF.

    generate("reports/out/latest", formats=("html", "pdf"), lang="ru", history="reports/out")
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from reports import claims as claims_mod
from reports import data, evidence_view, history, machines, pdf, plots
from reports.errors import ReportError
from reports.formatting import arrow, fmt, fmt_ratio
from reports.i18n import LANGS, Translator
from reports.load import load_results
from results.compare import IMPROVED, NOISE, REGRESSED
from results.document import run_values
from results.metrics import unit_and_direction
from results.stats import ci_supported

FORMATS = ("html", "pdf")
TEMPLATE_DIR = Path(__file__).with_name("templates")
MIB = data.MIB

EXAM_PARTS = (
    ("exam_a1_title", "exam_a1", ("isolated_process", "chroot_no_isolation", "cgroups_limit",
                                  "runc_bundle")),
    ("exam_a2_title", "exam_a2", ("shared_kernel", "vm_holds_memory", "start_faster",
                                  "weigh_less")),
    ("exam_a3_title", "exam_a3", ("build_trace", "layer_cache", "volumes_outlive",
                                  "networks_join", "network_cost", "compose_app")),
)
FIGURE_ANCHORS = {"limits": "sec-limits", "trace": "sec-trace", "startup": "sec-startup",
                  "weight": "sec-footprint", "vm_memory": "sec-footprint"}


def _bytes(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "–"
    return f"{value / 2**30:.1f} GiB" if value >= 2**30 else f"{value / MIB:.0f} MiB"


# -- the context --------------------------------------------------------------------------------

@dataclass
class Output:
    html: Path | None = None
    pdf: Path | None = None
    pdf_backend: str | None = None
    warnings: list[str] = field(default_factory=list)


def _session(doc: Mapping[str, Any]) -> dict[str, Any]:
    s = doc.get("session", {})
    return {"id": s.get("id", "?"), "profile": s.get("profile", "?"), "repeat": s.get("repeat"),
            "started": s.get("started_at") or "?", "finished": s.get("finished_at") or "…",
            "complete": bool(s.get("complete")), "argv": " ".join(s.get("argv") or []),
            "seed": s.get("seed")}


def accel_reason(doc: Mapping[str, Any]) -> str:
    """Why this acceleration: a VM run's own account (the driver proved it), else the
    machine block's."""
    for run in doc.get("runs", []):
        reason = (run.get("extra") or {}).get("accel_reason")
        if reason and (run.get("extra") or {}).get("accel"):
            return str(reason)
    return str((doc.get("machine", {}).get("acceleration") or {}).get("reason") or "")


def _host_rows(m: Mapping[str, Any], t: Translator) -> list[tuple[str, str]]:
    """Whether "native" is itself a guest, the CPU's frequency and governor, the isobench
    build: rows only where the results record them (older documents do not)."""
    rows = []
    virt = m.get("virtualization")
    if virt:
        if virt.get("guest"):
            how = ", ".join(filter(None, [
                t("virt_flag") if virt.get("hypervisor_flag") else "",
                virt.get("source") if virt.get("source") != "cpuid" else ""]))
            text = t("virt_guest", type=virt.get("type") or "?", how=how or "?")
        else:
            text = t("virt_bare")
        if virt.get("container"):
            text += " " + t("virt_container", container=virt["container"])
        rows.append((t("env_virt"), text))
    cpu = m.get("cpu") or {}
    freq = (cpu.get("freq_mhz") or {})
    if cpu:
        parts = [f"{fmt(freq['current'])} MHz" if freq.get("current") else "",
                 f"{fmt(freq['min'])}–{fmt(freq['max'])} MHz"
                 if freq.get("min") and freq.get("max") else "",
                 t("governor", governor=cpu["governor"]) if cpu.get("governor")
                 else t("no_governor")]
        rows.append((t("env_freq"), ", ".join(p for p in parts if p)))
    build = m.get("isobench") or {}
    if build:
        rows.append(("isobench", " ".join(filter(None, [
            build.get("version"), f"(commit {build['commit']})" if build.get("commit")
            else ""])) or "–"))
    return rows


def _environment(doc: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    m = doc.get("machine", {})
    mode = data.accel_mode(doc)
    reason = accel_reason(doc)
    accel_text = (mode or "").upper() or t("accel_none")
    if reason:
        accel_text += f" ({reason})"
    rows = [(t("env_cpu"), m.get("cpu_model") or "–"), (t("env_cores"), m.get("cores") or "–"),
            (t("env_memory"), _bytes(m.get("memory_bytes"))),
            (t("env_kernel"), " ".join(filter(None, [m.get("kernel"),
                                                     m.get("kernel_version")]))),
            (t("env_distribution"), m.get("distribution") or "–"),
            (t("env_arch"), m.get("arch") or "–"),
            (t("env_cgroup"), m.get("cgroup_mode") or "–"), (t("env_accel"), accel_text)]
    rows += _host_rows(m, t)
    rows += evidence_view.harness_rows(doc, t)
    versions = ", ".join(f"{tool} {version or '(' + t('not_installed') + ')'}"
                         for tool, version in sorted((m.get("versions") or {}).items()))
    rows.append((t("env_versions"), versions or "–"))
    targets = [(name, info.get("available"), info.get("reason") or "")
               for name, info in sorted(doc.get("targets", {}).items(),
                                        key=lambda kv: data.target_order(kv[0]))]
    failed = [t("failed_run", workload=r.get("workload"), variant=r.get("variant"),
                target=r.get("target"),
                error=" ".join(str(r.get("error") or "?").split())[:240])
              for r in data.runs(doc, ok=False)]
    contended = [t("contended_run", variant=r.get("variant"), target=r.get("target"),
                   rep=int(r.get("repetition", 0)) + 1,
                   reasons="; ".join((r.get("contention") or {}).get("reasons") or ["?"]))
                 for r in data.contended_runs(doc)]
    return {"rows": rows, "targets": targets, "accel_reason": reason, "failed": failed,
            "contended": contended, "keep_contended": data.keeps_contended(doc)}


def _missing(doc: Mapping[str, Any], t: Translator) -> list[dict[str, str]]:
    out = []
    for item in data.missing_targets(doc):
        kind, reason = item["kind"], item["reason"] or "?"
        out.append({"name": item["name"], "text": t(f"missing_{kind}", reason=reason)})
    return out


def _summary(doc: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    frame = data.summary_frame(doc)
    if frame.empty:
        return {"groups": [], "targets": []}
    targets = sorted(frame["target"].unique(), key=data.target_order)
    groups = []
    for workload in sorted(frame["workload"].unique(), key=data.workload_order):
        part = frame[frame["workload"] == workload]
        rows = []
        for (variant, metric), cells in part.groupby(["variant", "metric"], sort=False):
            first = cells.iloc[0]
            by_target = {r["target"]: r for _, r in cells.iterrows()}
            row_cells = []
            for target in targets:
                r = by_target.get(target)
                if r is None:
                    row_cells.append({"value": "", "ratio": "", "class": "empty"})
                    continue
                row_cells.append(_summary_cell(r, target, t))
            rows.append({"variant": variant, "metric": metric, "unit": first["unit"],
                         "arrow": arrow(first["better"]), "cells": row_cells})
        groups.append({"workload": workload, "rows": evidence_view.with_setup_rows(
            doc, workload, rows, targets, t)})
    return {"groups": groups, "targets": targets}


def _n(value: Any) -> int | None:
    f = _f(value)
    return int(f) if f is not None else None


def _summary_cell(r: Mapping[str, Any], target: str, t: Translator) -> dict[str, Any]:
    """One target's cell: the median, its n (and range where n cannot carry a CI), the ratio
    (with a CI only where both sides can carry one), and why it is not coloured."""
    n = _n(r["n"])
    if r["class"] == "contended":  # every run of the cell was left out
        return {"value": "–", "detail": "n=0", "ratio": "", "class": "contended", "n": 0,
                "notes": [t("cell_all_contended", n=int(r["contended"]))]}
    iqr = _f(r["iqr"])
    if n is not None and ci_supported(n):
        value, detail = fmt(r["median"]) + (f" ± {fmt(iqr)}" if iqr else ""), f"n={n}"
    else:
        value = fmt(r["median"])
        detail = t("cell_range", n=n if n is not None else "?", low=fmt(_f(r["min"])),
                   high=fmt(_f(r["max"])))
    ratio = t("baseline") if target == data.NATIVE else \
        fmt_ratio(_f(r["ratio"]), _f(r["ci_low"]), _f(r["ci_high"]))
    notes = []
    if isinstance(r["noisy"], str):  # pandas keeps a column of None as NaN
        notes.append(t("cell_noisy", reason=r["noisy"]))
    if isinstance(r.get("refused"), str):
        mine, native = r.get("refused_mine"), r.get("refused_native")
        notes.append(t("cell_refused", target=target, mine=mine, native=native)
                     if isinstance(mine, str) and isinstance(native, str) else r["refused"])
    elif r["class"] == "insufficient":
        notes.append(t("cell_insufficient"))
    if r["contended"]:
        notes.append(t("cell_contended", n=int(r["contended"])))
    return {"value": value, "detail": detail, "ratio": ratio, "class": r["class"], "n": n,
            "notes": notes}


def _f(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _overhead_plots(doc: Mapping[str, Any], t: Translator) -> list[dict[str, Any]]:
    frame = data.summary_frame(doc)
    out = []
    if frame.empty:
        return out
    for workload in sorted(frame["workload"].unique(), key=data.workload_order):
        part = frame[(frame["workload"] == workload) & (frame["target"] != data.NATIVE)]
        rows = [{"label": f"{r['variant']} · {r['metric']} {arrow(r['better'])} "
                          f"(n={_n(r['n'])})",
                 "target": r["target"], "ratio": _f(r["ratio"]), "low": _f(r["ci_low"]),
                 "high": _f(r["ci_high"]), "better": r["better"]}
                for _, r in part.iterrows()]
        rows = [r for r in rows if r["ratio"] is not None]
        if rows:
            out.append({"workload": workload, "svg": Markup(plots.ratio_plot(rows, t))})
    return out


def _startup_label(t: Translator, target: str, variant: str) -> str:
    if target == "container" and not variant.endswith(".cli"):
        return t("t_container_api")
    return plots.target_label(t, target, variant)


def _startup(doc: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    values = data.startup_values(doc)
    series: dict[str, list[float]] = {}
    colors: dict[str, str] = {}
    rows = []
    for (target, variant), vals in values.items():
        label = _startup_label(t, target, variant)
        series[label] = vals
        colors[label] = plots.color("container_cli" if variant.endswith(".cli") else target)
        stats = data.median_ci(vals)
        rows.append({"label": label, "key": (target, variant), **(stats or {})})
    boot = data.metric_values(doc, "startup", "startup.true", "vm", "boot_to_first_output_ms")
    if boot:
        label = t("lbl_boot_first")
        series[label] = boot
        colors[label] = "#f87171"
        rows.append({"label": label, "key": ("vm", "boot"), **(data.median_ci(boot) or {})})
    ratio = None
    api = data.median_ci(values.get(("container", "startup.true"), []))
    runc = data.median_ci(values.get(("runc", "startup.true"), []))
    if api and runc and runc["median"]:
        ratio = api["median"] / runc["median"]
    svg = Markup(plots.ecdf_plot(series, colors, t)) if series else None
    bars = None
    if rows:
        bars = Markup(plots.bars_ci(
            [{"label": f"{r['label']} (n={r['n']})", "median": r["median"], "low": r["low"],
              "high": r["high"], "color": colors[r["label"]]} for r in rows], t, t("ax_launch"),
            log=True))
    return {"svg": svg, "rows": rows, "container_over_runc": ratio, "bars": bars}


def _footprint(doc: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    lines, allocations, rows = [], [], []
    vm_lines, vm_alloc = [], []
    for run in data.runs(doc, "footprint", "footprint.idle"):
        target = run["target"]
        series = data.memory_series(run)
        label = plots.target_label(t, target)
        styles = {"cgroup": "-", "rss": "--", "pss": ":"}
        for name, (ts, vals) in series.items():
            line_label = label if target not in data.VM_TARGETS else f"{label}: {t('lbl_' + name)}"
            line = {"label": line_label, "color": plots.color(target), "t": ts,
                    "mib": [v / MIB for v in vals], "style": styles.get(name, "-")}
            lines.append(line)
            if target == "vm":
                vm_lines.append(line)
        alloc = data.allocation_bytes(run)
        if alloc:
            a = {"label": f"{label} — {t('lbl_allocation')}", "mib": alloc / MIB,
                 "color": plots.color(target)}
            allocations.append(a)
            if target == "vm":
                vm_alloc.append(a)
        held, _ = data.host_memory_bytes(run)
        qemu = (run.get("extra") or {}).get("qemu_memory") or {}
        rows.append({"target": label, "name": target,
                     "median": statistics.median(held) / MIB if held else None,
                     "max": max(held) / MIB if held else None,
                     "alloc": alloc / MIB if alloc else None,
                     "rss": qemu.get("rss", 0) / MIB if qemu.get("rss") else None,
                     "pss": qemu.get("pss", 0) / MIB if qemu.get("pss") else None,
                     "samples": len(held)})
    rows.sort(key=lambda r: data.target_order(r["name"]))
    svg = Markup(plots.footprint_plot(lines, allocations, t)) if lines else None
    vm_svg = Markup(plots.footprint_plot(vm_lines, vm_alloc, t)) if vm_lines else None
    weight = None
    measured = [r for r in rows if r["median"]]
    if measured:
        weight = Markup(plots.bars_ci(
            [{"label": f"{r['target']} (n={r['samples']})", "median": r["median"],
              "color": plots.color(r["name"])} for r in measured], t, t("ax_mib"), log=True))
    return {"svg": svg, "rows": rows, "vm_svg": vm_svg, "weight": weight}


def _density(doc: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    series, rows = {}, []
    for run in data.runs(doc, "density", "density.idle"):
        per_instance = (run.get("extra") or {}).get("per_instance") or []
        if per_instance:
            series[run["target"]] = per_instance
        m = run.get("metrics") or {}
        rows.append({"target": plots.target_label(t, run["target"]),
                     "instances": m.get("instances"), "start_ms": m.get("start_ms_mean"),
                     "mib": m.get("memory_per_instance_mib")})
    svg = Markup(plots.density_plot(series, t)) if series else None
    return {"svg": svg, "rows": rows}


def _limits(doc: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    shares, derived, memory, sampled = {}, set(), {}, set()
    for target in data.present_targets(doc):
        for run in data.runs(doc, "limits", "limits.cpu_half", target)[-1:]:
            share, was_derived = data.cpu_share(run)
            if share is not None:
                shares[target] = share
                if was_derived:
                    derived.add(target)
        for run in data.runs(doc, "limits", "limits.memory_64m", target)[-1:]:
            memory[target] = data.memory_limit_outcome(run)
            if data.peak_sampled(run):
                sampled.add(target)
    svg = Markup(plots.limits_plot(shares, memory, data.CPU_LIMIT, t)) \
        if shares or memory else None
    yes_no = {True: t("yes"), False: t("no"), None: t("unknown")}
    cpu_rows = [{"target": plots.target_label(t, k), "share": v, "derived": k in derived}
                for k, v in shares.items()]
    mem_rows = [{"target": plots.target_label(t, k), **v, "peak_sampled": k in sampled,
                 "enforced_text": yes_no[v["enforced"]]}
                for k, v in memory.items()]
    return {"svg": svg, "cpu": cpu_rows, "memory": mem_rows}


def _claims(doc: Mapping[str, Any], t: Translator, figures: Mapping[str, Any]
            ) -> list[dict[str, Any]]:
    out = []
    for v in claims_mod.evaluate(doc):
        code, params = v.basis
        out.append({
            "id": v.claim, "verdict": v.verdict, "verdict_text": t(f"verdict_{v.verdict}"),
            "title": t(f"claim_{v.claim}"), "statement": t(f"claim_{v.claim}_stmt"),
            "rule": t(f"rule_{v.claim}"), "basis": t(f"basis_{code}", **params),
            "no_evidence": code == "no_evidence",
            "conditions": [t(f"cond_{c}", **p) for c, p in v.conditions],
            "condition_codes": v.condition_codes, "figure": v.figure,
            "figure_html": figures.get(v.figure or ""),
            "anchor": FIGURE_ANCHORS.get(v.figure or ""),
            "lecture": ", ".join(f"#{n}" for n in v.lecture), "numbers": v.numbers})
    return out


def _history(doc: Mapping[str, Any], directory: str | os.PathLike[str] | None,
             t: Translator) -> dict[str, Any] | None:
    if directory is None:
        return None
    h = history.load_history(directory, doc)
    try:
        return _history_of(h, doc, t)
    finally:
        h.close()


def _history_of(h: history.History, doc: Mapping[str, Any], t: Translator) -> dict[str, Any]:
    result: dict[str, Any] = {"dir": h.source, "n": len(h.sessions),
                              "skipped": h.skipped, "plots": [], "regressions": [],
                              "baseline": None, "why": "", "counts": {}}
    if not h.sessions:
        return result
    earlier = h.values()  # the trends read the database's long-form values, not documents
    sessions = [(s.id, earlier.get(s.id, {})) for s in h.sessions] + \
        [(str(doc.get("session", {}).get("id", "now")), run_values(doc))]
    result["labels"] = [label for label, _ in sessions]
    frame = history.trend_frame(sessions)
    # Trends of what this session measured; the x axis is the numbered list of sessions.
    now = frame[frame["session"] == len(sessions) - 1][["workload", "variant", "metric"]]
    frame = frame.merge(now.drop_duplicates(), on=["workload", "variant", "metric"])
    for workload in sorted(frame["workload"].unique(), key=data.workload_order):
        part = frame[frame["workload"] == workload]
        panels = []
        for (variant, metric), group in part.groupby(["variant", "metric"], sort=True):
            unit, better = unit_and_direction(doc, workload, variant, metric)
            if better is None:
                continue
            lines: dict[str, list[tuple[int, float, float, float]]] = {}
            for target in sorted(group["target"].unique(), key=data.target_order):
                g = group[group["target"] == target].sort_values("session")
                lines[target] = [(int(r["session"]), r["median"], r["low"], r["high"])
                                 for _, r in g.iterrows()]
            panels.append({"title": f"{variant} · {metric} ({unit}) {arrow(better)}",
                           "lines": lines})
        if panels:
            result["plots"].append({"workload": workload,
                                    "svg": Markup(plots.trend_plot(panels, result["labels"],
                                                                   t))})
    base, why = history.baseline(h, doc)
    if base is None:
        result["why"] = "; ".join(why)
        return result
    rows = history.regressions(h.document(base), doc)
    result["baseline"] = base.id
    counts = {k: sum(r.change.verdict == k for r in rows) for k in (REGRESSED, IMPROVED, NOISE)}
    result["counts"] = {"regressed": counts[REGRESSED], "improved": counts[IMPROVED],
                        "noise": counts[NOISE], "total": len(rows)}
    result["regressions"] = [
        {"workload": r.workload, "variant": r.variant, "metric": r.metric, "target": r.target,
         "unit": r.unit, "arrow": arrow(r.better), "base": fmt(r.change.base_median),
         "new": fmt(r.change.new_median),
         "change": f"{r.change.change * 100:+.1f} %" if r.change.change is not None else "–"}
        for r in rows if r.change.verdict == REGRESSED]
    return result


def build_context(doc: Mapping[str, Any], path: str | os.PathLike[str], lang: str = "en",
                  history_dir: str | os.PathLike[str] | None = None,
                  env: jinja2.Environment | None = None) -> dict[str, Any]:
    """Everything the template shows, computed from the document."""
    t = Translator(lang)
    env = env or environment()
    startup = _startup(doc, t)
    footprint = _footprint(doc, t)
    trace = evidence_view.trace(doc, t)
    evidence = evidence_view.evidence_tables(doc)
    macros = env.get_template("figures.html.j2").make_module({"t": t, "fmt": fmt})
    figures: dict[str, Any] = {
        "kernel": Markup(macros.kernel_table(evidence["kernel"])) if evidence["kernel"]
        else None,
        "namespaces": Markup(macros.namespace_table(evidence["ns"])) if evidence["ns"]
        else None,
        "chroot": Markup(macros.chroot_table(evidence["ns"]))
        if evidence["ns"] and evidence["ns"]["chroot"] else None,
        "volume": Markup(macros.volume_table(evidence["volume"])) if evidence["volume"]
        else None,
        "build": trace["build_svg"] if trace else None,
        "startup": startup["bars"],
        "weight": footprint["weight"],
        "vm_memory": footprint["vm_svg"],
    }
    claim_views = _claims(doc, t, figures)
    by_id = {c["id"]: c for c in claim_views}
    exam = [{"title": t(title), "text": t(body), "claims": [by_id[c] for c in ids]}
            for title, body, ids in EXAM_PARTS]
    counts = {v: sum(c["verdict"] == v for c in claim_views) for v in claims_mod.VERDICTS}
    env_block = _environment(doc, t)
    return {
        "t": t, "lang": lang, "fmt": fmt, "path": str(path),
        "session": _session(doc), "env": env_block,
        "tcg": data.is_tcg(doc),
        "tcg_reason": f" ({env_block['accel_reason']})" if env_block["accel_reason"] else "",
        "missing": _missing(doc, t), "summary": _summary(doc, t),
        "overhead": _overhead_plots(doc, t), "startup": startup, "footprint": footprint,
        "density": _density(doc, t), "limits": _limits(doc, t), "trace": trace,
        "evidence": evidence, "claims": claim_views, "exam": exam, "counts": counts,
        "history": _history(doc, history_dir, t),
    }


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = fmt
    env.filters["count"] = lambda v: "–" if v is None else f"{int(v)}"
    env.filters["short"] = lambda s, n=19: (str(s)[:n] + "…") if s and len(str(s)) > n else s
    return env


def render_html(doc: Mapping[str, Any], path: str | os.PathLike[str], lang: str = "en",
                history_dir: str | os.PathLike[str] | None = None) -> str:
    env = environment()
    context = build_context(doc, path, lang, history_dir, env)
    return env.get_template("report.html.j2").render(**context)


def _formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    chosen = tuple(dict.fromkeys(f.strip().lower() for f in items if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ReportError(f"unknown format {', '.join(unknown) or repr('')} "
                          f"(valid: {', '.join(FORMATS)})")
    return chosen


def missing_warning(doc: Mapping[str, Any], path: Path) -> str | None:
    missing = data.missing_targets(doc)
    if not missing:
        return None
    parts = [f"{m['name']} ({m['reason'] or m['kind'].replace('_', ' ')})" for m in missing]
    return f"{path}: targets missing from the report: {'; '.join(parts)}"


def generate_machines(sources: Sequence[str | os.PathLike[str]], *,
                      history: str | None = None, out: str | os.PathLike[str] = ".") -> Path:
    """machines.html in `out`: the results files given, or the newest session of each
    machine in `history` (reports/machines.py)."""
    sessions = machines.from_files(sources) if sources else machines.from_history(
        str(history))
    return machines.write(machines.render(sessions, environment()), out)


def generate(results: str | os.PathLike[str], *, formats: str | Sequence[str] = FORMATS,
             lang: str = "en", history_dir: str | os.PathLike[str] | None = None,
             out: str | os.PathLike[str] | None = None, strict_pdf: bool = True) -> Output:
    """Write report.html and/or report.pdf next to the results (or into `out`).

    strict_pdf False: a PDF that cannot be written is a warning, not an error (the HTML is
    written either way, first)."""
    if lang not in LANGS:
        raise ReportError(f"unknown language {lang!r} (valid: {', '.join(LANGS)})")
    chosen = _formats(formats)
    doc, path = load_results(results)
    target_dir = Path(out) if out is not None else path.parent
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ReportError(f"{target_dir}: cannot create the output directory "
                          f"({e.strerror or e})") from None
    result = Output()
    warning = missing_warning(doc, path)
    if warning:
        result.warnings.append(warning)
    html = render_html(doc, path, lang, history_dir)
    if "html" in chosen:
        result.html = target_dir / "report.html"
        tmp = result.html.with_name(".report.html.tmp")
        try:
            tmp.write_text(html, encoding="utf-8")
            os.replace(tmp, result.html)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise ReportError(f"{result.html}: cannot write ({e.strerror or e})") from None
    if "pdf" in chosen:
        target = target_dir / "report.pdf"
        try:
            result.pdf_backend = pdf.write_pdf(html, target)
            result.pdf = target
        except ReportError as e:
            if strict_pdf:
                raise
            result.warnings.append(f"no PDF written: {e}")
    return result
