"""--format's Go-template subset: the fields, functions and tables Docker users type, and one
line with exit 1 for a bad template."""

from __future__ import annotations

import pytest

from isobench import cli
from isobench.gotemplate import TemplateError, parse, render_rows

INSPECT = {"Id": "abc", "Name": "/web", "State": {"Pid": 4242, "Running": True,
                                                  "ExitCode": None},
           "Config": {"Cmd": ["sh", "-c", "echo hi"], "Env": [], "Labels": {"b": "2", "a": "1"}}}


@pytest.mark.parametrize(("text", "expected"), [
    ("{{.State.Pid}}", "4242"),
    ("{{.Name}}", "/web"),
    ("{{ .State.Running }}", "true"),
    ("{{.State.ExitCode}}", "<nil>"),
    ("{{.Nope}}", "<no value>"),                      # a JSON object: Go's map semantics
    ("{{json .State}}", '{"Pid":4242,"Running":true,"ExitCode":null}'),
    ("{{json .Config.Cmd}}", '["sh","-c","echo hi"]'),
    ("{{.Config.Cmd}}", "[sh -c echo hi]"),
    ("{{.Config.Labels}}", "map[a:1 b:2]"),
    ("{{join .Config.Cmd \",\"}}", "sh,-c,echo hi"),
    ("{{index .Config.Labels \"a\"}}", "1"),
    ("{{upper .Name}}-{{len .Config.Cmd}}", "/WEB-3"),
    ("pid={{.State.Pid}}\\tname={{.Name}}", "pid=4242\tname=/web"),
    ("a {{- .Id -}} b", "aabcb"),
])
def test_renders_like_docker(text: str, expected: str) -> None:
    assert parse(text).render(INSPECT) == expected


def test_json_dot_is_the_whole_object() -> None:
    import json

    assert json.loads(parse("{{json .}}").render(INSPECT)) == INSPECT


@pytest.mark.parametrize(("text", "message"), [
    ("{{.Names", "unclosed action"),
    ("{{foo .}}", 'function "foo" not defined'),
    ("{{}}", "missing value"),
    ("{{.Name .Id}}", "can't give argument to non-function"),
    ("{{ ( }}", "unexpected"),
])
def test_bad_templates_are_refused(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("(", r"\(")):
        parse(text)


def test_a_fixed_context_refuses_an_unknown_field() -> None:
    tmpl = parse("{{.Names}} {{.Nope}}", strict=True)
    with pytest.raises(TemplateError, match="can't evaluate field Nope in type "
                                            r"\*formatter.ContainerContext"):
        tmpl.check(["Names", "ID"], "ContainerContext")
    parse("{{.Names}}", strict=True).check(["Names"], "ContainerContext")


def test_table_has_docker_titles_and_aligned_columns() -> None:
    rows = [{"ID": "0123456789ab", "Names": "web", "Status": "Up 2 seconds"},
            {"ID": "ba9876543210", "Names": "database", "Status": "Exited (0) 1 minute ago"}]
    out = render_rows(parse("table {{.ID}}\\t{{.Names}}\\t{{.Status}}"), rows,
                      {"ID": "CONTAINER ID", "Names": "NAMES", "Status": "STATUS"})
    assert out.splitlines() == [
        "CONTAINER ID   NAMES      STATUS",
        "0123456789ab   web        Up 2 seconds",
        "ba9876543210   database   Exited (0) 1 minute ago",
    ]
    plain = render_rows(parse("{{.Names}}"), rows, {})
    assert plain == "web\ndatabase\n"


@pytest.mark.parametrize("argv", [["ps", "--format", "{{.Names"], ["ps", "--format", "{{.Nope}}"],
                                  ["images", "--format", "{{bad}}"],
                                  ["inspect", "--format", "{{.A", "x"],
                                  ["stats", "--no-stream", "--format", "{{.Pid}}"]])
def test_cli_bad_template_one_line_exit_1(argv: list[str], capsys: pytest.CaptureFixture[str],
                                          tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISOBENCH_ROOT", str(tmp_path))
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("isobench: template"), err
