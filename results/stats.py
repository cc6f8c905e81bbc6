"""The one statistics module: robust summaries and bootstrap CIs of repeated measurements.

Pure Python (no numpy): the samples are small (tens of repetitions), and the results must be
reproducible from a seed on any host. The session summary, `isobench compare`, the report
and the standalone tools (bench/tools/) all use these definitions, so they agree.

Quartiles are the *inclusive* method, `statistics.quantiles(method="inclusive")`: linear
interpolation between order statistics (numpy's default "linear"), so the quartiles of
[1, 2, 3, 4, 100] are 2, 3 and 4. (The default "exclusive" method would give 1.5 and 52.)

CIs (MIN_CI_N = 5: none below it). The bootstrap of a median is lumpy (n = 5 has 5 possible
bootstrap medians), so two choices matter more than the method's name: (1) for unpaired groups
of up to EXACT_MAX_N values the bootstrap is *exact* (each resample's median weighted by its
probability, Maritz & Jarrett 1978: no Monte-Carlo error, ~1 ms a cell); (2) bounds are whole
bootstrap values, never interpolated between lumps (interpolating undercovers). The method
is the percentile interval, chosen over BCa by coverage of the true ratio of medians by the
95 % interval (bench/tools/simulate_compare.py, 600-2000 trials, MC error ~0.5-0.9 points;
normal and lognormal the same, the ratio of medians being invariant under a monotone
transform for odd n; tests/unit/test_results_simulation.py keeps the percentile rows):

    unpaired percentile   n=5 96-97 %   n=10 96-97 %      paired percentile n=5 94.6 %  n=10 98 %
    unpaired BCa          n=5 95.7 %    n=10 94.5-94.7 %  paired BCa        n=5 83 %    n=10 89 %

BCa's acceleration comes from the jackknife, which is erratic for a median; the percentile
interval covers >= 93 % everywhere. Nothing selected BCa, so it was removed (issue 13: an
option no caller uses is code no test keeps honest; `git log -S _acceleration` finds it).
The median's own CI at n = 5 is [min, max]: 1 - 2/2^5 = 93.75 % for any
continuous distribution (94-95 % at n = 10).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    q1: float
    q3: float
    iqr: float | None       # None below 2 values: one value says nothing about spread
    min: float
    max: float
    mean: float
    stdev: float | None     # sample standard deviation (n - 1); None for a single value
    cv: float | None        # stdev / |mean|; None for one value or a zero mean that varies

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
    """n, median, quartiles (inclusive method), IQR, range, mean, stdev and CV.

    IQR, stdev and CV are None for a single value: stored as 0 they read as perfect
    precision."""
    data = sorted(_checked(values))
    n = len(data)
    q1, mid, q3 = quartiles(data)
    mean = statistics.fmean(data)
    if n < 2:
        return Summary(n=n, median=mid, q1=q1, q3=q3, iqr=None, min=data[0], max=data[-1],
                       mean=mean, stdev=None, cv=None)
    stdev = statistics.stdev(data)
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


# -- sample-size policy -----------------------------------------------------------------------

MIN_CI_N = 5
"""The fewest values on a side for which any CI is computed, printed or drawn: below it the
median's bootstrap has at most 3 distinct values to choose from and its interval is about the
sample's range (at n = 3 exactly [min, max], about 75 % coverage however it is labelled)."""

# Up to this many values per group the unpaired bootstrap is computed exactly (every
# resample weighted by its probability); beyond it the product of two groups' medians has
# too many points to sort quickly, and Monte-Carlo resamples are used instead.
EXACT_MAX_N = 20
_EPS = 1e-12

Dist = list[tuple[float, float]]     # (value, probability), sorted by value, summing to 1


def ci_supported(n: int) -> bool:
    """Whether n values on a side are enough to show a CI at all (MIN_CI_N)."""
    return n >= MIN_CI_N


def _merged(items: Sequence[tuple[float, float]]) -> Dist:
    """Sorted, equal values merged, the probabilities renormalised (dropped resamples).
    Every weight is positive, so the total is 0 only when there are no items."""
    out: Dist = []
    for value, weight in sorted(items):
        if out and out[-1][0] == value:
            out[-1] = (value, out[-1][1] + weight)
        else:
            out.append((value, weight))
    total = sum(w for _, w in out)
    return [(v, w / total) for v, w in out]


