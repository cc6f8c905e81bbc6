"""Pure parsers: one tool's output text in, named metrics (floats) out.

Every parser takes the text a tool printed and returns ``{metric name: value}``; when the
text lacks what it needs (a failed run, a truncated capture, another tool's output) it raises
:class:`bench.model.ParseError` with a one-line message, and never any other exception, so
the harness can mark the run failed, keep its output and go on.

Which parser serves what:

=============================  ==========================================================
``parse_sysbench_cpu``         ``cpu.*``: ``sysbench cpu run``
``parse_sysbench_memory``      ``memory.seq``: ``sysbench memory run`` throughput
``parse_sysbench_memory_random``  ``memory.random``: random access over a large buffer
``parse_fio_random``           ``disk.randread`` / ``disk.randwrite``: ``fio --output-format=json``
``parse_fio_sequential``       ``disk.seqread`` / ``disk.seqwrite``
``parse_iperf3``               ``net``: ``iperf3 -c HOST -J`` (TCP), on the client side
``parse_qperf_latency``        ``net``: ``qperf HOST tcp_lat`` / ``udp_lat``
``parse_stress_ng_metrics``    ``limits``: ``stress-ng ... --metrics-brief`` (its stderr)
=============================  ==========================================================

The fixtures in tests/unit/fixtures/ are real output of the Debian bookworm tools (sysbench
1.0.20, fio 3.33, iperf 3.12, qperf 0.4.11, stress-ng 0.15.06).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from bench.model import ParseError

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"


# ---- helpers -------------------------------------------------------------------------------

def _one_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _search(pattern: str, text: str, what: str, tool: str) -> re.Match[str]:
    m = re.search(pattern, text, re.MULTILINE)
    if m is None:
        raise ParseError(f"{tool} output has no {what}{_hint(text)}")
    return m


def _hint(text: str) -> str:
    """The tool's own complaint, if it printed one, or its last line: for the one-line message."""
    for line in text.splitlines():
        if re.match(r"\s*(FATAL|ERROR|error|fio: |iperf3: error)", line):
            return f" (it said: {_one_line(line, 100)})"
    stripped = text.strip()
    if not stripped:
        return " (the output is empty)"
    return f" (last line: {_one_line(stripped.splitlines()[-1], 80)})"


