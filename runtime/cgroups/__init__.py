"""Cgroups for containers: one `Cgroup` interface, a v1 and a v2 backend, and mode detection."""

from __future__ import annotations

import os
from dataclasses import dataclass

from runtime.cgroups.base import Cgroup, CgroupError, CgroupStats
from runtime.cgroups.detect import DEFAULT_ROOT, MOUNTINFO, Mode, detect_mode, v1_mounts
from runtime.cgroups.v1 import V1Cgroup
from runtime.cgroups.v2 import V2Cgroup

__all__ = [
    "Cgroup",
    "CgroupError",
    "CgroupFactory",
    "CgroupStats",
    "Mode",
    "V1Cgroup",
    "V2Cgroup",
    "detect_mode",
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


@dataclass(frozen=True)
class CgroupFactory:
    """Cgroups under one parent in every hierarchy: one place to find, account and collect
    all of isobench's (containers, VM runs, bench instances)."""

    parent: str = DEFAULT_PARENT

    @classmethod
    def from_env(cls) -> CgroupFactory:
        """ISOBENCH_CGROUP_PARENT, or "isobench" (tests give each state root its own)."""
        return cls(os.environ.get("ISOBENCH_CGROUP_PARENT") or DEFAULT_PARENT)

    def name(self, leaf: str) -> str:
        return f"{self.parent}/{leaf}"

    def child(self, leaf: str) -> Cgroup:
        """`<parent>/<leaf>` in this host's layout; nothing is created yet."""
        return self.open(self.name(leaf))

    def open(self, name: str) -> Cgroup:
        """Any cgroup by its full name (a seam for tests, as open_cgroup's)."""
        return open_cgroup(name)
