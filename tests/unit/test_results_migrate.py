"""results/migrate.py: documents of every earlier schema_version come up to the current one;
newer or unknown versions are refused with one error. And a results file written before
the results package existed (the v1 fixture) still loads, validates, reports and compares.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reports import render
from results import document, migrate
from results.errors import ResultsError, UnknownSchemaVersion

V1_FIXTURE = Path(__file__).parent / "fixtures" / "results" / "v1_tcg_all_targets.json"
ISOBENCH = Path(sys.executable).with_name("isobench")


def v1() -> dict[str, Any]:
    return json.loads(V1_FIXTURE.read_text())


# -- the registry ------------------------------------------------------------------------------

def test_every_earlier_version_has_a_step() -> None:
    assert set(migrate.STEPS) == set(range(migrate.FIRST_VERSION, migrate.SCHEMA_VERSION))


def test_the_schema_file_is_the_current_version() -> None:
    schema = json.loads(document.SCHEMA_PATH.read_text())
    assert schema["properties"]["schema_version"]["const"] == migrate.SCHEMA_VERSION


def test_a_current_document_is_returned_as_it_is() -> None:
    doc = v1()
    assert migrate.migrate(doc) is doc


@pytest.mark.parametrize(("version", "shown"), [
    (migrate.SCHEMA_VERSION + 1, str(migrate.SCHEMA_VERSION + 1)),  # newer
    (0, "0"), (-3, "-3"), ("1", "'1'"), (1.0, "1.0"), (True, "True"), (None, "missing"),
])
def test_newer_and_unknown_versions_are_refused(version: Any, shown: str) -> None:
    doc = {**v1(), "schema_version": version}
    if version is None:
        del doc["schema_version"]
    with pytest.raises(UnknownSchemaVersion) as err:
        migrate.migrate(doc)
    assert str(err.value) == (f"unknown schema_version {shown} (this isobench reads "
                              f"{migrate.SCHEMA_VERSION})")
    assert isinstance(err.value, ResultsError) and isinstance(err.value, ValueError)


def test_not_a_document() -> None:
    with pytest.raises(ResultsError, match="not a results document"):
        migrate.migrate([1])


# -- the mechanism, on a made-up history of three versions -------------------------------------

def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    doc["session"]["host"] = doc["session"].pop("machine_name")
    doc["schema_version"] = 2
    return doc


def _v2_to_v3(doc: dict[str, Any]) -> dict[str, Any]:
    doc["runs"] = [{**r, "ok": bool(r["ok"])} for r in doc["runs"]]
    doc["schema_version"] = 3
    return doc


STEPS = {1: _v1_to_v2, 2: _v2_to_v3}


def test_documents_are_migrated_step_by_step() -> None:
    old = {"schema_version": 1, "session": {"machine_name": "h"}, "runs": [{"ok": 1}]}
    kept = copy.deepcopy(old)
    new = migrate.migrate(old, steps=STEPS, current=3)
    assert new == {"schema_version": 3, "session": {"host": "h"}, "runs": [{"ok": True}]}
    assert old == kept  # the input is not changed
    middle = {"schema_version": 2, "session": {"host": "h"}, "runs": [{"ok": 0}]}
    assert migrate.migrate(middle, steps=STEPS, current=3)["runs"] == [{"ok": False}]
    with pytest.raises(UnknownSchemaVersion, match="unknown schema_version 4"):
        migrate.migrate({"schema_version": 4}, steps=STEPS, current=3)


def test_a_missing_or_wrong_step_is_an_error() -> None:
    with pytest.raises(ResultsError, match="no migration from schema_version 2 to 3"):
        migrate.migrate({"schema_version": 1, "session": {"machine_name": "h"}},
                        steps={1: _v1_to_v2}, current=3)
    with pytest.raises(ResultsError, match="did not produce version 2"):
        migrate.migrate({"schema_version": 1}, steps={1: lambda d: d}, current=2)


def test_load_migrates_and_names_the_file(tmp_path: Path) -> None:
    future = tmp_path / "future.json"
    future.write_text(json.dumps({**v1(), "schema_version": migrate.SCHEMA_VERSION + 1}))
    with pytest.raises(ResultsError, match=f"{future}: unknown schema_version"):
        document.load(future)


# -- a file written before this package existed ------------------------------------------------

def test_the_v1_fixture_loads_and_validates() -> None:
    doc = document.load(V1_FIXTURE)
    document.validate(doc)
    assert doc["schema_version"] == 1 and doc["runs"]


def test_the_v1_fixture_reports(tmp_path: Path) -> None:
    out = render.generate(V1_FIXTURE, formats="html", out=tmp_path)
    assert out.html is not None
    html = out.html.read_text(encoding="utf-8")
    assert "startup" in html and "tcg" in html.lower()


def test_the_v1_fixture_compares_with_itself(tmp_path: Path) -> None:
    if not ISOBENCH.exists():
        pytest.skip(f"{ISOBENCH} is not installed (make venv)")
    copy_of = tmp_path / "session" / "results.json"
    copy_of.parent.mkdir()
    shutil.copy(V1_FIXTURE, copy_of)
    proc = subprocess.run([str(ISOBENCH), "compare", str(V1_FIXTURE), str(copy_of.parent)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "0 regressed, 0 improved, 0 changed within noise" in proc.stdout
