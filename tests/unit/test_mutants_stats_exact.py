"""results.stats' exact bootstrap checked against brute force: every resample enumerated
(n**n per group at n = 3 and 4), so the Maritz-Jarrett weights, the product of two medians'
distributions, its tail masses, the percentile bounds and the p-values compare would act on
are each checked against an independent computation (mutation testing: issue 13)."""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict

import pytest

from results.stats import Bootstrap, _lower, _upper, ratio_bootstrap

NUM = [3.0, 5.0, 4.0]
DEN = [2.0, 2.5, 3.5, 3.0]


def brute_median_dist(values: list[float]) -> dict[float, float]:
    n = len(values)
    out: dict[float, float] = defaultdict(float)
    for pick in itertools.product(values, repeat=n):
        out[statistics.median(pick)] += 1.0 / n ** n
    return out


def brute_ratio_dist(num: list[float], den: list[float]) -> dict[float, float]:
    out: dict[float, float] = defaultdict(float)
    for t, p in brute_median_dist(num).items():
        for b, q in brute_median_dist(den).items():
            if b != 0.0:
                out[t / b] += p * q
    return out


def brute_mass(num: list[float], den: list[float], bound: float, upper: bool) -> float:
    dist = brute_ratio_dist(num, den)
    total = sum(dist.values())
    return sum(w for v, w in dist.items() if (v >= bound if upper else v <= bound)) / total


def test_the_exact_distribution_is_the_enumerated_one() -> None:
    boot = ratio_bootstrap(NUM, DEN)
    assert boot is not None and boot.point == pytest.approx(4.0 / 2.75)
    got = dict(boot.dist)
    want = brute_ratio_dist(NUM, DEN)
    assert got.keys() == want.keys()
    for value, weight in want.items():
        assert got[value] == pytest.approx(weight, abs=1e-12), value


@pytest.mark.parametrize("bound", [1.0, 1.2, 4.0 / 3.0, 1.5, 1.6, 2.0, 2.5])
@pytest.mark.parametrize("upper", [False, True])
def test_tail_masses_match_the_enumeration(bound: float, upper: bool) -> None:
    boot = ratio_bootstrap(NUM, DEN)
    assert boot is not None
    assert boot._tail_mass(bound, upper=upper) == pytest.approx(
        brute_mass(NUM, DEN, bound, upper), abs=1e-12)


def test_tail_masses_with_a_zero_denominator_resample_match_too() -> None:
    # a zero among the denominators: resamples with median 0 are dropped, the slow path
    den = [0.0, 2.0, 3.0]
    boot = ratio_bootstrap(NUM, den)
    assert boot is not None
    for bound, upper in ((1.5, False), (1.5, True), (2.0, True), (0.5, False)):
        assert boot._tail_mass(bound, upper=upper) == pytest.approx(
            brute_mass(NUM, den, bound, upper), abs=1e-12)


@pytest.mark.parametrize("bound", [1.05, 1.2, 4.0 / 3.0, 1.4])
def test_p_beyond_is_twice_the_mass_on_the_near_side(bound: float) -> None:
    """Percentile: the interval at 1 - p lies wholly above `bound` exactly when the mass at
    or below it is at most p / 2."""
    boot = ratio_bootstrap(NUM, DEN)
    assert boot is not None and boot.point > bound
    assert boot.p_beyond(bound, above=True) == pytest.approx(
        min(1.0, 2 * brute_mass(NUM, DEN, bound, upper=False)), abs=1e-12)
    # below: the mirror image, against the mass at or above
    flipped = ratio_bootstrap(DEN, NUM)
    assert flipped is not None and flipped.point < 1 / bound
    assert flipped.p_beyond(1 / bound, above=False) == pytest.approx(
        min(1.0, 2 * brute_mass(DEN, NUM, 1 / bound, upper=True)), abs=1e-12)


def test_p_beyond_is_one_unless_the_point_is_beyond_and_zero_past_every_resample() -> None:
    boot = ratio_bootstrap(NUM, DEN)
    assert boot is not None
    assert boot.p_beyond(boot.point, above=True) == 1.0
    assert boot.p_beyond(boot.point, above=False) == 1.0
    assert boot.p_beyond(2.0, above=True) == 1.0
    lowest = min(v for v, _ in boot.dist)
    assert boot.p_beyond(lowest * 0.99, above=True) == 0.0
    assert boot.p_beyond(max(v for v, _ in boot.dist) * 1.01, above=False) == 0.0


def test_percentile_bounds_are_resample_values_never_interpolated() -> None:
    dist = [(1.0, 0.1), (2.0, 0.2), (3.0, 0.4), (4.0, 0.3)]
    # the largest value with P(below it) <= tail, the smallest with P(above it) <= tail
    assert [_lower(dist, t) for t in (0.0, 0.05, 0.1, 0.15, 0.3, 0.5, 0.7)] == \
        [1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0]
    assert [_upper(dist, t) for t in (0.0, 0.2, 0.3, 0.5, 0.7, 0.9)] == \
        [4.0, 4.0, 3.0, 3.0, 2.0, 1.0]


def test_the_interval_takes_in_the_point() -> None:
    boot = Bootstrap(2.5, [(1.0, 0.1), (2.0, 0.2), (3.0, 0.4), (4.0, 0.3)])
    assert boot.interval(0.8) == (2.0, 4.0)
    assert boot.interval(0.0) == (2.5, 3.0)   # both bounds at the middle, widened to 2.5
    assert Bootstrap(0.5, [(1.0, 0.5), (2.0, 0.5)]).interval(0.5) == (0.5, 2.0)
