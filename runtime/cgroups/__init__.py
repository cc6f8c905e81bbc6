"""Cgroups for containers: one `Cgroup` interface, a v1 and a v2 backend, and mode detection."""

from __future__ import annotations

import os
from typing import Literal

from runtime.cgroups import systemd
from runtime.cgroups.base import Cgroup, CgroupError, CgroupStats
from runtime.cgroups.base import read_text as _read
from runtime.cgroups.detect import (
    DEFAULT_ROOT,
    MOUNTINFO,
    Mode,
    detect_mode,
    read_mounts,
    v1_mounts,
)
from runtime.cgroups.v1 import V1Cgroup
from runtime.cgroups.v2 import V2Cgroup

__all__ = [
    "Cgroup",
    "CgroupError",
    "CgroupFactory",
    "CgroupStats",
    "Driver",
    "Mode",
    "V1Cgroup",
    "V2Cgroup",
    "describe_host",
    "detect_mode",
    "driver_for",
    "open_cgroup",
]


def open_cgroup(
    name: str, mode: Mode | None = None, root: str = DEFAULT_ROOT, mountinfo: str = MOUNTINFO
) -> Cgroup:
    """The cgroup `name` (e.g. "isobench/<id>") in the host's layout; nothing is created yet.

    Hybrid hosts get the v1 backend: their v2 hierarchy has no controllers to limit with.
    """
    mode = mode or detect_mode(root, mountinfo)
    if mode == "v2":
        return V2Cgroup(name, root)
    mounts = v1_mounts(root, mountinfo)
    if not mounts:
        raise CgroupError(f"cgroup {mode}: no v1 controller mounted under {root}")
    return V1Cgroup(name, mounts)


DEFAULT_PARENT = "isobench"  # like Docker's /docker/<id> in every hierarchy
Driver = Literal["cgroupfs", "systemd"]
DRIVERS = ("cgroupfs", "systemd")


def driver_for(mode: Mode, requested: str = "", systemd_booted: bool | None = None) -> Driver:
    """ISOBENCH_CGROUP_DRIVER, else systemd where systemd is PID 1 on a pure v2 host (as
    Docker and runc default), else cgroupfs (v1 and hybrid hosts: as today)."""
    if requested:
        if requested not in DRIVERS:
            raise CgroupError(f"invalid ISOBENCH_CGROUP_DRIVER {requested!r}: cgroupfs or systemd")
        return "systemd" if requested == "systemd" else "cgroupfs"
    booted = systemd.booted() if systemd_booted is None else systemd_booted
    return "systemd" if mode == "v2" and booted else "cgroupfs"


def describe_host(root: str = DEFAULT_ROOT, mountinfo: str = MOUNTINFO,
                  requested: str | None = None) -> str:
    """One line for `isobench doctor`: mode, driver, and the controllers a cgroup of ours can
    have (v1: the mounted hierarchies; v2: the root's cgroup.controllers)."""
    mode = detect_mode(root, mountinfo)
    if requested is None:
        requested = os.environ.get("ISOBENCH_CGROUP_DRIVER", "")
    driver = driver_for(mode, requested)
    parts = [mode, f"driver {driver}"]
    if mode == "v2":
        offered = (_read(os.path.join(root, "cgroup.controllers")) or "").split()
        parts.append(f"v2 controllers: {' '.join(offered) or 'none'}")
    else:
        parts.append(f"v1 controllers: {' '.join(sorted(v1_mounts(root, mountinfo)))}")
        unified = [m.mount_point for m in read_mounts(mountinfo) if m.fstype == "cgroup2"]
        for mount in unified:
            offered = (_read(os.path.join(mount, "cgroup.controllers")) or "").split()
            parts.append(f"cgroup2 at {mount} offers: {' '.join(offered) or 'none'}")
    parts.append("systemd is PID 1" if systemd.booted() else "no systemd as PID 1")
    return "; ".join(parts)


class CgroupFactory:
    """Cgroups under one parent in every hierarchy: one place to find, account and collect
    all of isobench's (containers, VM runs, bench instances).

    With the systemd driver the parent is a delegated transient scope's cgroup, started on
    first use (not when a command that never touches cgroups builds its runtime)."""

    def __init__(self, parent: str = DEFAULT_PARENT, driver: Driver = "cgroupfs",
                 scope: systemd.SystemdScope | None = None) -> None:
        self.configured = parent
        self.driver = driver
        self._scope = scope or (systemd.SystemdScope(systemd.unit_name(parent))
                                if driver == "systemd" else None)
        self._parent: str | None = parent if driver == "cgroupfs" else None

    @classmethod
    def from_env(cls) -> CgroupFactory:
        """ISOBENCH_CGROUP_PARENT, or "isobench" (tests give each state root its own);
        ISOBENCH_CGROUP_DRIVER, or the host's default (driver_for)."""
        parent = os.environ.get("ISOBENCH_CGROUP_PARENT") or DEFAULT_PARENT
        requested = os.environ.get("ISOBENCH_CGROUP_DRIVER", "")
        try:
            mode: Mode = detect_mode()
        except CgroupError:
            mode = "v1"  # no cgroups at all: whatever needs one says so when it asks
        return cls(parent, driver_for(mode, requested))

    @property
    def parent(self) -> str:
        if self._parent is None:
            assert self._scope is not None
            self._parent = self._scope.parent()
        return self._parent

    def name(self, leaf: str) -> str:
        return f"{self.parent}/{leaf}"

    def release_idle_scope(self, dry_run: bool = False) -> bool:
        """systemd driver: stop the parent's scope once only its anchor is left."""
        return self._scope is not None and self._scope.stop_if_idle(dry_run)

    def child(self, leaf: str) -> Cgroup:
        """`<parent>/<leaf>` in this host's layout; nothing is created yet."""
        return self.open(self.name(leaf))

    def open(self, name: str) -> Cgroup:
        """Any cgroup by its full name (a seam for tests, as open_cgroup's)."""
        return open_cgroup(name)
