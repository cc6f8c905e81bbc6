"""One binary everywhere (issue 15): each run records its tool's path and version as the
image gives it to every target, and no ratio is drawn between runs of different versions:
neither to native within a session nor between two sessions."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bench import setup
from reports import render
from results import compare as rules
from results import document
from tests.unit.test_report_support import doc, run

STATUS = ("Package: fio\nStatus: install ok installed\nVersion: {v}\n\n"
          "Package: dash\nStatus: install ok installed\nVersion: 0.5.12-2\n")


def layer(root: Path, *files: str, status: str | None = None) -> str:
    for f in files:
        (root / f.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / f.lstrip("/")).write_text("")
    if status is not None:
        (root / "var/lib/dpkg").mkdir(parents=True, exist_ok=True)
        (root / "var/lib/dpkg/status").write_text(status)
    return str(root)


def test_the_tool_is_found_on_the_images_path_with_its_packages_version(tmp_path: Path) -> None:
    base = layer(tmp_path / "base", "/usr/bin/dash", "/var/lib/dpkg/info/dash.list",
                 status=STATUS.format(v="3.30-1"))
    (tmp_path / "base/var/lib/dpkg/info/dash.list").write_text("/.\n/usr/bin/dash\n")
    top = layer(tmp_path / "top", "/usr/bin/fio", status=STATUS.format(v="3.33-3"))
    (tmp_path / "top/var/lib/dpkg/info").mkdir(parents=True)
    (tmp_path / "top/var/lib/dpkg/info/fio:amd64.list").write_text("/usr/bin/fio\n")
    path = "/usr/local/bin:/bin:/usr/bin"
    # the topmost status wins; /bin/dash found through /usr/bin's twin in the file list
    assert setup.image_tool([top, base], path, "fio") == \
        {"name": "fio", "path": "/usr/bin/fio", "version": "fio 3.33-3"}
    assert setup.image_tool([base], path, "fio") == \
        {"name": "fio", "path": None, "version": None}
    (tmp_path / "base/bin").mkdir()
    (tmp_path / "base/bin/dash").write_text("")
    assert setup.image_tool([top, base], path, "dash") == \
        {"name": "dash", "path": "/bin/dash", "version": "dash 0.5.12-2"}


def fio_run(target: str, version: str, iops: float, rep: int) -> dict[str, Any]:
    tool = {"name": "fio", "path": "/usr/bin/fio", "version": version}
    return run("disk", "disk.randread", target, {"iops": iops}, rep=rep,
               extra={"setup": {"tools": "the image's", "tool": tool}})


def session(container_version: str, native_version: str = "fio 3.33-3",
            session_id: str = "s1") -> dict[str, Any]:
    d = doc(*[fio_run("native", native_version, 1000.0 + i, i) for i in range(5)],
            *[fio_run("container", container_version, 900.0 + i, i) for i in range(5)],
            targets=("native", "container"), session_id=session_id,
            workloads={"disk": {"variants": {"disk.randread": {"metrics": {
                "iops": {"unit": "IOPS", "better": "higher"}}}}}})
    document.recompute_summary(d)
    return d


def test_no_ratio_to_native_between_different_versions_of_the_tool() -> None:
    same = session("fio 3.33-3")["summary"]["disk"]["disk.randread"]["iops"]["container"]
    assert same["ratio_to_native"] is not None and "ratio_refused" not in same
    cell = session("fio 3.35-1")["summary"]["disk"]["disk.randread"]["iops"]["container"]
    assert cell["ratio_to_native"] is None and cell["ci_low"] is None is cell["ci_high"]
    assert cell["ratio_refused"] == ("no ratio: container ran fio 3.35-1, native fio 3.33-3 "
                                     "(different binaries)")
    assert cell["median"] == 902.0  # the figure itself stays
    document.validate(session("fio 3.35-1"))


def test_the_report_says_why_the_ratio_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(session("fio 3.35-1")))
    html = render.generate(path, formats="html").html.read_text()
    assert re.search(r"no ratio: container ran fio 3\.35-1, native fio 3\.33-3", html)


def test_the_russian_report_says_it_in_russian(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(session("fio 3.35-1")))
    html = render.generate(path, formats="html", lang="ru").html.read_text()
    assert "нет отношения: container запускал fio 3.35-1, native — fio 3.33-3" in html
    assert "no ratio:" not in html


def test_compare_refuses_a_ratio_between_sessions_of_different_versions() -> None:
    base = session("fio 3.33-3", session_id="a")
    result = rules.compare(base, session("fio 3.35-1", session_id="b"))
    row = next(r for r in result.rows if (r.target, r.metric) == ("container", "iops"))
    assert row.verdict == rules.INSUFFICIENT and row.change.change is None
    assert "disk.randread on container: no ratio, the baseline ran fio 3.33-3 and the new " \
        "session fio 3.35-1 (different binaries)" in result.warnings
    native = next(r for r in result.rows if (r.target, r.metric) == ("native", "iops"))
    assert native.verdict != rules.INSUFFICIENT  # native's own versions match
    assert not [w for w in rules.compare(base, session("fio 3.33-3", session_id="c")).warnings
                if "different binaries" in w]
