"""The issue's Done-when, on simulated sessions (bench/tools/simulate_compare.py): compare's
false alarms and detection, and the ratio CI's coverage that chose its method.

Monte-Carlo error: a rate p over N trials has standard error sqrt(p (1 - p) / N): 1.5 points
for a 5 % rate over 200 pairs, 0.6 points for 95 % coverage over 1200 trials, so each bound
below leaves at least two standard errors between the measured rate and the issue's limit.
"""

from __future__ import annotations

import pytest

from bench.tools import simulate_compare as sim
from results import stats


@pytest.mark.parametrize("n", [5, 10])          # the quick and full profiles
@pytest.mark.parametrize("cv", [0.03, 0.08])
def test_identical_sessions_exit_1_in_at_most_5_percent_of_pairs(n: int, cv: float) -> None:
    assert sim.false_alarm_rate(200, n, cv) <= 0.05


def test_a_15_percent_shift_is_caught_at_the_full_profiles_n() -> None:
    caught, wrong = sim.detection_rate(200, 10, 0.03)
    assert caught >= 0.90 and wrong <= 0.05
    # at 8 % noise Holm over 64 cells at n = 10 cannot separate 15 % from the 5 % band often
    # (measured ~16 %): documented in results/compare.py, not hidden
    assert sim.detection_rate(100, 10, 0.08)[1] <= 0.05


@pytest.mark.parametrize("n", [5, 10])
@pytest.mark.parametrize("sampler", [sim.normal, sim.lognormal])
@pytest.mark.parametrize("paired", [False, True])
def test_the_percentile_ratio_ci_covers_the_true_ratio_93_percent(n: int, sampler: sim.Sampler,
                                                              paired: bool) -> None:
    trials = 1200 if not paired else 600     # paired is Monte Carlo: 500 resamples a CI
    assert sim.coverage(trials, n, sampler, paired=paired, cv=0.3) >= 0.93


@pytest.mark.parametrize("n", [5, 10])
def test_the_median_ci_covers_the_true_median(n: int) -> None:
    import random
    rng = random.Random(4)
    held = 0
    for _ in range(1500):
        values = [sim.lognormal(rng, 1.0, 0.3) for _ in range(n)]
        _, low, high = stats.bootstrap_median_ci(values)
        held += low is not None and high is not None and low <= 1.0 <= high
    assert held / 1500 >= 0.93
