"""Reading an untrusted text file of the project (compose file, .env) with a size bound."""

from __future__ import annotations

from pathlib import Path

from runtime.compose.errors import ComposeError
from runtime.fsutil import TextFileError, read_bounded_text


def read_bounded_utf8(path: Path, limit: int, shown: str) -> str:
    """The file's text; a ComposeError naming `shown` when it is over `limit` bytes or not
    UTF-8 (runtime.fsutil.read_bounded_text). OSError propagates."""
    try:
        return read_bounded_text(path, limit)
    except TextFileError as e:
        raise ComposeError(f"{shown}: {e}") from None
