"""`isobench gc` for containers: remove what killed isobench processes left in this root.

Every container has a record (containers/<id>/) written before any of its resources, and a
lock (containers/<id>/.lock): the process that creates or starts the container flocks it
before the first resource and hands it to the container's monitor, which holds it until it
has torn the container down and exits. So:

A container is **dead** when nobody holds its lock, its recorded monitor (pid and start
time) is not alive, and its record says resources may exist:
  - no config.json at all: a `create` killed before the record was written (only the
    directory, overlay dirs and maybe a name exist);
  - status "created" with `start_pending`: a start killed before the monitor took over (a
    cgroup, a netns and veth, anonymous volumes may exist); or
  - status "running": its monitor died (SIGKILL, a crash). The container's processes may
    still run in its cgroup, and nobody is left to reap them or to remove its cgroup,
    netns, veth and anonymous volumes.
Everything else is in use or finished cleanly and is **not touched**: a lock somebody holds
(a `run -d` container whose monitor is alive, a container being created or started right
now), a live monitor, a "created" container nobody is starting, exited or dead records,
and a record whose config.json cannot be parsed (reported, left for a person to look at).

For a dead container: its processes get SIGKILL (through its cgroup, frozen first), its
cgroup goes in every hierarchy, its network endpoint (netns, veth) goes, and then either its
record goes with its overlay dirs, name and anonymous volumes (`--rm`, or a create/start
that never completed: as a failed start would have done), or the record stays, marked
"dead", for `ps -a`, `logs` and `rm` (as Docker keeps a container whose shim died).

Network records name each endpoint before it is plumbed, so endpoints of containers that are
gone or dead are found there; a network's bridge goes once no endpoint of this root is on it
and nothing is plugged into it on the host. Port proxies are threads of the monitor and die
with it (nothing is put in the firewall); container mounts live in the container's own mount
namespace and vanish with its last process: neither needs removing. Empty cgroup parents
(ISOBENCH_CGROUP_PARENT in every hierarchy) go last.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from enum import Enum

from runtime import firewall
from runtime.api import Runtime
from runtime.cgroups import CgroupError, open_cgroup
from runtime.containers import Container, is_alive, now

KINDS = ("containers", "processes", "cgroups", "overlay dirs", "netns", "veths", "taps",
         "bridges", "firewall rules", "volumes", "names")
OVERLAY_DIRS = ("upper", "work", "rootfs")


class Verdict(Enum):
    KEEP = "keep"            # in use, or finished cleanly
    MARK_DEAD = "mark dead"  # tear down, keep the record as "dead"
    REMOVE = "remove"        # tear down and remove the record


def verdict(record: Container | None, held: bool, monitor_alive: bool) -> Verdict:
    """What gc does with one record (None: no config.json). Pure: the module docstring's
    rules."""
    if held or monitor_alive:
        return Verdict.KEEP
    if record is None:
        return Verdict.REMOVE
    if record.state.status in ("running", "restarting"):
        return Verdict.REMOVE if record.config.auto_remove else Verdict.MARK_DEAD
    if record.state.status == "created" and record.state.start_pending:
        return Verdict.REMOVE
    return Verdict.KEEP


@dataclass
class Removed:
    """Counts of what was (or, dry, would be) removed, and what was left alone and why."""

    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        return [f"{verb} {n} {kind}" for kind, n in self.counts.items()] + self.notes


@dataclass
class _Dead:
    cid: str
    record: Container | None
    verdict: Verdict
    lock: int | None


def _load(rt: Runtime, cid: str) -> tuple[Container | None, bool]:
    """(record, corrupt): (None, False) when config.json does not exist."""
    try:
        return rt.containers.load(cid), False
    except FileNotFoundError:
        return None, False
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None, True


class Collector:
    def __init__(self, rt: Runtime, dry_run: bool = False) -> None:
        self.rt = rt
        self.dry_run = dry_run
        self.removed = Removed(dry_run=dry_run)
        self.busy = False  # some record's lock is held: a start may be making a cgroup

    def run(self, parents: bool = True, keep: frozenset[str] = frozenset()) -> Removed:
        """`keep`: endpoint ids that are no container's but are in use (a live bench's)."""
        live: set[str] = set(keep)
        dead: list[_Dead] = []
        try:
            self._classify(live, dead)
            for d in dead:
                self._cgroup(f"{self.rt.cgroup_parent}/{d.cid}")
            for kind, n in self.rt.networks.prune(live, self.dry_run).items():
                self.add(kind, n)
            self.add("firewall rules", firewall.sweep(self.dry_run))
            self._names({d.cid for d in dead if d.verdict is Verdict.REMOVE})
            for d in dead:
                self._record(d)
            self._half_removed()
        finally:
            for d in dead:
                if d.lock is not None:
                    os.close(d.lock)
        if parents:
            self.cgroup_parents()
        return self.removed

    def add(self, kind: str, n: int = 1) -> None:
        self.removed.add(kind, n)

    def _half_removed(self) -> None:
        """Records a killed removal had renamed out of sight but not yet deleted. One whose
        lock is still held is a live removal's (not counted as ours); deleting one a live
        removal is still deleting after its lock went is harmless: both ignore what is gone."""
        for doomed in self.rt.containers.removed_leftovers():
            if self.rt.containers.is_held(doomed.name):
                continue
            self.add("containers")
            if not self.dry_run:
                shutil.rmtree(doomed, ignore_errors=True)

    def _classify(self, live: set[str], dead: list[_Dead]) -> None:
        cdir = self.rt.containers.dir
        for entry in sorted(cdir.iterdir()) if cdir.is_dir() else []:
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            held, lock = self._probe(entry.name)
            if held:  # somebody is responsible for it (or it was just removed)
                self.busy = True
                live.add(entry.name)
                continue
            # Read under the lock: a monitor that finished meanwhile has removed or updated it.
            record, corrupt = _load(self.rt, entry.name)
            alive = record is not None and is_alive(record.state.monitor_pid,
                                                    record.state.monitor_start)
            v = verdict(record, False, alive)
            if corrupt:
                self.removed.notes.append(f"skipped {entry.name[:12]}: unreadable config.json")
                v = Verdict.KEEP
            if v is Verdict.KEEP or not entry.is_dir():
                live.add(entry.name)
                if lock is not None:
                    os.close(lock)
                continue
            dead.append(_Dead(entry.name, record, v, lock))

    def _probe(self, cid: str) -> tuple[bool, int | None]:
        """(held by someone else, our fd holding it now). A dry run creates no lock file
        where a record has none (one written before locks existed)."""
        if self.dry_run and not self.rt.containers.lock_path(cid).exists():
            return False, None
        lock = self.rt.containers.hold(cid, wait=False)
        return lock is None, lock

    def _cgroup(self, name: str) -> None:
        """SIGKILL what runs in it, then remove it in every hierarchy."""
        try:
            cg = open_cgroup(name)
            if not cg.exists():
                return
            self.add("cgroups")
            self.add("processes", len(cg.pids()))
            if not self.dry_run:
                cg.destroy()
        except CgroupError as e:
            self.removed.notes.append(f"cgroup {name}: {e}")

    def _record(self, d: _Dead) -> None:
        self.add("containers")
        path = self.rt.containers.path(d.cid)
        if d.verdict is Verdict.MARK_DEAD:
            assert d.record is not None
            if not self.dry_run:
                s = d.record.state
                s.status, s.start_pending, s.finished_at = "dead", False, now()
                s.error = "its monitor died; torn down by isobench gc"
                self.rt.containers.save(d.record)
            return
        self.add("overlay dirs", sum((path / sub).is_dir() for sub in OVERLAY_DIRS))
        if d.record is not None:
            for name in d.record.config.anonymous_volumes:
                if (self.rt.volumes.dir / name).is_dir():
                    self.add("volumes")
                    if not self.dry_run:
                        try:
                            self.rt.volumes.remove(name, users=[])
                        except Exception:  # noqa: BLE001 - going already is fine
                            pass
        if not self.dry_run:
            if d.record is not None:
                self.rt.containers.remove(d.record)
            else:
                shutil.rmtree(path, ignore_errors=True)

    def _names(self, removing: set[str]) -> None:
        """Names of the records being removed, and names whose record directory is gone (a
        create makes the directory before the name, a removal drops the name first)."""
        ndir = self.rt.containers.names_dir
        for link in sorted(ndir.iterdir()) if ndir.is_dir() else []:
            try:
                target = os.readlink(link)
            except OSError:
                continue
            if target in removing or not self.rt.containers.path(target).is_dir():
                self.add("names")
                if not self.dry_run:
                    self.rt.containers.release_name(link.name, target)

    def cgroup_parents(self) -> None:
        """ISOBENCH_CGROUP_PARENT in each hierarchy, once no cgroup is left under it (VM
        runs' cgroups live there too: call this after their gc). Not while a container of
        this root is in use: its start may be making its cgroup under the parent right now.
        (Another root sharing the parent name can still lose that race: its start then fails
        once, with a clear error, and nothing is left.)"""
        if self.busy:
            return
        if self.rt.cgroups.driver == "systemd":  # a scope: stopped, not rmdir'ed
            if self.rt.cgroups.release_idle_scope(self.dry_run):
                self.add("cgroup parent scopes")
            return
        try:
            paths = set(open_cgroup(self.rt.cgroup_parent).paths().values())
        except CgroupError:
            return
        for path in sorted(paths):
            try:
                if any(e.is_dir() for e in os.scandir(path)):
                    continue
                if not self.dry_run:
                    os.rmdir(path)
                self.add("cgroup parent dirs")
            except OSError:
                continue  # absent, or a start made a child meanwhile: it stays


def collect(rt: Runtime | None = None, dry_run: bool = False) -> Removed:
    return Collector(rt or Runtime(), dry_run).run()