@functools.cache
def _median_weights(n: int) -> tuple[tuple[int, int, float], ...]:
    """(j, k, P): a bootstrap resample of n values has median (x[j] + x[k]) / 2 with
    probability P (0-based order statistics of the sample; j == k for odd n).

    The exact bootstrap of the median (Maritz & Jarrett 1978): it depends on n only. A
    resample's median is x[j] or below when at least half of its n draws fall on the j+1
    lowest values, a binomial; for even n the two middle order statistics are counted
    jointly with a multinomial over (below x[j], at x[j], between, at x[k], above x[k]).
    """
    out: list[tuple[int, int, float]] = []
    fact = math.factorial
    if n % 2:
        half = (n + 1) // 2

        def at_least_half(p: float) -> float:
            return sum(math.comb(n, c) * p ** c * (1 - p) ** (n - c) for c in range(half, n + 1))

        previous = 0.0
        for j in range(1, n + 1):
            current = at_least_half(j / n)
            out.append((j - 1, j - 1, current - previous))
            previous = current
    else:
        half, one = n // 2, 1.0 / n
        for j in range(1, n + 1):
            below = (j - 1) / n
            same = sum(fact(n) / (fact(a) * fact(c) * fact(n - a - c))
                       * below ** a * one ** c * (1 - below - one) ** (n - a - c)
                       for a in range(half) for c in range(half + 1 - a, n - a + 1))
            out.append((j - 1, j - 1, same))
            for k in range(j + 1, n + 1):
                above = (n - k) / n
                split = sum(fact(n) / (fact(a) * fact(half - a) * fact(c) * fact(n - half - c))
                            * below ** a * one ** (half - a + c) * above ** (n - half - c)
                            for a in range(half) for c in range(1, n - half + 1))
                out.append((j - 1, k - 1, split))
    return tuple(w for w in out if w[2] > _EPS)


def _exact_median_dist(data: Sequence[float]) -> Dist:
    ordered = sorted(data)
    return _merged([((ordered[j] + ordered[k]) / 2, w) for j, k, w in _median_weights(len(data))])


def _resampled_median(rng: random.Random, data: list[float]) -> float:
    return statistics.median(rng.choices(data, k=len(data)))


def _monte_carlo(values: list[float]) -> Dist:
    return _merged([(v, 1.0) for v in values])


def _lower(dist: Dist, tail: float) -> float:
    """The largest value with P(below it) <= tail: conservative, never interpolated (a
    median's bootstrap is lumpy, and interpolating between lumps undercovers). The lowest
    value always qualifies: nothing is below it."""
    bound, below = dist[0]
    for value, weight in dist[1:]:
        if below > tail + _EPS:
            break
        bound, below = value, below + weight
    return bound


def _upper(dist: Dist, tail: float) -> float:
    """The smallest value with P(above it) <= tail (_lower's mirror image)."""
    bound, above = dist[-1]
    for value, weight in reversed(dist[:-1]):
        if above > tail + _EPS:
            break
        bound, above = value, above + weight
    return bound


