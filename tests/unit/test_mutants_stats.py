"""results/stats.py: values pinned exactly where `make mutate`
found the other tests let a mutant through."""

from __future__ import annotations

import pytest

from results import stats
from results.stats import bootstrap_median_ci, bootstrap_ratio_ci, intervals_overlap

# A sample whose 99 % interval falls between two distinct bootstrap medians, so the bound
# depends on exactly which 2000 resamples the seed-0 generator draws.
LUMPY = [90.2, 12.2, 47.4, 25.4, 54.8, 57.8, 2.3, 22.5]


def test_the_median_ci_of_up_to_20_values_is_the_exact_bootstrap() -> None:
    # exact: every resample weighted by its probability, so no seed or count changes it;
    # the 99 % bounds are whole bootstrap medians (never interpolated between them)
    point, low, high = bootstrap_median_ci(LUMPY, confidence=0.99)
    assert (point, low, high) == (36.4, 7.25, 74.0)
    assert bootstrap_median_ci(LUMPY, confidence=0.99, seed=1, resamples=3) == (point, low, high)


def test_intervals_touching_at_either_end_overlap() -> None:
    # compare's regression decision treats intervals that share one end as overlapping,
    # whichever of the two is given first.
    assert intervals_overlap((2, 3), (1, 2))
    assert intervals_overlap((1, 2), (2, 3))
    assert not intervals_overlap((2.1, 3), (1, 2))


NUM = [4.9, 67.2, 76.7, 57.7, 87.7, 32.1, 69.8, 59.8]
DEN = [58.4, 46.2, 84.2, 94.5, 47.9, 66.8, 7.0, 70.4]


def test_the_unpaired_ratio_ci_of_up_to_20_values_is_exact() -> None:
    point, low, high = bootstrap_ratio_ci(NUM, DEN, confidence=0.99)
    assert point == pytest.approx(1.014376996805112, rel=1e-12)
    assert (low, high) == (pytest.approx(0.34807149576669805, rel=1e-12),
                           pytest.approx(2.360655737704918, rel=1e-12))
    assert bootstrap_ratio_ci(NUM, DEN, confidence=0.99, seed=5, resamples=7) == \
        (point, low, high)


def test_resamples_whose_denominator_median_is_zero_are_dropped() -> None:
    # the denominator's median is 1, but many resamples of it have median 0
    assert bootstrap_ratio_ci([2.0, 4.0, 6.0, 8.0, 10.0], [0.0, 0.0, 1.0, 2.0, 3.0]) == \
        (6.0, 1.0, 10.0)


@pytest.mark.parametrize(("num", "den", "message"), [
    ([], [1.0], "no numerator values to summarize"),
    ([1.0], [], "no denominator values to summarize"),
    ([float("nan")], [1.0], "numerator values must be finite numbers"),
    ([1.0], [float("inf")], "denominator values must be finite numbers"),
])
def test_the_ratio_ci_names_the_group_it_cannot_use(num: list[float], den: list[float],
                                                    message: str) -> None:
    with pytest.raises(ValueError) as caught:
        bootstrap_ratio_ci(num, den)
    assert str(caught.value) == message


@pytest.mark.parametrize(("values", "message"), [
    ([], "no values to summarize"),
    ([1.0, float("nan")], "values must be finite numbers"),
])
def test_a_summary_of_no_or_non_finite_values_is_refused(values: list[float],
                                                         message: str) -> None:
    for summary in (stats.median, stats.quartiles, stats.summarize):
        with pytest.raises(ValueError) as caught:
            summary(values)
        assert str(caught.value) == message


def test_percentile_interpolates_between_neighbouring_order_statistics() -> None:
    data = [1.0, 2.0, 3.0, 10.0]
    assert stats.percentile(data, 0.25) == 1.75      # pos 0.75: between 1 and 2
    assert stats.percentile(data, 0.9) == pytest.approx(7.9)   # pos 2.7: between 3 and 10
    assert stats.percentile(data, 1.0) == 10.0
    assert stats.percentile(data, 0.0) == 1.0
    with pytest.raises(ValueError) as caught:
        stats.percentile([], 0.5)
    assert str(caught.value) == "percentile of no values"


def test_the_interval_cuts_half_the_missing_confidence_from_each_tail() -> None:
    dist = [(float(x), 1 / 101) for x in range(101)]
    assert stats.Bootstrap(50.0, dist).interval(0.9) == (5.0, 95.0)
    # and widens to take in a point estimate outside it
    assert stats.Bootstrap(99.0, dist).interval(0.5) == (25.0, 99.0)


def test_one_resample_is_allowed_and_the_bounds_are_checked_with_their_messages() -> None:
    assert bootstrap_median_ci([1.0, 2.0, 3.0], resamples=1, seed=0)[0] == 2.0
    assert bootstrap_ratio_ci([1.0, 2.0, 3.0], [1.0], resamples=1)[0] == 2.0
    for kwargs, message in [({"resamples": 0}, "resamples must be at least 1"),
                            ({"confidence": 0.0}, "confidence must be between 0 and 1"),
                            ({"confidence": 1.0}, "confidence must be between 0 and 1")]:
        for ci in (lambda **kw: bootstrap_median_ci([1.0, 2.0], **kw),
                   lambda **kw: bootstrap_ratio_ci([1.0, 2.0], [1.0], **kw)):
            with pytest.raises(ValueError) as caught:
                ci(**kwargs)
            assert str(caught.value) == message
