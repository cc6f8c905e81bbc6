"""The one error the results package raises.

results/ imports no other package of isobench, so this is not runtime's IsobenchError: each
command turns it into its own exit code (`isobench compare` 2, `bench --resume` 125, a report
1) and prints the same one line.
"""

from __future__ import annotations

from typing import Any


class ResultsError(ValueError):
    """A results file or document that cannot be read, validated, migrated or compared.
    The message fits on one line."""


class UnknownSchemaVersion(ResultsError):
    """A `schema_version` this code has no migration from: newer, unknown or missing."""

    def __init__(self, version: Any, current: int) -> None:
        self.version = version
        self.current = current
        super().__init__(f"unknown schema_version {self.shown} (this isobench reads {current})")

    @property
    def shown(self) -> str:
        return "missing" if self.version is None else repr(self.version)