def _float(value: Any, what: str, tool: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParseError(f"{tool}: {what} is not a number: {_one_line(repr(value), 60)}") from None
    if not math.isfinite(number):
        raise ParseError(f"{tool}: {what} is not finite: {number}")
    return number


# ---- sysbench ------------------------------------------------------------------------------

def _sysbench_common(text: str) -> tuple[float, float, float]:
    """(events, latency avg ms, latency sum ms) from sysbench's "General statistics"."""
    tool = "sysbench"
    events = _float(_search(rf"^\s*total number of events:\s*({_NUM})\s*$", text,
                            "'total number of events'", tool).group(1), "events", tool)
    latency = _search(r"^Latency \(ms\):\s*$", text, "'Latency (ms)' section", tool)
    rest = text[latency.end():]
    avg = _float(_search(rf"^\s*avg:\s*({_NUM})\s*$", rest, "latency avg", tool).group(1),
                 "latency avg", tool)
    total = _float(_search(rf"^\s*sum:\s*({_NUM})\s*$", rest, "latency sum", tool).group(1),
                   "latency sum", tool)
    if events <= 0:
        raise ParseError("sysbench completed no events (a run too short, or one that failed)")
    return events, avg, total


def parse_sysbench_cpu(text: str) -> dict[str, float]:
    """``sysbench cpu ... run`` -> events_per_s (events/s) and latency_avg_ms (ms per event).

    One event is the search for the primes up to --cpu-max-prime; latency is per event, so
    with more threads than cores it grows while events_per_s stays put.
    """
    tool = "sysbench cpu"
    rate = _search(rf"^\s*events per second:\s*({_NUM})\s*$", text, "'events per second'", tool)
    _events, avg, _sum = _sysbench_common(text)
    return {"events_per_s": _float(rate.group(1), "events per second", tool),
            "latency_avg_ms": avg}


def _sysbench_memory_rate(text: str) -> tuple[float, float]:
    tool = "sysbench memory"
    ops = _search(rf"^Total operations:\s*{_NUM}\s*\(\s*({_NUM}) per second\)", text,
                  "'Total operations' line", tool)
    mib = _search(rf"^{_NUM} MiB transferred \(\s*({_NUM}) MiB/sec\)", text,
                  "'MiB transferred' line", tool)
    return (_float(mib.group(1), "MiB/sec", tool), _float(ops.group(1), "operations/s", tool))


def parse_sysbench_memory(text: str) -> dict[str, float]:
    """``sysbench memory ... run`` -> mib_per_s (MiB/s, all threads together)."""
    mib_per_s, _ops = _sysbench_memory_rate(text)
    _sysbench_common(text)  # the run completed: its statistics are there
    return {"mib_per_s": mib_per_s}


def parse_sysbench_memory_random(text: str) -> dict[str, float]:
    """``sysbench memory --memory-access-mode=rnd ... run`` over a buffer larger than the caches.

    -> mib_per_s (MiB/s), latency_avg_ms (ms per event, i.e. per pass of block-size/4
    random 4-byte accesses) and access_ns: the time one thread spends on one random access,
    ``threads * 4 B / throughput``. sysbench 1.0.20's rnd mode makes block_size/4 accesses of
    an ``int`` at uniformly random indices inside the block, and counts block_size bytes per
    event, so the reported MiB/s is 4 bytes times the access rate. Each access includes
    sysbench's random-number draw (a few ns), so access_ns is an upper bound on the memory
    system's share; what it shows across targets is the cost of cache and TLB misses (page
    walks, nested ones in a VM).
    """
    tool = "sysbench memory"
    mib_per_s, _ops = _sysbench_memory_rate(text)
    _events, avg, _sum = _sysbench_common(text)
    threads = _float(_search(r"^Number of threads:\s*(\d+)\s*$", text, "'Number of threads'",
                             tool).group(1), "threads", tool)
    if mib_per_s <= 0 or threads <= 0:
        raise ParseError(f"sysbench memory reported {mib_per_s} MiB/s with {threads:g} threads")
    access_ns = threads * 4 / (mib_per_s * 2**20) * 1e9
    return {"mib_per_s": mib_per_s, "latency_avg_ms": avg, "access_ns": access_ns}


# ---- fio -----------------------------------------------------------------------------------

def _fio_json(text: str) -> dict[str, Any]:
    """fio's JSON document; fio may print warnings ("fio: ...") on stdout before it."""
    start = re.search(r"^\{", text, re.MULTILINE)
    if start is None:
        raise ParseError(f"fio output has no JSON document{_hint(text)}")
    try:
        doc, _end = json.JSONDecoder().raw_decode(text, start.start())
    except json.JSONDecodeError as e:
        raise ParseError(f"fio JSON does not parse: {e.msg} at line {e.lineno} "
                         f"column {e.colno}") from None
    jobs = doc.get("jobs") if isinstance(doc, dict) else None
    if not isinstance(jobs, list) or not jobs or not all(isinstance(j, dict) for j in jobs):
        raise ParseError("fio JSON has no jobs")
    for job in jobs:
        if job.get("error"):
            raise ParseError(f"fio job {job.get('jobname', '?')!r} failed with error "
                             f"{job.get('error')} (an errno)")
    return doc


def _fio_direction(doc: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The one direction ("read" or "write") that did I/O, and each job's stats for it."""
    done = {}
    for direction in ("read", "write"):
        stats = [job.get(direction) for job in doc["jobs"]]
        if not all(isinstance(s, dict) for s in stats):
            raise ParseError(f"fio JSON job has no {direction!r} section")
        total = sum(_float(s.get("io_bytes"), f"{direction} io_bytes", "fio") for s in stats)
        if total > 0:
            done[direction] = stats
    if len(done) != 1:
        what = "no" if not done else "both read and write"
        raise ParseError(f"fio did {what} I/O; a variant measures one direction")
    return next(iter(done.items()))


def parse_fio_random(text: str) -> dict[str, float]:
    """``fio --rw=randread|randwrite --output-format=json`` -> iops (IO/s), clat_mean_us and
    clat_p99_us (completion latency, µs: submission to completion of one I/O).

    Several jobs (without --group_reporting) are summed for IOPS, their clat means weighted
    by each job's I/O count, and the worst job's p99 is taken.
    """
    direction, stats = _fio_direction(_fio_json(text))
    iops = ios = weighted = 0.0
    p99 = 0.0
    for s in stats:
        clat = s.get("clat_ns")
        if not isinstance(clat, dict):
            raise ParseError(f"fio {direction} has no clat_ns")
        percentiles = clat.get("percentile")
        if not isinstance(percentiles, dict) or "99.000000" not in percentiles:
            raise ParseError(f"fio {direction} clat_ns has no 99th percentile "
                             "(was --clat_percentiles turned off?)")
        n = _float(s.get("total_ios"), "total_ios", "fio")
        iops += _float(s.get("iops"), "iops", "fio")
        ios += n
        weighted += n * _float(clat.get("mean"), "clat mean", "fio")
        p99 = max(p99, _float(percentiles["99.000000"], "clat p99", "fio"))
    if ios <= 0:
        raise ParseError(f"fio completed no {direction} I/O")
    return {"iops": iops, "clat_mean_us": weighted / ios / 1000, "clat_p99_us": p99 / 1000}


def parse_fio_sequential(text: str) -> dict[str, float]:
    """``fio --rw=read|write --bs=1M --output-format=json`` -> mb_s (MB/s, 10^6 bytes)."""
    direction, stats = _fio_direction(_fio_json(text))
    bw = sum(_float(s.get("bw_bytes"), f"{direction} bw_bytes", "fio") for s in stats)
    return {"mb_s": bw / 1e6}


# ---- iperf3 --------------------------------------------------------------------------------

def parse_iperf3(text: str) -> dict[str, float]:
    """``iperf3 -c HOST -J`` (a TCP test, run on the client) -> gbit_s and retransmits.

    gbit_s is end.sum_received (what the receiver got, 10^9 bit/s), the honest figure for
    throughput; retransmits come from end.sum_sent (the sender's TCP counter; 0 over a clean
    loopback or bridge). iperf3 -J reports a failure (e.g. "unable to connect to server") as
    an "error" member, sometimes with exit status 0: that is a ParseError here.
    """
    start = re.search(r"^\{", text, re.MULTILINE)
    if start is None:
        raise ParseError(f"iperf3 output has no JSON document{_hint(text)}")
    try:
        doc, _end = json.JSONDecoder().raw_decode(text, start.start())
    except json.JSONDecodeError as e:
        raise ParseError(f"iperf3 JSON does not parse: {e.msg} at line {e.lineno}") from None
    if not isinstance(doc, dict):
        raise ParseError("iperf3 JSON is not an object")
    if doc.get("error"):
        raise ParseError(f"iperf3: {_one_line(str(doc['error']), 120)}")
    end = doc.get("end")
    received = end.get("sum_received") if isinstance(end, dict) else None
    sent = end.get("sum_sent") if isinstance(end, dict) else None
    if not isinstance(received, dict) or not isinstance(sent, dict):
        raise ParseError("iperf3 JSON has no end.sum_received/sum_sent (a UDP test, or one "
                         "that did not finish)")
    bits = _float(received.get("bits_per_second"), "bits_per_second", "iperf3")
    retransmits = _float(sent.get("retransmits", 0), "retransmits", "iperf3")
    return {"gbit_s": bits / 1e9, "retransmits": retransmits}


# ---- qperf ---------------------------------------------------------------------------------

_QPERF_SCALE_US = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "sec": 1e6, "s": 1e6}


def parse_qperf_latency(text: str) -> dict[str, float]:
    """``qperf [-v] HOST tcp_lat`` or ``udp_lat`` -> latency_us: one-way latency, µs (qperf
    reports half the round trip of a 1-byte message by default)."""
    m = re.search(rf"^\s*latency\s*=\s*({_NUM})\s*(ns|us|ms|sec|s)\s*$", text, re.MULTILINE)
    if m is None:
        failed = re.search(r"^(.*(?:failed|error|refused|timed out).*)$", text,
                           re.MULTILINE | re.IGNORECASE)
        if failed:
            raise ParseError(f"qperf: {_one_line(failed.group(1), 120)}")
        raise ParseError(f"qperf output has no 'latency = N unit' line{_hint(text)}")
    return {"latency_us": _float(m.group(1), "latency", "qperf") * _QPERF_SCALE_US[m.group(2)]}


# ---- stress-ng -----------------------------------------------------------------------------

_SNG_ROW = re.compile(
    rf"^(?:stress-ng: )?(?:metrc:\s*\[\d+\]\s*)?([a-z][\w-]*)\s+({_NUM})\s+({_NUM})\s+({_NUM})"
    rf"\s+({_NUM})\s+({_NUM})\s+({_NUM})\s*$", re.MULTILINE)


def parse_stress_ng_metrics(text: str, stressor: str | None = None) -> dict[str, float]:
    """``stress-ng --STRESSOR N --timeout Ts --metrics-brief`` -> what the instance did.

    For the ``limits`` workload: run inside a target given ``--cpus 0.5`` (or ``--memory
    64m``) it reports the work done and the CPU time the stressor itself saw. stress-ng
    writes this report on **stderr** (0.15 has no --stdout), so give this parser stderr or
    ``2>&1``. Plain, ``--log-brief`` and ``--sn`` (scientific notation) forms are accepted.

    Metrics, for the named stressor (or the only one): bogo_ops, bogo_ops_per_s (per second
    of real time), real_time_s, usr_time_s, sys_time_s, cpu_share = (usr+sys)/real, i.e. the
    CPUs' worth used by all its instances together (about 0.5 under a 50 ms/100 ms quota),
    oom_restarts (stressor children stress-ng saw killed by the OOM killer: its "assuming
    killed by OOM killer" lines, printed only with -v), premature (1 when a stressor
    "finished prematurely", e.g. with --oomable after an OOM kill) and successful (1 for
    "successful run completed", 0 for "unsuccessful"). Inside a VM usr/sys are guest time,
    which does not see time the vCPU was descheduled by the host; compare bogo_ops_per_s
    across targets, and take the CPU share from the host's cgroup accounting.
    """
    done = re.search(r"\b(successful|unsuccessful) run completed in", text)
    if done is None:
        raise ParseError(f"stress-ng output has no 'run completed' line (truncated or "
                         f"killed){_hint(text)}")
    header = re.search(r"stressor\s+bogo ops\s+real time\s+usr time\s+sys time", text)
    if header is None:
        raise ParseError("stress-ng output has no metrics table (was --metrics-brief given?)")
    rows = {m.group(1): m.groups()[1:] for m in _SNG_ROW.finditer(text, header.end())}
    if not rows:
        raise ParseError("stress-ng metrics table has no stressor rows")
    if stressor is None:
        if len(rows) != 1:
            raise ParseError(f"stress-ng ran several stressors ({', '.join(rows)}); name one")
        stressor = next(iter(rows))
    if stressor not in rows:
        raise ParseError(f"stress-ng metrics have no row for {stressor!r} "
                         f"(rows: {', '.join(rows)})")
    ops, real, usr, sys_, per_real, _per_cpu = (_float(v, "metric", "stress-ng")
                                                 for v in rows[stressor])
    oom = len(re.findall(rf"\b{re.escape(stressor)}: assuming killed by OOM killer", text))
    premature = re.search(rf"\b{re.escape(stressor)}: WARNING: finished prematurely", text)
    return {"bogo_ops": ops, "bogo_ops_per_s": per_real, "real_time_s": real,
            "usr_time_s": usr, "sys_time_s": sys_,
            "cpu_share": (usr + sys_) / real if real > 0 else 0.0,
            "oom_restarts": float(oom), "premature": float(premature is not None),
            "successful": float(done.group(1) == "successful")}
