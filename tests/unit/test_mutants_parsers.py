"""bench/parsers.py pinned to exact values and messages: what `make mutate` found unpinned.

tests/unit/test_parsers.py compares with pytest.approx (a relative 1e-6), which lets a unit
factor off by one part in a million through (1e9 -> 1e9 + 1), and checks that a failure is a
ParseError without reading its message. Here each parsed metric is the figure the fixture
prints (or the formula's value, written out), to 1e-12, and each failure its one-line message.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import parsers
from bench.model import ParseError

FIXTURES = Path(__file__).parent / "fixtures"
EXACT = 1e-12


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def _fio(*jobs: dict) -> str:
    return json.dumps({"jobs": list(jobs)})


def _read_job(io_bytes: int = 4096, total_ios: int = 1, iops: float = 1.0, mean: float = 1000.0,
              p99: float = 2000.0) -> dict:
    return {"read": {"io_bytes": io_bytes, "total_ios": total_ios, "iops": iops,
                     "clat_ns": {"mean": mean, "percentile": {"99.000000": p99}}},
            "write": {"io_bytes": 0}}


# ---- metrics, exactly ----------------------------------------------------------------------


def test_sysbench_random_access_ns_scales_with_the_threads() -> None:
    text = fixture("sysbench_memory_random.txt").replace("Number of threads: 1",
                                                         "Number of threads: 3")
    got = parsers.parse_sysbench_memory_random(text)
    assert got["access_ns"] == pytest.approx(3 * 48.96287082049801, rel=EXACT)


def test_sysbench_one_event_is_enough() -> None:
    text = fixture("sysbench_memory_random.txt").replace(
        "total number of events:              3", "total number of events:              1")
    assert parsers.parse_sysbench_memory_random(text)["mib_per_s"] == 77.91


def test_sysbench_random_below_one_mib_per_second_still_parses() -> None:
    text = fixture("sysbench_memory_random.txt").replace("(77.91 MiB/sec)", "(0.5 MiB/sec)")
    got = parsers.parse_sysbench_memory_random(text)
    assert got["mib_per_s"] == 0.5
    assert got["access_ns"] == pytest.approx(4 / (0.5 * 2**20) * 1e9, rel=EXACT)


def test_fio_random_reports_iops_and_latencies_in_microseconds() -> None:
    got = parsers.parse_fio_random(fixture("fio_randread.json"))
    assert got == pytest.approx({"iops": 36680.15992, "clat_mean_us": 417.725289944,
                                 "clat_p99_us": 4423.68}, rel=EXACT)


def test_fio_random_weights_each_jobs_mean_by_its_ios_and_takes_the_worst_p99() -> None:
    text = _fio(_read_job(total_ios=1, iops=10.0, mean=1000.0, p99=5000.0),
                _read_job(total_ios=3, iops=30.0, mean=3000.0, p99=2000.0))
    assert parsers.parse_fio_random(text) == pytest.approx(
        {"iops": 40.0, "clat_mean_us": 2.5, "clat_p99_us": 5.0}, rel=EXACT)


def test_fio_random_p99_below_one_nanosecond_is_kept() -> None:
    got = parsers.parse_fio_random(_fio(_read_job(p99=0.5)))
    assert got["clat_p99_us"] == 0.0005


def test_fio_one_io_of_one_byte_counts_as_the_direction_done() -> None:
    got = parsers.parse_fio_random(_fio(_read_job(io_bytes=1, total_ios=1)))
    assert got == {"iops": 1.0, "clat_mean_us": 1.0, "clat_p99_us": 2.0}


def test_fio_sequential_reports_megabytes_of_ten_to_the_six() -> None:
    got = parsers.parse_fio_sequential(fixture("fio_seqread.json"))
    assert got == pytest.approx({"mb_s": 436.183099}, rel=EXACT)


def test_iperf3_reports_received_gigabits_and_sent_retransmits() -> None:
    got = parsers.parse_iperf3(fixture("iperf3_tcp.json"))
    assert got == pytest.approx({"gbit_s": 9.760789538376675, "retransmits": 7.0}, rel=EXACT)


def test_iperf3_without_a_retransmit_counter_reports_zero() -> None:
    text = json.dumps({"end": {"sum_received": {"bits_per_second": 2e9}, "sum_sent": {}}})
    assert parsers.parse_iperf3(text) == {"gbit_s": 2.0, "retransmits": 0.0}


def test_iperf3_json_after_a_warning_line_is_found() -> None:
    text = "warning: something\n" + json.dumps(
        {"end": {"sum_received": {"bits_per_second": 1e9}, "sum_sent": {"retransmits": 2}}})
    assert parsers.parse_iperf3(text) == {"gbit_s": 1.0, "retransmits": 2.0}


@pytest.mark.parametrize(("line", "expected"), [
    ("latency = 250 ns", 0.25), ("latency = 14.7 us", 14.7), ("latency = 2 ms", 2000.0),
    ("latency = 1.5 sec", 1.5e6), ("latency = 3 s", 3e6)])
def test_qperf_latency_is_scaled_to_microseconds(line: str, expected: float) -> None:
    assert parsers.parse_qperf_latency(f"tcp_lat:\n    {line}\n") == {"latency_us": expected}


def test_stress_ng_reports_its_row_and_the_cpu_share() -> None:
    got = parsers.parse_stress_ng_metrics(fixture("stress_ng_cpu_quota50.txt"))
    assert got == {"bogo_ops": 1845.0, "bogo_ops_per_s": 614.05, "real_time_s": 3.0,
                   "usr_time_s": 1.48, "sys_time_s": 0.0, "cpu_share": 1.48 / 3.0,
                   "oom_restarts": 0.0, "premature": 0.0, "successful": 1.0}


def _stress(real: str, before: str = "") -> str:
    return (f"{before}stress-ng: metrc: [1] stressor       bogo ops real time  usr time  "
            "sys time   bogo ops/s     bogo ops/s\n"
            "stress-ng: metrc: [1]                           (secs)    (secs)    (secs)   "
            "(real time) (usr+sys time)\n"
            f"stress-ng: metrc: [1] cpu                10      {real}      0.20      0.05"
            "       20.00        40.00\n"
            "stress-ng: info:  [1] successful run completed in 1.00s\n")


def test_stress_ng_share_under_one_second_of_real_time() -> None:
    assert parsers.parse_stress_ng_metrics(_stress("0.50"))["cpu_share"] == 0.25 / 0.5


def test_stress_ng_share_of_no_real_time_is_zero() -> None:
    assert parsers.parse_stress_ng_metrics(_stress("0.00"))["cpu_share"] == 0.0


def test_stress_ng_rows_before_the_table_header_are_not_stressors() -> None:
    before = "vm                 1      1.00      1.00      1.00        1.00         1.00\n"
    got = parsers.parse_stress_ng_metrics(_stress("0.50", before=before))
    assert got["bogo_ops"] == 10.0


# ---- failures, with their one-line messages ------------------------------------------------

_RND = "sysbench_memory_random.txt"
_CPU_HEAD = "    events per second:  10.0\n    total number of events: 5\n"


def _rnd(old: str, new: str) -> str:
    return fixture(_RND).replace(old, new)


FAILURES = [
    (parsers.parse_sysbench_cpu, "",
     "sysbench cpu output has no 'events per second' (the output is empty)"),
    (parsers.parse_sysbench_cpu, "FATAL: cannot open\nmore\n",
     "sysbench cpu output has no 'events per second' (it said: FATAL: cannot open)"),
    (parsers.parse_sysbench_cpu, "  ERROR: x\n", "sysbench cpu output has no 'events per "
     "second' (it said: ERROR: x)"),
    (parsers.parse_sysbench_cpu, "    events per second:  10.0\nlast words\n",
     "sysbench output has no 'total number of events' (last line: last words)"),
    (parsers.parse_sysbench_cpu, _CPU_HEAD,
     "sysbench output has no 'Latency (ms)' section (last line: total number of events: 5)"),
    (parsers.parse_sysbench_cpu, _CPU_HEAD + "Latency (ms):\n  sum: 3\n",
     "sysbench output has no latency avg (last line: sum: 3)"),
    (parsers.parse_sysbench_cpu, _CPU_HEAD + "Latency (ms):\n  avg: 3\n",
     "sysbench output has no latency sum (last line: avg: 3)"),
    (parsers.parse_sysbench_cpu,
     "    events per second:  10.0\n    total number of events: 0\nLatency (ms):\n"
     "  avg: 3\n  sum: 3\n",
     "sysbench completed no events (a run too short, or one that failed)"),
    (parsers.parse_sysbench_memory, "ERROR: out of memory\n",
     "sysbench memory output has no 'Total operations' line (it said: ERROR: out of memory)"),
    (parsers.parse_sysbench_memory, "Total operations: 3 (    1.22 per second)\n  error: x\n",
     "sysbench memory output has no 'MiB transferred' line (it said: error: x)"),
    (parsers.parse_sysbench_memory_random, _rnd("Number of threads: 1", "threads: 1"),
     "sysbench memory output has no 'Number of threads' "
     "(last line: execution time (avg/stddev): 2.4604/0.00)"),
    (parsers.parse_sysbench_memory_random, _rnd("Number of threads: 1", "Number of threads: 0"),
     "sysbench memory reported 77.91 MiB/s with 0 threads"),
    (parsers.parse_sysbench_memory_random, _rnd("(77.91 MiB/sec)", "(0 MiB/sec)"),
     "sysbench memory reported 0.0 MiB/s with 1 threads"),
    (parsers.parse_fio_random, "fio: engine libaio not loadable\n",
     "fio output has no JSON document (it said: fio: engine libaio not loadable)"),
    (parsers.parse_fio_random, '{"jobs": [\n',
     "fio JSON does not parse: Expecting value at line 2 column 1"),
    (parsers.parse_fio_random, '{"jobs": []}', "fio JSON has no jobs"),
    (parsers.parse_fio_random, '{"jobs": null}', "fio JSON has no jobs"),
    (parsers.parse_fio_random, '{"jobs": [1]}', "fio JSON has no jobs"),
    (parsers.parse_fio_random, '{"jobs": [{"jobname": "j1", "error": 21}]}',
     "fio job 'j1' failed with error 21 (an errno)"),
    (parsers.parse_fio_random, '{"jobs": [{"write": {}}]}', "fio JSON job has no 'read' section"),
    (parsers.parse_fio_random, '{"jobs": [{"read": {"io_bytes": "x"}, "write": {}}]}',
     "fio: read io_bytes is not a number: 'x'"),
    (parsers.parse_fio_random, _fio({"read": {"io_bytes": 0}, "write": {"io_bytes": 0}}),
     "fio did no I/O; a variant measures one direction"),
    (parsers.parse_fio_random, _fio({"read": {"io_bytes": 1}, "write": {"io_bytes": 1}}),
     "fio did both read and write I/O; a variant measures one direction"),
    (parsers.parse_fio_random, _fio({"read": {"io_bytes": 1}, "write": {"io_bytes": 0}}),
     "fio read has no clat_ns"),
    (parsers.parse_fio_random, _fio(_read_job(total_ios=0)), "fio completed no read I/O"),
    (parsers.parse_fio_random, _fio({**_read_job(), "read": {**_read_job()["read"], "iops": "?"}}),
     "fio: iops is not a number: '?'"),
    (parsers.parse_fio_sequential, _fio({"read": {"io_bytes": 1, "bw_bytes": None},
                                         "write": {"io_bytes": 0}}),
     "fio: read bw_bytes is not a number: None"),
    (parsers.parse_iperf3, "iperf3: error - unable to connect\n",
     "iperf3 output has no JSON document (it said: iperf3: error - unable to connect)"),
    (parsers.parse_iperf3, "{\n",
     "iperf3 JSON does not parse: Expecting property name enclosed in double quotes at line 2"),
    (parsers.parse_iperf3, '{"error": "unable to connect to server: Connection refused"}',
     "iperf3: unable to connect to server: Connection refused"),
    (parsers.parse_iperf3, '{"end": {}}',
     "iperf3 JSON has no end.sum_received/sum_sent (a UDP test, or one that did not finish)"),
    (parsers.parse_iperf3,
     '{"end": {"sum_received": {"bits_per_second": NaN}, "sum_sent": {}}}',
     "iperf3: bits_per_second is not finite: nan"),
    (parsers.parse_iperf3,
     '{"end": {"sum_received": {"bits_per_second": 1}, "sum_sent": {"retransmits": "x"}}}',
     "iperf3: retransmits is not a number: 'x'"),
    (parsers.parse_qperf_latency, "hello\nqperf: Connect FAILED: refused\n",
     "qperf: qperf: Connect FAILED: refused"),
    (parsers.parse_qperf_latency, "tcp_lat:\n  bandwidth = 3 MB/sec\n",
     "qperf output has no 'latency = N unit' line (last line: bandwidth = 3 MB/sec)"),
    (parsers.parse_stress_ng_metrics, "stress-ng: info: x\n",
     "stress-ng output has no 'run completed' line (truncated or killed) "
     "(last line: stress-ng: info: x)"),
    (parsers.parse_stress_ng_metrics, "successful run completed in 1s\n",
     "stress-ng output has no metrics table (was --metrics-brief given?)"),
]


@pytest.mark.parametrize(("parse", "text", "message"), FAILURES)
def test_each_failure_raises_its_one_line_message(parse, text: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(text)
    assert str(caught.value) == message


def test_a_long_complaint_is_cut_to_one_hundred_characters() -> None:
    line = "FATAL: " + "x" * 200
    with pytest.raises(ParseError) as caught:
        parsers.parse_sysbench_cpu(line)
    assert str(caught.value) == ("sysbench cpu output has no 'events per second' "
                                 f"(it said: {line[:97]}...)")


def test_a_long_last_line_is_cut_to_eighty_characters() -> None:
    line = "y" * 81
    with pytest.raises(ParseError) as caught:
        parsers.parse_sysbench_cpu(line)
    assert str(caught.value) == f"sysbench cpu output has no 'events per second' " \
                                f"(last line: {'y' * 77}...)"
    with pytest.raises(ParseError) as caught:
        parsers.parse_sysbench_cpu("y" * 80)
    assert str(caught.value).endswith(f"(last line: {'y' * 80})")


def test_a_long_value_is_cut_to_sixty_characters() -> None:
    value = "z" * 70
    with pytest.raises(ParseError) as caught:
        parsers.parse_iperf3(json.dumps({"end": {"sum_received": {"bits_per_second": value},
                                                 "sum_sent": {}}}))
    assert str(caught.value) == f"iperf3: bits_per_second is not a number: '{'z' * 56}..."


@pytest.mark.parametrize(("length", "expected"), [(160, "a" * 160), (161, "a" * 157 + "...")])
def test_one_line_keeps_one_hundred_sixty_characters(length: int, expected: str) -> None:
    assert parsers._one_line("a" * length) == expected


def test_only_a_line_starting_with_the_tools_complaint_is_quoted() -> None:
    with pytest.raises(ParseError) as caught:
        parsers.parse_sysbench_cpu("a fatal thing\nlast\n")
    assert str(caught.value).endswith("(last line: last)")
