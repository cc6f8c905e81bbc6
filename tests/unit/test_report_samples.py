"""The report shows what the sample sizes support (issue 14): n in every summary cell, no CI
below results.stats.MIN_CI_N but the range, noisy and too-small cells not coloured, and the
runs the contention guard flagged."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path
from typing import Any

from reports import data
from results import document
from tests.unit.test_report_render import html_of
from tests.unit.test_report_support import doc, run


def session(native: list[float], container: list[float],
            contended: frozenset[int] = frozenset()) -> dict[str, Any]:
    runs = [run("cpu", "cpu.single", "native", {"events_per_s": v}, rep=i)
            for i, v in enumerate(native)]
    for i, v in enumerate(container):
        r = run("cpu", "cpu.single", "container", {"events_per_s": v}, rep=i)
        if i in contended:
            r["contended"] = True
            r["contention"] = {"reasons": ["other processes used 0.42 of a core"]}
        runs.append(r)
    d = doc(*runs, targets=("native", "container"))
    document.recompute_summary(d)
    return d


def summary_cells(html: str) -> list[str]:
    """The text of each container cell of the summary table."""
    table = html[html.index('<table class="summary">'):]
    table = table[:table.index("</table>")]
    cells = re.findall(r'<td class="cell ([\w-]+)">(.*?)</td>', table, re.S)
    return [f"{cls}: " + html_lib.unescape(re.sub(r"<[^>]+>", " ", body)).split("baseline")[0]
            for cls, body in cells if "baseline" not in body]


def test_three_runs_a_side_show_n_and_the_range_and_no_ci(tmp_path: Path) -> None:
    html = html_of(session([100, 101, 102], [90, 95, 99]), tmp_path)
    (cell,) = summary_cells(html)
    assert cell.startswith("insufficient: ")
    assert "n=3, range 90.0–99.0" in cell
    assert "×0.94" in cell and "[" not in cell  # the ratio, and no interval
    assert "too few runs for a CI" in cell and "noisy" not in cell


def test_five_runs_a_side_show_n_and_the_ci(tmp_path: Path) -> None:
    html = html_of(session([100, 101, 102, 100, 101], [90, 91, 92, 90, 91]), tmp_path)
    (cell,) = summary_cells(html)
    assert cell.startswith("worse: ") and "n=5" in cell and "noisy" not in cell
    assert re.search(r"×0\.90\d* \[0\.\d+–0\.\d+\]", cell), cell
    # the ratio plot's label carries n too
    assert "cpu.single · events_per_s ↑ (n=5)" in html


def test_a_noisy_cell_is_not_coloured_and_says_why(tmp_path: Path) -> None:
    # native steady; the container bimodal (two clusters far apart): no ratio to read
    d = session([100, 101, 102, 100, 101], [50, 51, 100, 101, 50])
    cell = d["summary"]["cpu"]["cpu.single"]["events_per_s"]["container"]
    assert cell["noisy"]
    html = html_of(d, tmp_path)
    (text,) = summary_cells(html)
    assert text.startswith("noisy: ") and f"noisy ({cell['noisy']})" in text
    # native's steady cell says nothing of noise (pandas stores its missing reason as NaN)
    assert html.count("noisy (") == 1 and "(nan)" not in html


def test_contended_runs_are_listed_and_left_out(tmp_path: Path) -> None:
    d = session([100, 101, 102, 100, 101], [90, 91, 92, 90, 91, 60], contended=frozenset({5}))
    assert data.contended_runs(d)[0]["repetition"] == 5
    html = html_of(d, tmp_path)
    (cell,) = summary_cells(html)
    assert "n=5" in cell and "1 contended run(s) left out" in cell
    assert "cpu.single on container, repetition 6: other processes used 0.42 of a core" in \
        html_lib.unescape(html)
    # kept on request: counted, and the list says so
    d["session"]["keep_contended"] = True
    document.recompute_summary(d)
    (tmp_path / "kept").mkdir()
    html = html_of(d, tmp_path / "kept")
    (cell,) = summary_cells(html)
    assert "n=6" in cell and "left out" not in cell
    assert "counted: the session ran with --keep-contended" in html_lib.unescape(html)


def test_a_cell_whose_every_run_was_contended_says_so(tmp_path: Path) -> None:
    # a busy shared machine: the guard re-ran each container run twice and it stayed
    # contended; the summary has no cell for it, the table still names it
    d = session([100, 101, 102, 100, 101], [90, 91, 92, 90, 91],
                contended=frozenset(range(5)))
    assert "container" not in d["summary"]["cpu"]["cpu.single"]["events_per_s"]
    (cell,) = summary_cells(html_of(d, tmp_path))
    assert cell.startswith("contended: ") and "n=0" in cell
    assert "all 5 runs contended: left out" in cell


def test_a_ratio_just_under_one_prints_with_two_decimals() -> None:
    from reports.formatting import fmt

    assert [fmt(0.99996), fmt(0.9994), fmt(1.0)] == ["1.00", "0.999", "1.00"]
