"""results.stats' bootstrap paths pinned against independent computations (mutation testing,
issue 13): the paired bootstrap replayed on the brute-force table of all 27 index tuples at
n = 3, the Monte-Carlo median and unpaired ratio replayed draw by draw, the exact/Monte-Carlo
switch at EXACT_MAX_N on each side, the percentile bounds from their definition, the
p-value's edges, and the tail masses of ratios that fall exactly on the bound."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections import Counter

import pytest

from results import stats
from results.stats import Bootstrap, bootstrap_median_ci, bootstrap_ratio_ci, ratio_bootstrap

# n = 3 paired groups whose rounds disagree in order: a resample's numerator and denominator
# medians come from different rounds, and unpaired resampling would reach ratios (4 / 1)
# that no paired resample has.
NUM3, DEN3 = [1.0, 2.0, 4.0], [3.0, 1.0, 9.0]


def paired_table(num: list[float], den: list[float]) -> dict[tuple[int, ...], float | None]:
    """Every index tuple a paired resample can draw, with its ratio (None: median 0)."""
    n = len(num)
    table: dict[tuple[int, ...], float | None] = {}
    for pick in itertools.product(range(n), repeat=n):
        bottom = statistics.median([den[i] for i in pick])
        table[pick] = statistics.median([num[i] for i in pick]) / bottom if bottom else None
    return table


def replay_paired(num: list[float], den: list[float], resamples: int, seed: int) -> Counter:
    """The ratios seed's generator picks, read off the enumerated table."""
    table, rng = paired_table(num, den), random.Random(seed)
    picks = [tuple(rng.choices(range(len(num)), k=len(num))) for _ in range(resamples)]
    return Counter(table[p] for p in picks if table[p] is not None)


def as_dist(counts: Counter) -> list[tuple[float, float]]:
    total = sum(counts.values())
    return [(v, c / total) for v, c in sorted(counts.items())]


def percentile_bounds(counts: Counter, point: float, confidence: float) -> tuple[float, float]:
    """The interval from its definition: the largest value with P(below it) <= tail, the
    smallest with P(above it) <= tail, widened to take in the point."""
    total, tail = sum(counts.values()), (1 - confidence) / 2
    values = sorted(counts)
    low = max(v for v in values if sum(counts[u] for u in values if u < v) / total
              <= tail + stats._EPS)
    high = min(v for v in values if sum(counts[u] for u in values if u > v) / total
               <= tail + stats._EPS)
    return min(low, point), max(high, point)


# -- the paired bootstrap ---------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 3])
def test_the_paired_bootstrap_is_the_enumerated_table_replayed(seed: int) -> None:
    boot = ratio_bootstrap(NUM3, DEN3, paired=True, resamples=300, seed=seed)
    assert boot is not None and boot.point == 2.0 / 3.0 and boot.factors is None
    assert boot.dist == as_dist(replay_paired(NUM3, DEN3, 300, seed))


def test_the_paired_bootstrap_converges_on_the_enumeration() -> None:
    """20000 resamples against the 27 equally likely tuples: every value in the paired
    support, each within 5 standard errors of its enumerated probability."""
    exact: Counter = Counter()
    for ratio in paired_table(NUM3, DEN3).values():
        exact[ratio] += 1 / 27
    boot = ratio_bootstrap(NUM3, DEN3, paired=True, resamples=20000, seed=1)
    assert boot is not None
    got = dict(boot.dist)
    assert got.keys() == exact.keys()
    assert 4.0 not in got           # 4 / 1: the numerator's max over the denominator's min
    for value, p in exact.items():
        assert abs(got[value] - p) <= 5 * math.sqrt(p * (1 - p) / 20000), value


def test_the_paired_default_is_2000_resamples_from_seed_0() -> None:
    boot = ratio_bootstrap(NUM3, DEN3, paired=True)
    assert boot is not None and boot.dist == as_dist(replay_paired(NUM3, DEN3, 2000, 0))


