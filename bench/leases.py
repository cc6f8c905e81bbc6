"""What a killed `isobench bench` leaves on the host, found again by `isobench gc`.

The native and runc targets (and the runc network placement) make host resources that no
container record describes: a cgroup, an overlay mounted in the host's mount namespace, a
runc container and its state, a network endpoint (netns, veth), scratch and bundle dirs. Each
instance takes a lease first: a dir under <root>/bench-leases/ whose .lock it flocks for its
lifetime and whose resources.json names each resource *before* it is made. A lease whose lock
nobody holds belongs to a dead bench: gc undoes what it names. A normal exit removes the
lease with the resources, so gc finds nothing.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runtime.api import Runtime
from runtime.cgroups import CgroupError, open_cgroup
from runtime.cgroups.base import remove_tree
from runtime.fsutil import read_json, write_json
from runtime.syscalls import MNT_DETACH, REAL

LEASES = "bench-leases"
CGROUP_ROOT = Path("/sys/fs/cgroup")
KINDS = ("bench leases", "bench cgroups", "bench mounts", "runc containers",
         "bench endpoints")


class Lease:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.resources: dict[str, Any] = {}

    def note(self, **resources: Any) -> None:
        """Record resources before they are made (written atomically)."""
        self.resources.update(resources)
        write_json(self.path / "resources.json", self.resources, durable=False)


@contextmanager
def lease(rt: Runtime) -> Iterator[Lease]:
    path = rt.root / LEASES / secrets.token_hex(8)
    path.mkdir(parents=True)
    fd = os.open(path / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield Lease(path)
    finally:
        # Reached only after the holder's own cleanup (inner `finally`s) ran: a SIGKILL
        # skips both, and leaves the lease for gc.
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def _held(path: Path) -> int | None:
    """None when a live bench holds the lease, else our fd holding it now."""
    try:
        fd = os.open(path / ".lock", os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None  # being made or being removed right now
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _mounted(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def _undo(rt: Runtime, res: dict[str, Any], counts: dict[str, int], dry_run: bool) -> None:
    runc = res.get("runc")
    if runc:
        counts["runc containers"] += 1
        if not dry_run:
            subprocess.run([runc["binary"], "--root", runc["state"], "delete", "--force",
                            runc["id"]], capture_output=True)
    cgroup = res.get("cgroup")
    if cgroup and any(CGROUP_ROOT.glob(f"*/{cgroup}")):
        counts["bench cgroups"] += 1
        if not dry_run:
            try:
                open_cgroup(cgroup).kill()
            except (CgroupError, OSError):
                pass
            for leftover in CGROUP_ROOT.glob(f"*/{cgroup}"):
                remove_tree(str(leftover))
    mount = res.get("mount")
    if mount and _mounted(mount):
        counts["bench mounts"] += 1
        if not dry_run:
            REAL.umount2(mount, MNT_DETACH)
    endpoint = res.get("endpoint")
    if endpoint:
        counts["bench endpoints"] += 1
        if not dry_run:
            rt.networks.detach(endpoint["network"], endpoint["id"])
    if not dry_run:
        for d in res.get("dirs", []):
            shutil.rmtree(d, ignore_errors=True)


def collect(rt: Runtime, dry_run: bool = False) -> tuple[set[str], dict[str, int]]:
    """Undo dead leases. Returns the endpoint ids of live ones (gc must keep those) and
    counts per kind."""
    counts = dict.fromkeys(KINDS, 0)
    live: set[str] = set()
    base = rt.root / LEASES
    for path in sorted(base.iterdir()) if base.is_dir() else []:
        fd = _held(path)
        try:
            res = read_json(path / "resources.json")
        except FileNotFoundError:
            res = {}
        except (OSError, ValueError):
            res = {}  # half-written: the resource it was about to name was not made yet
        if fd is None:
            if res.get("endpoint"):
                live.add(res["endpoint"]["id"])
            continue
        try:
            _undo(rt, res, counts, dry_run)
            counts["bench leases"] += 1
            if not dry_run:
                shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)
    return live, counts
