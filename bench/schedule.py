"""The order runs happen in: interleaved rounds, shuffled from a seed, and warm-ups apart."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

V = TypeVar("V")

# (variant, target, repetition): one step of a run plan.
Step = tuple[V, str, int]


def _rounds(targets: Sequence[str], variants: Sequence[V], rounds: int,
            rng: random.Random) -> list[Step[V]]:
    if rounds < 0:
        raise ValueError("the number of rounds must not be negative")
    plan: list[Step[V]] = []
    for rep in range(rounds):
        block = [(variant, target) for variant in variants for target in targets]
        rng.shuffle(block)
        plan.extend((variant, target, rep) for variant, target in block)
    return plan


def interleave(targets: Sequence[str], variants: Sequence[V], repetitions: int,
               seed: int) -> list[Step[V]]:
    """The measured runs: `repetitions` rounds, each every (variant, target) once, shuffled.

    Randomizing the order inside each round spreads slow drift (thermal, page cache, a
    noisy neighbour) over all targets alike instead of charging it to whichever runs last.
    Repetitions count from 0; the same seed gives the same plan.
    """
    return _rounds(targets, variants, repetitions, random.Random(seed))


def warmup_plan(targets: Sequence[str], variants: Sequence[V], rounds: int,
                seed: int) -> list[Step[V]]:
    """Warm-up runs (not recorded) before the measured ones: `rounds` shuffled rounds.

    Uses its own random stream, so adding warm-ups does not change the measured order.
    """
    return _rounds(targets, variants, rounds, random.Random(f"warmup:{seed}"))