@dataclass(frozen=True)
class Bootstrap:
    """The bootstrap distribution of a statistic (a median, a ratio of medians) and its
    point estimate: what its percentile intervals and p-values need.

    An exact unpaired ratio keeps its two medians' distributions (`factors`) and builds the
    product (`dist`, up to 21 x 21 points at n = 20) only when an interval asks for it: a
    p-value needs one sum over the numerator's points (what compare does 64 times a session).
    """

    point: float
    samples: Dist = field(default_factory=list)
    factors: tuple[Dist, Dist] | None = None

    @property
    def empty(self) -> bool:
        """No resample had a ratio (every denominator median 0)."""
        return self.factors is None and not self.samples

    @functools.cached_property
    def dist(self) -> Dist:
        if self.factors is None:
            return self.samples
        tops, bottoms = self.factors
        return _merged([(t / b, p * q) for t, p in tops for b, q in bottoms if b != 0.0])

    def _tail_mass(self, bound: float, *, upper: bool) -> float:
        """P*(estimate <= bound), or P*(estimate >= bound) when `upper`."""
        if self.factors is not None and bound > 0 and all(b > 0 for b, _ in self.factors[1]):
            # For b > 0 and bound > 0, t / b falls as b rises (t > 0) or stays below the bound
            # (t <= 0): the b with t / b <= bound are a suffix of the sorted denominators, found
            # by one bisection per numerator point. The test is the float t / b that `dist`
            # holds, not b >= t / bound, which rounds differently: a ratio on the bound (105 /
            # 100 against 1.05) would leave the mass on one path and not the other.
            tops, bottoms = self.factors
            values = [b for b, _ in bottoms]
            suffix = list(itertools.accumulate((q for _, q in reversed(bottoms))))[::-1] + [0.0]
            mass = 0.0
            for t, p in tops:
                if upper:  # t / b >= bound: the b before the first with t / b < bound
                    first = bisect.bisect_left(values, True, key=lambda b, t=t: t / b < bound)
                    mass += p * (1.0 - suffix[first])
                else:
                    first = bisect.bisect_left(values, True, key=lambda b, t=t: t / b <= bound)
                    mass += p * suffix[first]
            return mass
        if upper:
            return sum(w for v, w in self.dist if v >= bound)
        return sum(w for v, w in self.dist if v <= bound)

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """The two-sided percentile interval, widened to take in the point estimate (the
        lumpy bootstrap of a median can miss it; error bars point - low, high - point are
        never negative)."""
        tail = (1.0 - confidence) / 2.0
        low, high = _lower(self.dist, tail), _upper(self.dist, tail)
        return min(low, self.point), max(high, self.point)

    def p_beyond(self, bound: float, *, above: bool) -> float:
        """The smallest 1 - confidence at which interval() lies wholly above (below) `bound`:
        a two-sided p-value for "the statistic is beyond the bound". 1 when the point
        estimate is not beyond it (interval() always holds the point)."""
        if (self.point <= bound) if above else (self.point >= bound):
            return 1.0
        mass = self._tail_mass(bound, upper=not above)
        if mass <= _EPS:
            return 0.0
        return min(1.0, 2.0 * mass)


def _check_bootstrap_args(resamples: int, confidence: float) -> None:
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be between 0 and 1")


def median_bootstrap(values: Sequence[float], *, resamples: int = 2000,
                     seed: int = 0) -> Bootstrap:
    """The bootstrap of a median: exact up to EXACT_MAX_N values, else `resamples` draws."""
    data = _checked(values)
    point = statistics.median(data)
    if len(data) <= EXACT_MAX_N:
        dist = _exact_median_dist(data)
    else:
        rng = random.Random(seed)
        dist = _monte_carlo([_resampled_median(rng, data) for _ in range(resamples)])
    return Bootstrap(point, dist)


def bootstrap_median_ci(values: Sequence[float], *, resamples: int = 2000,
                        confidence: float = 0.95, seed: int = 0,
                        min_n: int = 1) -> tuple[float, float | None, float | None]:
    """(median, low, high); low and high None below `min_n` values.

    Pass min_n=MIN_CI_N wherever the interval is shown; a verdict rule may still want the
    (wide) interval of fewer values. Coverage (tests/unit/test_results_simulation.py): the
    percentile interval of the exact bootstrap at n = 5 is [min, max], 1 - 2 / 2^5 = 93.75 %
    for any continuous distribution; ~97 % at n = 10.
    """
    _check_bootstrap_args(resamples, confidence)
    data = _checked(values)
    if len(data) < min_n:
        return statistics.median(data), None, None
    boot = median_bootstrap(data, resamples=resamples, seed=seed)
    return (boot.point, *boot.interval(confidence))


def _ratio_of(top: float, bottom: float) -> float | None:
    return top / bottom if bottom != 0.0 else None


def _ratio_groups(numerator_values: Sequence[float], denominator_values: Sequence[float],
                  paired: bool) -> tuple[list[float], list[float]]:
    num = _checked(numerator_values, "numerator values")
    den = _checked(denominator_values, "denominator values")
    if paired and len(num) != len(den):
        raise ValueError(f"paired groups must have equal lengths, not {len(num)} and "
                         f"{len(den)}")
    return num, den


