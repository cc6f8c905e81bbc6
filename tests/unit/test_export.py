"""`isobench export`: one row per summary cell in CSV and JSON; BMF as bencher reads it."""

from __future__ import annotations

import csv
import io
import json

import pytest

from isobench import cli
from tests.unit.test_report_support import FIXTURES

RESULTS = FIXTURES / "tcg_all_targets.json"


def _cells() -> int:
    doc = json.loads(RESULTS.read_text())
    return sum(len(t) for v in doc["summary"].values() for m in v.values() for t in m.values())


def _export(fmt: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(["export", str(RESULTS), "--format", fmt]) == 0
    return capsys.readouterr().out


def test_csv_and_json_have_a_row_per_cell(capsys: pytest.CaptureFixture[str]) -> None:
    table = list(csv.DictReader(io.StringIO(_export("csv", capsys))))
    assert len(table) == _cells()
    vm = next(r for r in table if r["variant"] == "cpu.all" and r["metric"] == "events_per_s"
              and r["target"] == "vm")
    assert (vm["unit"], vm["n"], float(vm["median"])) == ("events/s", "1", 232.11)
    assert float(vm["ratio"]) == pytest.approx(232.11 / 1840.34)
    rows = json.loads(_export("json", capsys))["rows"]
    assert len(rows) == _cells() and rows[0].keys() == table[0].keys()


def test_bmf_matches_bencher_schema(capsys: pytest.CaptureFixture[str]) -> None:
    bmf = json.loads(_export("bmf", capsys))
    assert bmf["cpu/cpu.all@vm"]["events_per_s"]["value"] == 232.11
    for benchmark, measures in bmf.items():
        assert benchmark and measures
        for measure in measures.values():
            assert isinstance(measure["value"], float)
            assert set(measure) <= {"value", "lower_value", "upper_value"}
            if "lower_value" in measure:
                assert measure["lower_value"] <= measure["value"] <= measure["upper_value"]


def test_bad_input_one_line(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    assert cli.main(["export", str(tmp_path / "none"), "--format", "csv"]) == 1
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert cli.main(["export", str(RESULTS), "--format", "xml"]) == 125
    assert "invalid choice" in capsys.readouterr().err
