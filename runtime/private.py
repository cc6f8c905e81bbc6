"""Private state: only root may enter isobench's state root, run directory and cache.

Docker keeps /var/lib/docker at 0710 and container configs at 0600; libvirt keeps its
per-domain state root-only. Here the three top directories are 0700: nothing non-root has to
traverse them. The containers see their root through an overlay mounted by root (overlayfs
checks the lower and upper directories with the mounter's credentials), volumes through bind
mounts, and QEMU runs as root (vm/domain.py's `run_as_root` DAC label), so no other user
needs a path through the state root. Mode 0700 on the top directory is what protects
everything below it (layers included: an image's own /tmp stays 1777 inside its layer); the
files holding configuration, environment, logs and results are also written 0600/0640.

`secure_state()` runs at the start of every command that opens the state (Runtime and the VM
driver): it creates the directories 0700, tightens one that is looser, and refuses a
directory the user named (ISOBENCH_ROOT, ISOBENCH_RUN_DIR, ISOBENCH_CACHE) that others can
write into or that another user owns: what is already in such a tree cannot be trusted.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import EXIT_RUNTIME, IsobenchError

DEFAULT_RUN_DIR = "/run/isobench"
DEFAULT_CACHE = "/var/cache/isobench"
DIR_MODE = 0o700
FILE_MODE = 0o600
# the state root's own sub-directories, tightened with it (an old root has them 0755)
STATE_SUBDIRS = ("images", "layers", "containers", "volumes", "networks", "vm", "seccomp",
                 "cache", "logs", "runs", "tmp")


class UnsafeStateDir(IsobenchError):
    """A state directory the user named is writable by others or owned by another user."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_RUNTIME)


@dataclass(frozen=True)
class ModeFinding:
    """What secure_state() found at a path and did about it."""

    path: str
    found: int | None      # the mode found (permission bits); None: it did not exist
    now: int | None        # the mode left; None: still does not exist
    action: str            # "created", "tightened", "ok", "absent"

    def line(self) -> str:
        def fmt(m: int | None) -> str:
            return "-" if m is None else f"{m:04o}"
        if self.action == "tightened":
            return f"{self.path}: {fmt(self.found)} -> {fmt(self.now)} (tightened)"
        return f"{self.path}: {fmt(self.now)} ({self.action})"


def run_dir() -> Path:
    """ISOBENCH_RUN_DIR, or /run/isobench: runtime state of live instances (VM sockets)."""
    return Path(os.environ.get("ISOBENCH_RUN_DIR") or DEFAULT_RUN_DIR)


def cache_dir() -> Path:
    """ISOBENCH_CACHE, or /var/cache/isobench: the debootstrap bases."""
    return Path(os.environ.get("ISOBENCH_CACHE") or DEFAULT_CACHE)


def _named(env: str) -> str | None:
    return os.environ.get(env) or None


def check_dir(path: Path, user_given: bool, what: str) -> None:
    """Refuse a user-named directory that others may write into, or that another user owns."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeStateDir(f"{what} {path} is not a directory")
    if not user_given:
        return
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        raise UnsafeStateDir(
            f"{what} {path} is group- or world-writable (mode {mode:04o}): refusing to use "
            f"it; chmod go-w it, or choose a directory only root can write")
    if st.st_uid != os.geteuid():
        raise UnsafeStateDir(f"{what} {path} is owned by uid {st.st_uid}, not by this user "
                             f"(uid {os.geteuid()}): refusing to use it")


def make_private(path: Path, create: bool = True) -> ModeFinding:
    """Create `path` 0700 (parents as mkdir -p makes them), or tighten it to 0700."""
    try:
        found: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        found = None
    if found is None:
        if not create:
            return ModeFinding(str(path), None, None, "absent")
        path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        os.chmod(path, DIR_MODE)  # mkdir honours the umask
        return ModeFinding(str(path), None, DIR_MODE, "created")
    if found & 0o077:
        os.chmod(path, found & ~0o077)
        return ModeFinding(str(path), found, found & ~0o077, "tightened")
    return ModeFinding(str(path), found, found, "ok")


_secured: dict[tuple[str, str, str], list[ModeFinding]] = {}


def secure_state(root: Path, force: bool = False) -> list[ModeFinding]:
    """Once per process and root: check, create and tighten the state root, its top
    sub-directories, and (when they exist) the run directory and the cache. Raises UnsafeStateDir
    for a user-named directory others can write into."""
    key = (str(root), str(run_dir()), str(cache_dir()))
    if key in _secured and not force:
        return _secured[key]
    named_root = _named("ISOBENCH_ROOT")
    check_dir(root, named_root is not None and Path(named_root) == root, "state root")
    check_dir(run_dir(), _named("ISOBENCH_RUN_DIR") is not None, "run directory")
    check_dir(cache_dir(), _named("ISOBENCH_CACHE") is not None, "cache")
    found = [make_private(root)]
    found += [make_private(root / sub, create=False) for sub in STATE_SUBDIRS]
    found.append(make_private(run_dir(), create=False))  # made where first used
    found.append(make_private(cache_dir(), create=False))
    _secured[key] = found
    return found


def forget_checks() -> None:
    """Check again at the next secure_state: a process whose forks each serve a request
    (isobench daemon) must not hand them a verdict from its own start."""
    _secured.clear()


def private_files(root: Path) -> list[ModeFinding]:
    """Files below the state root that hold configuration, environment or logs, tightened to
    0600 (`isobench doctor`: an old root wrote them 0644)."""
    found: list[ModeFinding] = []
    patterns = ("containers/*/config.json", "containers/*/log.json", "networks/*.json",
                "volumes/*/*.json")
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            mode = stat.S_IMODE(st.st_mode)
            if mode & 0o077:
                os.chmod(path, mode & ~0o077)
                found.append(ModeFinding(str(path), mode, mode & ~0o077, "tightened"))
    return found
