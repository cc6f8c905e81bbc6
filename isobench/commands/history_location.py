"""Where the history database is (`--history`, ISOBENCH_HISTORY, the state root), opened
for the verbs that read or write it: history, compare --against-history, bench, report."""

from __future__ import annotations

import os
from typing import Any

from runtime.errors import IsobenchError

HISTORY_FILE = "history.sqlite"


class HistoryTrouble(IsobenchError):
    """A results.errors.ResultsError from the history, as the CLI's error type: exit 2."""

    exit_code = 2


def location(given: str | None) -> str:
    """--history, else ISOBENCH_HISTORY, else history.sqlite in the (secured) state root."""
    chosen = given or os.environ.get("ISOBENCH_HISTORY")
    if chosen:
        return chosen
    # only where the default is used: a postgresql:// history needs no state root
    from runtime.fsutil import state_root
    from runtime.private import secure_state

    root = state_root()
    secure_state(root)
    return str(root / HISTORY_FILE)


def open_store(given: str | None) -> Any:
    """The opened results.history.store.HistoryStore (a context manager)."""
    # start-up time: `isobench --help` and `history --help` register this module's users
    # without opening anything; results and a driver load when a history is opened
    from results.errors import ResultsError
    from results.history.store import HistoryStore

    try:
        return HistoryStore.open(location(given))
    except ResultsError as e:
        raise HistoryTrouble(str(e)) from None


