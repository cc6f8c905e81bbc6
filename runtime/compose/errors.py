"""The error of a compose file or project: one line, and docker compose's exit code."""

from __future__ import annotations

from runtime.errors import IsobenchError

EXIT_COMPOSE = 1  # docker compose's code for an invalid project


class ComposeError(IsobenchError):
    exit_code = EXIT_COMPOSE
