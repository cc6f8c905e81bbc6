"""Which code wrote a results file: the git commit of the checkout this package runs from.
Here, in the leaf package, so the bench (the machine block) and the CLI (`--version`) share
it."""

from __future__ import annotations

import subprocess
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


def checkout_commit(checkout: Path = CHECKOUT) -> str | None:
    """The short commit of `checkout` when it is a git checkout (.git is a directory, or a
    file in a worktree); None for an installed copy or where git cannot answer."""
    if not (checkout / ".git").exists():
        return None
    try:
        proc = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):  # no git on this host
        return None
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and commit else None
