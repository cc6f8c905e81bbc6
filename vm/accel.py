"""KVM or TCG, decided by measurement: KVM counts only after a vCPU ran guests to a known
point within a time limit. (/dev/kvm opening proves nothing: on some hosts a vCPU never runs.)

Three checks, in order (the first that fails decides; the result says which):
- sector: a 512-byte boot sector under SeaBIOS writes to QEMU's isa-debug-exit port; QEMU
  then exits with (value << 1) | 1. Proves a vCPU runs real-mode code.
- kernel: the guest kernel the driver boots (direct kernel boot, as the domains do) prints
  its "Linux version" banner on the serial port. Proves protected and long mode run too:
  on these machines the sector passes under KVM in ~1.4 s, yet a Linux guest under KVM
  never prints a byte (measured 2026-12-02), so the sector alone sent every VM run into
  a guest that hangs until its timeout.
- libvirt: getDomainCapabilities for virttype kvm. The domains are libvirt's: if libvirt
  cannot make a kvm domain (no kvm in its QEMU's capabilities, a sandbox without /dev/kvm),
  defineXML would fail with nothing to fall back on.
Only a success is cached (per host boot, on disk); a failure or a timeout is remembered for
this process alone, so the next isobench command probes again instead of pinning TCG.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import libvirt

from runtime import private
from runtime.errors import IsobenchError
from vm import host
from vm.guest import GuestError, find_kernel

QEMU = "qemu-system-x86_64"
KVM_DEVICE = "/dev/kvm"
PROBE_TIMEOUT_S = 3.0
# TCG has no vCPU that can spin: its probe can only be slow (a loaded host), never stuck,
# so its limit only bounds a broken QEMU; a short timer turned "slow" into "cannot run VMs".
TCG_PROBE_TIMEOUT_S = 120.0
KERNEL_PROBE_TIMEOUT_S = 15.0   # the banner comes after the kernel decompressed itself
KERNEL_BANNER = b"Linux version"
PROBE_VERSION = 3               # in the cache key: verdicts of an older probe are not reused
EXIT_PORT = 0xF4
EXIT_VALUE = 0x2A
EXPECTED_STATUS = (EXIT_VALUE << 1) | 1
CACHE_FILE = "vm-accel.json"
BOOT_ID = "/proc/sys/kernel/random/boot_id"

TCG_NOTE = ("TCG is emulation: QEMU translates every guest instruction in software, so guest "
            "CPU work runs several times slower than under KVM; overheads measured under TCG "
            "are not those of hardware virtualization")
KVM_NOTE = "KVM: hardware virtualization, the guest's instructions run on the CPU directly"


class AccelError(IsobenchError):
    """The requested acceleration is not available here."""


# mov al, 0x2a ; out 0xf4, al ; hlt ; jmp $-1   (then the 0x55AA boot signature)
BOOT_CODE = bytes([0xB0, EXIT_VALUE, 0xE6, EXIT_PORT, 0xF4, 0xEB, 0xFD])


def boot_sector() -> bytes:
    return BOOT_CODE + bytes(510 - len(BOOT_CODE)) + b"\x55\xaa"


@dataclass
class ProbeResult:
    accel: str            # kvm or tcg
    ok: bool
    seconds: float
    detail: str           # why not, or what ran
    check: str = "sector"  # the check that decided: sector, kernel or libvirt
    passed: list[str] = field(default_factory=list)  # the checks that passed before it

    def to_dict(self) -> dict:
        return asdict(self)


def probe_command(accel: str, disk: str) -> list[str]:
    return [QEMU, "-accel", accel, "-machine", "pc", "-m", "16", "-nodefaults",
            "-no-user-config", "-display", "none", "-serial", "none", "-monitor", "none",
            "-drive", f"file={disk},format=raw,if=ide",
            "-device", f"isa-debug-exit,iobase={EXIT_PORT:#x},iosize=1"]


def kvm_device_status(path: str = KVM_DEVICE) -> str | None:
    """None when the device opens read-write, else why not."""
    if not os.path.exists(path):
        return f"{path} does not exist (no KVM module loaded, or no virtualization in this CPU)"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return f"{path} does not open: {e.strerror}"
    os.close(fd)
    return None


def run_probe(accel: str, timeout: float = PROBE_TIMEOUT_S) -> ProbeResult:
    """Boot the probe sector under `accel`; ok only if the vCPU reached the exit port in time."""
    with tempfile.TemporaryDirectory(prefix="isobench-probe-") as tmp:
        disk = os.path.join(tmp, "probe.img")
        with open(disk, "wb") as f:
            f.write(boot_sector())
        started = time.monotonic()
        try:
            proc = subprocess.Popen(probe_command(accel, disk), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
        except OSError as e:
            return ProbeResult(accel, False, 0.0, f"{QEMU}: {e.strerror}")
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return ProbeResult(accel, False, time.monotonic() - started,
                               f"the vCPU did not finish a 512-byte boot sector within "
                               f"{timeout:g} s (QEMU spins: the vCPU never runs)")
        seconds = time.monotonic() - started
    if proc.returncode == EXPECTED_STATUS:
        return ProbeResult(accel, True, seconds, f"a vCPU ran the probe in {seconds:.2f} s")
    first = (err.strip().splitlines() or [f"exit status {proc.returncode}"])[0]
    return ProbeResult(accel, False, seconds, f"QEMU failed: {first}")


def probe_tcg() -> ProbeResult:
    """Whether QEMU runs guests under TCG here at all (however slowly)."""
    return run_probe("tcg", timeout=TCG_PROBE_TIMEOUT_S)


def kernel_probe_command(accel: str, kernel: str) -> list[str]:
    cpu = ["-cpu", "host"] if accel == "kvm" else []   # as the domains run under KVM
    return [QEMU, "-accel", accel, *cpu, "-machine", "pc", "-m", "128", "-nodefaults",
            "-no-user-config", "-display", "none", "-monitor", "none", "-no-reboot",
            "-serial", "stdio", "-kernel", kernel,
            "-append", "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1"]


def run_kernel_probe(accel: str, kernel: str,
                     timeout: float = KERNEL_PROBE_TIMEOUT_S) -> ProbeResult:
    """Boot the guest kernel under `accel`; ok once its banner reached the serial port."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(kernel_probe_command(accel, kernel), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError as e:
        return ProbeResult(accel, False, 0.0, f"{QEMU}: {e.strerror}", "kernel")
    assert proc.stdout is not None
    seen, exited = b"", False
    try:
        while KERNEL_BANNER not in seen and not exited:
            left = started + timeout - time.monotonic()
            if left <= 0:
                break
            if select.select([proc.stdout], [], [], left)[0]:
                chunk = os.read(proc.stdout.fileno(), 4096)
                exited = not chunk
                seen = (seen + chunk)[-4096:]
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    seconds = time.monotonic() - started
    name = os.path.basename(kernel)
    if KERNEL_BANNER in seen:
        return ProbeResult(accel, True, seconds,
                           f"a vCPU booted {name} to its banner in {seconds:.2f} s", "kernel")
    if exited:
        return ProbeResult(accel, False, seconds, f"QEMU exited before {name} printed its "
                           f"banner (exit status {proc.returncode})", "kernel")
    return ProbeResult(accel, False, seconds,
                       f"{name} printed nothing on the serial port within {timeout:g} s "
                       f"(QEMU spins: the vCPU never runs the kernel)", "kernel")


