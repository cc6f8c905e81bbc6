"""Reading a container's log (log.json, one JSON entry a line, as the monitor writes it): its
entries so far, or, following, as they come until the container stops running."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path


def entries(path: Path, follow: bool, running: bool, still_running: Callable[[], bool],
            poll_s: float) -> Iterator[tuple[str, bytes]]:
    """(stream, bytes) of each entry in `path`. `follow` (`logs -f`): keep reading what is
    written until `still_running()` says no, then what is left, and stop; `running`: whether
    the container ran when asked (a log not created yet is then waited for)."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        if not follow or not running:
            return
        f = None
    pending = b""
    try:
        while True:
            if f is None:  # the monitor has not created the log yet
                try:
                    f = open(path, "rb")
                except FileNotFoundError:
                    pass
            chunk = f.read() if f is not None else b""
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    entry = json.loads(line)
                    yield entry["stream"], entry["log"].encode("utf-8", "surrogateescape")
            if chunk or not follow:
                if not follow:
                    return
                continue
            if not still_running():
                follow = False  # one more read: what was written before it ended
                continue
            time.sleep(poll_s)
    finally:
        if f is not None:
            f.close()

