"""What crashed VM runs left (for `isobench gc`): domains whose owner process is gone, their
run directories, sockets and cgroups; and cached disks of images no longer in the store."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import libvirt

from runtime.api import Runtime
from runtime.cgroups import CgroupError, open_cgroup
from vm import driver, guest, host
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
        if meta.get("root") == str(root) and not _alive(meta.get("owner_pid", "")):
            found.append(dom)
    return found


def collect(rt: Runtime | None = None) -> list[str]:
    """Remove every leftover of dead runs; returns what was removed, one line each."""
    rt = rt or Runtime()
    removed: list[str] = []
    live: set[str] = set()
    try:
        conn = host.connect()
    except host.LibvirtError:
        conn = None
    if conn is not None:
        try:
            for dom in orphaned_domains(conn, rt.root):
                name = dom.name()
                try:
                    if dom.isActive():
                        dom.destroy()
                    dom.undefine()
                except libvirt.libvirtError:
                    continue
                host.remove_qemu_log(name)
                removed.append(f"domain {name}")
            live = {d.name().removeprefix(driver.DOMAIN_PREFIX)
                    for d in conn.listAllDomains(0) if d.name().startswith(driver.DOMAIN_PREFIX)}
        finally:
            conn.close()
    runs = guest.vm_dir(rt.root) / "runs"
    for run in sorted(runs.iterdir()) if runs.exists() else []:
        # A run defines its domain seconds after making its directory: spare young ones.
        if run.name not in live and time.time() - run.stat().st_mtime > GRACE_S:
            shutil.rmtree(run, ignore_errors=True)
            (driver.socket_dir() / f"{run.name}.sock").unlink(missing_ok=True)
            try:
                open_cgroup(f"{rt.cgroup_parent}/vm-{run.name}").destroy()
            except CgroupError:
                pass
            removed.append(f"vm run {run.name}")
    removed += prune_disks(rt)
    return removed


def prune_disks(rt: Runtime) -> list[str]:
    """Cached guest disks whose image is gone, or built by another shim or disk format."""
    disks = guest.vm_dir(rt.root) / "disks"
    if not disks.exists():
        return []
    images = {i.id.split(":")[-1] for i in rt.images.list()}
    suffix = f"-{guest.shim_digest()}-v{guest.DISK_FORMAT_VERSION}"
    removed = []
    for path in sorted(disks.glob("*.raw")):
        image_hex = path.stem.split("-", 1)[0]
        if image_hex not in images or not path.stem.endswith(suffix):
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)
            (disks / f".{path.stem}.lock").unlink(missing_ok=True)
            removed.append(f"vm disk {path.name}")
    return removed
