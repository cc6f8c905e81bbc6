"""Waiting on a container's end and on its removal, and removing what a record that no longer
parses leaves behind: the helpers behind Runtime's wait, kill, stop and rm."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable

from runtime.cgroups import Cgroup, CgroupFactory
from runtime.containers import ACTIVE, Container, ContainerStore, is_alive
from runtime.errors import Conflict, NotFound
from runtime.fsutil import CorruptState
from runtime.network import NetworkStore

REMOVAL_WAIT_S = 10.0  # how long a name, network, volume or image waits for a "removing" one
REMOVING = "removing"  # Docker's status while a --rm container's teardown runs
WAIT_CONDITIONS = ("not-running", "removed")


def await_removal(find: Callable[[], list[Container]]) -> bool:
    """Wait (REMOVAL_WAIT_S at most) until no container `find()` returns is "removing"; False
    when none was, or `find` raises NotFound (the container it looks for is gone)."""
    deadline = time.monotonic() + REMOVAL_WAIT_S
    waited = False
    while time.monotonic() < deadline:
        try:
            found = find()
        except NotFound:
            return waited
        if not any(c.state.status == REMOVING for c in found):
            return waited
        waited = True
        time.sleep(0.005)
    return waited


def wait_finished(c: Container, timeout: float) -> bool:
    """Until the monitor has recorded the exit and gone (so nothing writes after us)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(c.state.monitor_pid, c.state.monitor_start):
            return True
        time.sleep(0.005)
    return False


def reap(c: Container, cg: Cgroup, timeout: float) -> None:
    """After a kill: until the monitor has gone, with one more SIGKILL to every process of the
    cgroup if it outlives `timeout` (a run that began as the kill was on its way)."""
    if not wait_finished(c, timeout):
        cg.kill()
        wait_finished(c, timeout)


def wait_until(get: Callable[[str], Container], c: Container, condition: str,
               timeout: float | None) -> int | None:
    """Runtime.wait's loop: poll `c` (through `get`) until `condition` holds; its exit code
    (None on timeout, or when nobody recorded one)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    code = c.state.exit_code
    while True:
        # "removing" before its code is written (PID 1 exited, its relay not yet done
        # reaping it) is not the end yet: the code follows in a moment, or the record goes
        reported = c.state.status != REMOVING or code is not None
        if condition == "not-running" and reported and (
                c.state.status == REMOVING or c.state.status not in ACTIVE
                or not is_alive(c.state.monitor_pid, c.state.monitor_start)):
            return code
        if deadline is not None and time.monotonic() > deadline:
            return None
        time.sleep(0.01)
        try:
            c = get(c.id)
        except NotFound:  # removed: the last code seen ("removing" shows it)
            return code
        code = c.state.exit_code if c.state.exit_code is not None else code


def remove_unreadable(containers: ContainerStore, cgroups: CgroupFactory, networks: NetworkStore,
                      cid: str, err: CorruptState) -> None:
    """`rm -f` of a record that does not parse: what its id alone finds (its processes
    and cgroup, its network endpoints, names pointing at it, its directory) goes,
    unless a live monitor or start holds it."""
    lock = containers.hold(cid, wait=False)
    if lock is None:
        raise Conflict(f"{err}: in use by a running monitor", 1)
    try:
        cgroups.child(cid).destroy()  # kills what is left first
        for net in networks.list():
            if cid in net.endpoints:
                networks.detach(net.name, cid)
        names = containers.names_dir
        for link in names.iterdir() if names.is_dir() else []:
            containers.release_name(link.name, cid)
        shutil.rmtree(containers.path(cid), ignore_errors=True)
    finally:
        os.close(lock)
