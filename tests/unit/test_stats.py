"""bench/stats.py against hand-computed values; seeds make everything reproducible."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from bench.stats import (
    bootstrap_median_ci,
    bootstrap_ratio_ci,
    interleave,
    intervals_overlap,
    percentile,
    summarize,
    warmup_plan,
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
    assert (s.n, s.median, s.q1, s.q3, s.iqr, s.min, s.max) == (1, 7.5, 7.5, 7.5, 0, 7.5, 7.5)
    assert (s.mean, s.stdev, s.cv) == (7.5, 0, 0)


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
    ratio, low, high = bootstrap_ratio_ci([9, 10, 11], [10, 11, 12], resamples=500)
    assert ratio == pytest.approx(10 / 11)
    assert low <= ratio <= high
    # the bootstrap medians come from the data, so the bounds lie in [9/12, 11/10]
    assert 9 / 12 <= low and high <= 11 / 10


def test_ratio_of_constant_groups_is_exact() -> None:
    assert bootstrap_ratio_ci([6, 6, 6], [3, 3]) == (2.0, 2.0, 2.0)


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


TARGETS = ["native", "container", "runc", "vm"]
VARIANTS = ["cpu.single", "cpu.all", "memory.seq"]


def test_interleave_rounds_hold_every_pair_once() -> None:
    plan = interleave(TARGETS, VARIANTS, repetitions=5, seed=1)
    per_round = len(TARGETS) * len(VARIANTS)
    assert len(plan) == 5 * per_round
    for rep in range(5):
        block = plan[rep * per_round:(rep + 1) * per_round]
        assert {step[2] for step in block} == {rep}  # rounds are contiguous, counted from 0
        assert Counter((v, t) for v, t, _ in block) == Counter(
            (v, t) for v in VARIANTS for t in TARGETS)


def test_interleave_shuffles_each_round_reproducibly() -> None:
    plan = interleave(TARGETS, VARIANTS, repetitions=4, seed=9)
    assert plan == interleave(TARGETS, VARIANTS, repetitions=4, seed=9)
    assert plan != interleave(TARGETS, VARIANTS, repetitions=4, seed=10)
    orders = {tuple((v, t) for v, t, _ in plan[i * 12:(i + 1) * 12]) for i in range(4)}
    assert len(orders) > 1  # not one fixed order repeated


def test_interleave_positions_spread_over_targets() -> None:
    plan = interleave(TARGETS, ["v"], repetitions=400, seed=0)
    last = Counter(plan[i * 4 + 3][1] for i in range(400))
    assert set(last) == set(TARGETS)
    assert min(last.values()) > 60  # about 100 each


def test_interleave_edge_cases() -> None:
    assert interleave(TARGETS, VARIANTS, 0, seed=1) == []
    assert interleave([], VARIANTS, 3, seed=1) == []
    with pytest.raises(ValueError):
        interleave(TARGETS, VARIANTS, -1, seed=1)


def test_warmup_plan_is_separate_from_the_measured_order() -> None:
    warm = warmup_plan(TARGETS, VARIANTS, rounds=2, seed=5)
    assert len(warm) == 2 * 12
    assert Counter((v, t) for v, t, _ in warm[:12]) == Counter(
        (v, t) for v in VARIANTS for t in TARGETS)
    assert warm == warmup_plan(TARGETS, VARIANTS, rounds=2, seed=5)
    assert warm[:12] != interleave(TARGETS, VARIANTS, 1, seed=5)[:12]
    assert warmup_plan(TARGETS, VARIANTS, rounds=0, seed=5) == []
