"""The start-up benchmark's pure helpers (bench.tools.startup): statistics, formatting,
schedule."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.tools.startup import (
    METHODS,
    compute_ratios,
    format_ratio,
    format_table,
    make_schedule,
    parse_methods,
    ratio,
    reproduce_command,
    summarize,
)


def test_summarize_converts_ns_to_ms():
    s = summarize([1_000_000, 3_000_000, 2_000_000])
    assert s == {"n": 3, "median_ms": 2.0, "iqr_ms": pytest.approx(1.0), "min_ms": 1.0}


def test_ratio_and_zero_denominator():
    assert ratio(30.0, 20.0) == pytest.approx(1.5)
    assert ratio(1.0, 0.0) is None


def test_format_ratio_with_goal():
    assert format_ratio("api/runc", 0.8, 1.0) == "api/runc = 0.80  (goal <= 1.00: met)"
    assert format_ratio("api/runc", 1.0, 1.0).endswith("met)")
    assert format_ratio("api/runc", 2.345, 1.0) == "api/runc = 2.35  (goal <= 1.00: MISSED)"
    assert format_ratio("cli/python", 4.0) == "cli/python = 4.00"
    assert format_ratio("x/y", None, 1.0) == "x/y = n/a  (goal <= 1.00: n/a)"


def test_compute_ratios_only_for_selected_pairs():
    summary = {m: {"median_ms": v} for m, v in
               [("api", 40.0), ("runc", 20.0), ("python", 50.0)]}
    assert compute_ratios(summary) == {"api/runc": pytest.approx(2.0)}


def test_schedule_is_seeded_and_each_round_a_permutation():
    methods = list(METHODS)
    a = make_schedule(methods, 20, seed=7)
    assert a == make_schedule(methods, 20, seed=7)
    assert a != make_schedule(methods, 20, seed=8)
    assert len(a) == 20
    for order in a:
        assert sorted(order) == sorted(methods)
    # shuffled, not fixed: some method is first in more than one position across rounds
    assert len({order[0] for order in a}) > 1
    assert make_schedule(methods, 0, seed=1) == []
    with pytest.raises(ValueError):
        make_schedule(methods, -1, seed=1)


def test_schedule_does_not_mutate_input():
    methods = ["api", "runc"]
    make_schedule(methods, 5, seed=3)
    assert methods == ["api", "runc"]


def test_parse_methods():
    assert parse_methods("runc, api,runc") == ["runc", "api"]
    with pytest.raises(ValueError, match="docker"):
        parse_methods("api,docker")
    with pytest.raises(ValueError):
        parse_methods(" , ")


def test_format_table_rows():
    table = format_table({"api": summarize([2_000_000, 4_000_000])})
    header, row = table.splitlines()
    assert header.split() == ["method", "n", "median", "ms", "IQR", "ms", "min", "ms"]
    assert row.split() == ["api", "2", "3.00", "1.00", "2.00"]


def test_reproduce_command():
    # run from the checkout's root, wherever it is: no machine's directory in it
    cmd = reproduce_command(30, 3, ["api", "runc"], 42)
    assert cmd == (".venv/bin/python -m bench.tools.startup --runs 30 --warmup 3 "
                   "--methods api,runc --seed 42")
    inside = str(Path(__file__).resolve().parents[2] / "out" / "x.json")
    assert reproduce_command(5, 0, ["cli"], 1, inside).endswith("--json out/x.json")
    assert reproduce_command(5, 0, ["cli"], 1, "out dir/x.json").endswith("--json 'out dir/x.json'")