def test_paired_resamples_whose_denominator_median_is_zero_are_dropped() -> None:
    den = [0.0, 5.0, 6.0]
    counts = replay_paired(NUM3, den, 500, 2)
    assert 0 < sum(counts.values()) < 500       # the replay itself dropped some
    boot = ratio_bootstrap(NUM3, den, paired=True, resamples=500, seed=2)
    assert boot is not None and boot.point == 2.0 / 5.0
    assert boot.dist == as_dist(counts)


# A paired n = 5 sample: two zero denominators, median 6. Seed 4's one resample draws round 0
# or 1 at least three times (checked by the replay), so no resample has a ratio.
NUM5, DEN5 = [1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 0.0, 6.0, 7.0, 8.0]


def test_a_paired_ci_with_no_resample_left_has_a_point_and_no_bounds() -> None:
    assert not replay_paired(NUM5, DEN5, 1, 4)
    boot = ratio_bootstrap(NUM5, DEN5, paired=True, resamples=1, seed=4)
    assert boot is not None and boot.empty and boot.point == 0.5
    assert bootstrap_ratio_ci(NUM5, DEN5, paired=True, resamples=1, seed=4) == (0.5, None, None)


PAIRED_NUM = [101.0, 97.0, 110.0, 104.0, 99.0, 120.0]
PAIRED_DEN = [100.0, 95.0, 103.0, 108.0, 90.0, 101.0]


def boundary_confidence(counts: Counter, resamples: int) -> float:
    """A confidence whose tail lies between the lowest lump's mass over `resamples` and over
    `resamples + 1` draws: the lower bound is that lump for exactly `resamples` draws."""
    lowest = counts[min(counts)]
    tail = (lowest / resamples + lowest / (resamples + 1)) / 2
    return 1 - 2 * tail


def test_the_paired_ci_bounds_are_the_percentiles_of_2000_seed_0_resamples() -> None:
    counts = replay_paired(PAIRED_NUM, PAIRED_DEN, 2000, 0)
    point = statistics.median(PAIRED_NUM) / statistics.median(PAIRED_DEN)
    confidence = boundary_confidence(counts, 2000)
    got = bootstrap_ratio_ci(PAIRED_NUM, PAIRED_DEN, paired=True, confidence=confidence)
    assert got == (point, *percentile_bounds(counts, point, confidence))
    assert got[1] == min(counts)    # the lowest lump's mass is just above the tail
    assert bootstrap_ratio_ci(PAIRED_NUM, PAIRED_DEN, paired=True) == \
        (point, *percentile_bounds(counts, point, 0.95))


@pytest.mark.parametrize(("num", "den"), [([1.0, 2.0, 3.0], [1.0, 2.0]),
                                          ([1.0] * 6, [1.0] * 5)])
def test_paired_groups_of_unequal_length_are_refused_with_their_lengths(
        num: list[float], den: list[float]) -> None:
    want = f"paired groups must have equal lengths, not {len(num)} and {len(den)}"
    for call in (lambda: ratio_bootstrap(num, den, paired=True),
                 lambda: bootstrap_ratio_ci(num, den, paired=True)):
        with pytest.raises(ValueError) as caught:
            call()
        assert str(caught.value) == want
    assert ratio_bootstrap(num, den) is not None       # unpaired, any lengths


def test_below_min_ci_n_on_either_side_there_is_a_ratio_and_no_bounds() -> None:
    five, four = [1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0]
    assert bootstrap_ratio_ci(five, four) == (3.0 / 2.5, None, None)
    assert bootstrap_ratio_ci(four, five) == (2.5 / 3.0, None, None)
    assert bootstrap_ratio_ci(four, [0.0, 0.0, 0.0, 2.0]) == (None, None, None)
    assert bootstrap_ratio_ci(five, five)[1] is not None


# -- the exact / Monte-Carlo switch -----------------------------------------------------------

def spread(n: int, offset: float = 0.0) -> list[float]:
    return [offset + (7 * i % n) + 0.5 * i / n for i in range(n)]   # distinct, unsorted


def replay_median(data: list[float], resamples: int, seed: int) -> Counter:
    rng = random.Random(seed)
    return Counter(statistics.median(rng.choices(data, k=len(data))) for _ in range(resamples))


