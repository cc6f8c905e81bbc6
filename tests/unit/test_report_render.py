"""reports/render.py: the HTML from real (trimmed) sessions and hand-made documents."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from reports import render
from reports.load import check
from tests.unit.test_report_support import FIXTURES, doc, fixture, run

URL_ATTR = re.compile(r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", re.I)
CSS_URL = re.compile(r"""url\(\s*["']?\s*(?:https?:)?//|@import""", re.I)
XMLNS = re.compile(r'xmlns(?::\w+)?="http://www\.w3\.org/[^"]*"')


def html_of(d: dict[str, Any], tmp_path: Path, lang: str = "en",
            history_dir: Path | None = None) -> str:
    path = tmp_path / f"{d['session']['id']}.json"
    path.write_text(json.dumps(d))
    out = render.generate(path, formats="html", lang=lang, history_dir=history_dir,
                          out=tmp_path / "out")
    assert out.html is not None
    return out.html.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def tcg_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    return html_of(fixture("tcg_all_targets"), tmp_path_factory.mktemp("tcg"))


@pytest.fixture(scope="module")
def no_vm_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    return html_of(fixture("no_vm"), tmp_path_factory.mktemp("novm"))


def test_fixtures_are_valid_results_documents() -> None:
    for path in FIXTURES.glob("*.json"):
        check(json.loads(path.read_text()), path)


@pytest.mark.parametrize("which", ["tcg_html", "no_vm_html"])
def test_self_contained_no_external_urls(which: str, request: pytest.FixtureRequest) -> None:
    html = request.getfixturevalue(which)
    assert not URL_ATTR.search(html), URL_ATTR.search(html)
    assert not CSS_URL.search(html)
    assert "<link" not in html and "<script" not in html and "<img" not in html
    # The only "http" left is in SVG namespace declarations, which nothing fetches.
    assert "http" not in XMLNS.sub("", html)


@pytest.mark.parametrize("which", ["tcg_html", "no_vm_html"])
def test_plots_are_inline_svg(which: str, request: pytest.FixtureRequest) -> None:
    html = request.getfixturevalue(which)
    assert html.count("<svg") >= 5
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "element ids must be unique across inline figures"


def test_tcg_banner_when_the_vm_ran_under_tcg(tcg_html: str) -> None:
    assert 'id="tcg-banner"' in tcg_html
    assert "VM figures measure emulation, not hardware virtualization" in tcg_html
    # the driver's own reason, not the machine block's failed probe
    assert "KVM unusable" in tcg_html


def test_no_tcg_banner_without_a_vm(no_vm_html: str) -> None:
    assert 'id="tcg-banner"' not in no_vm_html
    assert "measure emulation" not in no_vm_html


def test_tcg_banner_from_the_machine_block_alone(tmp_path: Path) -> None:
    machine = {**doc()["machine"], "acceleration": {"mode": "tcg", "reason": "probe: no vCPU"}}
    html = html_of(doc(targets=("native",), machine=machine), tmp_path)
    assert 'id="tcg-banner"' in html and "probe: no vCPU" in html


def test_kvm_has_no_banner(tmp_path: Path) -> None:
    machine = {**doc()["machine"], "acceleration": {"mode": "kvm", "reason": "vCPU ran"}}
    html = html_of(doc(run("startup", "startup.true", "vm", {"launch_to_exit_ms": 900},
                           extra={"accel": "kvm"}), machine=machine), tmp_path)
    assert 'id="tcg-banner"' not in html


def test_missing_targets_line(no_vm_html: str, tcg_html: str) -> None:
    line = re.search(r'<p class="missing" id="missing-targets">(.*?)</p>', no_vm_html, re.S)
    assert line is not None
    text = re.sub(r"<[^>]+>", "", line.group(1))
    assert "Missing targets:" in text and "vm" in text and "not part of this session" in text
    assert "All four targets" in tcg_html


def test_unavailable_target_is_listed_with_its_reason(tmp_path: Path) -> None:
    d = doc(run("cpu", "cpu.single", "native", {"events_per_s": 1.0}),
            targets=("native", "container"))
    d["targets"]["runc"] = {"available": False, "reason": "runc is not installed"}
    html = html_of(d, tmp_path)
    assert "runc is not installed" in html
    assert re.search(r"container</span> — available, but no successful run", html)


def test_failed_runs_are_listed(tcg_html: str) -> None:
    assert "Failed runs:" in tcg_html
    assert "limits.memory_64m on vm" in tcg_html


def test_summary_table_colours_and_ratios(tcg_html: str) -> None:
    assert '<table class="summary">' in tcg_html
    assert 'class="cell worse"' in tcg_html or 'class="cell worse-noisy"' in tcg_html
    assert "baseline" in tcg_html and "×" in tcg_html


def test_exam_section_with_verdicts(tcg_html: str) -> None:
    assert "The exam question, measured" in tcg_html
    for claim in ("shared_kernel", "vm_holds_memory", "cgroups_limit", "start_faster",
                  "weigh_less", "layer_cache", "volumes_outlive", "build_trace"):
        assert f'id="claim-{claim}"' in tcg_html
    assert tcg_html.count('class="verdict v-supported"') >= 6
    assert "One Dockerfile traced to an image and a container" in tcg_html
    assert "sha256:" in tcg_html


def test_no_evidence_recorded_when_the_evidence_workload_is_absent(no_vm_html: str) -> None:
    assert "No evidence recorded (evidence.kernel did not run in this session)" in no_vm_html
    assert "No evidence recorded." in no_vm_html        # the Dockerfile trace


def test_russian(tmp_path: Path) -> None:
    html = html_of(fixture("tcg_all_targets"), tmp_path, lang="ru")
    assert '<html lang="ru">' in html
    for heading in ("Окружение", "Экзаменационный вопрос — по измерениям", "Время запуска",
                    "Соблюдение ограничений", "Как вычисляются вердикты"):
        assert heading in html
    assert "подтверждено" in html
    assert "Цифры ВМ измеряют эмуляцию" in html
    assert "The exam question" not in html and "Missing targets" not in html


def test_history_section(tmp_path: Path) -> None:
    hist = tmp_path / "history"
    hist.mkdir()
    older = fixture("no_vm")
    (hist / "older").mkdir()
    (hist / "older" / "results.json").write_text(json.dumps(older))
    (hist / "junk").mkdir()
    (hist / "junk" / "results.json").write_text("[]")
    html = html_of(fixture("tcg_all_targets"), tmp_path, history_dir=hist)
    assert 'id="fig-trend-cpu"' in html
    assert older["session"]["id"] in html
    assert "Compared with the most recent comparable session" in html
    # both fixtures ran each cell once: below results.stats.MIN_CI_N every cell is
    # "insufficient", never regressed (it used to flag 18 on single runs)
    assert '<p class="regressions">' not in html
    assert '<p class="no-regressions">No regression flagged' in html
    assert "Skipped:" in html and "junk" in html


def test_no_history(tcg_html: str) -> None:
    assert "No --history given" in tcg_html


def test_minimal_document_renders(tmp_path: Path) -> None:
    html = html_of(doc(run("cpu", "cpu.single", "native", {"events_per_s": 1.0})), tmp_path)
    assert "Not measured in this session." in html


def test_default_output_is_next_to_the_results(tmp_path: Path) -> None:
    session = tmp_path / "20261128T000000Z"
    session.mkdir()
    shutil.copy(FIXTURES / "no_vm.json", session / "results.json")
    out = render.generate(session, formats="html")
    assert out.html == session / "report.html" and out.html.is_file()
    assert out.pdf is None
    assert len(out.warnings) == 1 and "vm" in out.warnings[0]
    assert str(session / "results.json") in out.warnings[0]


def test_a_memory_reading_not_taken_shows_as_missing_not_zero(tmp_path: Path) -> None:
    """limits.memory_64m on runc with no peak and no OOM-kill count read (null): the table
    shows "–" for both and the plot draws no peak bar, saying "peak –" instead."""
    d = doc(run("limits", "limits.memory_64m", "runc",
                {"exit_code": 137.0, "given_mib": 64.0, "oom_kills": None,
                 "oom_restarts": 0.0, "peak_mib": None}, exit_code=137),
            run("limits", "limits.memory_64m", "container",
                {"exit_code": 137.0, "given_mib": 64.0, "oom_kills": 2.0,
                 "oom_restarts": 0.0, "peak_mib": 63.5}, exit_code=137),
            targets=("native", "container", "runc"))
    html = html_of(d, tmp_path)
    row = re.search(r"<tr><td>runc</td>(.*?)</tr>", html, re.S)
    assert row is not None, html
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row.group(1))
    assert cells[:4] == ["64.0", "–", "–", "0"], cells   # given, peak, kills, restarts
    assert html.count(">peak –, exit 137<") == 1  # runc's; the container's peak was read


def test_a_sampled_peak_is_labelled_as_such(tmp_path: Path) -> None:
    """A v2 kernel without memory.peak: the peak is the highest sample, and the table says so
    on that row only."""
    d = doc(run("limits", "limits.memory_64m", "container",
                {"exit_code": 137.0, "given_mib": 64.0, "oom_kills": 1.0,
                 "oom_restarts": 0.0, "peak_mib": 63.0}, exit_code=137,
                accounting={"memory_peak_source": "sampled"}),
            run("limits", "limits.memory_64m", "runc",
                {"exit_code": 137.0, "given_mib": 64.0, "oom_kills": 1.0,
                 "oom_restarts": 0.0, "peak_mib": 64.0}, exit_code=137,
                accounting={"memory_peak_source": "kernel"}),
            targets=("native", "container", "runc"))
    html = html_of(d, tmp_path)
    rows = {t: re.search(rf"<tr><td>{t}</td>(.*?)</tr>", html, re.S) for t in ("container", "runc")}
    assert "63.0 (sampled maximum: this kernel has no memory.peak)" in rows["container"].group(1)
    assert "sampled" not in rows["runc"].group(1)
