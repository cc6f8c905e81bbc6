"""bench/schedule.py: interleaved, shuffled, reproducible run plans."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.schedule import interleave, warmup_plan

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
