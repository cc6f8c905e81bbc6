"""Volumes: directories under ISOBENCH_ROOT/volumes that outlive the containers using them,
and Docker's `-v` mount specifications."""

from __future__ import annotations

import os
import re
import shutil
import time
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import Conflict, InvalidArgument, NotFound
from runtime.fsutil import CorruptState, locked, read_json, warn_corrupt, write_json

VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


@dataclass
class Volume:
    name: str
    mountpoint: str
    created: float = field(default_factory=time.time)
    labels: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MountSpec:
    """One `-v`: a named or anonymous volume, or a bind of a host path."""

    kind: str          # "volume" | "bind"
    source: str        # volume name ("" for anonymous until created) or absolute host path
    target: str        # absolute path inside the container
    readonly: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_volume_spec(spec: str) -> MountSpec:
    """Docker's -v syntax: NAME:/path[:ro|rw], /host:/path[:ro|rw], or /path (anonymous)."""
    parts = spec.split(":")
    mode = "rw"
    if len(parts) == 3:
        mode = parts.pop()
        if mode not in ("ro", "rw"):
            raise InvalidArgument(f'invalid mode: "{mode}" in volume specification "{spec}"')
    if len(parts) == 1:
        target = parts[0]
        if not target.startswith("/"):
            raise InvalidArgument(f'invalid volume specification: "{spec}": '
                                  "the path in the container must be absolute")
        return MountSpec("volume", "", os.path.normpath(target), mode == "ro")
    if len(parts) != 2:
        raise InvalidArgument(f'invalid volume specification: "{spec}"')
    source, target = parts
    if not target.startswith("/"):
        raise InvalidArgument(f'invalid volume specification: "{spec}": '
                              "the path in the container must be absolute")
    target = os.path.normpath(target)
    if source.startswith("/"):
        if not os.path.exists(source):
            raise InvalidArgument(f"invalid mount config: bind source path does not exist: "
                                  f"{source}")
        return MountSpec("bind", os.path.normpath(source), target, mode == "ro")
    if not VOLUME_NAME.match(source):
        raise InvalidArgument(f'"{source}" includes invalid characters for a local volume name, '
                              'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to '
                              "pass a host directory, use absolute path")
    return MountSpec("volume", source, target, mode == "ro")


class VolumeStore:
    def __init__(self, root: Path) -> None:
        self.dir = root / "volumes"

    def _meta(self, name: str) -> Path:
        return self.dir / name / "volume.json"

    def data_dir(self, name: str) -> Path:
        return self.dir / name / "_data"

    def _lock(self) -> AbstractContextManager[None]:
        """One creator or remover at a time: a `volume rm` racing a `run -v` that creates
        the same name must not leave a volume.json without its _data (or the reverse)."""
        return locked(self.dir.parent / "volumes.lock")  # beside volumes/: not a volume

    def create(self, name: str | None = None, labels: dict[str, str] | None = None,
               anonymous: bool = False) -> Volume:
        """Docker's `volume create`: an existing name is returned as it is."""
        if name is None:
            name, anonymous = os.urandom(32).hex()  # = secrets.token_hex, see ContainerStore, True
        elif not VOLUME_NAME.match(name):
            raise InvalidArgument(f'"{name}" includes invalid characters for a local volume '
                                  'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed', 1)
        with self._lock():
            try:
                return self.get(name)
            except NotFound:
                pass
            data = self.data_dir(name)
            data.mkdir(parents=True, exist_ok=True)
            volume = Volume(name, str(data), labels=dict(labels or {}), anonymous=anonymous)
            write_json(self._meta(name), volume.to_dict())  # last: the volume exists from here
            return volume

    def get(self, name: str) -> Volume:
        path = self._meta(name)
        try:
            return Volume(**read_json(path))
        except OSError:
            raise NotFound(f"get {name}: no such volume", 1) from None
        except (ValueError, TypeError) as e:
            raise CorruptState(path, f"volume {name}", e) from None

    def list(self) -> list[Volume]:
        """Every volume; a corrupt volume.json is reported on stderr and skipped."""
        if not self.dir.exists():
            return []
        found = []
        for entry in sorted(self.dir.iterdir()):
            if entry.name.startswith("."):
                continue
            try:
                found.append(self.get(entry.name))
            except NotFound:
                continue
            except CorruptState as e:
                warn_corrupt(e.path, e)
        return found

    def remove(self, name: str, users: list[str]) -> None:
        with self._lock():
            self.get(name)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]", 1)
            self._meta(name).unlink()  # first: a half-removed volume no longer exists
            shutil.rmtree(self.dir / name, ignore_errors=True)


def fill_from_image(source: str, volume_dir: str) -> None:
    """Docker copies the image's content at the mount point into an empty volume."""
    if not os.path.isdir(source) or any(os.scandir(volume_dir)):
        return
    for dirpath, dirnames, filenames in os.walk(source):
        rel = os.path.relpath(dirpath, source)
        dest_dir = os.path.join(volume_dir, rel) if rel != "." else volume_dir
        for name in dirnames + filenames:
            src, dst = os.path.join(dirpath, name), os.path.join(dest_dir, name)
            st = os.lstat(src)
            if os.path.islink(src):
                os.symlink(os.readlink(src), dst)
            elif os.path.isdir(src):
                os.mkdir(dst)
            else:
                shutil.copy2(src, dst, follow_symlinks=False)
            os.lchown(dst, st.st_uid, st.st_gid)
            if not os.path.islink(src):
                os.chmod(dst, st.st_mode & 0o7777)
    st = os.stat(source)
    os.chown(volume_dir, st.st_uid, st.st_gid)
    os.chmod(volume_dir, st.st_mode & 0o7777)