def test_the_median_bootstrap_of_21_values_is_2000_seed_0_resamples() -> None:
    data = spread(21)
    assert stats.median_bootstrap(data).dist == as_dist(replay_median(data, 2000, 0))
    assert stats.median_bootstrap(data, resamples=50, seed=9).dist == \
        as_dist(replay_median(data, 50, 9))


def test_the_median_bootstrap_of_20_values_is_exact() -> None:
    """No seed or count changes it, and the chance that a resample's median is the minimum
    is the binomial chance that at least 11 of its 20 draws are the minimum."""
    data = spread(20)
    boot = stats.median_bootstrap(data)
    assert boot.dist == stats.median_bootstrap(data, resamples=3, seed=5).dist
    p_min = sum(math.comb(20, c) * (1 / 20) ** c * (19 / 20) ** (20 - c) for c in range(11, 21))
    assert boot.dist[0] == (min(data), pytest.approx(p_min, rel=1e-9))
    assert sum(w for _, w in boot.dist) == pytest.approx(1.0, abs=1e-12)


def test_the_median_ci_of_21_values_is_the_percentiles_of_2000_seed_0_resamples() -> None:
    data = spread(21)
    counts = replay_median(data, 2000, 0)
    confidence = boundary_confidence(counts, 2000)
    point = statistics.median(data)
    got = bootstrap_median_ci(data, confidence=confidence)
    assert got == (point, *percentile_bounds(counts, point, confidence))
    assert got[1] == min(counts)
    # and the count and seed given reach the resampling: one draw from seed 7 is one
    # bootstrap median, the interval that and the point
    (drawn,) = replay_median(data, 1, 7)
    assert drawn != point and (drawn,) != tuple(replay_median(data, 1, 0))
    assert bootstrap_median_ci(data, resamples=1, seed=7) == \
        (point, min(drawn, point), max(drawn, point))


def replay_unpaired(num: list[float], den: list[float], resamples: int, seed: int) -> Counter:
    rng = random.Random(seed)
    out: Counter = Counter()
    for _ in range(resamples):
        top = statistics.median(rng.choices(num, k=len(num)))
        bottom = statistics.median(rng.choices(den, k=len(den)))
        if bottom:
            out[top / bottom] += 1
    return out


@pytest.mark.parametrize(("n_num", "n_den"), [(21, 20), (20, 21), (21, 21)])
def test_a_group_over_20_values_makes_the_unpaired_ratio_monte_carlo(n_num: int,
                                                                     n_den: int) -> None:
    num, den = spread(n_num, 10.0), spread(n_den, 20.0)
    boot = ratio_bootstrap(num, den)
    assert boot is not None and boot.factors is None
    assert boot.dist == as_dist(replay_unpaired(num, den, 2000, 0))


def test_up_to_20_values_on_both_sides_the_unpaired_ratio_is_exact() -> None:
    num, den = spread(20, 10.0), spread(20, 20.0)
    boot = ratio_bootstrap(num, den)
    assert boot is not None and boot.factors == (stats.median_bootstrap(num).dist,
                                                 stats.median_bootstrap(den).dist)


# -- the percentile bounds and p-values -------------------------------------------------------

UNIFORM = [(float(x), 1 / 101) for x in range(101)]


def test_the_default_interval_is_95_percent() -> None:
    assert Bootstrap(50.0, UNIFORM).interval() == (2.0, 98.0)


def test_a_value_whose_mass_below_is_the_tail_plus_eps_is_still_inside() -> None:
    tail = 0.1
    edge = tail + stats._EPS            # P(below the second value), exactly at the tolerance
    dist = [(1.0, edge), (2.0, 1 - 2 * edge), (3.0, edge)]
    assert stats._lower(dist, tail) == 2.0 and stats._upper(dist, tail) == 2.0
    over = [(1.0, 0.2), (2.0, 0.6), (3.0, 0.2)]
    assert stats._lower(over, tail) == 1.0 and stats._upper(over, tail) == 3.0


