"""libvirt on this host: the connection, a domain's QEMU process and its statistics."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import libvirt

from runtime.errors import IsobenchError

DEFAULT_URI = "qemu:///system"
QEMU_STATE_DIR = "/run/libvirt/qemu"   # <name>.pid of each running domain (system instance)
QEMU_LOG_DIR = "/var/log/libvirt/qemu"  # <name>.log: QEMU's stderr and command line
START_HINT = "start it with `virtlogd -d; libvirtd -d` or `make daemons`"


class LibvirtError(IsobenchError):
    """libvirt refused or failed; the message is libvirt's, in one line."""


def _quiet(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default; ours are raised as one line instead."""


libvirt.registerErrorHandler(_quiet, None)


def uri() -> str:
    return os.environ.get("ISOBENCH_LIBVIRT_URI") or DEFAULT_URI


def one_line(err: libvirt.libvirtError) -> str:
    return " ".join(str(err.get_error_message() or err).split())


def connect(target: str | None = None) -> libvirt.virConnect:
    target = target or uri()
    try:
        return libvirt.open(target)
    except libvirt.libvirtError as e:
        message = one_line(e)
        unreachable = e.get_error_code() in (libvirt.VIR_ERR_SYSTEM_ERROR,
                                             libvirt.VIR_ERR_NO_CONNECT)
        hint = f" (is libvirtd running? {START_HINT})" if unreachable else ""
        raise LibvirtError(f"cannot connect to libvirt at {target}: {message}{hint}") from None


def qemu_pid(name: str, timeout: float = 5.0) -> int:
    """The QEMU process of running domain `name` (libvirt has no API for it: its pidfile)."""
    path = Path(QEMU_STATE_DIR) / f"{name}.pid"
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid = int(path.read_text().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f"guest={name},".encode() in f.read():
                    return pid
        except (OSError, ValueError):
            pass
        if time.monotonic() >= deadline:
            raise LibvirtError(f"cannot find the QEMU process of domain {name} "
                               f"({path}); cgroup accounting needs a local qemu:///system")
        time.sleep(0.01)


def qemu_log(name: str) -> Path:
    return Path(QEMU_LOG_DIR) / f"{name}.log"


def remove_qemu_log(name: str) -> None:
    """libvirt keeps a log per domain name; each run has its own name, so drop it."""
    base = qemu_log(name)
    for path in base.parent.glob(f"{base.name}*"):
        try:
            path.unlink()
        except OSError:
            pass


STATS = (libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
         | libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_VCPU
         | libvirt.VIR_DOMAIN_STATS_INTERFACE | libvirt.VIR_DOMAIN_STATS_BLOCK)


def domain_stats(conn: libvirt.virConnect, dom: libvirt.virDomain) -> dict[str, Any]:
    """libvirt's bulk stats (vdsm's getAllDomainStats way): cpu.time ns, balloon.* KiB,
    block.N.rd.bytes, net.N.tx.bytes ...; {} when the domain is gone."""
    try:
        found = conn.domainListGetStats([dom], STATS, 0)
    except libvirt.libvirtError:
        return {}
    return dict(found[0][1]) if found else {}


def process_memory(pid: int) -> dict[str, int]:
    """RSS, PSS and the peak (VmHWM) of a process, in bytes; {} once it has gone."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss", "Pss_Anon", "Pss_File", "Anonymous"):
                    out[key.lower()] = int(rest.split()[0]) * 1024
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    out["hwm"] = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return {}
    return out


GUEST_RAM_SLACK_BYTES = 4 << 20   # QEMU aligns its RAM block's mapping up a little


def guest_ram_rss(pid: int, memory_bytes: int, smaps: str | None = None) -> int | None:
    """The resident size of QEMU's guest-RAM mapping, in bytes: the mapping as large as the
    guest's memory (pc.ram: anonymous, or a memfd where a memory backend asks for one), read
    from /proc/PID/smaps (or `smaps`). Unlike QEMU's whole RSS it leaves out QEMU's own heap,
    its libraries and, under TCG, the translated-code cache. None when no mapping of that
    size is found (or QEMU has gone)."""
    best: int | None = None
    size = 0
    try:
        with open(smaps or f"/proc/{pid}/smaps") as f:
            for line in f:
                key, _, rest = line.partition(" ")
                if key == "Size:":
                    size = int(rest.split()[0]) * 1024
                elif key == "Rss:" and memory_bytes <= size <= memory_bytes + \
                        GUEST_RAM_SLACK_BYTES:
                    rss = int(rest.split()[0]) * 1024
                    best = rss if best is None else max(best, rss)
    except (OSError, ValueError, IndexError):
        return None
    return best


def destroy(dom: libvirt.virDomain) -> None:
    """Power a domain off now, if it still runs."""
    try:
        if dom.isActive():
            dom.destroy()
    except libvirt.libvirtError as e:
        # It may power off between the check and the destroy: that is the goal anyway.
        if e.get_error_code() not in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_OPERATION_INVALID):
            raise IsobenchError(one_line(e)) from None


def undefine(dom: libvirt.virDomain) -> None:
    try:
        dom.undefine()
    except libvirt.libvirtError as e:
        if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
            raise IsobenchError(one_line(e)) from None