def ratio_bootstrap(numerator_values: Sequence[float], denominator_values: Sequence[float],
                    *, paired: bool = False, resamples: int = 2000,
                    seed: int = 0) -> Bootstrap | None:
    """The bootstrap of median(numerator) / median(denominator); None when the
    denominator's median is 0 (the ratio is undefined), empty when no Monte-Carlo resample
    has a ratio.

    Unpaired, each group is resampled on its own (independent runs): exactly up to
    EXACT_MAX_N values a group, else `resamples` draws from `seed`. Paired, the groups are
    aligned by round (runs interleaved round by round share the host's state), so round
    indices are resampled jointly, by Monte Carlo. Resamples whose denominator median is 0
    are dropped.
    """
    num, den = _ratio_groups(numerator_values, denominator_values, paired)
    point = _ratio_of(statistics.median(num), statistics.median(den))
    if point is None:
        return None
    rng = random.Random(seed)
    if paired:
        rounds = range(len(num))
        estimates = []
        for _ in range(resamples):
            picked = rng.choices(rounds, k=len(num))
            ratio = _ratio_of(statistics.median(num[i] for i in picked),
                              statistics.median(den[i] for i in picked))
            if ratio is not None:
                estimates.append(ratio)
        return Bootstrap(point, _monte_carlo(estimates))
    if len(num) <= EXACT_MAX_N and len(den) <= EXACT_MAX_N:
        # never empty: the sample's own median (non-zero here) has positive probability
        return Bootstrap(point, factors=(_exact_median_dist(num), _exact_median_dist(den)))
    estimates = [r for r in (_ratio_of(_resampled_median(rng, num),
                                       _resampled_median(rng, den))
                             for _ in range(resamples)) if r is not None]
    return Bootstrap(point, _monte_carlo(estimates))


def bootstrap_ratio_ci(
    numerator_values: Sequence[float], denominator_values: Sequence[float], *,
    paired: bool = False, resamples: int = 2000, confidence: float = 0.95, seed: int = 0,
) -> tuple[float | None, float | None, float | None]:
    """(ratio of medians, low, high): (None, None, None) when the denominator's median is 0;
    low and high None when either group has fewer than MIN_CI_N values (or no resample has
    a ratio). See ratio_bootstrap for paired and unpaired."""
    _check_bootstrap_args(resamples, confidence)
    if not (ci_supported(len(numerator_values)) and ci_supported(len(denominator_values))):
        num, den = _ratio_groups(numerator_values, denominator_values, paired)
        point = _ratio_of(statistics.median(num), statistics.median(den))
        return point, None, None  # too few values for any interval: no bootstrap at all
    boot = ratio_bootstrap(numerator_values, denominator_values, paired=paired,
                           resamples=resamples, seed=seed)
    if boot is None:
        return None, None, None
    if boot.empty:
        return boot.point, None, None
    return (boot.point, *boot.interval(confidence))


# -- noise ------------------------------------------------------------------------------------

# A sorted sample splits into two modes where its widest gap is this many times the wider
# of the two groups' own ranges. Calibrated by simulation (tests/unit/test_results_noise.py):
# unimodal normal samples exceed it in well under 1 % of draws at n = 5 and n = 10.
BIMODAL_GAP_RATIO = 3.0


def bimodal(values: Sequence[float], min_gap: float = 0.0) -> bool:
    """Whether the sorted values split into two groups of at least two, separated by a gap
    BIMODAL_GAP_RATIO times wider than either group's range and wider than `min_gap` (a
    fraction of the median). Works from n = 4; the bimodality coefficient needs skewness
    and kurtosis, which are noise at n = 5-10."""
    data = sorted(finite(values))
    if len(data) < 4:
        return False
    centre = abs(statistics.median(data))
    for i in range(2, len(data) - 1):
        gap = data[i] - data[i - 1]
        if gap <= min_gap * centre:
            continue
        spread = max(data[i - 1] - data[0], data[-1] - data[i])
        if gap > BIMODAL_GAP_RATIO * spread:
            return True
    return False


def noisy_reason(values: Sequence[float], cv_limit: float) -> str | None:
    """Why a cell's spread is too wide to carry a ratio ("CV 22 % > 10 %", "bimodal"), or
    None. A gap counts as bimodal only when it is wider than half the CV limit (as a
    fraction of the median): two modes 0.1 % apart do not move a ratio."""
    data = finite(values)
    if len(data) < 2:
        return None
    cv = summarize(data).cv
    if cv is None or cv > cv_limit:
        return "CV undefined (mean 0)" if cv is None else \
            f"CV {cv * 100:.0f} % > {cv_limit * 100:g} %"
    if bimodal(data, min_gap=cv_limit / 2):
        return "bimodal"
    return None


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]
