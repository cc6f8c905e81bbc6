"""Which cgroup layout a host has, read from the filesystem types in /proc/self/mountinfo."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

from runtime.cgroups.base import CgroupError

Mode = Literal["v1", "v2", "hybrid"]

MOUNTINFO = "/proc/self/mountinfo"
DEFAULT_ROOT = "/sys/fs/cgroup"
# The v1 controllers isobench creates directories in (others, like net_cls, are left alone).
V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "freezer", "devices")

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Mount:
    mount_point: str
    fstype: str
    super_options: tuple[str, ...]


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as \040-style octal escapes.
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[Mount]:
    """mountinfo lines -> mounts; the optional fields end at the lone '-' separator."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        before, after = left.split(), right.split()
        if len(before) < 5 or len(after) < 3:
            continue
        mounts.append(Mount(_unescape(before[4]), after[0], tuple(after[2].split(","))))
    return mounts


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def mode_from_mounts(mounts: list[Mount], root: str = DEFAULT_ROOT) -> Mode:
    root = os.path.normpath(root)
    cgroup2 = [m.mount_point for m in mounts if m.fstype == "cgroup2"]
    if root in cgroup2:
        return "v2"
    if v1_mounts_from(mounts, root):
        return "hybrid" if any(_under(p, root) for p in cgroup2) else "v1"
    raise CgroupError(f"no cgroup hierarchy mounted at {root} (see {MOUNTINFO})")


def v1_mounts_from(mounts: list[Mount], root: str = DEFAULT_ROOT) -> dict[str, str]:
    """Controller -> mount point for v1 hierarchies under `root`; co-mounts share a path."""
    root = os.path.normpath(root)
    found: dict[str, str] = {}
    for m in mounts:
        if m.fstype != "cgroup" or not _under(m.mount_point, root):
            continue
        for controller in V1_CONTROLLERS:
            if controller in m.super_options:
                found.setdefault(controller, m.mount_point)
    return found


def read_mounts(mountinfo: str) -> list[Mount]:
    with open(mountinfo) as f:
        return parse_mountinfo(f.read())


def detect_mode(root: str = DEFAULT_ROOT, mountinfo: str = MOUNTINFO) -> Mode:
    return mode_from_mounts(read_mounts(mountinfo), root)


def v1_mounts(root: str = DEFAULT_ROOT, mountinfo: str = MOUNTINFO) -> dict[str, str]:
    return v1_mounts_from(read_mounts(mountinfo), root)
