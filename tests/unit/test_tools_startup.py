"""The start-up benchmark's pure helpers (bench.tools.startup): statistics, formatting,
schedule."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.tools.phases import durations
from bench.tools.startup import (
    DEFAULT_METHODS,
    METHODS,
    RATIOS,
    Session,
    compute_ratios,
    format_ratio,
    format_table,
    make_schedule,
    monitor_summary,
    paired_ratios,
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


def test_the_issue_18_ratios_and_their_goals():
    summary = {m: {"median_ms": v} for m, v in
               [("api", 15.0), ("runc", 30.0), ("cli", 90.0), ("cli-bridge", 120.0),
                ("cli-direct", 150.0), ("python", 10.0)]}
    assert compute_ratios(summary) == {"api/runc": pytest.approx(0.5),
                                       "cli/runc": pytest.approx(3.0),
                                       "cli-bridge/runc": pytest.approx(4.0),
                                       "cli-direct/runc": pytest.approx(5.0),
                                       "cli/python": pytest.approx(9.0)}
    assert {f"{n}/{d}": g for n, d, g in RATIOS} == {
        "api/runc": 0.5, "cli/runc": 2.0, "cli-bridge/runc": 3.0, "api-wait/runc": None,
        "cli-direct/runc": None, "cli-bridge-direct/runc": None, "cli/python": None}


def test_every_method_has_a_runner_and_the_default_leaves_the_bridge_out():
    session = Session.__new__(Session)  # no temp dir: only the method table is looked at
    assert session.runner("cli-bridge") == session.run_cli_bridge
    for method in METHODS:
        assert callable(session.runner(method))
    assert "cli-bridge" in METHODS and "cli-bridge" not in DEFAULT_METHODS
    assert set(DEFAULT_METHODS) < set(METHODS)


def test_monitor_summary_means_and_a_missing_reading():
    mib = 2**20
    s = monitor_summary([{"rss": 10 * mib, "pss": 4 * mib, "uss": 3 * mib},
                         {"rss": 20 * mib, "pss": 6 * mib, "uss": 5 * mib}])
    assert s == {"n": 2.0, "rss_mib": 15.0, "pss_mib": 5.0, "uss_mib": 4.0}
    gone = monitor_summary([{"rss": mib, "pss": mib, "uss": mib}, None])
    assert gone["rss_mib"] is None and gone["pss_mib"] is None and gone["n"] == 2.0


def test_phase_durations_from_the_lines_of_three_processes():
    ms = 1_000_000
    lines = [  # caller 10, monitor 11, PID 1 12; times in ns
        f"create 10 {0 * ms} {1 * ms}",
        f"start.launch 10 {2 * ms} {20 * ms}",
        f"monitor.spawn 11 {3 * ms} {4 * ms}",
        f"init.cgroup_join 12 {4 * ms} {int(4.5 * ms)}",      # reset_signals ends at 4.5
        f"init.unshare 11 {int(3.5 * ms)} {int(3.6 * ms)}",  # the monitor's: not PID 1's
        f"init.unshare 12 {7 * ms} {8 * ms}",                 # PID 1 unshares at 7
        f"init.rootfs.mount 12 {8 * ms} {9 * ms}",
        f"init.rootfs.mount 12 {9 * ms} {11 * ms}",           # calls of a label add up
        f"init.become 12 {12 * ms} 0",                        # it execs: a mark only
        f"create 10 {50 * ms} {60 * ms}",                     # another run's: left out
    ]
    d = durations(lines, 0, 30 * ms)
    assert d["create"] == 1.0 and d["monitor.spawn"] == 1.0
    assert d["init.cgroup_join"] == 2.5          # 4.5 -> 7, PID 1's own unshare
    assert d["init.unshare"] == pytest.approx(1.1)  # both processes' calls
    assert d["init.rootfs.mount"] == 3.0
    assert d["monitor.exec_to_told"] == 8.0      # exec at 12 -> launch returned at 20
    assert d["total"] == 30.0
    assert "init.become" not in d                # no end: not a duration


def test_paired_ratios_are_medians_of_per_round_ratios():
    # per round 10/20, 30/10, 50/100 -> 0.5, 3.0, 0.5: median 0.5, where the ratio of the
    # medians would be 30/20 = 1.5
    times = {"api": [10, 30, 50], "runc": [20, 10, 100], "cli": [40, 80], "python": [1, 1]}
    assert paired_ratios(times) == {"api/runc": 0.5, "cli/runc": 5.0, "cli/python": 60.0}
    assert paired_ratios({"api": [1]}) == {}