def test_the_lowest_and_highest_values_bound_a_lumpy_tail() -> None:
    dist = [(5.0, 0.5), (6.0, 0.25), (7.0, 0.25)]
    assert stats._lower(dist, 0.1) == 5.0 and stats._upper(dist, 0.1) == 7.0


def test_a_point_on_the_bound_is_not_beyond_it() -> None:
    # most of the mass above the point: an exact tie must give 1, not twice the mass below
    boot = Bootstrap(1.0, [(1.0, 0.1), (2.0, 0.9)])
    assert boot.p_beyond(1.0, above=True) == 1.0
    mirror = Bootstrap(2.0, [(1.0, 0.9), (2.0, 0.1)])
    assert mirror.p_beyond(2.0, above=False) == 1.0
    below = Bootstrap(2.0, [(1.0, 0.45), (2.0, 0.5), (3.0, 0.05)])
    assert below.p_beyond(2.5, above=False) == 0.1


def test_a_mass_within_eps_of_zero_is_p_zero_and_p_is_at_most_1() -> None:
    tiny = Bootstrap(2.0, [(0.5, stats._EPS), (2.0, 1 - stats._EPS)])
    assert tiny.p_beyond(1.0, above=True) == 0.0
    heavy = Bootstrap(2.0, [(0.5, 0.6), (2.0, 0.4)])
    assert heavy.p_beyond(1.0, above=True) == 1.0


def test_p_beyond_a_zero_bound_counts_no_ratio_at_or_below_it() -> None:
    boot = ratio_bootstrap([3.0, 4.0, 5.0], [1.0, 2.0, 3.0])
    assert boot is not None
    assert boot.p_beyond(0.0, above=True) == 0.0
    assert boot._tail_mass(0.0, upper=True) == pytest.approx(1.0, abs=1e-12)


# Integer samples whose ratios t / b land exactly on bounds t' / b' where t' / (t' / b')
# rounds away from b' (9 / 7, 11 / 15, 15 / 13 among them): the fast path must count a ratio
# on the bound as the float t / b in `dist` does.
TIE_GROUPS = [([9.0, 11.0, 15.0], [7.0, 13.0, 15.0]),
              ([5.0, 9.0, 10.0, 14.0], [25.0, 28.0, 29.0, 14.0]),
              ([7.0, 9.0, 11.0], [25.0, 14.0, 15.0, 7.0])]


@pytest.mark.parametrize(("num", "den"), TIE_GROUPS)
def test_tail_masses_at_bounds_equal_to_a_ratio_match_the_full_distribution(
        num: list[float], den: list[float]) -> None:
    boot = ratio_bootstrap(num, den)
    assert boot is not None and boot.factors is not None
    slow = Bootstrap(boot.point, boot.dist)              # no factors: sums over `dist`
    for bound, _ in boot.dist:
        for upper in (False, True):
            assert boot._tail_mass(bound, upper=upper) == pytest.approx(
                slow._tail_mass(bound, upper=upper), abs=1e-12), (bound, upper)


def test_an_exact_ratios_p_value_never_builds_the_product_distribution() -> None:
    """At n = 20 a side the product has up to 210 x 210 points; a p-value is one bisection
    per numerator point (what compare does for every cell), for any positive bound and
    positive denominators, below 1 as above it."""
    num, den = [0.1 * v for v in spread(20, 1.0)], [0.02 * v for v in spread(20, 1.0)]
    boot = ratio_bootstrap(num, den)
    assert boot is not None and boot.point == pytest.approx(5.0)
    assert min(b for b, _ in boot.factors[1]) < 1.0   # type: ignore[index]
    for bound, above in ((0.5, True), (4.0, True), (9.0, False), (1.5, True)):
        boot.p_beyond(bound, above=above)
    assert "dist" not in vars(boot)
    fresh = ratio_bootstrap(num, den)
    assert fresh is not None
    assert boot.p_beyond(4.0, above=True) == pytest.approx(
        Bootstrap(fresh.point, fresh.dist).p_beyond(4.0, above=True), abs=1e-12)
