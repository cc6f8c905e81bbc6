"""Reading an untrusted text file of the project (compose file, .env) with a size bound."""

from __future__ import annotations

from pathlib import Path

from runtime.compose.errors import ComposeError


def read_bounded_utf8(path: Path, limit: int, shown: str) -> str:
    """The file's text; a ComposeError when it is over `limit` bytes or not UTF-8 (only
    `limit` + 1 bytes are read, so a huge file costs nothing). OSError propagates."""
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ComposeError(f"{shown}: file is larger than {limit} bytes")
    try:
        return data.decode()
    except UnicodeDecodeError as e:
        raise ComposeError(f"{shown}: not UTF-8 text (byte {e.start})") from None
