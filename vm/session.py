"""One conversation with the guest's init over its channel socket: hand it the spec when it
says ready, relay its output as it comes, note the exit code."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from typing import BinaryIO

from vm import protocol
from vm.protocol import Frame, FrameParser, GuestSpec

Clock = Callable[[], float]


class GuestSession:
    def __init__(self, sock: socket.socket, spec: GuestSpec, *, stdout: BinaryIO | None = None,
                 stderr: BinaryIO | None = None, capture: bool = True,
                 clock: Clock = time.monotonic) -> None:
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
        elif kind == protocol.MESSAGE:
            self.messages.append(frame.payload.decode("utf-8", "replace"))

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
