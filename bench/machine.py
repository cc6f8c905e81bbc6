"""The "machine" block of a results document: this host's CPU, memory, kernel, distribution,
cgroup mode (runtime's detection), VM acceleration (proved by the VM driver and passed in)
the version of every tool a target runs; psutil's CPU counts, frequency and memory, the
frequency governor, whether this host is itself a guest (the CPU's hypervisor flag and the
hypervisor's type), and the isobench version and commit that measured."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from typing import Any

import psutil

from results.provenance import checkout_commit
from runtime.cgroups import CgroupError, detect_mode

# tool -> argv printing its version (stdout or stderr); a missing tool is recorded as null.
TOOLS: dict[str, tuple[str, ...]] = {
    "qemu": (f"qemu-system-{platform.machine() or 'x86_64'}", "--version"),
    "libvirt": ("libvirtd", "--version"),
    "runc": ("runc", "--version"),
    "crun": ("crun", "--version"),
    "sysbench": ("sysbench", "--version"),
    "fio": ("fio", "--version"),
    "iperf3": ("iperf3", "--version"),
    "qperf": ("qperf", "--version"),
    "stress-ng": ("stress-ng", "--version"),
}
_VERSION = re.compile(r"\d+(?:\.\d+)+(?:[-+~][\w.]+)?")
# Daemons such as libvirtd live in sbin, which is not on every PATH.
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin",
                                "/sbin"])


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def version_from_output(text: str) -> str | None:
    """The first dotted version number in a tool's --version output, else its first line."""
    for line in text.splitlines():
        if line.strip():
            match = _VERSION.search(line)
            return match.group(0) if match else _one_line(line, 100)
    return None


def tool_version(argv: Sequence[str], timeout: float = 3.0) -> str | None:
    exe = shutil.which(argv[0], path=_SEARCH_PATH)
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, errors="replace",
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return version_from_output(proc.stdout) or version_from_output(proc.stderr)


def cpu_model_from(cpuinfo: str) -> str | None:
    # x86 says "model name"; arm64 kernels often give only "CPU part"-style fields.
    for key in ("model name", "Model", "cpu model", "Processor"):
        for line in cpuinfo.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == key and value.strip():
                return " ".join(value.split())
    return None


def memory_bytes_from(meminfo: str) -> int | None:
    match = re.search(r"^MemTotal:\s+(\d+)\s*kB", meminfo, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def distribution_from(os_release: str) -> str | None:
    fields = {}
    for line in os_release.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip("\"'")
    if "PRETTY_NAME" in fields:
        return fields["PRETTY_NAME"]
    name = " ".join(filter(None, (fields.get("NAME"), fields.get("VERSION_ID"))))
    return name or None


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _cgroup_mode() -> str | None:
    try:
        return detect_mode()
    except (CgroupError, OSError):
        return None


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# DMI vendor or product strings -> systemd-detect-virt's names, where systemd is absent.
DMI_VIRT = (("KVM", "kvm"), ("QEMU", "qemu"), ("VMware", "vmware"), ("VirtualBox", "oracle"),
            ("Xen", "xen"), ("Microsoft Corporation Virtual Machine", "microsoft"),
            ("Amazon EC2", "amazon"), ("Google Compute Engine", "google"), ("BHYVE", "bhyve"))


def cpu_flags_from(cpuinfo: str) -> set[str]:
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def _detect_virt(*flags: str, timeout: float = 3.0) -> str | None:
    """systemd-detect-virt's answer ("none" on bare metal), or None where it is missing."""
    exe = shutil.which("systemd-detect-virt")
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, *flags], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None


def dmi_virt(dmi_dir: str = "/sys/class/dmi/id") -> str | None:
    text = " ".join(_read(f"{dmi_dir}/{name}").strip()
                    for name in ("sys_vendor", "product_name", "bios_vendor"))
    if not text.strip():
        return None
    return next((name for marker, name in DMI_VIRT if marker in text), "none")


def virtualization(cpuinfo: str | None = None, *, detect: Any = _detect_virt,
                   dmi: Any = dmi_virt) -> dict[str, Any]:
    """Is this host itself a guest? The CPU's `hypervisor` flag (set by every hypervisor that
    exposes CPUID leaf 0x40000000), the hypervisor's type from systemd-detect-virt --vm, else
    DMI, else only the flag (type "unknown"); and the container it may run in."""
    flag = "hypervisor" in cpu_flags_from(_read("/proc/cpuinfo") if cpuinfo is None
                                          else cpuinfo)
    kind, source = detect("--vm"), "systemd-detect-virt"
    if kind is None:
        kind, source = dmi(), "dmi"
    if kind is None:
        kind, source = ("unknown" if flag else "none"), "cpuid"
    guest = flag or kind != "none"
    if guest and kind == "none":  # the flag says guest where the tool says none: say so
        kind = "unknown"
    container = detect("--container")
    return {"guest": guest, "type": kind, "source": source, "hypervisor_flag": flag,
            "container": None if container in (None, "none") else container}


def cpu_details(cpu_dir: str = "/sys/devices/system/cpu") -> dict[str, Any]:
    """psutil's counts and frequency, and the frequency governor (None where the kernel
    exposes no cpufreq, as in most guests)."""
    freq = psutil.cpu_freq()
    governor = _read(f"{cpu_dir}/cpu0/cpufreq/scaling_governor").strip() or None

    def mhz(value: float | None) -> float | None:
        return round(value, 1) if value else None  # psutil reports 0.0 for unknown

    return {"logical_cores": psutil.cpu_count(logical=True),
            "physical_cores": psutil.cpu_count(logical=False),
            "freq_mhz": {"current": mhz(freq.current) if freq else None,
                         "min": mhz(freq.min) if freq else None,
                         "max": mhz(freq.max) if freq else None},
            "governor": governor}


def machine_metadata(acceleration: Mapping[str, Any] | None = None, *,
                     tools: Mapping[str, Sequence[str]] = TOOLS,
                     timeout: float = 3.0) -> dict[str, Any]:
    """The "machine" block for this host. Acceleration is a measured fact the VM driver
    proves (vm/accel.py), so the caller passes it in: {"mode": "kvm"|"tcg"|None, "reason"}."""
    accel = dict(acceleration or {"mode": None, "reason": "not probed"})
    accel.setdefault("mode", None)
    accel.setdefault("reason", "")
    with ThreadPoolExecutor(max_workers=max(1, len(tools))) as pool:  # --version calls overlap
        found = dict(zip(tools, pool.map(lambda a: tool_version(a, timeout), tools.values()),
                         strict=True))
    versions: dict[str, str | None] = {"python": platform.python_version(),
                                       "isobench": _package_version("isobench"), **found}
    uname = platform.uname()
    return {
        "cpu_model": cpu_model_from(_read("/proc/cpuinfo")) or platform.processor() or None,
        "cores": os.cpu_count(),
        "memory_bytes": memory_bytes_from(_read("/proc/meminfo")),
        "kernel": uname.release,
        "kernel_version": uname.version,
        "arch": uname.machine,
        "hostname": uname.node,
        "distribution": distribution_from(_read("/etc/os-release")),
        "cgroup_mode": _cgroup_mode(),
        "acceleration": accel,
        "versions": versions,
        "cpu": cpu_details(),
        "memory_available_bytes": psutil.virtual_memory().available,
        "virtualization": virtualization(),
        "isobench": {"version": versions["isobench"], "commit": checkout_commit()},
    }
