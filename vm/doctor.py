"""What this host can do for isobench, and why not: each check one line, measured where it can
be (the KVM verdict comes from running a vCPU, not from /dev/kvm existing)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

import libvirt

from runtime import private
from runtime.cgroups import CgroupError, describe_host
from runtime.errors import IsobenchError
from runtime.fsutil import state_root
from vm import accel, guest, host, microvm


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    needed_by: str = ""  # what cannot run when this fails (empty: informational)


def _version(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if out.returncode == 0 and text else None


def state_checks() -> list[Check]:
    """The modes of the state root, its top directories, the run directory and the cache as
    found, and what was tightened (only root may enter: 0700; config and logs 0600)."""
    try:
        found = private.secure_state(state_root(), force=True)
        files = private.private_files(state_root())
    except (IsobenchError, OSError) as e:
        return [Check("state modes", False, str(e), "containers, vm")]
    checks = [Check("state dir", True, f.line())
              for f in found if f.action != "absent"]
    if files:
        shown = "; ".join(f.line() for f in files[:5])
        more = f" and {len(files) - 5} more" if len(files) > 5 else ""
        checks.append(Check("state files", True,
                            f"{len(files)} tightened to 0600: {shown}{more}"))
    else:
        checks.append(Check("state files", True, "config, log and network files private"))
    return checks


def host_checks() -> list[Check]:
    checks = [Check("root", os.geteuid() == 0,
                    "running as root" if os.geteuid() == 0 else
                    "not root: namespaces, mounts, cgroups and libvirt's system instance need it",
                    "containers, vm")]
    try:
        checks.append(Check("cgroups", True, describe_host()))
    except CgroupError as e:
        checks.append(Check("cgroups", False, str(e), "containers, vm accounting"))
    with open("/proc/filesystems") as f:
        overlay = "overlay" in f.read()
    checks.append(Check("overlayfs", overlay, "available" if overlay else
                        "not in /proc/filesystems (modprobe overlay)", "containers"))
    for tool in ("runc", "crun"):
        found = _version([tool, "--version"])
        checks.append(Check(tool, found is not None, found or "not installed"))
    return checks


def vm_checks(refresh: bool = False) -> list[Check]:
    checks: list[Check] = []
    try:
        kernel = guest.boot_kernel()
        checks.append(Check("guest kernel", True, f"{kernel.release}: {kernel.describe()}",
                            "vm"))
        missing = guest.initrd_modules(kernel.initrd)
        checks.append(Check("initrd modules", not missing,
                            "virtio_blk and ext4 present" if not missing else
                            f"missing {', '.join(missing)}: root=/dev/vda cannot be mounted"
                            + ("" if kernel.initrd.endswith(".cpio") else
                               " (set MODULES=most in /etc/initramfs-tools/initramfs.conf)"),
                            "vm"))
    except guest.GuestError as e:
        checks.append(Check("guest kernel", False, str(e), "vm"))
    for tool, hint in (("mkfs.ext4", "e2fsprogs"), ("qemu-img", "qemu-utils"),
                       (accel.QEMU, "qemu-system-x86"), (os.environ.get("CC", "cc"), "gcc")):
        path = shutil.which(tool)
        checks.append(Check(tool, path is not None, path or f"missing (apt-get install {hint})",
                            "vm"))
    try:
        conn = host.connect()
        try:
            lv, qv = conn.getLibVersion(), conn.getVersion()
            checks.append(Check("libvirt", True, f"{host.uri()}: libvirt {_dotted(lv)}, "
                                f"QEMU {_dotted(qv)}", "vm"))
        finally:
            conn.close()
    except (host.LibvirtError, libvirt.libvirtError) as e:
        checks.append(Check("libvirt", False, str(e), "vm"))
    why = microvm.unavailable()
    checks.append(Check("microvm", why is None, why or f"{accel.QEMU} has the microvm machine "
                        "(vm run --machine microvm, bench target microvm)"))  # optional
    problem = accel.kvm_device_status()
    checks.append(Check("/dev/kvm", problem is None, problem or "exists and opens (proves nothing "
                        "yet: see the KVM probe)"))
    kvm = None if problem else accel.probe_kvm(refresh=refresh)
    if kvm is not None:
        passed = f"; passed before it: {', '.join(kvm.passed)}" if kvm.passed and not kvm.ok \
            else ""
        checks.append(Check("KVM probe", kvm.ok, ("QEMU and libvirt: " if kvm.ok else "failed: ")
                            + f"{kvm.detail} (decided by the {kvm.check} check{passed})"))
    tcg = accel.probe_tcg()
    checks.append(Check("TCG probe", tcg.ok, tcg.detail, "vm (without KVM)"))
    decision = accel.decide("auto", problem, kvm)
    usable = decision.accel == "kvm" or tcg.ok
    checks.append(Check("acceleration", usable, f"{decision.accel.upper()} ({decision.reason}). "
                        f"{decision.note}", "vm"))
    return checks


def _dotted(version: int) -> str:
    return f"{version // 1_000_000}.{version // 1000 % 1000}.{version % 1000}"
