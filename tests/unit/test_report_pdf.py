"""The PDF (WeasyPrint, else Chromium) and the HTML as a browser shows it.

Each test needs a tool this host may lack (WeasyPrint with Pango, pdftoppm from
poppler-utils, chromium): without it the test is skipped and says which and why.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reports import pdf, render
from tests.unit.test_report_support import FIXTURES

PDF_BACKEND, WHY_NOT = pdf.backend()
needs_pdf = pytest.mark.skipif(PDF_BACKEND is None, reason=f"no PDF backend: {WHY_NOT}")
needs_pdftoppm = pytest.mark.skipif(shutil.which("pdftoppm") is None,
                                    reason="pdftoppm (Debian: poppler-utils) not installed")
needs_chromium = pytest.mark.skipif(pdf.chromium() is None,
                                    reason="chromium not installed (Debian: chromium)")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> render.Output:
    if PDF_BACKEND is None:
        pytest.skip(f"no PDF backend: {WHY_NOT}")
    session = tmp_path_factory.mktemp("session")
    (session / "results.json").write_text((FIXTURES / "tcg_all_targets.json").read_text())
    return render.generate(session, formats="html,pdf")


@needs_pdf
def test_pdf_is_written_next_to_the_results(report: render.Output) -> None:
    assert report.pdf is not None and report.html is not None
    assert report.pdf.parent == report.html.parent
    assert report.pdf.read_bytes()[:5] == b"%PDF-"
    assert report.pdf_backend == PDF_BACKEND
    assert not list(report.pdf.parent.glob(".*.tmp"))


def _not_blank(png: Path) -> bool:
    from PIL import Image, ImageStat

    with Image.open(png) as im:
        gray = im.convert("L")
        return ImageStat.Stat(gray).stddev[0] > 5 and gray.getextrema()[0] < 100


@needs_pdf
@needs_pdftoppm
def test_pdf_pages_are_not_blank(report: render.Output, tmp_path: Path) -> None:
    assert report.pdf is not None
    # 60 dpi: at 30 a page holding only a few lines of 8.5 pt text rasterizes to no pixel
    # darker than grey 109 and passed for blank
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(report.pdf), str(tmp_path / "page")],
                   check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 5, f"{len(pages)} pages"
    blank = [p.name for p in pages if not _not_blank(p)]
    assert not blank, f"blank pages: {blank}"


@needs_pdf
def test_russian_pdf(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text((FIXTURES / "no_vm.json").read_text())
    out = render.generate(path, formats="pdf", lang="ru")
    assert out.html is None and out.pdf is not None
    assert out.pdf.read_bytes()[:5] == b"%PDF-"


@needs_chromium
def test_chromium_loads_the_html_with_every_plot_and_no_console_error(
        report: render.Output, tmp_path: Path) -> None:
    assert report.html is not None
    exe = pdf.chromium()
    assert exe is not None
    argv = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
            "--v=0", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
            report.html.as_uri()]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-500:]
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    failed = [line for line in proc.stderr.splitlines()
              if re.search(r"net::ERR_|Failed to load resource", line)]
    assert not failed, failed
    dom = proc.stdout
    source = report.html.read_text(encoding="utf-8")
    assert dom.count("<svg") == source.count("<svg") >= 8
    assert 'id="tcg-banner"' in dom


@needs_chromium
def test_chromium_screenshot_is_not_blank(report: render.Output, tmp_path: Path) -> None:
    assert report.html is not None
    exe = pdf.chromium()
    assert exe is not None
    shot = tmp_path / "report.png"
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    "--window-size=1200,2000", report.html.as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert shot.is_file() and _not_blank(shot)


@needs_chromium
def test_chromium_fallback_prints_the_same_html(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(json.loads((FIXTURES / "evidence_no_vm.json").read_text())))
    html = render.render_html(json.loads(path.read_text()), path)
    out = tmp_path / "report.pdf"
    assert pdf.write_pdf(html, out, prefer="chromium") == "chromium"
    assert out.read_bytes()[:5] == b"%PDF-"
