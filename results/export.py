"""`isobench export`: the summary, one row per (workload, variant, metric, target) cell, as
CSV, JSON or the Bencher Metric Format (BMF, https://bencher.dev/docs/reference/
bencher-metric-format: {benchmark: {measure: {value, lower_value, upper_value}}}).

In BMF a benchmark is `workload/variant@target`, a measure the metric's name; value is the
median, lower/upper the interquartile range's ends (the spread bencher's thresholds can use;
the ratio's CI is in the CSV and JSON, where the ratio is)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

from results.metrics import unit_and_direction

FORMATS = ("csv", "json", "bmf")
COLUMNS = ("workload", "variant", "metric", "target", "unit", "better", "n", "median", "q1",
           "q3", "ratio", "ci_low", "ci_high")


def rows(doc: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for workload, variants in sorted((doc.get("summary") or {}).items()):
        for variant, metrics in sorted(variants.items()):
            for metric, targets in sorted(metrics.items()):
                unit, better = unit_and_direction(doc, workload, variant, metric)
                for target, cell in sorted(targets.items()):
                    yield {"workload": workload, "variant": variant, "metric": metric,
                           "target": target, "unit": unit, "better": better,
                           "n": cell.get("n"), "median": cell.get("median"),
                           "q1": cell.get("q1"), "q3": cell.get("q3"),
                           "ratio": cell.get("ratio_to_native"),
                           "ci_low": cell.get("ci_low"), "ci_high": cell.get("ci_high")}


def to_csv(doc: Mapping[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows(doc):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def to_json(doc: Mapping[str, Any]) -> str:
    session = doc.get("session") or {}
    return json.dumps({"session": session.get("id"), "schema_version": doc.get("schema_version"),
                       "rows": list(rows(doc))}, indent=2) + "\n"


def to_bmf(doc: Mapping[str, Any]) -> str:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for row in rows(doc):
        if not isinstance(row["median"], (int, float)):
            continue  # BMF requires a value
        measure = {"value": float(row["median"])}
        if isinstance(row["q1"], (int, float)) and isinstance(row["q3"], (int, float)):
            measure["lower_value"], measure["upper_value"] = float(row["q1"]), float(row["q3"])
        out.setdefault(f"{row['workload']}/{row['variant']}@{row['target']}", {})[
            row["metric"]] = measure
    return json.dumps(out, indent=2) + "\n"


def export(doc: Mapping[str, Any], fmt: str) -> str:
    return {"csv": to_csv, "json": to_json, "bmf": to_bmf}[fmt](doc)