def run_libvirt_check(connect: Callable[[], libvirt.virConnect] = host.connect) -> ProbeResult:
    """Whether libvirt would define a kvm domain here: its domain capabilities for kvm."""
    started = time.monotonic()

    def result(ok: bool, detail: str) -> ProbeResult:
        return ProbeResult("kvm", ok, time.monotonic() - started, detail, "libvirt")

    try:
        conn = connect()
    except (host.LibvirtError, libvirt.libvirtError) as e:
        return result(False, f"libvirt: {e}")
    try:
        caps = conn.getDomainCapabilities(None, "x86_64", None, "kvm", 0)
    except libvirt.libvirtError as e:
        return result(False, f"libvirt cannot make kvm domains: {host.one_line(e)}")
    finally:
        conn.close()
    try:
        root = ET.fromstring(caps)
    except ET.ParseError:
        return result(False, "libvirt's domain capabilities for kvm are not XML")
    if root.findtext("domain") != "kvm":
        return result(False, f"libvirt offers {root.findtext('domain')!r} domains, not kvm")
    return result(True, f"libvirt makes kvm domains ({root.findtext('path')}, machine "
                        f"{root.findtext('machine')})")


def run_checks(accel: str, kernel: str | None,
               libvirt_check: Callable[[], ProbeResult] | None = None) -> ProbeResult:
    """The sector, the kernel, then (for kvm) libvirt: the first that fails decides; a
    success names every check that passed."""
    steps: list[Callable[[], ProbeResult]] = [lambda: run_probe(accel)]
    if kernel is not None:
        steps.append(lambda: run_kernel_probe(accel, kernel))
    if accel == "kvm":
        steps.append(libvirt_check or run_libvirt_check)
    passed: list[str] = []
    for step in steps:
        result = step()
        result.passed = list(passed)
        if not result.ok:
            return result
        passed.append(result.check)
    result.detail = f"{result.detail}; passed: {', '.join(passed)}"
    return result


