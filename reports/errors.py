"""The one error the report generator raises: a one-line message and exit code 1.

reports/ imports nothing from runtime/, vm/ or bench/, so this is not an IsobenchError;
`isobench/commands/report.py` turns it into one, and the CLI prints `isobench: <message>`.
"""

from __future__ import annotations


class ReportError(Exception):
    """Bad input (a results file that cannot be read or trusted) or an output that cannot
    be written. The message names the file and fits on one line."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
