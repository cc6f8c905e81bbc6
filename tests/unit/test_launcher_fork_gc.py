"""runtime/launcher.py's children never collect the caller's garbage.

Found in a real session: the bench process held a libvirt domain in a reference cycle; a
container's monitor, forked after it, collected the cycle, and the domain's __del__ called
libvirt over a descriptor the monitor had closed: poll() spun at 100 % CPU and the container
was never reaped (tests/integration/test_bench.py's orchestration session timed out)."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator

import pytest

from runtime import launcher


class Collected:
    """A cycle whose finalizer tells, through a pipe, which process collected it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.me = self

    def __del__(self) -> None:
        os.write(self.fd, f"{os.getpid()}\n".encode())


@pytest.fixture
def no_collection() -> Iterator[None]:
    """The parent keeps its garbage until the fork (as a busy process may)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
        gc.collect()


def collected_in_child(prepare: Callable[[], None]) -> list[int]:
    """The processes other than this one that ran the finalizer of this process's garbage,
    in a forked child that calls `prepare` and then collects."""
    r, w = os.pipe()
    Collected(w)  # unreachable at once: a cycle only the collector frees
    pid = os.fork()
    if pid == 0:
        try:
            prepare()
            gc.collect()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    gc.collect()  # the parent frees its own copy (its finalizer writes this pid)
    os.close(w)
    with os.fdopen(r) as f:
        pids = [int(line) for line in f.read().split()]
    assert os.getpid() in pids  # the cycle really was garbage here
    return [p for p in pids if p != os.getpid()]


def test_a_plain_child_collects_the_parents_cycle(no_collection: None) -> None:
    """The hazard is real: without the freeze, the child runs the parent's finalizer."""
    assert len(collected_in_child(lambda: None)) == 1


def test_a_forked_launcher_child_leaves_the_callers_objects_alone(no_collection: None) -> None:
    assert collected_in_child(launcher._forked) == []
