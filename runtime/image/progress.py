"""What a build tells whoever shows it: each step as it starts and ends, a RUN's output line
by line, the image written. The CLI renders it (BuildKit's plain or tty view, or nothing);
`Lines` keeps the builder's own one-line-a-step account for callers that want only that."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Protocol


class BuildProgress(Protocol):
    # RUN output reaches `output` only for a progress that wants it (captures_output);
    # otherwise the container writes to our stdout and stderr, as `run` does.
    captures_output: bool

    def step(self, index: int, total: int, text: str, cached: bool) -> None:
        """Step `index` of `total` starts (FROM is step 1); `cached`: it is a cache hit."""

    def output(self, index: int, line: str) -> None:
        """One line the step's command wrote (stdout and stderr as one stream)."""

    def done(self, index: int, seconds: float, cached: bool) -> None:
        """The step ended well: run, or taken from the cache."""

    def failed(self, index: int, message: str) -> None:
        """The step failed; the build raises BuildError with `message` next."""

    def wrote(self, image_id: str, tag: str | None) -> None:
        """The image is in the store (and tagged)."""


class _Unshown:
    """Every event ignored: the base of the progresses that show little or nothing."""

    captures_output = True

    def step(self, index: int, total: int, text: str, cached: bool) -> None:
        pass

    def output(self, index: int, line: str) -> None:
        pass

    def done(self, index: int, seconds: float, cached: bool) -> None:
        pass

    def failed(self, index: int, message: str) -> None:
        pass

    def wrote(self, image_id: str, tag: str | None) -> None:
        pass


class Silent(_Unshown):
    """Nothing shown, a RUN's output included (`build -q`, a build inside a measurement)."""


class Lines(_Unshown):
    """The builder's classic account: `[i/n] TEXT` (` CACHED`) and `writing image ...`."""

    captures_output = False

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out

    def step(self, index: int, total: int, text: str, cached: bool) -> None:
        self.out(f"[{index}/{total}] {text}" + (" CACHED" if cached else ""))

    def wrote(self, image_id: str, tag: str | None) -> None:
        self.out(f"writing image {image_id}" + (f" naming to {tag}" if tag else ""))


class OutputLines:
    """A pipe whose lines go to `sink` from a reader thread: the write end is what a RUN's
    container writes to. Leaving the block closes our write end and waits for the reader,
    which ends when the container's monitor, the last other writer, has exited."""

    def __init__(self, sink: Callable[[str], None]) -> None:
        self.sink = sink
        self.read_fd, self.write_fd = os.pipe()
        self.thread = threading.Thread(target=self._pump, daemon=True)

    def __enter__(self) -> int:
        self.thread.start()
        return self.write_fd

    def __exit__(self, *exc: object) -> None:
        os.close(self.write_fd)
        self.thread.join()

    def _pump(self) -> None:
        with os.fdopen(self.read_fd, "rb") as pipe:
            pending = b""
            while chunk := pipe.read1(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self.sink(_shown(line))
            if pending:
                self.sink(_shown(pending))


def _shown(line: bytes) -> str:
    """What a terminal would show of the line: a progress meter's carriage returns rewrite
    it, so the last rewrite."""
    return line.rstrip(b"\r").rpartition(b"\r")[2].decode(errors="replace")
