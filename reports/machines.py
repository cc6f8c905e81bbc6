"""`isobench report --machines`: one page comparing the same cells across machines.

For each machine, one session (the files given, or the newest session of each machine in
the history database); for every (workload, variant, metric) cell with a direction, each
target's ratio to native on that machine, side by side: container/native and VM/native per
machine, with the CI and n each session's summary carries. A cell measured on one machine
only is shown with "–" for the others. The machines are told apart by the history's
fingerprint (results.history.schema.machine_row), and each column says what the machine is:
CPU, cores, memory, kernel, virtualization, cgroup mode and VM acceleration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reports import data
from reports.errors import ReportError
from reports.formatting import fmt_ratio
from reports.load import load_results
from results.errors import ResultsError
from results.history.schema import machine_row
from results.history.store import HistoryStore
from results.metrics import unit_and_direction

Document = Mapping[str, Any]
NATIVE = "native"


def from_history(location: str) -> list[tuple[Document, str]]:
    """The newest session of each machine in the history, oldest machine first."""
    try:
        with HistoryStore.open(location) as store:
            newest = {s.machine_id: s for s in store.sessions()}
            return [(store.document(s.id), s.id) for s in newest.values()]
    except ResultsError as e:
        raise ReportError(str(e)) from None


def from_files(paths: Sequence[str | os.PathLike[str]]) -> list[tuple[Document, str]]:
    out = []
    for path in paths:
        doc, found = load_results(path)
        out.append((doc, str(found)))
    return out


def _machine_view(doc: Document, source: str) -> dict[str, Any]:
    row = machine_row(doc["machine"])
    memory = row["memory_bytes"]
    return {"id": row["id"], "cpu": row["cpu_model"] or "?", "cores": row["cores"],
            "memory": f"{memory / 2**30:.1f} GiB" if memory else "?",
            "kernel": row["kernel"], "virtualization": row["virtualization"],
            "cgroup": row["cgroup_mode"] or "?", "accel": data.accel_mode(doc) or "none",
            "session": doc["session"]["id"], "source": source}


def _ratio(cell: Mapping[str, Any] | None) -> str:
    if not cell:
        return "–"
    ratio = fmt_ratio(cell.get("ratio_to_native"), cell.get("ci_low"), cell.get("ci_high"))
    n = cell.get("n")
    return f"{ratio} (n={'?' if n is None else int(n)})"


def cross_machine(sessions: Sequence[tuple[Document, str]]) -> dict[str, Any]:
    """The page's context: machines (columns) and cells (rows of target ratios)."""
    if len(sessions) < 2:
        raise ReportError(f"--machines needs sessions of at least two machines, "
                          f"got {len(sessions)}")
    machines = [_machine_view(doc, source) for doc, source in sessions]
    ids = [m["id"] for m in machines]
    if len(set(ids)) < len(ids):
        raise ReportError("--machines: two of the sessions ran on the same machine "
                          f"({', '.join(m['session'] for m in machines)})")
    keys: set[tuple[str, str, str, str]] = set()
    for doc, _ in sessions:
        for workload, variants in doc.get("summary", {}).items():
            if workload in data.NOT_IN_SUMMARY:
                continue
            for variant, metrics in variants.items():
                for metric, targets in metrics.items():
                    keys |= {(workload, variant, metric, t) for t in targets if t != NATIVE}
    cells = []
    for workload, variant, metric, target in sorted(
            keys, key=lambda k: (data.workload_order(k[0]), k[1], k[2],
                                 data.target_order(k[3]))):
        docs = [doc for doc, _ in sessions]
        unit, better = next((ud for ud in (unit_and_direction(d, workload, variant, metric)
                                           for d in docs) if ud[1] is not None), (None, None))
        if better is None:
            continue
        values = []
        for doc in docs:
            cell = (doc.get("summary", {}).get(workload, {}).get(variant, {})
                    .get(metric, {}).get(target))
            values.append(_ratio(cell))
        cells.append({"workload": workload, "variant": variant, "metric": metric,
                      "unit": unit or "", "better": better, "target": target,
                      "values": values})
    return {"machines": machines, "cells": cells}


def render(sessions: Sequence[tuple[Document, str]], env: Any) -> str:
    return str(env.get_template("machines.html.j2").render(**cross_machine(sessions)))


def write(html: str, out: str | os.PathLike[str]) -> Path:
    target = Path(out) / "machines.html"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(".machines.html.tmp")
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as e:
        raise ReportError(f"{target}: cannot write ({e.strerror or e})") from None
    return target
