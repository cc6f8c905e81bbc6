"""results.stats.noisy_reason: cells whose spread cannot carry a ratio."""

from __future__ import annotations

import random

import pytest

from results import metrics
from results.stats import bimodal, noisy_reason, summarize

# memory.random on native in a full-profile session here (n = 10, 10 s runs): 246-498 MiB/s
MEMORY_RANDOM = [246.0, 252.0, 261.0, 270.0, 283.0, 455.0, 470.0, 482.0, 491.0, 498.0]


def test_the_real_memory_random_cell_is_noisy() -> None:
    assert summarize(MEMORY_RANDOM).cv == pytest.approx(0.29, abs=0.08)
    assert noisy_reason(MEMORY_RANDOM, metrics.cv_limit("mib_per_s")).startswith("CV ")
    assert bimodal(MEMORY_RANDOM)


def test_two_modes_inside_the_cv_limit_are_bimodal() -> None:
    values = [100.0, 100.5, 101.0, 100.8, 100.2, 108.0, 108.5, 109.0, 108.2, 107.9]
    assert summarize(values).cv < 0.10
    assert noisy_reason(values, 0.10) == "bimodal"
    # two modes 0.1 % apart do not move a ratio: not called noisy
    assert noisy_reason([1000.0, 1000.1, 1000.2, 1001.0, 1001.1, 1001.2], 0.10) is None


@pytest.mark.parametrize("n", [5, 10])
def test_unimodal_3_percent_noise_is_not_flagged(n: int) -> None:
    rng = random.Random(n)
    flagged = sum(noisy_reason([rng.gauss(100.0, 3.0) for _ in range(n)], 0.10) is not None
                  for _ in range(3000))
    assert flagged / 3000 <= 0.01


def test_noisy_reason_formats_and_edges() -> None:
    assert noisy_reason([100.0, 150.0, 60.0], 0.10) == "CV 44 % > 10 %"
    assert noisy_reason([5.0], 0.10) is None
    assert noisy_reason([-1.0, 1.0], 0.10) == "CV undefined (mean 0)"
