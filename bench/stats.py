"""Statistics for repeated measurements: robust summaries, bootstrap CIs, run order.

Pure Python (no numpy): the samples are small (tens of repetitions), and the results must be
reproducible from a seed on any host.

Quantiles use `statistics.quantiles(method="inclusive")` (linear interpolation between order
statistics, numpy's default "linear"), so the quartiles of [1, 2, 3, 4, 100] are 2, 3 and 4.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TypeVar

V = TypeVar("V")

# (variant, target, repetition): one step of a run plan.
Step = tuple[V, str, int]


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    q1: float
    q3: float
    iqr: float
    min: float
    max: float
    mean: float
    stdev: float            # sample standard deviation (n - 1); 0 for a single value
    cv: float | None        # stdev / |mean|; None when the mean is 0 but the values vary

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def _checked(values: Sequence[float], what: str = "values") -> list[float]:
    data = [float(v) for v in values]
    if not data:
        raise ValueError(f"no {what} to summarize")
    if not all(math.isfinite(v) for v in data):
        raise ValueError(f"{what} must be finite numbers")
    return data


def summarize(values: Sequence[float]) -> Summary:
    """n, median, quartiles (inclusive method), IQR, range, mean, stdev and CV."""
    data = sorted(_checked(values))
    n = len(data)
    if n == 1:  # statistics.quantiles needs two points before Python 3.13
        q1 = median = q3 = data[0]
    else:
        q1, median, q3 = statistics.quantiles(data, n=4, method="inclusive")
    mean = statistics.fmean(data)
    stdev = statistics.stdev(data) if n > 1 else 0.0
    if stdev == 0.0:
        cv: float | None = 0.0
    else:
        cv = stdev / abs(mean) if mean != 0.0 else None
    return Summary(n=n, median=median, q1=q1, q3=q3, iqr=q3 - q1, min=data[0], max=data[-1],
                   mean=mean, stdev=stdev, cv=cv)


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between order statistics (the same rule as the quartiles)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    pos = fraction * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _resampled_median(rng: random.Random, data: list[float]) -> float:
    return statistics.median(rng.choices(data, k=len(data)))


def _interval(estimates: list[float], point: float, confidence: float) -> tuple[float, float]:
    estimates.sort()
    tail = (1.0 - confidence) / 2.0
    low, high = percentile(estimates, tail), percentile(estimates, 1.0 - tail)
    # The percentile interval of a median can miss the point estimate on tiny, lumpy samples;
    # widen it to include the point so error bars (point - low, high - point) are never negative.
    return min(low, point), max(high, point)


def _check_bootstrap_args(resamples: int, confidence: float) -> None:
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be between 0 and 1")


def bootstrap_median_ci(values: Sequence[float], *, resamples: int = 2000,
                        confidence: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(median, low, high): a percentile bootstrap CI of the median."""
    _check_bootstrap_args(resamples, confidence)
    data = _checked(values)
    point = statistics.median(data)
    rng = random.Random(seed)
    estimates = [_resampled_median(rng, data) for _ in range(resamples)]
    low, high = _interval(estimates, point, confidence)
    return point, low, high


def bootstrap_ratio_ci(
    numerator_values: Sequence[float], denominator_values: Sequence[float], *,
    resamples: int = 2000, confidence: float = 0.95, seed: int = 0,
) -> tuple[float | None, float | None, float | None]:
    """(ratio of medians, low, high) by a percentile bootstrap, each group resampled alone.

    The groups are independent runs (e.g. container vs native), so each is resampled on its
    own. A zero denominator median gives (None, None, None): the ratio is undefined.
    Resamples whose denominator median is 0 are dropped.
    """
    _check_bootstrap_args(resamples, confidence)
    num = _checked(numerator_values, "numerator values")
    den = _checked(denominator_values, "denominator values")
    den_median = statistics.median(den)
    if den_median == 0.0:
        return None, None, None
    point = statistics.median(num) / den_median
    rng = random.Random(seed)
    estimates = []
    for _ in range(resamples):
        top, bottom = _resampled_median(rng, num), _resampled_median(rng, den)
        if bottom != 0.0:
            estimates.append(top / bottom)
    if not estimates:
        return point, None, None
    low, high = _interval(estimates, point, confidence)
    return point, low, high


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _rounds(targets: Sequence[str], variants: Sequence[V], rounds: int,
            rng: random.Random) -> list[Step[V]]:
    if rounds < 0:
        raise ValueError("the number of rounds must not be negative")
    plan: list[Step[V]] = []
    for rep in range(rounds):
        block = [(variant, target) for variant in variants for target in targets]
        rng.shuffle(block)
        plan.extend((variant, target, rep) for variant, target in block)
    return plan


def interleave(targets: Sequence[str], variants: Sequence[V], repetitions: int,
               seed: int) -> list[Step[V]]:
    """The measured runs: `repetitions` rounds, each every (variant, target) once, shuffled.

    Randomizing the order inside each round spreads slow drift (thermal, page cache, a
    noisy neighbour) over all targets alike instead of charging it to whichever runs last.
    Repetitions count from 0; the same seed gives the same plan.
    """
    return _rounds(targets, variants, repetitions, random.Random(seed))


def warmup_plan(targets: Sequence[str], variants: Sequence[V], rounds: int,
                seed: int) -> list[Step[V]]:
    """Warm-up runs (not recorded) before the measured ones: `rounds` shuffled rounds.

    Uses its own random stream, so adding warm-ups does not change the measured order.
    """
    return _rounds(targets, variants, rounds, random.Random(f"warmup:{seed}"))
