"""The verdict a claim rule returns: its record, its three values, and the run count below
which a verdict carries the few_runs condition (reports/claims.py documents the rules)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SUPPORTED, REFUTED, INCONCLUSIVE = "supported", "refuted", "inconclusive"
VERDICTS = (SUPPORTED, REFUTED, INCONCLUSIVE)

FEW_RUNS = 5

Doc = Mapping[str, Any]
Note = tuple[str, dict[str, Any]]


@dataclass
class Verdict:
    claim: str
    verdict: str
    numbers: dict[str, Any] = field(default_factory=dict)
    figure: str | None = None
    basis: Note = ("no_evidence", {})
    conditions: list[Note] = field(default_factory=list)
    lecture: tuple[int, ...] = ()

    @property
    def condition_codes(self) -> list[str]:
        return [code for code, _ in self.conditions]
