"""results.compare._judge pinned whole: each branch's verdict, medians, change and sizes,
and the p-value a testable cell joins the Holm family with (mutation testing found these
unpinned after the regression rule was rewritten: issue 13)."""

from __future__ import annotations

import pytest

from results import compare as rules
from results.compare import Change, _judge, _Pending
from results.stats import ratio_bootstrap

BASE = [100.0, 101.0, 99.0, 100.5, 99.5]


def test_too_few_runs_is_insufficient_with_every_number_kept() -> None:
    got = _judge("higher", BASE[:4], [120.0] * 5, 0.05, 200)
    assert got == Change(rules.INSUFFICIENT, 100.25, 120.0, pytest.approx(120.0 / 100.25 - 1),
                         4, 5)


def test_no_direction_is_same_inside_the_band_and_unknown_outside() -> None:
    assert _judge(None, BASE, [102.0] * 5, 0.05, 200) == \
        Change(rules.SAME, 100.0, 102.0, pytest.approx(0.02), 5, 5)
    assert _judge(None, BASE, [120.0] * 5, 0.05, 200) == \
        Change(rules.UNKNOWN, 100.0, 120.0, pytest.approx(0.2), 5, 5)


def test_zero_to_zero_is_same() -> None:
    assert _judge("lower", [0.0] * 5, [0.0] * 5, 0.05, 200) == \
        Change(rules.SAME, 0.0, 0.0, 0.0, 5, 5)


def _pending(better: str, base: list[float], new: list[float],
             threshold: float = 0.05) -> _Pending:
    got = _judge(better, base, new, threshold, 400)
    assert isinstance(got, _Pending), got
    assert got.better == better
    return got


def test_a_rise_is_tested_against_one_plus_the_threshold() -> None:
    # new/base about 1.06: the near side of the band is 1.05, from below
    new = [104.0, 106.0, 107.0, 105.5, 106.5]
    pending = _pending("higher", BASE, new)
    boot = ratio_bootstrap(new, BASE, resamples=400)
    assert boot is not None and boot.point > 1.05
    assert pending.p_value == boot.p_beyond(1.05, above=True)
    assert 0.0 < pending.p_value < 1.0
    assert pending.p_value != boot.p_beyond(0.95, above=True)


def test_a_fall_is_tested_against_one_minus_the_threshold() -> None:
    new = [93.0, 94.5, 95.0, 93.5, 94.0]
    pending = _pending("lower", BASE, new)
    boot = ratio_bootstrap(new, BASE, resamples=400)
    assert boot is not None and boot.point < 0.95
    assert pending.p_value == boot.p_beyond(0.95, above=False)
    assert 0.0 < pending.p_value < 1.0
    assert pending.p_value != boot.p_beyond(1.05, above=False)


def test_a_change_inside_the_band_joins_with_p_one() -> None:
    pending = _pending("higher", BASE, [101.0, 103.0, 95.0, 108.0, 102.0])
    assert pending.p_value == 1.0


def test_from_zero_base_over_new_must_leave_the_band() -> None:
    # the base's median is 0: new / base has no ratio, so base / new is tested against
    # 1 / (1 + threshold) from above
    base = [0.0, 0.0, 0.0, 1.0, 1.0]
    new = [0.0, 1.0, 1.0, 1.0, 2.0]
    pending = _pending("lower", base, new, 0.25)
    boot = ratio_bootstrap(base, new, resamples=400)
    assert boot is not None
    assert pending.p_value == boot.p_beyond(1.0 / 1.25, above=False)
    assert pending.p_value != boot.p_beyond(1.0 / 0.75, above=False)


def test_from_zero_with_many_runs_bootstraps_by_monte_carlo_with_the_resamples_given() -> None:
    # over results.stats.EXACT_MAX_N values a side the bootstrap draws `resamples` times
    base = [0.0] * 13 + [1.0] * 12
    new = [0.0] * 5 + [1.0] * 20
    pending = _pending("lower", base, new, 0.25)
    boot = ratio_bootstrap(base, new, resamples=400)
    assert boot is not None
    assert pending.p_value == boot.p_beyond(1.0 / 1.25, above=False)
