"""Container records on disk: containers/<id>/config.json, names/<name> -> id.

A record is written before any resource of the container exists, so whatever a
crash leaves behind can be found from it. Its directory also holds `.lock`, flock'ed by
the process that creates or starts the container and inherited by the container's
monitor: while anyone holds it, someone is still responsible for the container
(`isobench gc` leaves it alone); once it is free, nobody is.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import Conflict, InvalidArgument, NotFound
from runtime.fsutil import CorruptState, read_json, warn_corrupt, write_json

ACTIVE = ("running", "restarting")  # statuses with a monitor that answers for the container
CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")  # Docker's rule

# Docker-like generated names.
_ADJECTIVES = ("brave", "calm", "eager", "fond", "keen", "lucid", "merry", "quiet", "swift",
               "tender", "vivid", "witty", "zen", "bold", "cool", "sharp")
_NOUNS = ("turing", "hopper", "lovelace", "ritchie", "thompson", "torvalds", "knuth",
          "dijkstra", "liskov", "hamilton", "kay", "lamport", "shannon", "wirth")


@dataclass
class ContainerConfig:
    """What to run and how: everything `run`'s flags decide."""

    image: str                          # the reference as given, or "rootfs:DIR"
    image_id: str | None
    argv: list[str]                     # entrypoint + cmd, resolved
    env: list[str]
    workdir: str = "/"
    user: str = ""
    hostname: str = ""
    network: str = "none"
    limits: dict[str, Any] = field(default_factory=dict)
    auto_remove: bool = False
    readonly_rootfs: bool = False
    lower_dirs: list[str] = field(default_factory=list)
    binds: list[list[Any]] = field(default_factory=list)  # [host path, container path, ro]
    mounts: list[dict[str, Any]] = field(default_factory=list)  # volumes.MountSpec dicts
    anonymous_volumes: list[str] = field(default_factory=list)
    publish: list[dict[str, Any]] = field(default_factory=list)  # ports.PortMapping dicts
    labels: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)   # as given (Docker's inspect shows so)
    cap_drop: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)       # PATH[:OPTIONS]
    restart_policy: dict[str, Any] = field(default_factory=dict)  # options.RestartPolicy
    healthcheck: dict[str, Any] | None = None            # health.Healthcheck
    init: bool = False
    stop_signal: int = 15
    stop_timeout: float | None = None
    ulimits: list[list[Any]] = field(default_factory=list)  # [name, soft, hard]
    dns: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)  # HOST:IP


@dataclass
class ContainerState:
    status: str = "created"             # created | running | restarting | exited
    pid: int = 0                        # the container's PID 1, as the host sees it
    pid_start: int = 0                  # its start time in ticks, to detect pid reuse
    monitor_pid: int = 0
    monitor_start: int = 0
    exit_code: int | None = None
    oom_killed: bool = False
    error: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    stats: dict[str, Any] | None = None  # the cgroup's counters when the container exited
    monitor_cpu_s: float | None = None  # the monitor's own CPU, fork to teardown (outside
    #                                     the cgroup): a container's cost that stats leave out
    namespaces: dict[str, int] = field(default_factory=dict)
    ip: str = ""
    ports: list[dict[str, Any]] = field(default_factory=list)  # as bound on the host
    start_pending: bool = False         # a start is under way: set before any resource
    restart_count: int = 0              # restarts by the restart policy since the start
    health: dict[str, Any] | None = None  # health.HealthState while a check is configured


@dataclass
class Container:
    id: str
    name: str
    created: float
    config: ContainerConfig
    state: ContainerState = field(default_factory=ContainerState)
    cgroup: str = ""
    mounts: list[dict[str, str]] = field(default_factory=list)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Container:
        return cls(id=d["id"], name=d["name"], created=d["created"],
                   config=ContainerConfig(**d["config"]), state=ContainerState(**d["state"]),
                   cgroup=d.get("cgroup", ""), mounts=d.get("mounts", []))


def _stat_fields(pid: int) -> list[bytes]:
    """/proc/PID/stat after the command name: [state, ppid, ...]; [] when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return []


def process_start_time(pid: int) -> int:
    """Field 22 of /proc/PID/stat; 0 when the process is gone."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else 0


def is_alive(pid: int, start: int) -> bool:
    """The same process (not a reused pid) and not a zombie waiting for its reaper (a
    detached monitor's reaper is init, which may take its time)."""
    if pid <= 0 or start <= 0:
        return False
    fields = _stat_fields(pid)
    return bool(fields) and int(fields[19]) == start and fields[0] not in (b"Z", b"X")


REMOVED_PREFIX = ".removed-"  # a record on its way out: hidden from every listing


def _pick(words: tuple[str, ...] | list[str]) -> str:
    """random.choice over os.urandom: the random module costs ~1 ms of every `isobench run`'s
    imports (-X importtime, with bisect and _sha512); a modulo bias of < 1e-7 is harmless
    for a name."""
    return words[int.from_bytes(os.urandom(4), "little") % len(words)]


