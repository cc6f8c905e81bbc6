"""Connecting to QEMU's guest-channel unix socket: it exists only once QEMU is listening, so
retry until it does, a deadline passes, or (when the caller can tell) QEMU has exited."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from vm.request import VmError


def connect(path: Path, timeout_s: float, poll_s: float, failure: str,
            exited: Callable[[], str | None] | None = None) -> socket.socket:
    """A connected socket on `path`. Past `timeout_s`, VmError "`failure` PATH: ERRNO-TEXT";
    if `exited()` says why QEMU is gone first, VmError with that reason (waiting on is useless)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if exited is not None:
            why = exited()
            if why is not None:
                raise VmError(why)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return sock
        except OSError as e:
            sock.close()
            if time.monotonic() >= deadline:
                raise VmError(f"{failure} {path}: {e.strerror}") from None
            time.sleep(poll_s)
