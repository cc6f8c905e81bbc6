"""The output parsers against captured real tool output (tests/unit/fixtures/, see CAPTURED.md),
against failed, truncated and foreign output, and the workload registry that uses them."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import parsers, workloads
from bench.model import ParseError, Workload

FIXTURES = Path(__file__).parent / "fixtures"
IMAGES = Path(__file__).resolve().parents[2] / "bench" / "images"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


PARSERS: dict[str, Callable[[str], dict[str, float]]] = {
    "sysbench_cpu": parsers.parse_sysbench_cpu,
    "sysbench_memory": parsers.parse_sysbench_memory,
    "sysbench_memory_random": parsers.parse_sysbench_memory_random,
    "fio_random": parsers.parse_fio_random,
    "fio_sequential": parsers.parse_fio_sequential,
    "iperf3": parsers.parse_iperf3,
    "qperf": parsers.parse_qperf_latency,
    "stress_ng": parsers.parse_stress_ng_metrics,
}

# every good fixture, the parser it is for and the keys that parser returns
GOOD = {
    "sysbench_cpu_single.txt": ("sysbench_cpu", {"events_per_s", "latency_avg_ms"}),
    "sysbench_cpu_all.txt": ("sysbench_cpu", {"events_per_s", "latency_avg_ms"}),
    "sysbench_memory_seq.txt": ("sysbench_memory", {"mib_per_s"}),
    "sysbench_memory_random.txt": ("sysbench_memory_random",
                                   {"mib_per_s", "latency_avg_ms", "access_ns"}),
    "sysbench_memory_rnd_64b.txt": ("sysbench_memory_random",
                                    {"mib_per_s", "latency_avg_ms", "access_ns"}),
    "fio_randread.json": ("fio_random", {"iops", "clat_mean_us", "clat_p99_us"}),
    "fio_randwrite.json": ("fio_random", {"iops", "clat_mean_us", "clat_p99_us"}),
    "fio_seqread.json": ("fio_sequential", {"mb_s"}),
    "fio_seqwrite.json": ("fio_sequential", {"mb_s"}),
    "iperf3_tcp.json": ("iperf3", {"gbit_s", "retransmits"}),
    "qperf_tcp_lat.txt": ("qperf", {"latency_us"}),
    "qperf_tcp_lat_verbose.txt": ("qperf", {"latency_us"}),
    "qperf_udp_lat.txt": ("qperf", {"latency_us"}),
    **{name: ("stress_ng", {"bogo_ops", "bogo_ops_per_s", "real_time_s", "usr_time_s",
                            "sys_time_s", "cpu_share", "oom_restarts", "premature",
                            "successful"})
       for name in ("stress_ng_cpu.txt", "stress_ng_cpu_quota50.txt", "stress_ng_vm_oom.txt",
                    "stress_ng_vm_oom_verbose.txt", "stress_ng_vm_oomable.txt",
                    "stress_ng_cpu2_logbrief.txt", "stress_ng_cpu_sn.txt")},
}

# what each parser gives for each capture it accepts: its own tool's, and the compatible
# ones (sysbench memory's two modes print the same lines; fio's JSON is the same shape for
# random and sequential jobs). Read off the captures; a derived value as its formula.
def _sng(ops: float, per_s: float, real: float, usr: float, sys_: float, *, oom: float = 0,
         premature: float = 0) -> dict[str, float]:
    return {"bogo_ops": ops, "bogo_ops_per_s": per_s, "real_time_s": real, "usr_time_s": usr,
            "sys_time_s": sys_, "cpu_share": (usr + sys_) / real, "oom_restarts": oom,
            "premature": premature, "successful": 1}


def _access_ns(mib_per_s: float, threads: int = 1) -> float:
    return threads * 4 / (mib_per_s * 2**20) * 1e9


EXPECTED: dict[tuple[str, str], dict[str, float]] = {
    ("sysbench_cpu", "sysbench_cpu_single.txt"): {"events_per_s": 2463.64,
                                                  "latency_avg_ms": 0.40},
    ("sysbench_cpu", "sysbench_cpu_all.txt"): {"events_per_s": 1635.37, "latency_avg_ms": 1.21},
    ("sysbench_memory", "sysbench_memory_seq.txt"): {"mib_per_s": 8514.84},
    ("sysbench_memory_random", "sysbench_memory_seq.txt"): {
        "mib_per_s": 8514.84, "latency_avg_ms": 0.23, "access_ns": _access_ns(8514.84, threads=2)},
    ("sysbench_memory", "sysbench_memory_random.txt"): {"mib_per_s": 77.91},
    ("sysbench_memory_random", "sysbench_memory_random.txt"): {
        "mib_per_s": 77.91, "latency_avg_ms": 820.13, "access_ns": _access_ns(77.91)},
    ("sysbench_memory", "sysbench_memory_rnd_64b.txt"): {"mib_per_s": 252.37},
    ("sysbench_memory_random", "sysbench_memory_rnd_64b.txt"): {
        "mib_per_s": 252.37, "latency_avg_ms": 0.0, "access_ns": _access_ns(252.37)},
    ("fio_random", "fio_randread.json"): {"iops": 36680.15992, "clat_mean_us": 417.725289944,
                                          "clat_p99_us": 4423.68},
    ("fio_sequential", "fio_randread.json"): {"mb_s": 150.241935},
    ("fio_random", "fio_randwrite.json"): {"iops": 22455.627169, "clat_mean_us": 686.659793323,
                                           "clat_p99_us": 5341.184},
    ("fio_sequential", "fio_randwrite.json"): {"mb_s": 91.978248},
    ("fio_random", "fio_seqread.json"): {"iops": 415.97662, "clat_mean_us": 38153.125177986,
                                         "clat_p99_us": 122159.104},
    ("fio_sequential", "fio_seqread.json"): {"mb_s": 436.183099},
    ("fio_random", "fio_seqwrite.json"): {"iops": 678.500986, "clat_mean_us": 23376.54396439,
                                          "clat_p99_us": 58458.112},
    ("fio_sequential", "fio_seqwrite.json"): {"mb_s": 711.45985},
    ("iperf3", "iperf3_tcp.json"): {"gbit_s": 9.760789538376675, "retransmits": 7},
    ("qperf", "qperf_tcp_lat.txt"): {"latency_us": 14.7},
    ("qperf", "qperf_tcp_lat_verbose.txt"): {"latency_us": 16.0},
    ("qperf", "qperf_udp_lat.txt"): {"latency_us": 10.1},
    ("stress_ng", "stress_ng_cpu.txt"): _sng(1572, 784.58, 2.0, 1.33, 0.0),
    ("stress_ng", "stress_ng_cpu2_logbrief.txt"): _sng(1263, 630.92, 2.0, 1.11, 0.01),
    ("stress_ng", "stress_ng_cpu_quota50.txt"): _sng(1845, 614.05, 3.0, 1.48, 0.0),
    ("stress_ng", "stress_ng_cpu_sn.txt"): _sng(681, 679.951, 1.002, 0.5919, 0.003931),
    ("stress_ng", "stress_ng_vm_oom.txt"): _sng(0, 0.0, 3.09, 0.09, 2.01),
    ("stress_ng", "stress_ng_vm_oom_verbose.txt"): _sng(0, 0.0, 2.22, 0.04, 0.65, oom=8),
    ("stress_ng", "stress_ng_vm_oomable.txt"): _sng(0, 0.0, 0.26, 0.01, 0.08, premature=1),
}
# every other (parser, capture) pair: another tool's output, which must raise
FOREIGN = sorted((p, n) for p in PARSERS for n in GOOD if (p, n) not in EXPECTED)

# real output of failed runs, with a word the one-line message must contain
FAILED = [
    ("sysbench_fatal.txt", "sysbench_cpu", "FATAL: Invalid value for memory-oper"),
    ("sysbench_fatal.txt", "sysbench_memory", "FATAL"),
    ("sysbench_cpu_killed.txt", "sysbench_cpu", "no 'events per second'"),
    ("sysbench_cpu_killed.txt", "sysbench_memory", "Total operations"),
    ("fio_error_eisdir.json", "fio_random", "error 21"),
    ("fio_error_eisdir.json", "fio_sequential", "error 21"),
    ("fio_randrw.json", "fio_random", "both read and write"),
    ("fio_randrw.json", "fio_sequential", "both read and write"),
    ("iperf3_refused.json", "iperf3", "unable to connect to server: Connection refused"),
    ("iperf3_interrupted.json", "iperf3", "interrupt - the client has terminated"),
    ("qperf_refused.txt", "qperf", "failed to connect"),
    ("stress_ng_cpu_vm.txt", "stress_ng", "several stressors"),
]


def assert_one_line_parse_error(parse: Callable[[str], object], text: str) -> str:
    with pytest.raises(ParseError) as info:
        parse(text)
    message = str(info.value)
    assert message and "\n" not in message and len(message) < 300, message
    return message


# ---- each tool, real output ----------------------------------------------------------------

def test_sysbench_cpu_single_and_all_threads() -> None:
    assert parsers.parse_sysbench_cpu(fixture("sysbench_cpu_single.txt")) == {
        "events_per_s": 2463.64, "latency_avg_ms": 0.40}
    assert parsers.parse_sysbench_cpu(fixture("sysbench_cpu_all.txt")) == {
        "events_per_s": 1635.37, "latency_avg_ms": 1.21}


def test_sysbench_memory_throughput() -> None:
    assert parsers.parse_sysbench_memory(fixture("sysbench_memory_seq.txt")) == {
        "mib_per_s": 8514.84}


def test_sysbench_memory_random_derives_the_time_per_access() -> None:
    got = parsers.parse_sysbench_memory_random(fixture("sysbench_memory_random.txt"))
    assert got["mib_per_s"] == 77.91
    assert got["latency_avg_ms"] == 820.13
    # 1 thread, 4 bytes per access: 4 / (77.91 * 2**20) s = 48.96 ns
    # to 1e-12: approx's default 1e-6 let a mutated 1000000001.0 ns-per-s pass
    assert got["access_ns"] == pytest.approx(4 / (77.91 * 2**20) * 1e9, rel=1e-12)
    assert got["access_ns"] == pytest.approx(48.96, abs=0.01)
    # the same 4 B per access holds with sysbench's event statistics: sum / accesses
    events, block = 3, 64 << 20
    assert 2460.40e6 / (events * block / 4) == pytest.approx(got["access_ns"], rel=0.05)


def test_sysbench_memory_random_with_a_tiny_block_still_parses() -> None:
    # 64-byte blocks print "block size: 0KiB" and avg 0.00 ms; the rate is still there
    got = parsers.parse_sysbench_memory_random(fixture("sysbench_memory_rnd_64b.txt"))
    assert got["mib_per_s"] == 252.37 and got["latency_avg_ms"] == 0.0
    assert got["access_ns"] == pytest.approx(15.12, abs=0.01)


def test_fio_random_read_and_write() -> None:
    assert parsers.parse_fio_random(fixture("fio_randread.json")) == pytest.approx({
        "iops": 36680.15992, "clat_mean_us": 417.725289944, "clat_p99_us": 4423.68})
    assert parsers.parse_fio_random(fixture("fio_randwrite.json")) == pytest.approx({
        "iops": 22455.627169, "clat_mean_us": 686.659793323, "clat_p99_us": 5341.184})


def test_fio_sequential_read_and_write_in_megabytes() -> None:
    assert parsers.parse_fio_sequential(fixture("fio_seqread.json")) == pytest.approx(
        {"mb_s": 436.183099})
    assert parsers.parse_fio_sequential(fixture("fio_seqwrite.json")) == pytest.approx(
        {"mb_s": 711.45985})


def test_fio_warnings_printed_before_the_json_are_skipped() -> None:
    text = "fio: this platform does not support process shared mutexes\n"
    text += fixture("fio_randread.json")
    assert parsers.parse_fio_random(text)["iops"] == pytest.approx(36680.15992)


def test_fio_several_jobs_are_combined() -> None:
    import json

    doc = json.loads(fixture("fio_randread.json"))
    doc["jobs"].append(doc["jobs"][0])
    got = parsers.parse_fio_random(json.dumps(doc))
    assert got["iops"] == pytest.approx(2 * 36680.15992)
    assert got["clat_mean_us"] == pytest.approx(417.725289944)
    assert got["clat_p99_us"] == pytest.approx(4423.68)


def test_iperf3_received_throughput_and_retransmits() -> None:
    got = parsers.parse_iperf3(fixture("iperf3_tcp.json"))
    assert got == pytest.approx({"gbit_s": 9.760789538376675, "retransmits": 7})


def test_qperf_latency_in_microseconds() -> None:
    assert parsers.parse_qperf_latency(fixture("qperf_tcp_lat.txt")) == {"latency_us": 14.7}
    assert parsers.parse_qperf_latency(fixture("qperf_tcp_lat_verbose.txt")) == {
        "latency_us": 16.0}
    assert parsers.parse_qperf_latency(fixture("qperf_udp_lat.txt")) == {"latency_us": 10.1}


@pytest.mark.parametrize(("unit", "expected"), [("ns", 0.85), ("us", 850.0), ("ms", 850e3),
                                                ("sec", 850e6)])
def test_qperf_units(unit: str, expected: float) -> None:
    text = fixture("qperf_tcp_lat.txt").replace("14.7 us", f"850 {unit}")
    assert parsers.parse_qperf_latency(text)["latency_us"] == pytest.approx(expected)


def test_stress_ng_cpu_share_under_a_half_cpu_quota() -> None:
    got = parsers.parse_stress_ng_metrics(fixture("stress_ng_cpu_quota50.txt"))
    assert got["bogo_ops"] == 1845 and got["bogo_ops_per_s"] == 614.05
    assert (got["real_time_s"], got["usr_time_s"], got["sys_time_s"]) == (3.0, 1.48, 0.0)
    assert got["cpu_share"] == pytest.approx(1.48 / 3.0)
    assert got["cpu_share"] == pytest.approx(0.5, abs=0.02)
    assert (got["oom_restarts"], got["premature"], got["successful"]) == (0, 0, 1)


def test_stress_ng_forms_log_brief_and_scientific() -> None:
    brief = parsers.parse_stress_ng_metrics(fixture("stress_ng_cpu2_logbrief.txt"))
    assert brief["bogo_ops"] == 1263 and brief["cpu_share"] == pytest.approx(1.12 / 2.0)
    sn = parsers.parse_stress_ng_metrics(fixture("stress_ng_cpu_sn.txt"))
    assert sn["bogo_ops"] == 681 and sn["bogo_ops_per_s"] == pytest.approx(679.951)
    assert sn["cpu_share"] == pytest.approx((0.5919 + 0.003931) / 1.002)


def test_stress_ng_memory_overrun() -> None:
    quiet = parsers.parse_stress_ng_metrics(fixture("stress_ng_vm_oom.txt"))
    assert quiet["bogo_ops"] == 0 and quiet["oom_restarts"] == 0  # only -v prints them
    verbose = parsers.parse_stress_ng_metrics(fixture("stress_ng_vm_oom_verbose.txt"))
    assert verbose["oom_restarts"] == 8 and verbose["bogo_ops"] == 0
    oomable = parsers.parse_stress_ng_metrics(fixture("stress_ng_vm_oomable.txt"))
    assert oomable["premature"] == 1 and oomable["real_time_s"] == 0.26


def test_stress_ng_several_stressors_by_name() -> None:
    text = fixture("stress_ng_cpu_vm.txt")
    assert parsers.parse_stress_ng_metrics(text, "vm")["bogo_ops"] == 18023
    assert parsers.parse_stress_ng_metrics(text, "cpu")["bogo_ops"] == 629
    assert "no row for 'io'" in assert_one_line_parse_error(
        lambda t: parsers.parse_stress_ng_metrics(t, "io"), text)


def test_stress_ng_unsuccessful_run_still_reports() -> None:
    text = fixture("stress_ng_cpu.txt").replace("successful run", "unsuccessful run")
    assert parsers.parse_stress_ng_metrics(text)["successful"] == 0


# ---- failures: real failed runs, truncation, garbage, another tool's output ----------------

@pytest.mark.parametrize(("name", "parser", "words"), FAILED)
def test_real_failed_runs_raise_one_line_parse_errors(name: str, parser: str,
                                                      words: str) -> None:
    message = assert_one_line_parse_error(PARSERS[parser], fixture(name))
    assert words in message


def test_every_good_fixture_has_its_expected_values() -> None:
    assert {(GOOD[n][0], n) for n in GOOD} <= set(EXPECTED)
    assert all(set(values) == GOOD[n][1] for (p, n), values in EXPECTED.items()
               if p == GOOD[n][0])


@pytest.mark.parametrize(("parser", "name"), sorted(EXPECTED))
def test_each_accepted_capture_parses_to_its_values(parser: str, name: str) -> None:
    got = PARSERS[parser](fixture(name))
    assert got == pytest.approx(EXPECTED[(parser, name)], rel=1e-12)
    assert all(isinstance(v, float) and math.isfinite(v) for v in got.values())


@pytest.mark.parametrize("name", sorted(GOOD))
def test_every_truncation_parses_fully_or_raises_parse_error(name: str) -> None:
    """Cut anywhere, a capture gives the whole answer or a ParseError: nothing else."""
    parser, keys = GOOD[name]
    text = fixture(name)
    full = PARSERS[parser](text)
    step = max(1, len(text) // 400)
    for cut in range(0, len(text), step):
        try:
            got = PARSERS[parser](text[:cut])
        except ParseError as e:
            assert "\n" not in str(e)
            continue
        assert set(got) == keys, cut
        assert all(math.isfinite(v) for v in got.values()), cut
        if parser not in ("qperf",):   # qperf's single number may be cut short ("14.")
            assert got == full, cut


@pytest.mark.parametrize("name", sorted(set(GOOD) - {"qperf_tcp_lat_verbose.txt"}))
def test_the_first_half_of_a_capture_raises(name: str) -> None:
    # (qperf -v prints the latency first: half of that capture still holds the answer)
    parser, _keys = GOOD[name]
    text = fixture(name)
    assert_one_line_parse_error(PARSERS[parser], text[: len(text) // 2])


@pytest.mark.parametrize("name", sorted(GOOD))
def test_corrupted_captures_give_values_or_parse_errors(name: str) -> None:
    """Characters deleted, replaced and inserted at random (seeded): every parser either
    returns finite numbers or raises a one-line ParseError, never anything else."""
    rng = random.Random(name)
    text = fixture(name)
    for _ in range(60):
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(chars))
            roll = rng.random()
            if roll < 0.4:
                del chars[at]
            elif roll < 0.8:
                chars[at] = rng.choice('0123456789.-e{}[]":, \nXnull')
            else:
                chars.insert(at, rng.choice('{}[]"\n-9e'))
        corrupted = "".join(chars)
        for parse in PARSERS.values():
            try:
                got = parse(corrupted)
            except ParseError as e:
                assert "\n" not in str(e)
                continue
            assert all(isinstance(v, float) and math.isfinite(v) for v in got.values())


@pytest.mark.parametrize("parser", sorted(PARSERS))
@pytest.mark.parametrize("text", ["", "\n", "garbage\n", "{", "{}", "[]", "null", "\x00\xff",
                                  '{"jobs": [{"read": null}]}', '{"jobs": "x"}',
                                  '{"end": {"sum_received": {"bits_per_second": "x"}, '
                                  '"sum_sent": {}}}',
                                  '{"jobs": [{"error": 0, "read": {"io_bytes": "nan"}, '
                                  '"write": {"io_bytes": 0}}]}'])
def test_garbage_raises_parse_error(parser: str, text: str) -> None:
    assert_one_line_parse_error(PARSERS[parser], text)


@pytest.mark.parametrize(("parser", "name"), FOREIGN)
def test_another_tools_output_raises_parse_error(parser: str, name: str) -> None:
    assert_one_line_parse_error(PARSERS[parser], fixture(name))


def test_sysbench_with_no_events_is_a_failure() -> None:
    text = re.sub(r"total number of events:\s+\d+", "total number of events: 0",
                  fixture("sysbench_cpu_single.txt"))
    assert "no events" in assert_one_line_parse_error(parsers.parse_sysbench_cpu, text)


def test_fio_without_percentiles_says_so() -> None:
    text = fixture("fio_randread.json").replace('"99.000000"', '"98.000000"')
    assert "99th percentile" in assert_one_line_parse_error(parsers.parse_fio_random, text)


# ---- the net workload's clients: the same parsers, the fields it records -------------------

class _Ran:
    def __init__(self, stdout: str, stderr: str = "") -> None:
        self.stdout, self.stderr, self.returncode = stdout, stderr, 0


def _serve(monkeypatch: pytest.MonkeyPatch, stdout: str) -> list[list[str]]:
    from bench.workloads import net

    calls: list[list[str]] = []

    def run(argv: list[str], **_kw: object) -> _Ran:
        calls.append(argv)
        return _Ran(stdout)
    monkeypatch.setattr(net.subprocess, "run", run)
    return calls


def test_the_net_workload_records_what_the_tested_parsers_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.workloads import net

    assert (net.parse_iperf3, net.parse_qperf_latency) == (parsers.parse_iperf3,
                                                           parsers.parse_qperf_latency)
    calls = _serve(monkeypatch, fixture("iperf3_tcp.json"))
    assert net.iperf3_gbits("10.0.0.2", 3, 5202) == pytest.approx(
        EXPECTED[("iperf3", "iperf3_tcp.json")]["gbit_s"], rel=1e-12)
    assert calls[-1] == ["iperf3", "-c", "10.0.0.2", "-t", "3", "-J", "-p", "5202"]
    for name in ("qperf_tcp_lat.txt", "qperf_tcp_lat_verbose.txt"):
        calls = _serve(monkeypatch, fixture(name))
        assert net.qperf_latency_us("10.0.0.2", 2, 19766, 19767) == EXPECTED[
            ("qperf", name)]["latency_us"]
        assert calls[-1] == ["qperf", "-lp", "19766", "-ip", "19767", "-t", "2", "10.0.0.2",
                             "tcp_lat"]


@pytest.mark.parametrize(("stdout", "words"), [
    # iperf3 may print a warning before its JSON: the parser skips it
    ("warning: ignoring stale state\n" + fixture("iperf3_tcp.json"), None),
    (fixture("iperf3_refused.json"), "unable to connect to server: Connection refused"),
    (fixture("iperf3_interrupted.json"), "interrupt - the client has terminated"),
    ('{"start": {}, "end": {}}', "no end.sum_received/sum_sent"),
    ('{"end": {"sum_received": {"bits_per_second": "x"}, "sum_sent": {}}}', "not a number"),
    ("", "no JSON document"),
])
def test_the_net_iperf3_client_fails_in_one_line_that_retry_retries(
        monkeypatch: pytest.MonkeyPatch, stdout: str, words: str | None) -> None:
    from bench.workloads import net

    _serve(monkeypatch, stdout)
    if words is None:
        assert net.iperf3_gbits("h", 1) == pytest.approx(9.760789538376675, rel=1e-12)
        return
    with pytest.raises(SystemExit) as info:  # what retry() catches and tries again
        net.iperf3_gbits("h", 1)
    message = str(info.value.code)
    assert words in message and "\n" not in message, message


@pytest.mark.parametrize(("stdout", "words"), [
    (fixture("qperf_refused.txt"), "failed to connect"),
    ("tcp_lat:\n    latency  =  \n", "no 'latency = N unit' line"),
])
def test_the_net_qperf_client_fails_in_one_line(monkeypatch: pytest.MonkeyPatch, stdout: str,
                                                words: str) -> None:
    from bench.workloads import net

    _serve(monkeypatch, stdout)
    with pytest.raises(SystemExit) as info:
        net.qperf_latency_us("h", 1)
    assert words in str(info.value.code) and "\n" not in str(info.value.code)


# ---- the registry ----------------------------------------------------------------------------

VARIANT_FIXTURES = {
    "cpu.single": "sysbench_cpu_single.txt", "cpu.all": "sysbench_cpu_all.txt",
    "memory.seq": "sysbench_memory_seq.txt", "memory.random": "sysbench_memory_random.txt",
    "disk.randread": "fio_randread.json", "disk.randwrite": "fio_randwrite.json",
    "disk.seqread": "fio_seqread.json", "disk.seqwrite": "fio_seqwrite.json",
    # the same fio output, written inside the container's root (its overlay upper)
    "disk.layer.randread": "fio_randread.json", "disk.layer.randwrite": "fio_randwrite.json",
}


def test_the_registry_holds_the_workloads_in_order() -> None:
    assert workloads.names() == ["cpu", "memory", "disk", "net", "startup", "footprint",
                                 "density", "limits", "evidence"]
    assert all(isinstance(w, Workload) and w.name == name and w.description
               for name, w in workloads.WORKLOADS.items())
    assert [w.name for w in workloads.command_workloads()] == ["cpu", "memory", "disk"]
    assert [w.name for w in workloads.orchestration_workloads()] == [
        "net", "startup", "footprint", "density", "limits", "evidence"]


def test_every_workload_runs_from_the_one_bench_image() -> None:
    assert {w.image for w in workloads.WORKLOADS.values()} == {"bench"}
    dockerfile = (IMAGES / "bench" / "Dockerfile").read_text()
    assert dockerfile.splitlines()[[i for i, line in enumerate(dockerfile.splitlines())
                                    if line.startswith("FROM")][0]] == "FROM debian:bookworm"
    for tool in ("sysbench", "fio", "stress-ng", "iperf3", "qperf", "procps"):
        assert tool in dockerfile
    assert "--no-install-recommends" in dockerfile and "rm -rf /var/lib/apt/lists" in dockerfile


def test_lookups_and_their_errors() -> None:
    assert workloads.get("cpu").variants[0].name == "cpu.single"
    assert [v.name for v in workloads.all_variants()] == list(VARIANT_FIXTURES)
    assert workloads.variant("disk.seqwrite").needs_scratch
    with pytest.raises(ValueError, match=r"unknown workload 'gpu' \(valid: cpu, memory, disk, "
                                         r"net, startup, footprint, density, limits, evidence\)"):
        workloads.get("gpu")
    with pytest.raises(ValueError, match=r"unknown variant 'cpu' \(valid: cpu.single, cpu.all"):
        workloads.variant("cpu")


@pytest.mark.parametrize("name", list(VARIANT_FIXTURES))
def test_each_variant_parses_its_capture_into_exactly_its_metrics(name: str) -> None:
    v = workloads.variant(name)
    got = v.parse(fixture(VARIANT_FIXTURES[name]))
    # events_per_cpu_s is the harness's, from the parsed rate and the accounting
    derived = {"events_per_cpu_s"} if v.work_per_cpu else set()
    assert set(got) == {m.name for m in v.metrics} - derived
    assert all(math.isfinite(x) and x >= 0 for x in got.values())


@pytest.mark.parametrize("v", workloads.all_variants(), ids=lambda v: v.name)
def test_each_variant_command_is_portable(v) -> None:
    metrics = [m.name for m in v.metrics]
    assert len(metrics) == len(set(metrics)) and metrics
    assert all(m.unit and m.better in ("higher", "lower") for m in v.metrics)
    # a plain tool name found on PATH, the same natively, in a container and in a VM
    assert "/" not in v.command[0] and v.command[0] in ("sysbench", "fio")
    placeholders = {p for part in v.command for p in re.findall(r"\{(\w*)\}", part)}
    assert placeholders <= {"threads", "seconds", "scratch"}
    assert "seconds" in placeholders                  # the profile sets the duration
    assert v.needs_scratch == ("scratch" in placeholders)
    argv = v.argv(threads=2, seconds=3, scratch="/scratch")
    assert not any("{" in a or "}" in a for a in argv)
    assert v.name.split(".")[0] in workloads.WORKLOADS


def test_scratch_survives_the_harness_two_step_substitution() -> None:
    # the harness fills threads/seconds and leaves "{scratch}" for the target to replace
    argv = workloads.variant("disk.randread").argv(threads=2, seconds=2, scratch="{scratch}")
    assert "--filename={scratch}/isobench-fio.dat" in argv and "--runtime=2" in argv
    assert {"--direct=1", "--bs=4k", "--rw=randread", "--output-format=json"} <= set(argv)


def test_metric_directions() -> None:
    better = {(v.name, m.name): m.better for v in workloads.all_variants() for m in v.metrics}
    assert better[("cpu.single", "events_per_s")] == "higher"
    assert better[("cpu.all", "latency_avg_ms")] == "lower"
    assert better[("memory.random", "access_ns")] == "lower"
    assert better[("disk.randwrite", "iops")] == "higher"
    assert better[("disk.randread", "clat_p99_us")] == "lower"
    assert better[("disk.seqread", "mb_s")] == "higher"
