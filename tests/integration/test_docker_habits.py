"""`logs -f`, `stats`, `ps --format` and `inspect --format` against real containers, printing
what Docker prints for the same fields."""

from __future__ import annotations

import re
import time

from tests.integration.conftest import Cli


def test_logs_follow_until_the_container_exits(cli: Cli) -> None:
    cli("run", "-d", "--name", "talker", "busybox", "sh", "-c",
        "for i in 1 2 3 4; do echo line $i; sleep 0.4; done; echo gone >&2", check=True)
    started = time.monotonic()
    proc = cli("logs", "-f", "talker", timeout=30)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "line 1\nline 2\nline 3\nline 4\n"
    assert proc.stderr == "gone\n"
    assert took > 0.8, f"returned after {took:.2f} s, before the container ended"
    plain = cli("logs", "talker", check=True)  # without -f: what is there, at once
    assert plain.stdout == proc.stdout
    cli("rm", "talker", check=True)


def test_ps_inspect_and_stats_formats(cli: Cli) -> None:
    cid = cli("run", "-d", "--name", "busy", "--memory", "64m", "busybox", "sh", "-c",
              "dd if=/dev/zero of=/dev/null bs=1k count=100000000 & sleep 30",
              check=True).stdout.strip()
    try:
        assert cli("ps", "--format", "{{.Names}}", check=True).stdout == "busy\n"
        table = cli("ps", "--format", "table {{.ID}}\\t{{.Names}}\\t{{.State}}",
                    check=True).stdout.splitlines()
        assert re.fullmatch(r"CONTAINER ID\s+NAMES\s+STATE", table[0]), table
        assert table[1].split() == [cid[:12], "busy", "running"]
        pid = cli("inspect", "--format", "{{.State.Pid}}", "busy", check=True).stdout.strip()
        assert pid.isdigit() and int(pid) > 1
        with open(f"/proc/{pid}/status") as f:  # the host's pid of the container's PID 1
            nspid = next(line for line in f if line.startswith("NSpid:")).split()
        assert nspid[1:] == [pid, "1"], nspid
        assert cli("inspect", "--format", "{{.Name}} {{json .State.Running}}", "busy",
                   check=True).stdout == "/busy true\n"
        time.sleep(0.5)
        out = cli("stats", "--no-stream", check=True).stdout.splitlines()
        assert re.fullmatch(r"CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE / LIMIT\s+MEM %\s+"
                            r"NET I/O\s+BLOCK I/O\s+PIDS", out[0]), out
        assert len(out) == 2
        row = re.split(r"\s{3,}", out[1])
        assert row[0] == cid[:12] and row[1] == "busy"
        cpu = float(row[2].rstrip("%"))
        assert 30 < cpu <= 205, row  # dd spins one core (two at most on this host)
        assert row[3].endswith(" / 64MiB"), row
        assert int(row[7]) >= 2, row  # sh, dd (and sleep)
        one = cli("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "busy",
                  check=True).stdout.split()
        assert one[0] == "busy" and int(one[1]) >= 2
        bad = cli("stats", "--no-stream", "--format", "{{.Nope}}")
        assert bad.returncode == 1 and len(bad.stderr.splitlines()) == 1
    finally:
        cli("rm", "-f", "busy")
