"""What a session tells whoever shows it: how many units of work it will run (known up front,
from the schedule), each unit as it starts and ends, and what happens now (building an
image, booting a VM). The CLI renders it: a rich bar with an ETA on a terminal, timestamped
lines otherwise. A unit is one run of one variant on one target, warm-ups included."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from runtime.image.progress import BuildProgress, Lines


@dataclass(frozen=True)
class Unit:
    workload: str
    variant: str                    # what it measures ("cpu.all"); the first of `records`
    target: str
    rep: int                        # from 0; -1: a warm-up, not recorded
    reps: int                       # the repetitions `target` gets of it
    records: tuple[str, ...] = ()   # the variants one run records, when more than `variant`
    label: str = ""                 # shown instead of the variant ("8 idle containers")

    def __str__(self) -> str:
        what = f"{self.variant} {self.label}".rstrip()
        if self.rep < 0:
            return f"warm-up {what} {self.target}"
        return f"{what} {self.target} rep {self.rep + 1}/{self.reps}"


class SessionProgress(Protocol):
    def planned(self, total: int) -> None:
        """The session will run `total` units (what --resume found done not counted)."""

    def started(self, unit: Unit) -> None:
        """A unit begins; the n-th call of a session is unit n of `total`."""

    def finished(self, unit: Unit, ok: bool) -> None:
        """That unit ended (`ok`: every run of it succeeded)."""

    def step(self, message: str) -> None:
        """What happens now, inside or between units: "building image ...", a failure."""

    def build(self) -> BuildProgress:
        """Where an image build's steps (and its RUN output) are told."""

    def close(self) -> None:
        """The session is over (or interrupted)."""


class LineProgress:
    """Every event as one line to a callback: the harness's account when nobody renders."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.total = self.index = 0

    def planned(self, total: int) -> None:
        self.total = total

    def started(self, unit: Unit) -> None:
        self.index += 1
        self.say(f"[{self.index}/{self.total}] {unit}")

    def finished(self, unit: Unit, ok: bool) -> None:
        pass

    def step(self, message: str) -> None:
        self.say(message)

    def build(self) -> BuildProgress:
        return Lines(lambda _line: None)

    def close(self) -> None:
        pass
