"""Figures as inline SVG strings (matplotlib, Agg backend, text kept as text).

Every function takes plain data plus a translator `t` for its labels and returns the SVG
markup of one figure, ready to be placed in the HTML: no XML prolog, no DOCTYPE, no
metadata block, nothing fetched from anywhere.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from reports.formatting import fmt  # noqa: E402

T = Callable[..., str]

COLORS = {"native": "#6b7280", "container": "#2563eb", "container_cli": "#93c5fd",
          "runc": "#16a34a", "microvm": "#c026d3", "vm": "#dc2626"}
FALLBACK_COLORS = ("#9333ea", "#ea580c", "#0891b2", "#a16207")

plt.rcParams.update({
    "svg.fonttype": "none",          # text stays text: small files, searchable, any script
    "svg.hashsalt": "isobench",      # stable ids; each figure's ids also get a prefix below
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 8,
    "legend.frameon": False,
})

_counter = 0


def color(key: str, index: int = 0) -> str:
    return COLORS.get(key, FALLBACK_COLORS[index % len(FALLBACK_COLORS)])


def target_label(t: T, target: str, variant: str = "") -> str:
    if target == "container" and variant.endswith(".cli"):
        return t("t_container_cli")
    key = f"t_{target}"
    label = t(key)
    return target if label == key else label


def to_svg(fig: Figure) -> str:
    """The figure as inline SVG; ids are prefixed so several figures share one page."""
    global _counter
    _counter += 1
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.S)
    prefix = f"f{_counter}-"
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    # Let the page size it: keep the viewBox, drop the fixed width/height in pt.
    svg = re.sub(r'<svg([^>]*?) width="[\d.]+pt" height="[\d.]+pt"',
                 r'<svg\1 class="plot" preserveAspectRatio="xMidYMid meet"', svg, count=1)
    return svg.strip()


def log_axis(ax: Any, axis: str = "x") -> None:
    """A log scale labelled in plain numbers (1, 2, 5, 10, ... or only the decades when the
    range is wide), no mathtext."""
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    low, high = ax.get_xlim() if axis == "x" else ax.get_ylim()
    decades = math.log10(high / low) if low > 0 and high > low else 0.0
    subs = (1.0, 2.0, 5.0) if decades <= 2.2 else (1.0,)
    target.set_major_locator(LogLocator(base=10, subs=subs, numticks=12))
    target.set_major_formatter(FuncFormatter(lambda v, _pos: fmt(v)))
    target.set_minor_formatter(NullFormatter())


def _log_if_wide(ax: Any, values: Sequence[float], axis: str = "x",
                 factor: float = 8.0) -> None:
    positive = [v for v in values if v and v > 0 and math.isfinite(v)]
    if positive and max(positive) / min(positive) > factor:
        log_axis(ax, axis)


# -- overhead ratios ----------------------------------------------------------------------------

def ratio_plot(rows: Sequence[Mapping[str, Any]], t: T, title: str = "") -> str:
    """rows: {label, target, ratio, low, high, better} for the non-native targets; one line
    per variant·metric, one marker per target, error bars from the CI."""
    labels: list[str] = []
    for r in rows:
        if r["label"] not in labels:
            labels.append(r["label"])
    targets: list[str] = []
    for r in rows:
        if r["target"] not in targets:
            targets.append(r["target"])
    height = max(1.6, 0.32 * len(labels) * max(1, len(targets)) ** 0.5 + 0.9)
    fig, ax = plt.subplots(figsize=(7.2, height))
    spread = 0.6 / max(1, len(targets))
    values: list[float] = []
    for i, target in enumerate(targets):
        ys, xs, lo, hi = [], [], [], []
        for r in rows:
            if r["target"] != target or r["ratio"] is None:
                continue
            y = labels.index(r["label"]) + (i - (len(targets) - 1) / 2) * spread
            low = r["low"] if r["low"] is not None else r["ratio"]
            high = r["high"] if r["high"] is not None else r["ratio"]
            ys.append(y)
            xs.append(r["ratio"])
            lo.append(max(0.0, r["ratio"] - low))
            hi.append(max(0.0, high - r["ratio"]))
            values += [r["ratio"], low, high]
        if xs:
            ax.errorbar(xs, ys, xerr=[lo, hi], fmt="o", ms=5, capsize=3,
                        color=color(target, i), label=target_label(t, target))
    ax.axvline(1.0, color="#111827", lw=1, ls="--")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    _log_if_wide(ax, values)
    ax.set_xlabel(t("ax_ratio"))
    if title:
        ax.set_title(title, loc="left")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=max(1, len(targets)),
              borderaxespad=0.2)
    return to_svg(fig)


# -- start-up -----------------------------------------------------------------------------------

def ecdf_plot(series: Mapping[str, Sequence[float]], colors: Mapping[str, str], t: T) -> str:
    """label -> launch-to-exit ms; empirical CDFs on a log x axis."""
    fig, ax = plt.subplots(figsize=(7.2, 3.2))
    everything: list[float] = []
    for label, values in series.items():
        data = sorted(values)
        if not data:
            continue
        everything += data
        ys = [(i + 1) / len(data) for i in range(len(data))]
        ax.step([data[0]] + data, [0.0] + ys, where="post", color=colors.get(label),
                label=f"{label} (n={len(data)}, median {_median(data):.1f} ms)")
        ax.plot(data, ys, "o", ms=3, color=colors.get(label))
    if everything and min(everything) > 0:
        log_axis(ax, "x")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(t("ax_launch"))
    ax.set_ylabel(t("ax_ecdf"))
    ax.legend(loc="lower right")
    return to_svg(fig)


def _median(data: Sequence[float]) -> float:
    s = sorted(data)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def bars_ci(items: Sequence[Mapping[str, Any]], t: T, xlabel: str, log: bool = False) -> str:
    """items: {label, median, low, high, color}; horizontal bars with CI whiskers."""
    fig, ax = plt.subplots(figsize=(7.2, 0.45 * len(items) + 0.9))
    ys = list(range(len(items)))
    med = [i["median"] for i in items]
    lo = [max(0.0, i["median"] - (i.get("low") if i.get("low") is not None else i["median"]))
          for i in items]
    hi = [max(0.0, (i.get("high") if i.get("high") is not None else i["median"]) - i["median"])
          for i in items]
    ax.barh(ys, med, xerr=[lo, hi], capsize=3, color=[i["color"] for i in items], alpha=0.85)
    for y, m, h in zip(ys, med, hi, strict=True):
        ax.annotate(fmt(m), (m + h, y), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.set_yticks(ys)
    ax.set_yticklabels([i["label"] for i in items])
    ax.invert_yaxis()
    if log and med and min(med) > 0:
        log_axis(ax, "x")
    ax.set_xlim(right=ax.get_xlim()[1] * (3 if log else 1.12))
    ax.set_xlabel(xlabel)
    return to_svg(fig)


# -- memory -------------------------------------------------------------------------------------

def footprint_plot(lines: Sequence[Mapping[str, Any]], allocations: Sequence[Mapping[str, Any]],
                   t: T) -> str:
    """lines: {label, color, t: [s], mib: [MiB], style}; allocations: {label, mib, color}."""
    fig, ax = plt.subplots(figsize=(7.2, 3.4))
    values: list[float] = []
    for line in lines:
        if not line["mib"]:
            continue
        values += list(line["mib"])
        ax.plot(line["t"], line["mib"], line.get("style", "-"), color=line["color"],
                label=line["label"], marker="o" if len(line["mib"]) < 3 else None, ms=3)
    for alloc in allocations:
        values.append(alloc["mib"])
        ax.axhline(alloc["mib"], color=alloc["color"], ls="--", lw=1.2)
        ax.annotate(f"{alloc['label']}: {alloc['mib']:.0f} MiB", (0, alloc["mib"]),
                    xycoords=("axes fraction", "data"), xytext=(4, 3),
                    textcoords="offset points", fontsize=8, color=alloc["color"])
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > 8:
        log_axis(ax, "y")
    ax.set_xlabel(t("ax_time"))
    ax.set_ylabel(t("ax_memory") if ax.get_yscale() == "log" else t("ax_mib"))
    ax.legend(loc="center right")
    return to_svg(fig)


def density_plot(series: Mapping[str, Sequence[Mapping[str, float]]], t: T) -> str:
    """target -> per-instance {memory_bytes, start_ms}: total memory and start time against
    the number of instances started."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7.2, 3.0))
    for i, (target, per_instance) in enumerate(series.items()):
        xs = list(range(1, len(per_instance) + 1))
        # a missing reading is a gap (NaN: no bar, no point), and so is every total after it
        mib = [math.nan if p.get("memory_bytes") is None else p["memory_bytes"] / 2**20
               for p in per_instance]
        total = [sum(mib[: k + 1]) for k in range(len(mib))]
        c = color(target, i)
        ax1.plot(xs, total, "-o", ms=3, color=c, label=target_label(t, target))
        ax1.bar(xs, mib, color=c, alpha=0.25, label=f"{target_label(t, target)}, "
                f"{t('lbl_per_instance')}")
        ax2.plot(xs, [p.get("start_ms") or 0 for p in per_instance], "-o", ms=3, color=c,
                 label=target_label(t, target))
    ax1.set_xlabel(t("ax_instance"))
    ax1.set_ylabel(t("ax_cumulative"))
    ax1.legend(loc="upper left")
    ax2.set_xlabel(t("ax_instance"))
    ax2.set_ylabel(t("ax_start_ms"))
    ax2.set_ylim(bottom=0)
    for ax in (ax1, ax2):
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return to_svg(fig)


