"""results.stats.bimodal and noisy_reason pinned on their edges (mutation testing, issue 13):
each threshold at, just below and just above, and every message exactly. The values are
chosen so the arithmetic is exact in binary floating point (halves and quarters)."""

from __future__ import annotations

import math

import pytest

from results.stats import BIMODAL_GAP_RATIO, bimodal, noisy_reason, summarize


def test_the_gap_ratio_is_three() -> None:
    assert BIMODAL_GAP_RATIO == 3.0


@pytest.mark.parametrize(("values", "expected"), [
    # the lower group's range (1) sets the spread: a gap of 3 is not > 3, 3.5 is
    ([0.0, 1.0, 4.0, 4.0], False),
    ([0.0, 1.0, 4.5, 4.5], True),
    # the upper group's range sets it (the max of the two, not either one)
    ([0.0, 0.0, 3.0, 4.0], False),
    ([0.0, 0.0, 3.5, 4.5], True),
    # scaled up: the gap is compared with 3 x the spread, not 3 / the spread
    ([0.0, 4.0, 16.0, 16.0], False),
    ([0.0, 4.0, 16.5, 16.5], True),
    # both groups' ranges, the upper one wider: 2 x 3 = 6
    ([10.0, 11.0, 17.0, 19.0], False),
    ([10.0, 11.0, 17.5, 19.5], True),
])
def test_the_gap_must_exceed_three_times_the_wider_groups_range(values: list[float],
                                                                expected: bool) -> None:
    assert bimodal(values) is expected
    assert bimodal(list(reversed(values))) is expected     # sorted first


def test_each_group_needs_two_values() -> None:
    # one value apart at either end is an outlier, not a mode
    assert not bimodal([0.0, 10.0, 10.5, 11.0, 11.0])
    assert not bimodal([0.0, 0.0, 0.5, 1.0, 10.0])
    # two at the top of five: the last split tried
    assert bimodal([0.0, 0.0, 0.5, 10.0, 10.0])
    # two at the bottom: the first split tried
    assert bimodal([0.0, 0.5, 10.0, 10.0, 10.5])


def test_four_values_are_enough_and_three_are_not() -> None:
    assert bimodal([0.0, 0.5, 10.0, 10.5])
    assert not bimodal([0.0, 10.0, 10.5])
    assert not bimodal([])
    # non-finite values are dropped before counting
    assert not bimodal([0.0, 0.5, 10.0, float("nan"), None, float("inf")])  # type: ignore[list-item]
    assert bimodal([0.0, 0.5, 10.0, 10.5, float("nan")])


def test_min_gap_is_a_fraction_of_the_median_and_the_gap_must_exceed_it() -> None:
    # median 8, gap 10: min_gap 1.25 puts the bar exactly at the gap
    values = [3.0, 3.0, 13.0, 13.0]
    assert not bimodal(values, min_gap=1.25)
    assert bimodal(values, min_gap=1.2)
    assert bimodal(values)                                   # default: no minimum
    # default 0, not 1: a gap of 1 at a median of 100.5 still counts
    assert bimodal([100.0, 100.0, 101.0, 101.0])


def test_min_gap_uses_the_size_of_a_negative_median() -> None:
    # median -8: a bar of 1.25 x 8 = 10 holds the gap of 10 back, as for +8
    assert not bimodal([-13.0, -13.0, -3.0, -3.0], min_gap=1.25)
    assert bimodal([-13.0, -13.0, -3.0, -3.0], min_gap=1.2)


def test_a_gap_below_min_gap_is_skipped_and_later_gaps_still_count() -> None:
    # median 10.1: bar 0.101; the first split's gap (0.1) is under it, the second's is not
    values = [10.0, 10.0, 10.1, 20.0, 20.0]
    assert bimodal(values, min_gap=0.01)
    # and the first split's gap is bimodal on its own when not held back
    assert bimodal([10.0, 10.0, 13.0, 13.0, 13.0], min_gap=0.01)


# -- noisy_reason ----------------------------------------------------------------------------

def test_two_values_are_enough_for_a_reason_and_one_is_not() -> None:
    assert noisy_reason([1.0, 3.0], 0.10) == "CV 71 % > 10 %"
    assert noisy_reason([1.0], 0.10) is None
    assert noisy_reason([1.0, float("nan"), None], 0.10) is None  # type: ignore[list-item]
    assert noisy_reason([], 0.10) is None


def test_the_cv_limit_at_just_below_and_just_above() -> None:
    values = [90.0, 100.0, 110.0]
    cv = summarize(values).cv
    assert cv is not None and cv == pytest.approx(0.1)
    assert noisy_reason(values, cv) is None                          # at: not over it
    assert noisy_reason(values, math.nextafter(cv, 1.0)) is None      # limit just above
    below = math.nextafter(cv, 0.0)                                   # limit just below
    assert noisy_reason(values, below) == f"CV 10 % > {below * 100:g} %"
    assert noisy_reason(values, below) == "CV 10 % > 10 %"


@pytest.mark.parametrize(("values", "limit", "message"), [
    ([100.0, 150.0, 60.0], 0.10, "CV 44 % > 10 %"),
    ([100.0, 150.0, 60.0], 0.125, "CV 44 % > 12.5 %"),
    ([1.0, 3.0], 0.05, "CV 71 % > 5 %"),
    ([10.0, 12.0], 0.1, "CV 13 % > 10 %"),
    ([2.0, 4.0], 0.1, "CV 47 % > 10 %"),      # 47.1 %: x 101 would round to 48
    ([-1.0, 1.0], 0.10, "CV undefined (mean 0)"),
    ([-2.0, 0.0, 2.0], 0.5, "CV undefined (mean 0)"),
])
def test_the_messages_exactly(values: list[float], limit: float, message: str) -> None:
    assert noisy_reason(values, limit) == message


def test_constant_values_are_never_noisy() -> None:
    assert noisy_reason([5.0, 5.0, 5.0, 5.0], 0.0) is None
    assert noisy_reason([0.0, 0.0], 0.10) is None


def test_a_gap_counts_as_bimodal_only_above_half_the_cv_limit() -> None:
    # limit 0.5: bar 0.25 x median 4 = 1, the gap exactly 1 (CV 14 %: under the limit)
    assert noisy_reason([3.5, 3.5, 4.5, 4.5], 0.5) is None
    assert noisy_reason([3.5, 3.5, 4.75, 4.75], 0.5) == "bimodal"
    # limit 0.10: bar 0.05 x median; a gap of 4 % of the median is not bimodal, 6 % is
    assert noisy_reason([100.0, 100.0, 104.0, 104.0], 0.10) is None
    assert noisy_reason([100.0, 100.0, 106.0, 106.0], 0.10) == "bimodal"
    # without the bar (min_gap 0) the 4 % gap would be
    assert bimodal([100.0, 100.0, 104.0, 104.0])
