"""The environment bench gives the `isobench` children it times (startup.cli) and uses."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.workloads.common import cli_env


def test_bench_runs_the_cli_itself_even_where_a_daemon_serves(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """startup.cli's figure is the CLI's own start: a user's `isobench daemon` for the same
    root must not serve it (ISOBENCH_DAEMON=0), and the session's root is the one seen."""
    monkeypatch.setenv("ISOBENCH_DAEMON", "1")
    env = cli_env(SimpleNamespace(root=Path("/tmp/some-root")))  # type: ignore[arg-type]
    assert env["ISOBENCH_DAEMON"] == "0" and env["ISOBENCH_ROOT"] == "/tmp/some-root"
