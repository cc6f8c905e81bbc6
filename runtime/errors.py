"""Errors that the CLI turns into one line on stderr and Docker's exit code."""

from __future__ import annotations

# Docker's exit codes for failures of the runtime itself.
EXIT_RUNTIME = 125      # the runtime could not do what was asked
EXIT_CANNOT_EXEC = 126  # the command exists but cannot be executed
EXIT_NOT_FOUND = 127    # the command does not exist
EXIT_KILLED = 137       # SIGKILL, including the OOM killer's


class IsobenchError(Exception):
    """A failure with a user-facing one-line message and an exit code."""

    exit_code = EXIT_RUNTIME

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class NotFound(IsobenchError):
    """No such image, container, volume or network (Docker answers these with 1 or 125)."""


class Conflict(IsobenchError):
    """A name in use, a running container removed without -f, and the like."""


class InvalidArgument(IsobenchError):
    """A flag or value that does not parse; Docker exits 125 for these on `run`."""
