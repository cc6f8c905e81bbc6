"""`isobench --version`: the installed distribution's version and, when this package runs
from a git checkout (an editable install, `python -m isobench` in a clone), the commit, so a
results file's tool version can be traced to the code that wrote it."""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

DISTRIBUTION = "isobench"
CHECKOUT = Path(__file__).resolve().parent.parent


def package_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # imported from a clone that was never installed
        return "unknown"


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


def version_line() -> str:
    commit = checkout_commit()
    suffix = f" (commit {commit})" if commit else ""
    return f"isobench {package_version()}{suffix}"
