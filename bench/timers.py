"""When a command's first output arrived: the three ways the benchmark watches for it.

    communicate_timed  a child's stdout pipe (runc run, a native process)
    StdoutTimer        our own fd 1, which an attached container's monitor inherits
    FirstOutput        the VM driver's stdout sink (the guest's command, over its channel)

Every time is time.perf_counter(), so it can be subtracted from the caller's launch time.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO


def communicate_timed(proc: subprocess.Popen[bytes], timeout: float,
                      kill: Callable[[], None]) -> tuple[str, str, float | None, bool]:
    """communicate() that also notes when stdout's first byte arrived (perf_counter):
    (stdout, stderr, first byte or None, timed out)."""
    streams: dict[IO[bytes], bytearray] = {}
    sel = selectors.DefaultSelector()
    for f in (proc.stdout, proc.stderr):
        if f is not None:
            streams[f] = bytearray()
            sel.register(f, selectors.EVENT_READ)
    first: float | None = None
    deadline = time.monotonic() + timeout
    timed_out = False
    with sel:
        while sel.get_map():
            left = None if timed_out else deadline - time.monotonic()
            if left is not None and left <= 0:
                kill()  # the pipes close when it is gone
                timed_out, left = True, None
            for key, _ in sel.select(left):
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                if first is None and key.fileobj is proc.stdout:
                    first = time.perf_counter()
                streams[key.fileobj] += data  # type: ignore[index]
    proc.wait()
    out = streams.get(proc.stdout, b"") if proc.stdout else b""  # type: ignore[call-overload]
    err = streams.get(proc.stderr, b"") if proc.stderr else b""  # type: ignore[call-overload]
    return (bytes(out).decode(errors="replace"), bytes(err).decode(errors="replace"), first,
            timed_out)


class StdoutTimer:
    """fd 1 on a pipe for the duration: an attached container's monitor (a child that
    inherits fd 1) relays the command's stdout there, and a thread notes when its first
    byte arrives. The harness itself writes to stderr only."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.data = bytearray()

    def __enter__(self) -> StdoutTimer:
        sys.stdout.flush()
        self._r, w = os.pipe()
        self._saved = os.dup(1)
        os.dup2(w, 1)
        os.close(w)
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()
        return self

    def _drain(self) -> None:
        try:
            while data := os.read(self._r, 65536):
                if self.first is None:
                    self.first = time.perf_counter()
                self.data += data[:4096 - len(self.data)]
        finally:
            os.close(self._r)

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()
        os.dup2(self._saved, 1)  # our last copy of the write end goes: EOF once the
        os.close(self._saved)    # monitor (gone by now) has closed its own
        self._thread.join(10)


class FirstOutput:
    """The VM driver's stdout sink: notes when the guest's command first wrote."""

    def __init__(self) -> None:
        self.at: float | None = None
        self.event = threading.Event()

    def write(self, data: bytes) -> int:
        if self.at is None and data:
            self.at = time.perf_counter()
            self.event.set()
        return len(data)

    def flush(self) -> None:
        pass
