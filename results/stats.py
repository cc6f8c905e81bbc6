"""The one statistics module: robust summaries and bootstrap CIs of repeated measurements.

Pure Python (no numpy): the samples are small (tens of repetitions), and the results must be
reproducible from a seed on any host. The session summary, `isobench compare`, the report
and the standalone tools (bench/tools/) all use these definitions, so they agree.

Quartiles are the *inclusive* method, `statistics.quantiles(method="inclusive")`: linear
interpolation between order statistics (numpy's default "linear"), so the quartiles of
[1, 2, 3, 4, 100] are 2, 3 and 4. (The default "exclusive" method would give 1.5 and 52.)
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass


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


def finite(values: Sequence[float | int | None]) -> list[float]:
    """The finite numbers among `values` (None, booleans, NaN and infinities dropped)."""
    return [float(v) for v in values
            if v is not None and not isinstance(v, bool) and math.isfinite(float(v))]


def _checked(values: Sequence[float], what: str = "values") -> list[float]:
    data = [float(v) for v in values]
    if not data:
        raise ValueError(f"no {what} to summarize")
    if not all(math.isfinite(v) for v in data):
        raise ValueError(f"{what} must be finite numbers")
    return data


def median(values: Sequence[float]) -> float:
    return float(statistics.median(_checked(values)))


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(Q1, median, Q3), inclusive method; a single value is all three."""
    data = sorted(_checked(values))
    if len(data) == 1:  # statistics.quantiles needs two points before Python 3.13
        return data[0], data[0], data[0]
    q1, q2, q3 = statistics.quantiles(data, n=4, method="inclusive")
    return q1, q2, q3


def iqr(values: Sequence[float]) -> float:
    """Q3 - Q1 (inclusive method); 0 for a single value."""
    q1, _, q3 = quartiles(values)
    return q3 - q1


def summarize(values: Sequence[float]) -> Summary:
    """n, median, quartiles (inclusive method), IQR, range, mean, stdev and CV."""
    data = sorted(_checked(values))
    n = len(data)
    q1, mid, q3 = quartiles(data)
    mean = statistics.fmean(data)
    stdev = statistics.stdev(data) if n > 1 else 0.0
    if stdev == 0.0:
        cv: float | None = 0.0
    else:
        cv = stdev / abs(mean) if mean != 0.0 else None
    return Summary(n=n, median=mid, q1=q1, q3=q3, iqr=q3 - q1, min=data[0], max=data[-1],
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


MIN_CI_N = 5  # interim: the statistics branch (issue 14) replaces this block


def ci_supported(n: int) -> bool:
    return n >= MIN_CI_N


def noisy_reason(values: Sequence[float], cv_limit: float) -> str | None:
    data = finite(values)
    if len(data) < 2:
        return None
    cv = summarize(data).cv
    return f"CV {cv:.0%} > {cv_limit:.0%}" if cv is not None and cv > cv_limit else None


def bootstrap_ratio_ci(
    numerator_values: Sequence[float], denominator_values: Sequence[float], *,
    resamples: int = 2000, confidence: float = 0.95, seed: int = 0, paired: bool = False,
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
    if min(len(num), len(den)) < MIN_CI_N:
        return point, None, None
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
