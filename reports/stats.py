"""Small statistics, kept local because reports/ imports nothing from bench/.

They follow bench/stats.py's definitions so a report and `isobench compare` agree:
quartiles by linear interpolation between order statistics (`statistics.quantiles`,
method "inclusive"); a percentile bootstrap CI of the median (2000 resamples, seed 0,
widened to include the point estimate); and the regression rule of `isobench compare`:

    A metric regressed when, in its own better-direction, the new median is worse than
    the baseline's by more than the threshold (5 %) AND the bootstrap 95 % CIs of the two
    medians do not overlap. A change beyond the threshold whose CIs overlap is "within
    noise"; a change at or under the threshold is "same"; a metric with no direction is
    "direction unknown".
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

THRESHOLD = 0.05
RESAMPLES = 2000
CONFIDENCE = 0.95

REGRESSED, IMPROVED, SAME, NOISE = "regressed", "improved", "same", "within noise"
ONLY_BASE, ONLY_NEW, UNKNOWN = "only in baseline", "only in new", "direction unknown"


def finite(values: Sequence[float | int | None]) -> list[float]:
    return [float(v) for v in values
            if v is not None and not isinstance(v, bool) and math.isfinite(float(v))]


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    data = sorted(finite(values))
    if not data:
        raise ValueError("no values")
    if len(data) == 1:
        return data[0], data[0], data[0]
    q1, q2, q3 = statistics.quantiles(data, n=4, method="inclusive")
    return q1, q2, q3


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    pos = fraction * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def bootstrap_median_ci(values: Sequence[float], *, resamples: int = RESAMPLES,
                        confidence: float = CONFIDENCE, seed: int = 0
                        ) -> tuple[float, float, float]:
    """(median, low, high): percentile bootstrap CI of the median, as bench/stats.py."""
    data = finite(values)
    if not data:
        raise ValueError("no values")
    point = statistics.median(data)
    if len(data) == 1 or min(data) == max(data):
        return point, point, point
    rng = random.Random(seed)
    estimates = sorted(statistics.median(rng.choices(data, k=len(data)))
                       for _ in range(resamples))
    tail = (1.0 - confidence) / 2.0
    low, high = percentile(estimates, tail), percentile(estimates, 1.0 - tail)
    return point, min(low, point), max(high, point)


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def relative_change(base: float, new: float) -> float | None:
    if base != 0.0:
        return (new - base) / abs(base)
    return 0.0 if new == 0.0 else None


@dataclass(frozen=True)
class Change:
    verdict: str
    base_median: float | None
    new_median: float | None
    change: float | None
    base_ci: tuple[float, float] | None
    new_ci: tuple[float, float] | None


def compare_values(better: str | None, base: Sequence[float] | None,
                   new: Sequence[float] | None, threshold: float = THRESHOLD,
                   *, resamples: int = RESAMPLES) -> Change:
    """The regression rule (module docstring) for one metric of one target."""
    base, new = finite(base or []), finite(new or [])
    if not base or not new:
        return Change(ONLY_BASE if base else ONLY_NEW,
                      statistics.median(base) if base else None,
                      statistics.median(new) if new else None, None, None, None)
    bm, blo, bhi = bootstrap_median_ci(base, resamples=resamples)
    nm, nlo, nhi = bootstrap_median_ci(new, resamples=resamples)
    change = relative_change(bm, nm)
    if change == 0.0 or (change is not None and abs(change) <= threshold):
        verdict = SAME
    elif better not in ("higher", "lower"):
        verdict = UNKNOWN
    elif intervals_overlap((blo, bhi), (nlo, nhi)):
        verdict = NOISE
    else:
        new_is_higher = nlo > bhi
        verdict = IMPROVED if new_is_higher == (better == "higher") else REGRESSED
    return Change(verdict, bm, nm, change, (blo, bhi), (nlo, nhi))
