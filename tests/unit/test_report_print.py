"""The report prints whole: the PDF's summary shows every target's column (the VM's included)
on A4 pages, and the HTML needs no horizontal scrolling in a 1280 px wide browser window.

The PDF is read back with pdftotext (poppler-utils), the HTML is laid out by headless
chromium; where one of them (or a PDF backend) is missing the test is skipped and says so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest

from reports import data, pdf, render
from reports.i18n import Translator
from tests.unit.test_report_support import FIXTURES

PDF_BACKEND, WHY_NOT = pdf.backend()
A4_PT = (595.276, 841.89)
SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")


def _flat(text: str) -> str:
    """Without any white space: a cell's text wraps inside its column."""
    return SPACES.sub("", text)


def six_targets(doc: dict) -> dict:
    """The four-target session with crun (a copy of runc's cells) and microvm (of the vm's):
    the widest summary a session can have."""
    for source, copy in (("runc", "crun"), ("vm", "microvm")):
        doc["targets"][copy] = dict(doc["targets"][source])
        for variants in doc["summary"].values():
            for metrics in variants.values():
                for cells in metrics.values():
                    if source in cells:
                        cells[copy] = dict(cells[source])
    return doc


@pytest.fixture(scope="module", params=["four", "six"])
def all_targets(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, render.Output]:
    if PDF_BACKEND is None:
        pytest.skip(f"no PDF backend: {WHY_NOT}")
    session = tmp_path_factory.mktemp("session")
    doc = json.loads((FIXTURES / "tcg_all_targets.json").read_text())
    if request.param == "six":
        doc = six_targets(doc)
    (session / "results.json").write_text(json.dumps(doc))
    return doc, render.generate(session, formats="html,pdf")


def _pages(path: Path, *, layout: bool = True) -> list[str]:
    """Each page's text: laid out as printed (columns side by side), or in reading order
    (a cell's wrapped lines follow each other)."""
    argv = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout
    return out.split("\f")


def _page_sizes(path: Path) -> list[tuple[float, float]]:
    out = subprocess.run(["pdfinfo", "-f", "1", "-l", "999", str(path)], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return [(float(w), float(h)) for w, h in
            re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", out)]


@pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None,
                    reason="pdftotext/pdfinfo (Debian: poppler-utils) not installed")
def test_pdf_summary_shows_every_targets_column_on_a4(
        all_targets: tuple[dict, render.Output]) -> None:
    doc, out = all_targets
    assert out.pdf is not None
    pages = _pages(out.pdf)
    summary = [i for i, text in enumerate(pages)
               if re.search(r"variant\s+metric\s+native", text)]
    assert summary, "no page carries the summary table's header"
    expected = sorted(doc["targets"], key=data.target_order)
    assert "vm" in expected and len(expected) >= 4
    for i in summary:  # the header repeats on every page of the table, all columns in it
        header = next(line for line in pages[i].splitlines() if re.search(r"variant\s+metric",
                                                                           line))
        assert header.split()[2:] == expected, header
    reading = _pages(out.pdf, layout=False)
    text = _flat(" ".join(reading[i] for i in summary))
    cells = render._summary(doc, Translator("en"))
    assert cells["targets"] == expected
    for column, target in enumerate(expected):  # every cell of every column is printed
        seen = [row["cells"][column] for g in cells["groups"] for row in g["rows"]
                if row["cells"][column]["value"]]
        assert seen, f"no cells for {target}"
        for cell in seen:
            for part in (cell["value"], cell["detail"], cell["ratio"]):
                assert _flat(part) in text, f"{target}: {part!r} not on the summary pages"
    sizes = _page_sizes(out.pdf)
    assert len(sizes) == len([p for p in pages if p.strip()]) or len(sizes) >= len(summary)
    for i in summary:
        w, h = sizes[i]
        assert sorted((round(w), round(h))) == [round(A4_PT[0]), round(A4_PT[1])], sizes[i]


def _layout(html: Path, tmp_path: Path, width: int) -> dict[str, int]:
    """The page laid out by headless chromium in a `width` px wide window: the document's
    scrollWidth against the window's innerWidth, and the widest element's name."""
    exe = pdf.chromium()
    assert exe is not None
    probe = tmp_path / "probe.html"
    script = """<script>
    (function () {
      var widest = "", right = 0;
      document.querySelectorAll("body *").forEach(function (e) {
        var r = e.getBoundingClientRect().right;
        if (r > right) { right = r; widest = e.tagName + "." + e.className; }
      });
      var d = document.createElement("pre"); d.id = "isobench-probe";
      d.textContent = JSON.stringify({scroll: document.documentElement.scrollWidth,
        inner: window.innerWidth, right: Math.ceil(right), widest: widest});
      document.body.appendChild(d);
    })();
    </script>"""
    probe.write_text(html.read_text(encoding="utf-8").replace("</body>", script + "</body>"),
                     encoding="utf-8")
    proc = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", f"--window-size={width},900",
                           f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                           probe.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-500:]
    found = re.search(r'<pre id="isobench-probe">(.*?)</pre>', proc.stdout)
    assert found, "the probe did not run"
    return json.loads(found.group(1).replace("&quot;", '"'))


def test_html_needs_no_horizontal_scrolling_at_1280px(
        all_targets: tuple[dict, render.Output], tmp_path: Path) -> None:
    if pdf.chromium() is None:
        pytest.skip("chromium not installed (Debian: chromium): cannot lay the HTML out")
    _, out = all_targets
    assert out.html is not None
    seen = _layout(out.html, tmp_path, 1280)
    assert seen["inner"] == 1280, seen
    assert seen["scroll"] <= seen["inner"], f"horizontal overflow at 1280 px: {seen}"


def test_the_probe_sees_an_overflow(tmp_path: Path) -> None:
    """The layout probe can fail: a page with a 2000 px wide element overflows."""
    if pdf.chromium() is None:
        pytest.skip("chromium not installed (Debian: chromium): cannot lay the HTML out")
    page = tmp_path / "wide.html"
    page.write_text("<html><body><div style='width:2000px'>wide</div></body></html>")
    seen = _layout(page, tmp_path, 1280)
    assert seen["scroll"] > seen["inner"]


def test_environment_says_plainly_when_native_is_a_guest(tmp_path: Path) -> None:
    doc = json.loads((FIXTURES / "tcg_all_targets.json").read_text())
    doc["machine"]["virtualization"] = {"guest": True, "type": "kvm",
                                        "source": "systemd-detect-virt",
                                        "hypervisor_flag": True, "container": None}
    doc["machine"]["cpu"] = {"logical_cores": 2, "physical_cores": 2, "governor": None,
                             "freq_mhz": {"current": 2600.0, "min": None, "max": None}}
    doc["machine"]["isobench"] = {"version": "0.1.0", "commit": "abc1234"}
    html = render.render_html(doc, tmp_path / "results.json")
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    assert ("this host is itself a virtual machine (kvm guest; the CPU's hypervisor flag, "
            "systemd-detect-virt)") in text
    assert "2 600 MHz" in text or "2600 MHz" in text
    assert "0.1.0 (commit abc1234)" in text
    doc["machine"]["virtualization"] = {"guest": False, "type": "none", "source": "dmi",
                                        "hypervisor_flag": False, "container": None}
    text = re.sub(r"<[^>]+>", " ", render.render_html(doc, tmp_path / "results.json"))
    assert "bare metal" in text and "itself a virtual machine" not in text
