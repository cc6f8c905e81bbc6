"""The PDF: the same HTML, printed by WeasyPrint, else by headless Chromium.

WeasyPrint (PyPI) needs Pango (Debian: libpango-1.0-0, libpangoft2-1.0-0); Chromium is
the Debian package `chromium`. `backend()` says which one is usable here, or why none is.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from reports.errors import ReportError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def _weasyprint_problem() -> str | None:
    try:
        import weasyprint  # noqa: F401
    except ImportError:
        return "WeasyPrint is not installed"
    except OSError as e:  # Pango or another shared library is missing
        return f"WeasyPrint cannot load its libraries ({e})"
    return None


def chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def backend() -> tuple[str | None, str]:
    """("weasyprint" | "chromium" | None, why the others were not used)."""
    problem = _weasyprint_problem()
    if problem is None:
        return "weasyprint", ""
    if chromium():
        return "chromium", problem
    return None, f"{problem}, and no chromium on PATH"


def _weasyprint(html: str, out: Path, base: Path) -> None:
    import weasyprint

    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    weasyprint.HTML(string=html, base_url=str(base)).write_pdf(str(out))


def _chromium(html: str, out: Path) -> None:
    exe = chromium()
    if exe is None:
        raise ReportError(f"{out}: cannot write PDF: no chromium on PATH")
    with tempfile.TemporaryDirectory(prefix="isobench-report-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        argv = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                f"--user-data-dir={tmp}/profile", f"--print-to-pdf={out}", page.as_uri()]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                                  stdin=subprocess.DEVNULL, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ReportError(f"{out}: chromium could not print the PDF ({e})") from None
        if proc.returncode != 0 or not out.is_file():
            tail = " ".join(proc.stderr.split())[-200:]
            raise ReportError(f"{out}: chromium could not print the PDF (exit "
                              f"{proc.returncode}: {tail})")


def write_pdf(html: str, out: str | os.PathLike[str], *, prefer: str | None = None) -> str:
    """Write `html` as a PDF at `out`; returns the backend used. Raises ReportError."""
    out = Path(out)
    name, why = backend() if prefer is None else (prefer, "")
    if name is None:
        raise ReportError(f"{out}: cannot write PDF: {why}")
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        if name == "weasyprint":
            _weasyprint(html, tmp, out.parent)
        else:
            _chromium(html, tmp)
        os.replace(tmp, out)
    except ReportError:
        raise
    except Exception as e:  # noqa: BLE001 - a renderer's failure is one line, not a traceback
        raise ReportError(f"{out}: {name} could not write the PDF ({type(e).__name__}: "
                          f"{e})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return name
