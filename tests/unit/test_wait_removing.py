"""Runtime.wait on a --rm container whose PID 1 has exited: Docker's `wait` answers with the
exit code, so "removing" before the monitor wrote that code keeps waiting (runtime/removal.py)."""

from __future__ import annotations

import os

from runtime.containers import Container, ContainerConfig, ContainerState
from runtime.removal import REMOVING, wait_until


def record(status: str, code: int | None) -> Container:
    state = ContainerState(status=status, exit_code=code, monitor_pid=os.getpid(),
                           monitor_start=0)
    config = ContainerConfig(image="busybox", image_id=None, argv=["true"], env=[])
    return Container("c" * 64, "web", 0.0, config, state)


def test_removing_without_a_code_yet_waits_for_the_code() -> None:
    seen = iter([record(REMOVING, None), record(REMOVING, 3)])
    polled = []

    def get(cid: str) -> Container:
        polled.append(cid)
        return next(seen)

    assert wait_until(get, record(REMOVING, None), "not-running", timeout=5) == 3
    assert len(polled) == 2


def test_removing_with_its_code_returns_at_once() -> None:
    def get(cid: str) -> Container:
        raise AssertionError("no poll needed")

    assert wait_until(get, record(REMOVING, 7), "not-running", timeout=5) == 7
