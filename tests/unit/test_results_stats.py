"""results/stats.py against hand-computed values; seeds make everything reproducible."""

from __future__ import annotations

import math
import random

import pytest

from results.stats import (
    bootstrap_median_ci,
    bootstrap_ratio_ci,
    finite,
    intervals_overlap,
    iqr,
    median,
    percentile,
    quartiles,
    summarize,
)


def test_summary_of_a_skewed_sample() -> None:
    s = summarize([100, 3, 1, 4, 2])  # order does not matter
    # inclusive quartiles of 1,2,3,4,100 fall on order statistics: 2, 3, 4
    assert (s.n, s.median, s.q1, s.q3, s.iqr, s.min, s.max) == (5, 3, 2, 4, 2, 1, 100)
    assert s.mean == 22
    # deviations -21 -20 -19 -18 78: squares sum to 7610, / (n - 1) = 1902.5
    assert s.stdev == pytest.approx(math.sqrt(1902.5))
    assert s.cv == pytest.approx(math.sqrt(1902.5) / 22)


def test_quartiles_interpolate_between_order_statistics() -> None:
    s = summarize([1, 2, 3, 4])
    # positions (n - 1) * p = 0.75, 1.5, 2.25 -> 1.75, 2.5, 3.25
    assert (s.q1, s.median, s.q3, s.iqr) == (1.75, 2.5, 3.25, 1.5)


def test_single_value() -> None:
    s = summarize([7.5])
    # one value says nothing about spread: None, not 0 (which reads as perfect precision)
    assert (s.n, s.median, s.q1, s.q3, s.iqr, s.min, s.max) == (1, 7.5, 7.5, 7.5, None, 7.5,
                                                                 7.5)
    assert (s.mean, s.stdev, s.cv) == (7.5, None, None)


def test_cv_of_constant_and_zero_mean_samples() -> None:
    assert summarize([3, 3, 3]).cv == 0
    assert summarize([0, 0]).cv == 0
    assert summarize([-1, 1]).cv is None  # spread around a zero mean: CV undefined
    assert summarize([-2, -4]).cv == pytest.approx(math.sqrt(2) / 3)  # |mean|


def test_summary_as_dict_has_every_field() -> None:
    assert set(summarize([1, 2]).as_dict()) == {
        "n", "median", "q1", "q3", "iqr", "min", "max", "mean", "stdev", "cv"}


@pytest.mark.parametrize("bad", [[], [1.0, math.nan], [math.inf]])
def test_summary_rejects_empty_and_non_finite(bad: list[float]) -> None:
    with pytest.raises(ValueError):
        summarize(bad)


def test_percentile_linear() -> None:
    assert percentile([1, 2, 3, 4, 100], 0.5) == 3
    assert percentile([0, 10], 0.25) == 2.5
    assert percentile([5], 0.9) == 5
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_ratio_point_estimate_is_ratio_of_medians() -> None:
    ratio, low, high = bootstrap_ratio_ci([9, 10, 11, 10, 9], [10, 11, 12, 11, 12])
    assert ratio == pytest.approx(10 / 11)
    assert low <= ratio <= high
    # the bootstrap medians come from the data, so the bounds lie in [9/12, 11/10]
    assert 9 / 12 <= low and high <= 11 / 10
    # below MIN_CI_N on either side: the ratio, but no interval
    assert bootstrap_ratio_ci([9, 10, 11], [10, 11, 12]) == (pytest.approx(10 / 11), None, None)


def test_ratio_of_constant_groups_is_exact() -> None:
    assert bootstrap_ratio_ci([6] * 5, [3] * 5) == (2.0, 2.0, 2.0)


def test_ratio_is_deterministic_for_a_seed() -> None:
    rng = random.Random(1)
    num, den = _noisy(rng, 1.0, 30), _noisy(rng, 2.0, 30)
    first = bootstrap_ratio_ci(num, den, seed=42)
    assert bootstrap_ratio_ci(num, den, seed=42) == first
    # with tiny samples the percentiles can land on the same order statistic; not here
    assert bootstrap_ratio_ci(num, den, seed=43)[1:] != first[1:]


def _noisy(rng: random.Random, centre: float, n: int) -> list[float]:
    return [rng.gauss(centre, centre * 0.1) for _ in range(n)]


def test_ratio_ci_narrows_with_more_data() -> None:
    rng = random.Random(7)
    small = bootstrap_ratio_ci(_noisy(rng, 2.0, 8), _noisy(rng, 1.0, 8))
    large = bootstrap_ratio_ci(_noisy(rng, 2.0, 400), _noisy(rng, 1.0, 400))
    for ratio, low, high in (small, large):
        assert low <= ratio <= high
    assert (large[2] - large[1]) < (small[2] - small[1]) / 3
    assert large[1] < 2.0 < large[2]


def test_ratio_degenerate_inputs() -> None:
    with pytest.raises(ValueError):
        bootstrap_ratio_ci([], [1.0])
    with pytest.raises(ValueError):
        bootstrap_ratio_ci([1.0], [])
    assert bootstrap_ratio_ci([1.0, 2.0], [0.0, 0.0, 1.0]) == (None, None, None)
    with pytest.raises(ValueError):
        bootstrap_ratio_ci([1.0], [1.0], confidence=1.5)


def test_median_ci() -> None:
    values = [10, 11, 12, 13, 50]
    median, low, high = bootstrap_median_ci(values, seed=3)
    assert median == 12
    assert 10 <= low <= median <= high <= 50
    assert bootstrap_median_ci(values, seed=3) == (median, low, high)
    assert bootstrap_median_ci([4.0]) == (4.0, 4.0, 4.0)


def test_intervals_overlap() -> None:
    assert intervals_overlap((1, 2), (2, 3))
    assert intervals_overlap((1, 5), (2, 3))
    assert not intervals_overlap((1, 2), (2.1, 3))
    assert not intervals_overlap((4, 5), (1, 3))


def test_median_odd_and_even() -> None:
    assert median([3, 1, 2]) == 2.0
    assert median([4, 1, 3, 2]) == 2.5
    with pytest.raises(ValueError):
        median([])


def test_iqr_inclusive_quartiles() -> None:
    # inclusive quartiles of 1..9 are 3 and 7
    assert iqr(list(range(1, 10))) == pytest.approx(4.0)
    assert iqr([1, 2, 3, 4]) == pytest.approx(1.5)  # Q1 1.75, Q3 3.25
    assert quartiles([1, 2, 3, 4, 100]) == (2, 3, 4)  # the exclusive method: 1.5, 3, 52


def test_iqr_small_samples() -> None:
    assert iqr([5.0]) == 0.0
    assert iqr([5.0, 5.0, 5.0]) == 0.0
    with pytest.raises(ValueError):
        iqr([])


def test_iqr_and_quartiles_are_the_summary_s() -> None:
    values = [7.0, 1.0, 9.5, 3.0, 4.0, 12.0]
    s = summarize(values)
    assert quartiles(values) == (s.q1, s.median, s.q3)
    assert iqr(values) == s.iqr


def test_finite_drops_what_is_not_a_number() -> None:
    assert finite([1, None, True, math.nan, math.inf, 2.5]) == [1.0, 2.5]
