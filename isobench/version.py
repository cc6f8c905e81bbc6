"""`isobench --version`: the installed distribution's version and, when this package runs
from a git checkout (an editable install, `python -m isobench` in a clone), the commit, so a
results file's tool version can be traced to the code that wrote it."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from results.provenance import CHECKOUT, checkout_commit

DISTRIBUTION = "isobench"
__all__ = ["CHECKOUT", "checkout_commit", "package_version", "version_line"]


def package_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # imported from a clone that was never installed
        return "unknown"


def version_line() -> str:
    commit = checkout_commit()
    suffix = f" (commit {commit})" if commit else ""
    return f"isobench {package_version()}{suffix}"