# -- limits -------------------------------------------------------------------------------------

def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def limits_plot(shares: Mapping[str, float], memory: Mapping[str, Mapping[str, Any]],
                asked: float, t: T) -> str:
    """CPU share per target against the quota asked; peak memory against the limit given,
    with the OOM killer's actions annotated."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7.2, 2.9))
    names = list(shares)
    ax1.bar(range(len(names)), [shares[n] for n in names],
            color=[color(n, i) for i, n in enumerate(names)])
    ax1.axhline(asked, color="#111827", ls="--", lw=1, label=t("lbl_asked"))
    for i, n in enumerate(names):
        ax1.annotate(f"{shares[n]:.2f}", (i, shares[n]), xytext=(0, 2),
                     textcoords="offset points", ha="center", fontsize=8)
    ax1.set_xticks(range(len(names)))
    ax1.set_xticklabels([target_label(t, n) for n in names], rotation=15)
    ax1.set_ylabel(t("ax_share"))
    ax1.set_ylim(0, max([asked * 2, *shares.values()]) * 1.15 if shares else 1)
    ax1.set_title(t("limits_cpu"), loc="left")
    ax1.legend(loc="upper right")
    mnames = list(memory)
    xs = range(len(mnames))
    ax2.bar([x - 0.2 for x in xs], [memory[n]["given_mib"] for n in mnames], width=0.4,
            color="#d1d5db", label=t("lbl_given"))
    # a peak not read is no bar (NaN) and says so, never a bar of 0
    ax2.bar([x + 0.2 for x in xs], [_or_nan(memory[n]["peak_mib"]) for n in mnames],
            width=0.4, color=[color(n, i) for i, n in enumerate(mnames)], label=t("lbl_peak"))
    for x, n in zip(xs, mnames, strict=True):
        m = memory[n]
        times = m.get("oom_kills") or m.get("oom_restarts")
        acted = [f"{t('lbl_peak')} –" if m.get("peak_mib") is None else "",
                 f"{t('lbl_oom')} ×{int(times)}" if times else "",
                 f"exit {m['exit_code']}" if m.get("exit_code") not in (None, 0) else ""]
        note = ", ".join(a for a in acted if a)
        if note:
            top = max(m["given_mib"], m["peak_mib"] or 0)
            ax2.annotate(note, (x, top), xytext=(0, 2), textcoords="offset points",
                         ha="center", fontsize=7)
    ax2.set_xticks(list(xs))
    ax2.set_xticklabels([target_label(t, n) for n in mnames], rotation=15)
    ax2.set_ylabel(t("ax_peak"))
    ax2.set_title(t("limits_memory"), loc="left")
    ax2.set_ylim(0, max([1.0, *(max(m["given_mib"], m["peak_mib"] or 0)
                                for m in memory.values())]) * 1.45)
    ax2.legend(loc="upper right", ncol=2)
    fig.tight_layout()
    return to_svg(fig)


# -- build --------------------------------------------------------------------------------------

def build_plot(cold: Sequence[Mapping[str, Any]], cached: Sequence[Mapping[str, Any]],
               t: T) -> str:
    """Seconds per Dockerfile step, cold build against the cached rebuild."""
    steps = [str(s.get("text", "")) for s in cold]
    labels = [s if len(s) <= 38 else s[:37] + "…" for s in steps]
    fig, ax = plt.subplots(figsize=(7.2, 0.42 * len(steps) + 1.0))
    ys = list(range(len(steps)))
    floor = 1e-5
    ax.barh([y - 0.2 for y in ys], [max(floor, s.get("seconds") or 0) for s in cold],
            height=0.4, color="#f59e0b", label=t("lbl_cold"))
    by_text = {str(s.get("text")): s for s in cached}
    ax.barh([y + 0.2 for y in ys],
            [max(floor, (by_text.get(s) or {}).get("seconds") or 0) for s in steps],
            height=0.4, color="#2563eb", label=t("lbl_cached"))
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    log_axis(ax, "x")
    ax.set_xlabel(t("ax_seconds"))
    ax.legend(loc="lower right")
    return to_svg(fig)


# -- history ------------------------------------------------------------------------------------

def trend_plot(panels: Sequence[Mapping[str, Any]], sessions: Sequence[str], t: T) -> str:
    """panels: {title, lines: {target: [(session index, median, low, high)]}}; small
    multiples, three per row."""
    cols = 3 if len(panels) > 2 else max(1, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7.2, 2.1 * rows + 0.3), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        for i, (target, points) in enumerate(panel["lines"].items()):
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            lo = [max(0.0, p[1] - p[2]) for p in points]
            hi = [max(0.0, p[3] - p[1]) for p in points]
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt="-o", ms=3, capsize=2,
                        color=color(target, i), label=target_label(t, target))
        ax.set_title(panel["title"], fontsize=8, loc="left")
        ax.set_xticks(range(len(sessions)))
        ax.set_xticklabels([str(i + 1) for i in range(len(sessions))], fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    top = 1 - 0.35 / (2.1 * rows + 0.3)
    if handles:
        fig.legend(handles, labels, loc="upper center", ncol=len(labels),
                   bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, top))
    return to_svg(fig)
