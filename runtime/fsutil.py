"""Small filesystem helpers: atomic writes, locks, corrupt-file reporting, the state root."""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runtime.errors import IsobenchError

# The builtin SHA-256 (_sha256 up to 3.11, _sha2 since 3.12): hashlib loads OpenSSL's
# _hashlib, ~2 ms of every `isobench run`'s imports (-X importtime: 2.3 ms vs 0.2 ms).
try:
    from _sha256 import sha256 as _sha256
except ImportError:  # pragma: no cover - depends on the Python version
    try:
        from _sha2 import sha256 as _sha256  # type: ignore[no-redef]
    except ImportError:
        from hashlib import sha256 as _sha256  # type: ignore[no-redef,assignment]


def sha256_hex(data: bytes) -> str:
    """hashlib.sha256(data).hexdigest(), without importing hashlib."""
    return _sha256(data).hexdigest()

DEFAULT_ROOT = "/var/lib/isobench"


def state_root() -> Path:
    """ISOBENCH_ROOT, or Docker-like /var/lib/isobench."""
    return Path(os.environ.get("ISOBENCH_ROOT") or DEFAULT_ROOT)


def _temp_beside(path: Path) -> tuple[int, str]:
    """tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent), without tempfile: it
    imports random (with math, bisect, _sha512) and costs ~1.3 ms of every `isobench run`'s
    imports (-X importtime); the same O_EXCL create, mode 0600, close-on-exec."""
    for _ in range(100):
        tmp = str(path.parent / f".{path.name}.{os.urandom(6).hex()}")
        try:
            return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def atomic_write(path: Path, data: bytes, mode: int = 0o600, durable: bool = True) -> None:
    """Write to a temp file beside `path`, rename: readers see old or new, never half.

    `durable` also fsyncs before the rename, so a power cut cannot leave an empty file;
    records of live processes skip it (they are stale after a reboot anyway)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json(path: Path, obj: Any, durable: bool = True) -> None:
    atomic_write(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode(),
                 durable=durable)


def read_json(path: Path) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read())


@contextmanager
def locked(path: Path, shared: bool = False) -> Iterator[None]:
    """Hold flock(2) on `path` (created if missing) for the block.

    flock, not a lock directory or a pid file: the kernel drops it when the holder dies,
    so a SIGKILLed CLI never leaves a store locked. Exclusive by default; `shared` lets
    readers that must not see a writer's half-done work in together."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


class CorruptState(IsobenchError):
    """A state file that exists but does not parse: named, so the user can remove it."""

    def __init__(self, path: Path, what: str, err: BaseException) -> None:
        self.path = path
        self.reason = err.reason if isinstance(err, CorruptState) else _reason(err)
        super().__init__(f"{what}: corrupt state file {path}: {self.reason}")


def _reason(err: BaseException) -> str:
    if isinstance(err, CorruptState):
        return err.reason
    text = str(err).splitlines()[0] if str(err) else ""
    return text or type(err).__name__


_warned: set[str] = set()


def warn_corrupt(path: Path, err: BaseException) -> None:
    """One line on stderr per corrupt file and process: listings go on without it."""
    if str(path) in _warned:
        return
    _warned.add(str(path))
    print(f"isobench: warning: skipping corrupt state file {path}: {_reason(err)}",
          file=sys.stderr)


class TextFileError(ValueError):
    """A text file over its size bound, or not UTF-8: the message names which."""


def read_bounded_text(path: Path, limit: int) -> str:
    """An untrusted text file's UTF-8 text, reading at most `limit` + 1 bytes, so a huge
    file costs nothing; TextFileError when it is over `limit` bytes or not UTF-8. OSError
    propagates."""
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise TextFileError(f"file is larger than {limit} bytes")
    try:
        return data.decode()
    except UnicodeDecodeError as e:
        raise TextFileError(f"not UTF-8 text (byte {e.start})") from None
