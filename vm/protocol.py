"""The host side of the guest channel (see vm/shim.c): frames in both directions.

    type (1 byte) | length (4 bytes, big-endian) | payload

The guest starts with MAGIC; anything before it (a UART's power-on noise) is skipped, so
the parser is fed raw socket bytes and yields whole frames as they complete.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

MAGIC = b"\x1eISOBENCH1\x1e"
HEADER = struct.Struct(">cI")
MAX_PAYLOAD = 1 << 24

# guest -> host
READY, STDOUT, STDERR, MESSAGE, FAILED, EXIT = b"R", b"O", b"E", b"M", b"F", b"X"
# a repetition's marks: BEGIN "index uptime" before its fork, END "index code uptime" once its
# output is drained (the shim runs the command `repeat` times in one boot)
BEGIN, END = b"B", b"D"
# host -> guest
SPEC, ACK = b"S", b"K"


class ProtocolError(ValueError):
    """The channel carried something that is not a frame of ours."""


@dataclass(frozen=True)
class Frame:
    type: bytes
    payload: bytes


def encode(kind: bytes, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


class FrameParser:
    """Incremental: feed() any chunking of the stream, get the frames completed so far."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.synced = False
        self.skipped = 0  # bytes seen before MAGIC

    def feed(self, data: bytes) -> Iterator[Frame]:
        self._buf += data
        if not self.synced:
            at = self._buf.find(MAGIC)
            if at < 0:
                keep = len(MAGIC) - 1  # MAGIC may straddle two chunks
                drop = max(0, len(self._buf) - keep)
                self.skipped += drop
                del self._buf[:drop]
                return
            self.skipped += at
            del self._buf[:at + len(MAGIC)]
            self.synced = True
        while len(self._buf) >= HEADER.size:
            kind, length = HEADER.unpack_from(self._buf)
            if length > MAX_PAYLOAD:
                raise ProtocolError(f"frame of {length} bytes from the guest")
            if len(self._buf) < HEADER.size + length:
                return
            payload = bytes(self._buf[HEADER.size:HEADER.size + length])
            del self._buf[:HEADER.size + length]
            yield Frame(kind, payload)

    @property
    def pending(self) -> int:
        return len(self._buf)


@dataclass
class GuestSpec:
    """What the shim needs to run one command the way `isobench run` would."""

    argv: list[str]
    env: list[str]
    workdir: str = "/"
    uid: int = 0
    gid: int = 0
    groups: tuple[int, ...] = ()
    hostname: str = ""
    address: str = ""  # "10.0.2.15/24" when the guest has a NIC
    repeat: int = 1    # the command runs this many times, one after another, in one boot
    # run once before the first repetition's mark, outside every window (a scratch disk's
    # mkfs); a non-zero exit fails the run with exit code 125
    prepare: list[str] = field(default_factory=list)

    def encode(self) -> bytes:
        """key\\0value\\0 records; NUL cannot occur in argv or env, so no escaping is needed."""
        records: list[tuple[str, str]] = [("arg", a) for a in self.argv]
        records += [("env", e) for e in self.env]
        records += [("prep", a) for a in self.prepare]
        records += [("uid", str(self.uid)), ("gid", str(self.gid)), ("workdir", self.workdir)]
        records += [("group", str(g)) for g in self.groups]
        if self.hostname:
            records.append(("hostname", self.hostname))
        if self.address:
            records.append(("address", self.address))
        if self.repeat != 1:
            records.append(("repeat", str(self.repeat)))
        out = bytearray()
        for key, value in records:
            raw = value.encode("utf-8", "surrogateescape")
            if b"\0" in raw:
                raise ValueError(f"{key} contains a NUL byte: {value!r}")
            out += key.encode() + b"\0" + raw + b"\0"
        return encode(SPEC, bytes(out))

    @classmethod
    def decode(cls, payload: bytes) -> GuestSpec:
        """The inverse of encode()'s payload (the shim's parser, for tests)."""
        parts = payload.split(b"\0")
        spec = cls(argv=[], env=[])
        groups: list[int] = []
        for key, raw in zip(parts[0::2], parts[1::2], strict=False):
            value = raw.decode("utf-8", "surrogateescape")
            match key:
                case b"arg":
                    spec.argv.append(value)
                case b"env":
                    spec.env.append(value)
                case b"prep":
                    spec.prepare.append(value)
                case b"uid":
                    spec.uid = int(value)
                case b"gid":
                    spec.gid = int(value)
                case b"group":
                    groups.append(int(value))
                case b"workdir":
                    spec.workdir = value
                case b"hostname":
                    spec.hostname = value
                case b"address":
                    spec.address = value
                case b"repeat":
                    spec.repeat = int(value)
        spec.groups = tuple(groups)
        return spec


def parse_failure(payload: bytes) -> tuple[int, str]:
    """An F frame: "code\\tmessage"."""
    code, _, message = payload.decode("utf-8", "replace").partition("\t")
    try:
        return int(code), message
    except ValueError:
        return 125, payload.decode("utf-8", "replace")


@dataclass(frozen=True)
class Mark:
    """A repetition's BEGIN or END frame, stamped with the host's clock when it arrived."""

    kind: bytes                 # BEGIN or END
    index: int                  # 0-based, in the order the guest ran them
    guest_s: float              # the guest's CLOCK_BOOTTIME when it wrote the frame
    exit_code: int | None       # END only
    at: float = 0.0             # host clock


def parse_mark(kind: bytes, payload: bytes, at: float = 0.0) -> Mark:
    """BEGIN "index uptime" or END "index code uptime"; ProtocolError for anything else."""
    parts = payload.decode("ascii", "replace").split()
    try:
        if kind == BEGIN and len(parts) == 2:
            return Mark(kind, int(parts[0]), float(parts[1]), None, at)
        if kind == END and len(parts) == 3:
            return Mark(kind, int(parts[0]), float(parts[2]), int(parts[1]), at)
    except ValueError:
        pass
    raise ProtocolError(f"bad repetition mark {kind!r} {payload!r}")
