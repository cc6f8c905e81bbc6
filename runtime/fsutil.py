"""Small filesystem helpers: atomic writes and the state root."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_ROOT = "/var/lib/isobench"


def state_root() -> Path:
    """ISOBENCH_ROOT, or Docker-like /var/lib/isobench."""
    return Path(os.environ.get("ISOBENCH_ROOT") or DEFAULT_ROOT)


def atomic_write(path: Path, data: bytes, mode: int = 0o644, durable: bool = True) -> None:
    """Write to a temp file beside `path`, rename: readers see old or new, never half.

    `durable` also fsyncs before the rename, so a power cut cannot leave an empty file;
    records of live processes skip it (they are stale after a reboot anyway)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
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
