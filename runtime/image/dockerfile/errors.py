"""The errors of every phase: `DockerfileError` for the caller, `Fail` inside the parser."""

from __future__ import annotations

from typing import Any


class DockerfileError(ValueError):
    """A Dockerfile Docker would refuse; `str()` is `PATH:LINE: message`, on one line."""

    def __init__(self, message: str, *, path: str = "Dockerfile", line: int = 0) -> None:
        message = message.replace("\r", "\\r").replace("\n", "\\n")
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def __str__(self) -> str:
        if self.path and self.line > 0:
            return f"{self.path}:{self.line}: {self.message}"
        if self.path:
            return f"{self.path}: {self.message}"
        return self.message

    def __reduce__(self) -> Any:
        return (_rebuild_error, (self.message, self.path, self.line))


def _rebuild_error(message: str, path: str, line: int) -> DockerfileError:
    return DockerfileError(message, path=path, line=line)


class Fail(Exception):
    """A message without a location yet: the caller adds path and line."""
