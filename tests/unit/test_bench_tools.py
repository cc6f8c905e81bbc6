"""What the standalone benchmarks (bench/tools/) print to repeat a run: the command as run
in the checkout's root, never a machine's checkout directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import tools
from bench.tools import buildtime, netperf

CHECKOUT = Path(__file__).resolve().parents[2]


def reproduce_line(out: str) -> str:
    lines = [line for line in out.splitlines() if line.startswith("reproduce: ")]
    assert len(lines) == 1, out
    return lines[0].removeprefix("reproduce: ")


def test_netperf_prints_the_command_from_the_checkout_root(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    values = {"iperf3_gbit_s": [9.0, 10.0, 11.0], "tcp_lat_us": [14.0, 15.0, 16.0]}
    monkeypatch.setattr(netperf, "run", lambda runs, seconds: {
        p: {k: list(v) for k, v in values.items()} for p in netperf.PLACEMENTS})
    assert netperf.main(["--runs", "3", "--seconds", "2"]) == 0
    assert reproduce_line(capsys.readouterr().out) == (
        ".venv/bin/python -m bench.tools.netperf --runs 3 --seconds 2")


def test_buildtime_prints_the_command_from_the_checkout_root(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(buildtime, "measure", lambda names, runs: {
        name: {"cold": [2.0, 3.0], "cached": [0.2, 0.3]} for name in names})
    assert buildtime.main(["--runs", "2", "--images", "busybox-5"]) == 0
    assert reproduce_line(capsys.readouterr().out) == (
        ".venv/bin/python -m bench.tools.buildtime --runs 2 --images busybox-5")


def test_paths_inside_the_checkout_are_given_relative_to_it() -> None:
    inside = CHECKOUT / "reports" / "out" / "net.json"
    assert tools.reproduce_command("netperf", "--json", str(inside)) == (
        ".venv/bin/python -m bench.tools.netperf --json reports/out/net.json")
    # outside it, and relative ones, as given (quoted for a shell)
    assert tools.reproduce_command("netperf", "--json", "/tmp/a b.json").endswith(
        "--json '/tmp/a b.json'")
    assert tools.reproduce_command("netperf", "--json", "x.json").endswith("--json x.json")
