"""`isobench bench`'s session directory and the reports/out/latest link."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from isobench.commands import bench


def _args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"resume": None, "out": None, **kw})


def test_default_session_dir_is_a_utc_stamp_under_reports_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = bench._out_dir(_args())
    assert out.parent == Path("reports/out")
    assert len(out.name) == len("20261128T214748Z") and out.name.endswith("Z")


def test_latest_points_at_the_newest_session_even_on_a_fresh_checkout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no reports/out yet, as in a fresh clone
    first = Path("reports/out/20260101T000000Z")
    first.mkdir(parents=True)
    bench._point_latest(first)
    assert os.readlink("reports/out/latest") == first.name
    second = Path("reports/out/20260102T000000Z")
    second.mkdir()
    bench._point_latest(second)
    assert os.readlink("reports/out/latest") == second.name
    assert not Path("reports/out/.latest.tmp").exists()


def test_an_explicit_out_dir_elsewhere_leaves_latest_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "elsewhere"
    other.mkdir()
    Path("reports/out").mkdir(parents=True)
    bench._point_latest(other)
    assert not Path("reports/out/latest").exists()
    assert bench._out_dir(_args(out=str(other))) == other
    assert bench._out_dir(_args(resume=str(other))) == other
