"""The report's "what measuring cost" rows also say what a container costs outside its
cgroup: its monitor's CPU per run (accounting.instance.launcher_cpu_s), median and n per
target; targets that record none get no figure (reports/evidence_view.py)."""

from __future__ import annotations

from typing import Any

from reports import data
from reports.evidence_view import harness_rows
from reports.i18n import Translator


def run(target: str, launcher: float | None) -> dict[str, Any]:
    instance = {} if launcher is None else {"command_s": 1.02, "launcher_cpu_s": launcher}
    return {"workload": "cpu", "variant": "cpu.single", "target": target, "repetition": 0,
            "ok": True, "metrics": {}, "accounting": {"instance": instance}}


DOC = {"session": {}, "runs": [run("container", 0.10), run("container", 0.14),
                               run("container", 0.12), run("native", None), run("runc", None)]}


def test_the_monitor_cpu_is_the_median_per_target_with_its_n() -> None:
    assert data.launcher_cpu(DOC) == {"container": (0.12, 3)}


def test_the_row_names_each_target_with_its_n_in_both_languages() -> None:
    rows = dict(harness_rows(DOC, Translator("en")))
    assert rows["monitor CPU per run, outside the cgroup"] == "container 0.120 s (n=3)"
    rows = dict(harness_rows(DOC, Translator("ru")))
    assert rows["CPU монитора на запуск, вне cgroup"] == "container 0.120 с (n=3)"


def test_no_row_where_no_run_recorded_its_monitor() -> None:
    doc = {"session": {}, "runs": [run("native", None)]}
    assert data.launcher_cpu(doc) == {}
    assert all("monitor" not in label for label, _ in harness_rows(doc, Translator("en")))