@dataclass
class Decision:
    accel: str            # kvm or tcg: what the domain will use
    reason: str
    note: str             # TCG_NOTE or KVM_NOTE: goes into every result
    check: str = ""       # the probe check that decided (empty: none ran, e.g. --accel tcg)

    @property
    def mode(self) -> str:
        """The same as `accel` (the harness's name for it)."""
        return self.accel


def decide(requested: str, device_problem: str | None, kvm: ProbeResult | None) -> Decision:
    """The mode for `--accel requested`. `kvm` is the probe's verdict (None: not probed)."""
    if requested not in ("auto", "kvm", "tcg"):
        raise AccelError(f"invalid --accel {requested!r}: choose auto, kvm or tcg")
    if requested == "tcg":
        return Decision("tcg", "TCG requested", TCG_NOTE)
    why_not = device_problem or (None if kvm and kvm.ok else
                                 (kvm.detail if kvm else "KVM was not probed"))
    check = "device" if device_problem else (kvm.check if kvm else "")
    decided = f" (decided by the {check} check)" if check else ""
    if why_not is None:
        return Decision("kvm", (kvm.detail if kvm else "") + decided, KVM_NOTE, check)
    if requested == "kvm":
        raise AccelError(f"KVM requested but unusable: {why_not}{decided} "
                         "(use --accel tcg or auto)")
    return Decision("tcg", f"KVM unusable: {why_not}{decided}; falling back to TCG", TCG_NOTE,
                    check)


def _boot_id() -> str:
    try:
        with open(BOOT_ID) as f:
            return f.read().strip()
    except OSError:
        return ""


def _qemu_identity() -> str:
    """Path and mtime of the QEMU binary: an upgraded QEMU is probed again."""
    for d in os.environ.get("PATH", "").split(":"):
        path = os.path.join(d or ".", QEMU)
        if os.access(path, os.X_OK):
            return f"{path}@{int(os.stat(path).st_mtime)}"
    return ""


def cache_path() -> Path:
    return private.run_dir() / CACHE_FILE


def _guest_kernel() -> str | None:
    try:
        return find_kernel().kernel
    except GuestError:
        return None   # nothing to boot: the driver will say so; the sector decides


_FAILED: dict[str, ProbeResult] = {}  # this process's failed verdicts, by cache key


def probe_kvm(refresh: bool = False) -> ProbeResult:
    """The KVM verdict: a success is read from /run until the host reboots (or QEMU or the
    guest kernel change); a failure is kept by this process only, so a probe that lost to a
    loaded host is not repeated within one command, and is retried by the next."""
    kernel = _guest_kernel()
    key = {"boot_id": _boot_id(), "qemu": _qemu_identity(), "kernel": kernel,
           "probe": PROBE_VERSION}
    memo = json.dumps(key, sort_keys=True)
    path = cache_path()
    if not refresh:
        if memo in _FAILED:
            return _FAILED[memo]
        try:
            cached = json.loads(path.read_text())
            if cached.get("key") == key and cached["kvm"]["ok"]:
                return ProbeResult(**cached["kvm"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    result = run_checks("kvm", kernel)
    if not result.ok:
        _FAILED[memo] = result
        path.unlink(missing_ok=True)  # an older success no longer holds
        return result
    _FAILED.pop(memo, None)
    try:
        private.make_private(path.parent)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"key": key, "at": time.time(), "kvm": result.to_dict()}))
        os.replace(tmp, path)
    except OSError:
        pass  # an uncached verdict is still a verdict
    return result


def choose(requested: str) -> Decision:
    """What `--accel requested` means on this host now; probes KVM only when it may be used."""
    if requested == "tcg":
        return decide(requested, None, None)
    problem = kvm_device_status()
    return decide(requested, problem, None if problem else probe_kvm())
