"""The look-ups every claim rule starts with: the run it reads, the acceleration condition a VM
figure carries, the verdict when there is no evidence (reports/claims.py documents the rules)."""

from __future__ import annotations

from typing import Any

from reports import data
from reports.claims_verdict import INCONCLUSIVE, Doc, Note, Verdict


def one_run(doc: Doc, workload: str, variant: str, target: str) -> dict[str, Any] | None:
    found = data.runs(doc, workload, variant, target)
    return found[-1] if found else None


def accel_conditions(doc: Doc) -> list[Note]:
    mode = data.accel_mode(doc)
    return [(mode, {})] if mode in ("tcg", "kvm") else []


def no_evidence(claim: str, figure: str | None, lecture: tuple[int, ...],
                what: str) -> Verdict:
    return Verdict(claim, INCONCLUSIVE, {}, figure, ("no_evidence", {"what": what}), [],
                   lecture)
