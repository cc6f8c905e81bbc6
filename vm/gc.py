"""What crashed VM runs left (for `isobench gc`): domains whose owner process is gone, the
QEMU processes of microVMs (vm/microvm.py) whose owner is gone, their run directories (with
the per-run disks), sockets and cgroups; and cached disks of images no longer in the store.

A run is dead when its `isobench vm run` process is: the run directory's `owner` file
(pid and start time, written before any disk, cgroup or domain exists) says so, or, for a
domain without one, the owner pid in the domain's metadata is gone."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import libvirt

from runtime.cgroups import CgroupError, CgroupFactory
from runtime.containers import is_alive, process_start_time
from runtime.image.store import ImageStore
from vm import driver, guest, host, microvm
from vm.domain import Domain, DomainXMLError

GRACE_S = 120.0


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
        return True
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True


def run_owner(run_dir: Path) -> tuple[int, int] | None:
    """(pid, start time) of the `vm run` that made this run directory; None if unrecorded."""
    try:
        pid, start = (driver.run_dir_owner_file(run_dir)).read_text().split()
        return int(pid), int(start)
    except (OSError, ValueError):
        return None


def run_is_dead(in_live_domain: bool, owner_alive: bool | None, age_s: float) -> bool:
    """A run directory is garbage when no live domain uses it and the process that made it
    is dead; one without an owner file (made by an older isobench, or a run killed between
    its mkdir and the owner write) only once it is older than any run takes to define its
    domain."""
    if in_live_domain:
        return False
    if owner_alive is None:
        return age_s > GRACE_S
    return not owner_alive


def _owner_alive(root: Path, run_id: str, owner_pid: str) -> bool:
    owner = run_owner(guest.vm_dir(root) / "runs" / run_id)
    if owner is not None:
        return is_alive(*owner)
    return _alive(owner_pid)


def live_runs(root: Path) -> set[str]:
    """Run ids whose `vm run` process lives (or that are too young to judge): their tap
    endpoints, recorded in the network store under the run id, are in use."""
    runs = guest.vm_dir(root) / "runs"
    live = set()
    for run in runs.iterdir() if runs.is_dir() else []:
        owner = run_owner(run)
        try:
            age = time.time() - run.stat().st_mtime
        except FileNotFoundError:
            continue
        if not run_is_dead(False, None if owner is None else is_alive(*owner), age):
            live.add(run.name)
    return live


def orphaned_domains(conn: libvirt.virConnect, root: Path) -> list[libvirt.virDomain]:
    """Our domains for this state root whose `isobench vm run` process has died."""
    found = []
    for dom in conn.listAllDomains(0):
        if not dom.name().startswith(driver.DOMAIN_PREFIX):
            continue
        try:
            meta = Domain.from_xml(dom.XMLDesc(0)).metadata
        except (DomainXMLError, libvirt.libvirtError):
            continue
        run_id = dom.name().removeprefix(driver.DOMAIN_PREFIX)
        if meta.get("root") == str(root) and not _owner_alive(root, run_id,
                                                              meta.get("owner_pid", "")):
            found.append(dom)
    return found


def collect(images: ImageStore, root: Path, cgroups: CgroupFactory,
            dry_run: bool = False) -> list[str]:
    """Remove every leftover of dead runs of this state root (the driver's `images`, `root`
    and `cgroups`); returns what was (dry: would be) removed, one line each, starting with
    its kind: "domain", "vm run", "vm disk"."""
    removed: list[str] = []
    live: set[str] = set()
    try:
        conn = host.connect()
    except host.LibvirtError:
        conn = None
    if conn is not None:
        try:
            orphans = orphaned_domains(conn, root)
            for dom in orphans:
                name = dom.name()
                if not dry_run:
                    try:
                        if dom.isActive():
                            dom.destroy()
                        dom.undefine()
                    except libvirt.libvirtError:
                        continue
                    host.remove_qemu_log(name)
                removed.append(f"domain {name}")
            gone = {d.name() for d in orphans}
            live = {d.name().removeprefix(driver.DOMAIN_PREFIX)
                    for d in conn.listAllDomains(0)
                    if d.name().startswith(driver.DOMAIN_PREFIX) and d.name() not in gone}
        finally:
            conn.close()
    runs = guest.vm_dir(root) / "runs"
    for run in sorted(runs.iterdir()) if runs.exists() else []:
        owner = run_owner(run)
        try:
            age = time.time() - run.stat().st_mtime
        except FileNotFoundError:
            continue  # its run finished meanwhile
        if run_is_dead(run.name in live, None if owner is None else is_alive(*owner), age):
            qemus = microvm_qemus(run)
            if not dry_run and not all(microvm.kill(pid, start) for pid, start in qemus):
                continue  # its QEMU outlived SIGKILL for now: the next gc tries again
            removed += [f"microvm {run.name} (QEMU pid {pid})" for pid, _ in qemus]
            if not dry_run:
                shutil.rmtree(run, ignore_errors=True)
                (driver.socket_dir() / f"{run.name}.sock").unlink(missing_ok=True)
                try:
                    cgroups.child(f"vm-{run.name}").destroy()
                except CgroupError:
                    pass
            removed.append(f"vm run {run.name}")
    removed += prune_disks(images, root, dry_run)
    return removed


def microvm_qemus(run: Path, proc: Path = Path("/proc")) -> list[tuple[int, int]]:
    """(pid, start time) of each QEMU still running a microVM run: the one its run file
    names, if it is still that process, and any process whose command line names the run's
    guest (it may have been started just before the run file was written)."""
    found: set[tuple[int, int]] = set()
    record = microvm.read_run_file(run)
    if record is not None:
        pid, start = int(record.get("pid", 0)), int(record.get("start", 0))
        if is_alive(pid, start):
            found.add((pid, start))
    name = f"guest={driver.DOMAIN_PREFIX}{run.name}".encode()
    if run.name.startswith(f"{microvm.MACHINE}-"):
        for entry in proc.iterdir() if proc.exists() else []:
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue  # gone meanwhile, or a kernel thread
            if name in argv:
                pid = int(entry.name)
                start = process_start_time(pid)
                if start:
                    found.add((pid, start))
    return sorted(found)


def prune_disks(images: ImageStore, root: Path, dry_run: bool = False) -> list[str]:
    """Cached guest disks whose image is gone, or built by another shim or disk format."""
    disks = guest.vm_dir(root) / "disks"
    if not disks.exists():
        return []
    kept = {i.id.split(":")[-1] for i in images.list()}
    suffix = f"-{guest.shim_digest()}-v{guest.DISK_FORMAT_VERSION}"
    removed = []
    for path in sorted(disks.glob("*.raw")):
        image_hex = path.stem.split("-", 1)[0]
        if image_hex not in kept or not path.stem.endswith(suffix):
            if not dry_run:
                path.unlink(missing_ok=True)
                path.with_suffix(".json").unlink(missing_ok=True)
                (disks / f".{path.stem}.lock").unlink(missing_ok=True)
            removed.append(f"vm disk {path.name}")
    return removed