class ContainerStore:
    def __init__(self, root: Path) -> None:
        self.dir = root / "containers"
        self.names_dir = root / "containers" / ".names"

    def path(self, cid: str) -> Path:
        return self.dir / cid

    def lock_path(self, cid: str) -> Path:
        return self.path(cid) / ".lock"

    def hold(self, cid: str, wait: bool = True) -> int | None:
        """flock the record's .lock; the fd (inheritable by fork, not by exec) or None when
        another process holds it and `wait` is False, or when the record is gone."""
        try:
            fd = os.open(self.lock_path(cid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def is_held(self, cid: str) -> bool:
        """Whether someone holds the record's lock now (a monitor, a start). Never creates
        the lock file: a record being removed must not get one back."""
        try:
            fd = os.open(self.lock_path(cid), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def held(self) -> list[str]:
        """The records whose lock is held now."""
        return [p.name for p in (self.dir.iterdir() if self.dir.is_dir() else [])
                if not p.name.startswith(".") and self.is_held(p.name)]

    def new_id(self) -> str:
        # = secrets.token_hex(32), without importing secrets (and hmac/OpenSSL's
        # _hashlib with it): ~3 ms of `isobench run`'s imports (-X importtime)
        return os.urandom(32).hex()

    def reserve_name(self, name: str | None, cid: str) -> str:
        """Claim a name atomically (a symlink either is created or already exists), so two
        `run --name X` at once cannot both get it: the kernel decides, no lock needed."""
        if name is not None and not CONTAINER_NAME.match(name):
            raise InvalidArgument(f"Invalid container name ({name}), only "
                                  "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        self.names_dir.mkdir(parents=True, exist_ok=True)
        explicit = name is not None
        for _ in range(100):
            candidate = name if explicit else (
                f"{_pick(_ADJECTIVES)}_{_pick(_NOUNS)}")
            try:
                os.symlink(cid, self.names_dir / candidate)
                return candidate
            except FileExistsError:
                if explicit:
                    other = os.readlink(self.names_dir / candidate)[:12]
                    raise Conflict(f'Conflict. The container name "/{candidate}" is already in '
                                   f'use by container "{other}". You have to remove (or rename) '
                                   "that container to be able to reuse that name.") from None
        raise Conflict("could not generate a free container name")

    def release_name(self, name: str, cid: str) -> None:
        link = self.names_dir / name
        try:
            if os.readlink(link) == cid:
                link.unlink()
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise

    def save(self, c: Container, create: bool = False) -> None:
        """Write the record; never resurrect one that `rm` has removed meanwhile."""
        if not create and not self.path(c.id).is_dir():
            return
        write_json(self.path(c.id) / "config.json", c.to_dict(), durable=False)

    def load(self, cid: str) -> Container:
        """FileNotFoundError while a record is being created or removed; CorruptState for
        one that does not parse (writes are atomic, so only damage from outside does that)."""
        path = self.path(cid) / "config.json"
        data = read_json(path)
        try:
            return Container.from_dict(data)
        except (KeyError, TypeError, AttributeError) as e:
            raise CorruptState(path, f"container {cid[:12]}", e) from None

    def resolve(self, ref: str) -> Container:
        """By name, full id or unique id prefix, as Docker."""
        try:
            return self._load_named(os.readlink(self.names_dir / ref), ref)
        except OSError:
            pass
        if ref and all(c in "0123456789abcdef" for c in ref) and self.dir.exists():
            hits = [p.name for p in self.dir.iterdir() if p.name.startswith(ref)]
            if len(hits) == 1:
                try:
                    return self._load_named(hits[0], ref)
                except FileNotFoundError:
                    pass
        raise NotFound(f"No such container: {ref}", 1)

    def _load_named(self, cid: str, ref: str) -> Container:
        try:
            return self.load(cid)
        except ValueError as e:  # not JSON (a CorruptState from load passes as it is)
            raise CorruptState(self.path(cid) / "config.json", f"container {ref}", e) from None


    def list(self) -> list[Container]:
        found = []
        if not self.dir.exists():
            return found
        for entry in self.dir.iterdir():
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            try:
                found.append(self.load(entry.name))
            except OSError:
                continue  # being created or removed right now
            except (CorruptState, ValueError) as e:
                warn_corrupt(entry / "config.json", e)
                continue
        return sorted(found, key=lambda c: c.created, reverse=True)

    def remove(self, c: Container) -> None:
        """Release the name, then take the record out of sight in one rename before deleting
        it: rmtree removes `.lock` before the directory, so a reader would otherwise see a
        record with no lock, neither held nor gone (a `run --rm` census raced it)."""
        self.release_name(c.name, c.id)
        doomed = self.dir / f"{REMOVED_PREFIX}{c.id}"
        try:
            os.rename(self.path(c.id), doomed)
        except FileNotFoundError:
            return
        shutil.rmtree(doomed, ignore_errors=True)

    def removed_leftovers(self) -> list[Path]:
        """Records a removal renamed and did not finish deleting (it was killed midway)."""
        return sorted(self.dir.glob(f"{REMOVED_PREFIX}*")) if self.dir.is_dir() else []


def now() -> float:
    return time.time()
