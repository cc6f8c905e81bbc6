"""Numbers as the report prints them (tables, plot annotations)."""

from __future__ import annotations

import math
from typing import Any


def fmt(value: Any) -> str:
    """A number for a table: about four significant digits, thousands separated."""
    if value is None or isinstance(value, bool):
        return "–" if value is None else str(value)
    if not isinstance(value, int | float):
        return str(value)
    if not math.isfinite(value):
        return "–"
    a = abs(value)
    if a >= 1000:
        return f"{value:,.0f}".replace(",", "\u2009")
    if a >= 100:
        return f"{value:.0f}"
    if a >= 10:
        return f"{value:.1f}"
    if a >= 0.9995:  # 0.9999 too: "1.00" like its neighbours, not "1"
        return f"{value:.2f}"
    if a == 0:
        return "0"
    return f"{value:.3g}"


def fmt_ratio(ratio: float | None, low: float | None, high: float | None) -> str:
    if ratio is None:
        return "–"
    if low is None or high is None or (low == ratio == high):
        return f"×{fmt(ratio)}"
    return f"×{fmt(ratio)} [{fmt(low)}–{fmt(high)}]"


def arrow(better: str | None) -> str:
    return {"higher": "↑", "lower": "↓"}.get(better or "", "")
