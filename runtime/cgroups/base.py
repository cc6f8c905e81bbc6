"""The backend-neutral cgroup interface, normalized stats, and cgroupfs file helpers."""

from __future__ import annotations

import errno
import os
import signal
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from runtime.cgroups.devices import DeviceRule
from runtime.limits import Limits

DESTROY_RETRY_S = 1.0
KILL_TIMEOUT_S = 5.0
FREEZE_TIMEOUT_S = 2.0
POLL_S = 0.01


class CgroupError(OSError):
    """A cgroup operation failed; str() is one line naming the file or controller."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.errno = code

    @classmethod
    def from_os(cls, exc: OSError, action: str) -> CgroupError:
        return cls(f"{action}: {exc.strerror}", exc.errno)


@dataclass
class CgroupStats:
    """Usage counters, the same meaning on v1 and v2; None where the host does not provide one."""

    cpu_total_ns: int | None = None
    cpu_user_ns: int | None = None
    cpu_system_ns: int | None = None
    memory_current: int | None = None
    memory_peak: int | None = None
    memory_anon: int | None = None
    memory_file: int | None = None
    io_read_bytes: int | None = None
    io_write_bytes: int | None = None
    io_read_ops: int | None = None
    io_write_ops: int | None = None
    pids_current: int | None = None
    oom_kills: int | None = None

    def to_dict(self) -> dict[str, int | None]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CgroupStats:
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})


def parse_flat_keyed(text: str) -> dict[str, int]:
    """'key value' lines (memory.stat, cpu.stat, memory.events, oom_control) -> dict."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def read_text(path: str) -> str | None:
    """A cgroup file's contents, or None when it is absent or unreadable."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def read_int(path: str) -> int | None:
    text = read_text(path)
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def read_keyed(path: str) -> dict[str, int] | None:
    text = read_text(path)
    return None if text is None else parse_flat_keyed(text)


def write_text(path: str, data: str, append: bool = False) -> None:
    """One write(2), as the kernel parses one value per write.

    `append` is for files holding one rule per device (blkio throttle, io.max): on cgroupfs it
    changes nothing, on a plain file (unit tests) it keeps every rule written.
    """
    flags = os.O_WRONLY | (os.O_APPEND if append else os.O_TRUNC)
    try:
        fd = os.open(path, flags)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        raise CgroupError.from_os(exc, f"cannot write {data.strip()!r} to {path}") from None


def make_dir(path: str) -> None:
    try:
        os.mkdir(path)
    except FileExistsError:
        pass
    except OSError as exc:
        raise CgroupError.from_os(exc, f"cannot create cgroup {path}") from None


def read_pids(path: str) -> list[int]:
    text = read_text(path)
    return [] if text is None else [int(p) for p in text.split()]


def wait_for(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def remove_tree(path: str) -> None:
    """rmdir a cgroup and its children bottom-up; retry EBUSY (dying tasks) for ~1 s."""
    if not os.path.isdir(path):
        return
    dirs = [root for root, _, _ in os.walk(path, topdown=False)]
    deadline = time.monotonic() + DESTROY_RETRY_S
    for d in dirs:
        while True:
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError as exc:
                if exc.errno != errno.EBUSY or time.monotonic() >= deadline:
                    raise CgroupError.from_os(exc, f"cannot remove cgroup {d}") from None
                time.sleep(POLL_S)


class Cgroup(ABC):
    """One cgroup (a directory per hierarchy), runc Manager style: v1 and v2 behind one API."""

    def __init__(self, name: str) -> None:
        self.name = name.strip("/")
        if not self.name or ".." in self.name.split("/"):
            raise CgroupError(f"invalid cgroup name: {name!r}")

    @abstractmethod
    def paths(self) -> dict[str, str]:
        """Controller (or 'unified') -> absolute directory of this cgroup."""

    @abstractmethod
    def procs_paths(self) -> list[str]:
        """Every cgroup.procs file a process must be written to, one per hierarchy."""

    @abstractmethod
    def create(self) -> None: ...

    @abstractmethod
    def set_limits(self, limits: Limits) -> None: ...

    @abstractmethod
    def stats(self) -> CgroupStats: ...

    @abstractmethod
    def set_devices(self, rules: tuple[DeviceRule, ...]) -> bool:
        """Allow only `rules` (devices.ALLOW_ALL for --privileged); True when enforced."""

    @abstractmethod
    def freeze(self) -> None: ...

    @abstractmethod
    def thaw(self) -> None: ...

    def add_pid(self, pid: int) -> None:
        """Move `pid` (0: the calling process) in; cheap enough for a child right after fork."""
        data = str(pid).encode()
        for path in self.procs_paths():
            try:
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise CgroupError.from_os(exc, f"cannot add pid {pid} to {path}") from None

    def pids(self) -> list[int]:
        """Sorted pids found in any of this cgroup's hierarchies."""
        found: set[int] = set()
        for path in self.procs_paths():
            found.update(read_pids(path))
        return sorted(found)

    def exists(self) -> bool:
        return any(os.path.isdir(p) for p in self.paths().values())

    def oom_kills(self) -> int:
        """Processes the OOM killer killed here; 0 where the host does not count them."""
        return self.stats().oom_kills or 0

    def kill(self) -> None:
        """SIGKILL every process, frozen first so none can fork away; wait until empty.
        A cgroup removed meanwhile (its owner tore it down as its last process exited) is
        as killed as it gets."""
        try:
            self._signal_loop()
        except CgroupError:
            if self.exists():
                raise

    def destroy(self) -> None:
        """Kill what is left and remove the directories; a missing cgroup is fine."""
        if not self.exists():
            return
        if self.pids():
            self.kill()
        for path in self.paths().values():
            remove_tree(path)

    def _can_freeze(self) -> bool:
        return True

    def _signal_loop(self) -> None:
        freeze = self._can_freeze()
        deadline = time.monotonic() + KILL_TIMEOUT_S
        while pids := self.pids():
            if time.monotonic() >= deadline:
                raise CgroupError(f"cgroup {self.name}: processes survived SIGKILL: {pids}")
            if freeze:
                self.freeze()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if freeze:
                self.thaw()
            # Killed tasks leave cgroup.procs once they finish exiting.
            wait_for(lambda: not self.pids(), 0.5)
