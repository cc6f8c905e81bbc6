"""One conversation with the guest's init over its channel socket: hand it the spec when it
says ready, relay its output as it comes, note the exit code. When the spec asks for several
repetitions, each one's marks and output are kept apart (`reps`), and `on_mark` is called as
each mark arrives, so the host can read its counters at that moment."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from typing import BinaryIO

from vm import protocol
from vm.protocol import Frame, FrameParser, GuestSpec, Mark

Clock = Callable[[], float]


class Repetition:
    """One run of the command inside the boot: its two marks and its own output."""

    def __init__(self, begin: Mark) -> None:
        self.begin = begin
        self.end: Mark | None = None
        self.out = bytearray()
        self.err = bytearray()


class GuestSession:
    def __init__(self, sock: socket.socket, spec: GuestSpec, *, stdout: BinaryIO | None = None,
                 stderr: BinaryIO | None = None, capture: bool = True,
                 clock: Clock = time.monotonic,
                 on_mark: Callable[[Mark], None] | None = None) -> None:
        self.sock = sock
        self.spec = spec
        self.sinks = {protocol.STDOUT: stdout, protocol.STDERR: stderr}
        self.capture = capture
        self.clock = clock
        self.parser = FrameParser()
        self.out = bytearray()
        self.err = bytearray()
        self.messages: list[str] = []
        self.ready_at: float | None = None
        self.guest_uptime_at_ready: float | None = None
        self.first_output_at: float | None = None
        self.exit_at: float | None = None
        self.exit_code: int | None = None
        self.failure: tuple[int, str] | None = None
        self.eof = False
        self.on_mark = on_mark
        self.reps: list[Repetition] = []

    @property
    def finished(self) -> bool:
        """The command ended (or never started), or the guest went away."""
        return self.exit_code is not None or self.failure is not None or self.eof

    def step(self, timeout: float) -> None:
        """Wait up to `timeout` for bytes and handle every frame they complete."""
        readable, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not readable:
            return
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, OSError):
            data = b""
        if not data:
            self.eof = True
            return
        for frame in self.parser.feed(data):
            self._handle(frame)

    def _handle(self, frame: Frame) -> None:
        now = self.clock()
        kind = frame.type
        if kind == protocol.READY:
            self.ready_at = now
            parts = frame.payload.split()
            try:
                self.guest_uptime_at_ready = float(parts[1])
            except (IndexError, ValueError):
                pass
            self.sock.sendall(self.spec.encode())
        elif kind in (protocol.STDOUT, protocol.STDERR):
            if self.first_output_at is None:
                self.first_output_at = now
            if self.capture:
                (self.out if kind == protocol.STDOUT else self.err).extend(frame.payload)
                if self.reps and self.reps[-1].end is None:
                    rep = self.reps[-1]
                    (rep.out if kind == protocol.STDOUT else rep.err).extend(frame.payload)
            sink = self.sinks[kind]
            if sink is not None:
                sink.write(frame.payload)
                sink.flush()
        elif kind == protocol.EXIT:
            self.exit_at = now
            self.exit_code = int(frame.payload or b"125")
        elif kind == protocol.FAILED:
            self.exit_at = now
            self.failure = protocol.parse_failure(frame.payload)
        elif kind in (protocol.BEGIN, protocol.END):
            self._mark(protocol.parse_mark(kind, frame.payload, now))
        elif kind == protocol.MESSAGE:
            self.messages.append(frame.payload.decode("utf-8", "replace"))

    def _mark(self, mark: Mark) -> None:
        if mark.kind == protocol.BEGIN:
            if mark.index != len(self.reps) or (self.reps and self.reps[-1].end is None):
                raise protocol.ProtocolError(f"repetition {mark.index} began out of order")
            self.reps.append(Repetition(mark))
        else:
            if not self.reps or self.reps[-1].end is not None or \
                    self.reps[-1].begin.index != mark.index:
                raise protocol.ProtocolError(f"repetition {mark.index} ended without beginning")
            self.reps[-1].end = mark
        if self.on_mark is not None:
            self.on_mark(mark)

    def ack(self) -> None:
        """Tell the init it may power off (the host has taken its end-of-run stats)."""
        try:
            self.sock.sendall(protocol.encode(protocol.ACK))
        except OSError:
            pass

    def wait_eof(self, timeout: float) -> bool:
        """Until QEMU closes the socket (it exited) or `timeout`; True on EOF."""
        deadline = self.clock() + timeout
        while not self.eof:
            left = deadline - self.clock()
            if left <= 0:
                return False
            self.step(left)
        return True
