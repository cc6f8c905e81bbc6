"""results/compare.py (verdicts, direction awareness, refusals) and `isobench compare`'s
glue in isobench/commands/compare.py (thresholds, the table, exit codes)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from bench.model import RunRecord
from isobench.commands import compare as compare_cli
from results import compare as rules
from results import document
from results.errors import ResultsError

MACHINE: dict[str, Any] = {
    "cpu_model": "Intel(R) Xeon(R) CPU @ 2.20GHz", "cores": 2, "memory_bytes": 25 * 2**30,
    "kernel": "6.1.0-27-amd64", "distribution": "Debian GNU/Linux 12 (bookworm)",
    "cgroup_mode": "hybrid", "acceleration": {"mode": "tcg", "reason": "probe"},
    "versions": {"python": "3.11.2"},
}
TIGHT_BASE = [100.0, 101.0, 99.0, 100.5, 99.5]


def make_doc(values: dict[tuple[str, str], list[float]], *, better: str = "higher",
             machine: dict[str, Any] | None = None) -> dict[str, Any]:
    """values: (metric, target) -> repetitions of cpu.single."""
    doc = document.new_document(profile="quick", argv=[], repeat=5, seed=0,
                                machine=machine or MACHINE)
    metrics = {m for m, _ in values}
    doc["workloads"]["cpu"] = {"variants": {"cpu.single": {"metrics": {
        m: {"unit": "ms" if better == "lower" else "events/s", "better": better}
        for m in metrics}}}}
    for (metric, target), series in values.items():
        for rep, value in enumerate(series):
            doc["runs"].append({**RunRecord("cpu", "cpu.single", target, rep, True).__dict__,
                                "metrics": {metric: value}})
    document.recompute_summary(doc, resamples=200)
    return doc


def scaled(values: list[float], factor: float) -> list[float]:
    return [v * factor for v in values]


def one_row(base: list[float], new: list[float], **kw: Any) -> rules.Row:
    result = rules.compare(make_doc({("m", "container"): base}, **kw),
                           make_doc({("m", "container"): new}, **kw), threshold=0.05)
    (row,) = result.rows
    return row


# -- verdicts ----------------------------------------------------------------------------------

def test_regression_beyond_threshold_with_separate_cis() -> None:
    row = one_row(TIGHT_BASE, scaled(TIGHT_BASE, 0.8))
    assert row.verdict == rules.REGRESSED
    assert row.change.change == pytest.approx(-0.2)
    assert (row.change.base_median, row.change.new_median) == (100.0, 80.0)


def test_improvement() -> None:
    assert one_row(TIGHT_BASE, scaled(TIGHT_BASE, 1.2)).verdict == rules.IMPROVED


def test_small_change_is_the_same_even_when_cis_separate() -> None:
    row = one_row(TIGHT_BASE, [v + 3 for v in TIGHT_BASE])  # +3 %, CIs apart
    assert row.verdict == rules.SAME


def test_large_change_inside_the_noise_is_not_a_regression() -> None:
    noisy_base = [100.0, 60.0, 140.0, 90.0, 120.0]
    noisy_new = [85.0, 50.0, 130.0, 80.0, 115.0]  # median -15 %, spread overlaps
    assert one_row(noisy_base, noisy_new).verdict == rules.NOISE


def test_lower_is_better() -> None:
    slower = one_row(TIGHT_BASE, scaled(TIGHT_BASE, 1.3), better="lower")
    faster = one_row(TIGHT_BASE, scaled(TIGHT_BASE, 0.7), better="lower")
    assert (slower.verdict, faster.verdict) == (rules.REGRESSED, rules.IMPROVED)
    assert slower.change.change == pytest.approx(0.3)


def test_from_zero() -> None:
    row = one_row([0.0] * 5, [2.0] * 5, better="lower")
    assert (row.change.change, row.verdict) == (None, rules.REGRESSED)
    assert one_row([0.0] * 5, [0.0] * 5).verdict == rules.SAME
    assert one_row([0.0] * 3, [2.0] * 3, better="lower").verdict == rules.INSUFFICIENT


def test_unknown_direction_is_reported_not_failed() -> None:
    base, new = make_doc({("m", "vm"): TIGHT_BASE}), make_doc({("m", "vm"): scaled(TIGHT_BASE, 2)})
    for doc in (base, new):
        doc["workloads"] = {}
    result = rules.compare(base, new)
    assert result.rows[0].verdict == rules.UNKNOWN and not result.regressions


def test_one_sided_cells() -> None:
    base = make_doc({("m", "native"): TIGHT_BASE, ("m", "vm"): TIGHT_BASE})
    new = make_doc({("m", "native"): TIGHT_BASE, ("m", "runc"): TIGHT_BASE})
    result = rules.compare(base, new)
    assert [(r.target, r.verdict) for r in result.rows] == [
        ("native", rules.SAME), ("runc", rules.ONLY_NEW), ("vm", rules.ONLY_BASE)]
    assert result.rows[2].change.base_median == 100.0 \
        and result.rows[2].change.new_median is None
    assert not result.regressions


def test_failed_runs_are_ignored() -> None:
    base = make_doc({("m", "native"): TIGHT_BASE})
    new = make_doc({("m", "native"): TIGHT_BASE})
    new["runs"].append({**new["runs"][0], "repetition": 9, "ok": False, "metrics": {"m": 1.0}})
    assert rules.compare(base, new).rows[0].verdict == rules.SAME


def test_threshold_is_respected() -> None:
    base = make_doc({("m", "native"): TIGHT_BASE})
    new = make_doc({("m", "native"): scaled(TIGHT_BASE, 0.9)})
    assert rules.compare(base, new, threshold=0.05).regressions
    assert not rules.compare(base, new, threshold=0.15).regressions


# -- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "value", "shown"), [
    ("kernel", "6.12.0-1-amd64", "kernel '6.1.0-27-amd64' vs '6.12.0-1-amd64'"),
    ("cores", 16, "cores 2 vs 16"),
    ("cpu_model", "AMD EPYC", "cpu_model"),
    ("acceleration", {"mode": "kvm", "reason": "probe"}, "acceleration 'tcg' vs 'kvm'"),
])
def test_different_machines_warn_or_with_strict_machine_are_refused(key: str, value: Any,
                                                                    shown: str) -> None:
    other = {**MACHINE, key: value}
    base, new = make_doc({("m", "native"): TIGHT_BASE}), make_doc(
        {("m", "native"): TIGHT_BASE}, machine=other)
    with pytest.raises(ResultsError, match="refusing to compare") as err:
        rules.compare(base, new, strict_machine=True)
    assert shown in str(err.value) and "--force" in str(err.value)
    (warning,) = rules.compare(base, new).warnings
    assert shown in warning
    assert rules.compare(base, new).rows[0].verdict == rules.SAME
    assert rules.compare(base, new, force=True).rows[0].verdict == rules.SAME


def test_other_machine_fields_do_not_matter() -> None:
    other = {**MACHINE, "memory_bytes": 1, "versions": {"python": "3.12.0"}}
    base = make_doc({("m", "native"): TIGHT_BASE})
    result = rules.compare(base, make_doc({("m", "native"): TIGHT_BASE}, machine=other))
    assert [(r.metric, r.target, r.change.verdict, r.change.base_median, r.change.new_median)
            for r in result.rows] == [("m", "native", rules.SAME, 100.0, 100.0)]


def test_different_schema_versions_are_refused() -> None:
    base, new = make_doc({("m", "native"): TIGHT_BASE}), make_doc({("m", "native"): TIGHT_BASE})
    new["schema_version"] = 2
    with pytest.raises(ResultsError, match="schema_version 1 vs 2"):
        rules.compare(base, new)
    assert rules.compare(base, new, force=True).rows


# -- the command -------------------------------------------------------------------------------

def write(tmp_path: Path, name: str, doc: dict[str, Any], *, as_dir: bool = False) -> str:
    path = tmp_path / name / "results.json" if as_dir else tmp_path / f"{name}.json"
    document.write_atomic(path, doc)
    return str(path.parent if as_dir else path)


@pytest.mark.parametrize(("factor", "better", "code"), [
    (1.2, "higher", 0),     # more events/s: improvement
    (0.8, "higher", 1),     # fewer events/s: regression
    (0.8, "lower", 0),      # lower latency: improvement
    (1.2, "lower", 1),      # higher latency: regression
    (1.02, "higher", 0),    # inside the threshold
])
def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str], factor: float,
                    better: str, code: int) -> None:
    base = write(tmp_path, "base", make_doc({("m", "container"): TIGHT_BASE}, better=better))
    new = write(tmp_path, "new",
                make_doc({("m", "container"): scaled(TIGHT_BASE, factor)}, better=better))
    assert compare_cli.main([base, new]) == code
    out = capsys.readouterr().out
    assert "WORKLOAD" in out and "VERDICT" in out and f"{(factor - 1) * 100:+.1f}%" in out


def test_regression_within_noise_exits_0(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    base = write(tmp_path, "base", make_doc({("m", "vm"): [100.0, 60.0, 140.0, 90.0, 120.0]}))
    new = write(tmp_path, "new", make_doc({("m", "vm"): [85.0, 50.0, 130.0, 80.0, 115.0]}))
    assert compare_cli.main([base, new]) == 0
    assert "within noise" in capsys.readouterr().out


def test_threshold_flag_and_directories(tmp_path: Path) -> None:
    base = write(tmp_path, "base", make_doc({("m", "native"): TIGHT_BASE}), as_dir=True)
    new = write(tmp_path, "new", make_doc({("m", "native"): scaled(TIGHT_BASE, 0.9)}),
                as_dir=True)
    assert compare_cli.main([base, new]) == 1
    assert compare_cli.main([base, new, "--threshold", "15%"]) == 0
    assert compare_cli.main([base, new, "--threshold=0.15"]) == 0
    assert compare_cli.main([base, new, "--threshold", "0.08"]) == 1


def test_machine_refusal_and_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write(tmp_path, "base", make_doc({("m", "native"): TIGHT_BASE}))
    new = write(tmp_path, "new", make_doc({("m", "native"): scaled(TIGHT_BASE, 0.5)},
                                          machine={**MACHINE, "kernel": "6.12"}))
    assert compare_cli.main([base, new, "--strict-machine"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("isobench: refusing to compare: the machines differ (kernel")
    assert err.count("\n") == 1
    # without --strict-machine: one warning line on stderr, and the comparison's own code
    assert compare_cli.main([base, new]) == 1
    err = capsys.readouterr().err
    assert err.startswith("isobench: warning: the machines differ (kernel") and \
        err.count("\n") == 1
    assert compare_cli.main([base, new, "--force"]) == 1
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv", [
    [],
    ["only-one"],
    ["a", "b", "--threshold", "5"],        # ambiguous: 5 % or 500 %?
    ["a", "b", "--threshold", "five"],
    ["a", "b", "--threshold", "-1%"],
    ["a", "b", "--bogus"],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert compare_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("isobench: ") and err.count("\n") == 1


def test_unreadable_inputs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good", make_doc({("m", "native"): TIGHT_BASE}))
    (tmp_path / "empty").mkdir()
    bad = tmp_path / "bad.json"
    bad.write_text("[")
    for other in (str(tmp_path / "missing.json"), str(tmp_path / "empty"), str(bad)):
        assert compare_cli.main([good, other]) == 2
        err = capsys.readouterr().err
        assert err.startswith("isobench: ") and err.count("\n") == 1


@pytest.mark.parametrize(("text", "value"), [("5%", 0.05), ("0.05", 0.05), ("12.5%", 0.125),
                                             ("0", 0.0), (" 10% ", 0.1)])
def test_parse_threshold(text: str, value: float) -> None:
    assert compare_cli.parse_threshold(text) == pytest.approx(value)


def test_register_adds_the_subcommand(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="isobench")
    compare_cli.register(parser.add_subparsers(dest="verb"))
    base = write(tmp_path, "base", make_doc({("m", "native"): TIGHT_BASE}))
    new = write(tmp_path, "new", make_doc({("m", "native"): scaled(TIGHT_BASE, 0.5)}))
    args = parser.parse_args(["compare", base, new, "--threshold", "5%"])
    assert args.handler(args) == 1
    with pytest.raises(compare_cli.CompareUsageError) as err:
        parser.parse_args(["compare"])
    assert err.value.exit_code == 2
    with pytest.raises(compare_cli.ResultsTrouble) as err2:  # the CLI prints it as one line
        args = parser.parse_args(["compare", base, str(tmp_path / "nope")])
        args.handler(args)
    assert err2.value.exit_code == 2


def test_table_format() -> None:
    base = make_doc({("events_per_s", "native"): TIGHT_BASE,
                     ("events_per_s", "container"): TIGHT_BASE})
    new = make_doc({("events_per_s", "native"): TIGHT_BASE,
                    ("events_per_s", "container"): scaled(TIGHT_BASE, 0.5)})
    lines = compare_cli.format_table(rules.compare(base, new)).splitlines()
    assert lines[0].split() == ["WORKLOAD", "VARIANT", "METRIC", "TARGET", "BASE", "MEDIAN",
                                "NEW", "MEDIAN", "CHANGE", "RATIO", "[CI]", "VERDICT"]
    assert lines[1].split() == ["cpu", "cpu.single", "events_per_s", "(events/s)", "native",
                                "100", "(n=5)", "100", "(n=5)", "+0.0%", "1.000", "[0.985,",
                                "1.015]", "@95%", "same"]
    # two cells: Holm judges the smaller p-value at 1 - 0.05 / 2, the other at 1 - 0.05
    assert lines[2].split()[-8:] == ["50", "(n=5)", "-50.0%", "0.500", "[0.493,", "0.508]",
                                     "@97.5%", "regressed"]
    assert lines[-1] == ("1 regressed, 0 improved, 0 changed within noise, 0 insufficient "
                         "(n<5), of 2 compared (threshold 5%; CIs Holm-adjusted over 2 cells, "
                         "family-wise alpha 0.05)")


def test_per_metric_thresholds_file_json_and_contended(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import json
    base_doc = make_doc({("events_per_s", "container"): TIGHT_BASE})
    new_doc = make_doc({("events_per_s", "container"): scaled(TIGHT_BASE, 0.9)})
    base, new = write(tmp_path, "base", base_doc), write(tmp_path, "new", new_doc)
    assert compare_cli.main([base, new]) == 1                                   # -10 % > 5 %
    assert compare_cli.main([base, new, "--threshold", "cpu.single.events_per_s=15%"]) == 0
    assert compare_cli.main([base, new, "--threshold", "events_per_s=0.15"]) == 0
    (tmp_path / "t.yaml").write_text("cpu.cpu.single.events_per_s: 15%\n")
    assert compare_cli.main([base, new, "--thresholds-file", str(tmp_path / "t.yaml")]) == 0
    capsys.readouterr()
    assert compare_cli.main([base, new, "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    (row,) = out["rows"]
    assert (row["verdict"], row["base"]["n"], row["new"]["n"], out["family"]) == \
        ("regressed", 5, 5, 1)
    assert row["ci"][1] < 0.95 and row["confidence"] == 0.95
    # contended runs are left out: two of five leaves n = 3, insufficient
    for run in new_doc["runs"][:2]:
        run["contended"] = True
    new = write(tmp_path, "contended", new_doc)
    assert compare_cli.main([new, new]) == 0
    assert rules.compare(base_doc, new_doc).rows[0].verdict == rules.INSUFFICIENT
    assert rules.compare(base_doc, new_doc, keep_contended=True).rows[0].verdict == \
        rules.REGRESSED
    assert compare_cli.main([base, new, "--keep-contended"]) == 1
