"""Bad input is one line naming the file (exit 1); `isobench report` writes and prints the
report's paths. isobench/commands/report.py is exercised through its own register()."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from isobench.commands import report as report_cmd
from reports import render
from reports.errors import ReportError
from reports.load import load_results
from runtime.errors import IsobenchError
from tests.unit.test_report_support import FIXTURES, doc, fixture, run


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="isobench")
    report_cmd.register(parser.add_subparsers(dest="verb"))
    return parser.parse_args(["report", *argv])


def write(tmp_path: Path, text: str, name: str = "results.json") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def one_line_error(arg: Any) -> str:
    with pytest.raises(ReportError) as info:
        load_results(arg)
    message = str(info.value)
    assert "\n" not in message and info.value.exit_code == 1
    return message


def test_not_json(tmp_path: Path) -> None:
    path = write(tmp_path, '{"schema_version": 1, ')
    message = one_line_error(path)
    assert message.startswith(f"{path}: not valid JSON (line 1")


def test_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "[1, 2]")
    assert one_line_error(path) == f"{path}: not a results document (a JSON list)"


@pytest.mark.parametrize(("version", "shown"), [(2, "2"), (None, "missing"), ("1", "'1'")])
def test_unknown_schema_version(tmp_path: Path, version: Any, shown: str) -> None:
    d = doc(run("cpu", "cpu.single", "native", {"events_per_s": 1.0}))
    if version is None:
        del d["schema_version"]
    else:
        d["schema_version"] = version
    path = write(tmp_path, json.dumps(d))
    assert one_line_error(path) == (f"{path}: unknown schema_version {shown} "
                                    "(this report reads version 1)")


def test_schema_violation_names_the_place(tmp_path: Path) -> None:
    d = doc(run("cpu", "cpu.single", "native", {"events_per_s": 1.0}))
    d["runs"][0]["repetition"] = -1
    path = write(tmp_path, json.dumps(d))
    message = one_line_error(path)
    assert message.startswith(f"{path}: invalid results: $.runs[0].repetition")


def test_no_target_at_all(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(doc(targets=())))
    assert one_line_error(path) == f"{path}: no target recorded: nothing to report"


def test_runs_of_an_undeclared_target(tmp_path: Path) -> None:
    d = doc(run("cpu", "cpu.single", "vm", {"events_per_s": 1.0}), targets=("native",))
    path = write(tmp_path, json.dumps(d))
    assert one_line_error(path) == (f"{path}: runs name target vm, which the targets block "
                                    "does not declare")


def test_missing_file_and_directory_without_results(tmp_path: Path) -> None:
    assert one_line_error(tmp_path / "nope.json") == \
        f"{tmp_path / 'nope.json'}: no such results file or directory"
    assert one_line_error(tmp_path) == f"{tmp_path}: no results.json in this directory"


def test_history_must_be_a_database_or_a_directory(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(fixture("no_vm")))
    with pytest.raises(ReportError, match="--history must be a history database"):
        render.generate(path, formats="html", history_dir=tmp_path / "none")


def test_unknown_format_and_language(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(fixture("no_vm")))
    with pytest.raises(ReportError, match=r"unknown format docx \(valid: html, pdf\)"):
        render.generate(path, formats="html,docx")
    with pytest.raises(ReportError, match="unknown language 'de'"):
        render.generate(path, lang="de")


# -- the command --------------------------------------------------------------------------------

def test_cli_bad_input_is_an_isobench_error_with_exit_1(tmp_path: Path) -> None:
    path = write(tmp_path, "not json")
    args = parse(str(path))
    with pytest.raises(IsobenchError) as info:
        args.handler(args)
    assert info.value.exit_code == 1
    assert str(info.value).startswith(f"{path}: not valid JSON")


def test_cli_writes_and_prints_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    session = tmp_path / "session"
    session.mkdir()
    (session / "results.json").write_text((FIXTURES / "no_vm.json").read_text())
    args = parse(str(session), "--format", "html", "--lang", "ru", "--out",
                 str(tmp_path / "out"))
    assert args.handler(args) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [str(tmp_path / "out" / "report.html")]
    assert captured.err.startswith("isobench: warning: ")
    assert "vm" in captured.err and str(session / "results.json") in captured.err
    assert '<html lang="ru">' in (tmp_path / "out" / "report.html").read_text()


def test_cli_defaults() -> None:
    args = parse("reports/out/latest")
    assert (args.format, args.lang, args.history, args.out) == (None, "en", None, None)


def test_cli_pdf_failure_is_a_warning_by_default_and_an_error_when_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from reports import pdf

    monkeypatch.setattr(pdf, "backend", lambda: (None, "no renderer here"))
    path = write(tmp_path, json.dumps(fixture("no_vm")))
    args = parse(str(path))
    assert args.handler(args) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [str(tmp_path / "report.html")]
    assert "no PDF written" in captured.err and "no renderer here" in captured.err
    args = parse(str(path), "--format", "pdf")
    with pytest.raises(IsobenchError, match="cannot write PDF: no renderer here") as info:
        args.handler(args)
    assert info.value.exit_code == 1


def test_reports_imports_nothing_from_the_other_parts() -> None:
    import ast

    root = Path(__file__).resolve().parents[2] / "reports"
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert name.split(".")[0] not in ("runtime", "vm", "bench"), (path, name)
