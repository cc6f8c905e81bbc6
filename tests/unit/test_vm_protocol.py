"""The guest channel: framing, the spec, and a session against a fake guest on a socketpair."""

from __future__ import annotations

import io
import socket
import struct

import pytest

from vm import protocol
from vm.protocol import MAGIC, Frame, FrameParser, GuestSpec, ProtocolError, encode
from vm.session import GuestSession


def guest_stream(*frames: tuple[bytes, bytes], noise: bytes = b"\xff\x00junk") -> bytes:
    return noise + MAGIC + b"".join(encode(k, p) for k, p in frames)


STREAM = guest_stream((b"R", b"1 4.25"), (b"O", b"hello\n"), (b"E", b"oops\n"),
                      (b"O", b""), (b"X", b"3"))
EXPECTED = [Frame(b"R", b"1 4.25"), Frame(b"O", b"hello\n"), Frame(b"E", b"oops\n"),
            Frame(b"O", b""), Frame(b"X", b"3")]


@pytest.mark.parametrize("chunk", [1, 2, 5, 11, 4096])
def test_any_chunking_gives_the_same_frames(chunk: int) -> None:
    parser = FrameParser()
    frames = []
    for i in range(0, len(STREAM), chunk):
        frames += list(parser.feed(STREAM[i:i + chunk]))
    assert frames == EXPECTED
    assert parser.skipped == len(b"\xff\x00junk") and parser.pending == 0


def test_bytes_before_magic_are_never_output() -> None:
    # Kernel-like text on the line before the init speaks must not reach stdout.
    parser = FrameParser()
    assert list(parser.feed(b"[    0.1] Linux version 6.1\r\nO\x00\x00\x00\x01x")) == []
    assert not parser.synced
    assert list(parser.feed(MAGIC + encode(b"O", b"real"))) == [Frame(b"O", b"real")]


def test_payload_may_contain_magic_and_binary() -> None:
    payload = MAGIC + bytes(range(256))
    parser = FrameParser()
    assert list(parser.feed(guest_stream((b"O", payload)))) == [Frame(b"O", payload)]


def test_oversized_frame_is_refused() -> None:
    parser = FrameParser()
    with pytest.raises(ProtocolError):
        list(parser.feed(MAGIC + struct.pack(">cI", b"O", protocol.MAX_PAYLOAD + 1)))


def test_spec_round_trip() -> None:
    spec = GuestSpec(argv=["sh", "-c", "echo 'a b' $HOME", ""], env=["A=1", "B=x=y", "Ü=ü"],
                     workdir="/srv/app", uid=1000, gid=100, groups=(100, 27),
                     hostname="h1", address="10.0.2.15/24")
    data = spec.encode()
    kind, length = struct.unpack(">cI", data[:5])
    assert kind == protocol.SPEC and length == len(data) - 5
    assert GuestSpec.decode(data[5:]) == spec


def test_spec_refuses_nul() -> None:
    with pytest.raises(ValueError, match="NUL"):
        GuestSpec(argv=["a\0b"], env=[]).encode()


@pytest.mark.parametrize("payload, expected", [
    (b'127\texec: "nope": executable file not found in $PATH',
     (127, 'exec: "nope": executable file not found in $PATH')),
    (b"garbage", (125, "garbage")),
])
def test_parse_failure(payload: bytes, expected: tuple[int, str]) -> None:
    assert protocol.parse_failure(payload) == expected


def test_session_against_a_fake_guest() -> None:
    host_end, guest_end = socket.socketpair()
    out, err = io.BytesIO(), io.BytesIO()
    spec = GuestSpec(argv=["echo", "hi"], env=["PATH=/bin"])
    session = GuestSession(host_end, spec, stdout=out, stderr=err)
    guest_end.sendall(b"noise" + MAGIC + encode(b"R", b"1 3.5"))
    session.step(1.0)
    assert session.ready_at is not None and session.guest_uptime_at_ready == 3.5
    sent = guest_end.recv(65536)
    assert GuestSpec.decode(sent[5:]) == spec  # the spec goes down only after READY
    guest_end.sendall(encode(b"O", b"hi\n") + encode(b"M", b"note") + encode(b"E", b"e")
                      + encode(b"X", b"0"))
    while not session.finished:
        session.step(1.0)
    assert (out.getvalue(), err.getvalue(), session.exit_code) == (b"hi\n", b"e", 0)
    assert bytes(session.out) == b"hi\n" and session.messages == ["note"]
    session.ack()
    assert guest_end.recv(16) == encode(protocol.ACK)
    guest_end.close()
    assert session.wait_eof(1.0)
    host_end.close()


def test_session_reports_a_command_that_never_started() -> None:
    host_end, guest_end = socket.socketpair()
    session = GuestSession(host_end, GuestSpec(argv=["x"], env=[]), capture=False)
    guest_end.sendall(MAGIC + encode(b"F", b"127\texec: \"x\": not found"))
    session.step(1.0)
    assert session.finished and session.failure == (127, 'exec: "x": not found')
    guest_end.close()
    host_end.close()


def test_session_notices_a_guest_that_went_away() -> None:
    host_end, guest_end = socket.socketpair()
    session = GuestSession(host_end, GuestSpec(argv=["x"], env=[]))
    guest_end.close()
    session.step(1.0)
    assert session.finished and session.eof and session.exit_code is None
    host_end.close()
