"""Log tailing and compose's prefixes (runtime.compose.project)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

from runtime.compose.project import LogPrinter, LogTail


def test_log_tail_joins_partial_lines_and_keeps_streams_apart(tmp_path: Path) -> None:
    rt = SimpleNamespace(containers=SimpleNamespace(path=lambda cid: tmp_path))
    log = tmp_path / "log.json"

    def put(stream: str, text: str, t: float) -> None:
        with open(log, "a") as f:
            f.write(json.dumps({"log": text, "stream": stream, "time": t}) + "\n")

    tail = LogTail(rt, SimpleNamespace(id="x"))  # type: ignore[arg-type]
    assert tail.read() == []
    put("stdout", "one\ntw", 1.0)
    put("stderr", "err\n", 2.0)
    assert tail.read() == [(1.0, "stdout", b"one\n"), (2.0, "stderr", b"err\n")]
    put("stdout", "o\nthree", 3.0)
    with open(log, "a") as f:
        f.write('{"log": "half a rec')  # the writer is mid-record: not read yet
    assert tail.read() == [(3.0, "stdout", b"two\n")]
    assert [(s, line) for _, s, line in tail.flush()] == [("stdout", b"three\n")]


def test_log_prefixes_are_padded_like_compose() -> None:
    out, err = io.BytesIO(), io.BytesIO()
    printer = LogPrinter(["web-1", "client-1"], out, err)
    printer.write("web-1", "stdout", b"hello\n")
    printer.write("client-1", "stderr", b"oops\n")
    assert out.getvalue() == b"web-1     | hello\n"
    assert err.getvalue() == b"client-1  | oops\n"
    single = io.BytesIO()
    LogPrinter(["web-1"], single, err).write("web-1", "stdout", b"x\n")
    assert single.getvalue() == b"web-1  | x\n"
