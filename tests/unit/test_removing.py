"""A --rm container between its exit and the end of its teardown ("removing"): how the
runtime's verbs see it. Records are real files in a temporary root; the "monitor" is this
process (alive), the command a process that has exited."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from runtime import relay
from runtime.api import Runtime
from runtime.containers import Container, ContainerConfig, process_start_time
from runtime.errors import Conflict, InvalidArgument, NotFound


@pytest.fixture
def rt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.setenv("ISOBENCH_CGROUP_PARENT", "isobench-unit-removing-absent")
    return Runtime(tmp_path)


def _exited_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def put(rt: Runtime, name: str, auto_remove: bool = True, code: int | None = 6) -> Container:
    """A running record whose command has exited and whose monitor (we) is alive."""
    cid = hashlib.sha256(name.encode()).hexdigest()
    c = Container(id=cid, name=name, created=1.0,
                  config=ContainerConfig(image="busybox", image_id=None, argv=["true"], env=[],
                                         auto_remove=auto_remove),
                  cgroup=f"isobench-unit-removing-absent/{cid}")
    c.state.status = "running"
    c.state.pid, c.state.pid_start = _exited_pid(), 1
    c.state.monitor_pid = os.getpid()
    c.state.monitor_start = process_start_time(c.state.monitor_pid)
    rt.containers.path(cid).mkdir(parents=True)
    rt.containers.reserve_name(name, cid)
    rt.containers.save(c, create=True)
    if code is not None:
        (rt.containers.path(cid) / relay.EXIT_CODE_FILE).write_text(str(code))
    return c


def _remove_later(rt: Runtime, c: Container, after_s: float = 0.1) -> threading.Thread:
    t = threading.Timer(after_s, lambda: rt.containers.remove(c))
    t.start()
    return t


def test_a_rm_container_whose_command_exited_is_removing_with_its_code(rt: Runtime) -> None:
    put(rt, "gone")
    c = rt.get("gone")
    assert (c.state.status, c.state.exit_code) == ("removing", 6)
    assert rt.inspect("gone")["State"]["Running"] is False
    assert rt.list() == [] and [x.name for x in rt.list(all_=True)] == ["gone"]


def test_without_rm_it_stays_running_until_its_monitor_records_the_exit(rt: Runtime) -> None:
    put(rt, "kept", auto_remove=False)
    assert rt.get("kept").state.status == "running"


def test_rm_of_a_removing_one_says_the_removal_is_in_progress(rt: Runtime) -> None:
    put(rt, "gone")
    for force in (False, True):
        with pytest.raises(Conflict, match="removal of container gone is already in progress"):
            rt.remove("gone", force=force)
    assert rt.get("gone").state.status == "removing"  # untouched


def test_wait_not_running_returns_at_once_and_removed_when_it_is_gone(rt: Runtime) -> None:
    c = put(rt, "gone")
    assert rt.wait("gone") == 6
    t0 = time.monotonic()
    timer = _remove_later(rt, c)
    assert rt.wait("gone", condition="removed") == 6
    assert time.monotonic() - t0 >= 0.1
    timer.join()
    with pytest.raises(NotFound):
        rt.wait("gone", condition="removed")
    with pytest.raises(InvalidArgument, match="invalid condition"):
        rt.wait("x", condition="next-exit")


def test_a_name_being_removed_is_taken_once_free(rt: Runtime) -> None:
    c = put(rt, "again")
    timer = _remove_later(rt, c)
    assert rt._reserve_name("again", "b" * 64) == "again"
    timer.join()
    put(rt, "held", auto_remove=False)  # a live one's name is a conflict at once
    t0 = time.monotonic()
    with pytest.raises(Conflict, match='The container name "/held" is already in use'):
        rt._reserve_name("held", "c" * 64)
    assert time.monotonic() - t0 < 1


def test_network_rm_waits_for_the_removals_under_way(rt: Runtime) -> None:
    c = put(rt, "gone")
    timer = _remove_later(rt, c)
    t0 = time.monotonic()
    with pytest.raises(NotFound):
        rt.remove_network("nonet")  # asked only once nothing is being removed
    assert time.monotonic() - t0 >= 0.1
    timer.join()
