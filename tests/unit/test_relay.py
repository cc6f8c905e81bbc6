"""runtime/relay.py: the small monitor's log format, its bare interpreter, and its hand-off
(relay, reap, exec the teardown with the exit code), with real processes and pipes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runtime import relay

CHUNKS = [b"hello\n", "h\u00e9llo \u2603 \U0001d11e\n".encode(), b"\xff\xfe bad \x80\xc3",
          b'quote " back \\ tab\t ctl \x01\x7f\x00', b""]


@pytest.mark.parametrize("chunk", CHUNKS)
def test_log_lines_are_byte_identical_to_json_dumps(tmp_path: Path, chunk: bytes) -> None:
    """The json-file format as the json module writes it (Docker's fields, ensure_ascii,
    float repr): the small monitor's lines cannot be told from the Python monitor's."""
    log = relay.LogWriter(str(tmp_path / "log"))
    log.write("stderr", chunk)
    log.close()
    line = (tmp_path / "log").read_bytes()
    entry = json.loads(line)
    assert entry["log"].encode("utf-8", "surrogateescape") == chunk
    expected = json.dumps({"log": chunk.decode("utf-8", "surrogateescape"),
                           "stream": "stderr", "time": entry["time"]})
    assert line == expected.encode() + b"\n"


def test_the_relay_imports_nothing_but_a_bare_interpreters_modules() -> None:
    """Its whole point is its size: run as the monitor runs it (-I -S), it loads no json,
    typing, dataclasses or runtime package (which is what cost 11 MiB a monitor)."""
    code = textwrap.dedent(f"""
        import sys
        f = {relay.__file__!r}
        exec(compile(open(f).read(), f, "exec"), {{"__name__": "x", "__file__": f}})
        print(",".join(sorted(sys.modules)))
    """)
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], check=True,
                         capture_output=True, text=True).stdout.strip().split(",")
    heavy = {"json", "typing", "dataclasses", "runtime", "runtime.launcher", "re",
             "collections", "enum"}
    assert not heavy & set(out), heavy & set(out)
    assert "_json" in out and "select" in out


# Stands in for runtime.teardown: its argv and the files its descriptors name.
TEARDOWN = """
import os, sys, time
time.sleep(float(os.environ.get("TEARDOWN_S", "0")))
fds = []
for fd in range(64):
    try:
        fds.append(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        pass
with open(sys.argv[1], "w") as f:
    f.write(" ".join(sys.argv[2:]) + "\\n" + "\\n".join(fds))
sys.exit(int(sys.argv[-1]))
"""

HARNESS = """
import os, sys
sys.path.insert(0, {home!r})
from runtime import relay
out_r, out_w = os.pipe()
err_r, err_w = os.pipe()
lock = os.open({lock!r}, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC)
pid = os.fork()
if pid == 0:
    os.write(out_w, b"to stdout\\n")
    os.write(err_w, b"to stderr\\n")
    os._exit(7)
os.close(out_w)
os.close(err_w)
for fd in (out_r, err_r, lock):
    os.set_inheritable(fd, True)
then = [sys.executable, {then!r}, {done!r}, "teardown-of", "cid"]
exit_w = -1
if {exit_first!r}:  # a caller that waits for the exit only: what it saw, and when
    exit_r, exit_w = os.pipe()
    if os.fork() == 0:
        os.close(exit_w)
        got = b""
        while chunk := os.read(exit_r, 64):
            got += chunk
        seen = os.path.exists({done!r})
        with open({done!r} + ".caller", "w") as f:
            f.write(f"{{got.decode()}} torn-down-already={{seen}}")
        os._exit(0)
    os.close(exit_r)
    os.set_inheritable(exit_w, True)
argv = relay.command(sys.executable, {log!r}, pid, out_r, err_r, {mode!r}, then, exit_w)
os.execv(argv[0], argv)
"""


def _run_harness(tmp_path: Path, mode: str, exit_first: bool = False
                 ) -> tuple[subprocess.CompletedProcess[str], Path]:
    home = str(Path(relay.__file__).parent.parent)
    (tmp_path / "teardown.py").write_text(TEARDOWN)
    script = HARNESS.format(home=home, lock=str(tmp_path / ".lock"), log=str(tmp_path / "log"),
                            then=str(tmp_path / "teardown.py"), done=str(tmp_path / "done"),
                            mode=mode, exit_first=exit_first)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30, env={**os.environ, "TEARDOWN_S": "0.3"})
    return proc, tmp_path / "done"


def test_the_small_monitor_relays_reaps_and_hands_the_code_to_the_teardown(
        tmp_path: Path) -> None:
    proc, done = _run_harness(tmp_path, "")
    assert proc.returncode == 7, proc.stderr  # the teardown exits with the command's code
    assert proc.stdout == "" and proc.stderr == ""  # detached: logged only
    lines = [json.loads(x) for x in (tmp_path / "log").read_bytes().splitlines()]
    assert {(x["stream"], x["log"]) for x in lines} == {("stdout", "to stdout\n"),
                                                       ("stderr", "to stderr\n")}
    args, *fds = done.read_text().splitlines()
    assert args == "teardown-of cid 7"
    # The lock's descriptor survived both execs; the pipes and the log's did not leak.
    assert str(tmp_path / ".lock") in fds, fds
    assert not [f for f in fds[3:] if f.startswith("pipe:") or f == str(tmp_path / "log")], fds


def test_the_small_monitor_echoes_when_attached(tmp_path: Path) -> None:
    proc, _ = _run_harness(tmp_path, "e")
    assert proc.returncode == 7
    assert (proc.stdout, proc.stderr) == ("to stdout\n", "to stderr\n")


def test_the_exit_is_reported_before_the_teardown_and_the_terminal_let_go(
        tmp_path: Path) -> None:
    """`run --rm`: the caller learns the code while the teardown has yet to run, the
    teardown holds none of its pipes (stdio to /dev/null), and `exit-code` is written."""
    proc, done = _run_harness(tmp_path, "e", exit_first=True)
    assert proc.returncode == 7
    assert (proc.stdout, proc.stderr) == ("to stdout\n", "to stderr\n")  # echoed before
    deadline = time.monotonic() + 10
    while not Path(f"{done}.caller").exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert Path(f"{done}.caller").read_text() == "7 torn-down-already=False"
    _, *fds = done.read_text().splitlines()
    assert fds[:3] == ["/dev/null"] * 3, fds
    assert (tmp_path / relay.EXIT_CODE_FILE).read_text() == "7"


def test_a_teardown_that_cannot_be_exec_d_is_one_line_and_125(tmp_path: Path) -> None:
    script = (f"import os, sys; sys.path.insert(0, {str(Path(relay.__file__).parent.parent)!r})\n"
              "from runtime import relay\n"
              "r, w = os.pipe(); os.close(w); os.set_inheritable(r, True)\n"
              "pid = os.fork()\n"
              "if pid == 0: os._exit(0)\n"
              f"argv = relay.command(sys.executable, {str(tmp_path / 'log')!r}, pid, r, r, '', "
              f"[{str(tmp_path / 'missing')!r}])\n"
              "os.execv(argv[0], argv)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 125
    assert proc.stderr.startswith("isobench: container monitor: ")
    assert "teardown" in proc.stderr and "missing" in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr


def test_the_teardown_command_runs_this_tree_whatever_the_working_directory() -> None:
    argv = relay.teardown_command("/root-dir", "abc")
    assert argv[:2] == [sys.executable, "-P"]  # no working directory on sys.path
    assert argv[-3:] == [str(Path(relay.__file__).parent.parent), "/root-dir", "abc"]
