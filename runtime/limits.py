"""Docker-style resource flags (--memory, --cpus, --pids-limit, ...) parsed into `Limits`.

Every parser raises ValueError with a one-line message the CLI prints as is.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)b?$", re.IGNORECASE)

# Docker refuses --memory below this: a smaller cgroup OOMs before the process starts.
MIN_MEMORY_BYTES = 6 << 20
MIN_CPU_SHARES = 2
MAX_CPU_SHARES = 262144
DEFAULT_CPU_PERIOD_US = 100000


def parse_bytes(text: str) -> int:
    """'256m' -> 268435456. Units b, k, m, g, t (binary, case-insensitive, optional 'b')."""
    match = _SIZE_RE.match(text.strip())
    if match is None:
        raise ValueError(f"invalid size: {text!r}")
    number, unit = match.groups()
    # Integer arithmetic keeps "1.5g" exact where float would round (and truncates as
    # int(Decimal) did); the decimal module would cost every `run` its import.
    whole, _, frac = number.partition(".")
    scale = _UNITS[unit.lower()]
    return int(whole) * scale + int(frac or "0") * scale // 10 ** len(frac)


def parse_memory(text: str) -> int:
    """--memory: a size of at least 6 MiB, as Docker requires."""
    value = parse_bytes(text)
    if value < MIN_MEMORY_BYTES:
        raise ValueError(f"invalid memory limit: {text!r} (minimum memory limit allowed is 6MB)")
    return value


def parse_cpus(text: str) -> float:
    """--cpus: a fraction of the host's CPUs, 0.01 .. os.cpu_count()."""
    try:
        cpus = float(text)
    except ValueError:
        raise ValueError(f"invalid cpus: {text!r}") from None
    ncpu = os.cpu_count() or 1
    # 0.01 CPU is the kernel's floor: a CFS quota below 1 ms is rejected.
    if not 0.01 <= cpus <= ncpu:
        raise ValueError(
            f"range of CPUs is from 0.01 to {ncpu:.2f}, as there are only {ncpu} CPUs available"
        )
    return cpus


def cpus_to_quota(cpus: float, period_us: int = DEFAULT_CPU_PERIOD_US) -> int:
    """CFS quota in microseconds per `period_us` for `cpus` CPUs."""
    return round(cpus * period_us)


def _parse_int(text: str | int, what: str, rule: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"invalid {what}: {text!r} ({rule})") from None


def parse_pids_limit(text: str | int) -> int:
    """--pids-limit: at least 1 (0 and -1, Docker's 'unlimited', are refused here)."""
    rule = "must be a positive integer"
    value = _parse_int(text, "pids limit", rule)
    if value < 1:
        raise ValueError(f"invalid pids limit: {value} ({rule})")
    return value


def parse_cpu_shares(text: str | int) -> int:
    """--cpu-shares: the kernel's range 2 .. 262144."""
    rule = f"must be between {MIN_CPU_SHARES} and {MAX_CPU_SHARES}"
    value = _parse_int(text, "cpu shares", rule)
    if not MIN_CPU_SHARES <= value <= MAX_CPU_SHARES:
        raise ValueError(f"invalid cpu shares: {value} ({rule})")
    return value


@dataclass(frozen=True)
class DeviceRate:
    """One --device-read-bps / --device-write-bps rule."""

    major: int
    minor: int
    bytes_per_sec: int
    path: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "major": self.major,
            "minor": self.minor,
            "bytes_per_sec": self.bytes_per_sec,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceRate:
        return cls(
            major=int(data["major"]),
            minor=int(data["minor"]),
            bytes_per_sec=int(data["bytes_per_sec"]),
            path=str(data["path"]),
        )


def parse_device_rate(text: str) -> DeviceRate:
    """'/dev/sda:10mb' -> DeviceRate for that block device's major:minor."""
    path, sep, rate_text = text.rpartition(":")
    if not sep or not path or not rate_text:
        raise ValueError(f"invalid device rate: {text!r} (expected PATH:RATE, e.g. /dev/sda:10mb)")
    try:
        rate = parse_bytes(rate_text)
    except ValueError:
        raise ValueError(f"invalid device rate: {text!r} (bad rate {rate_text!r})") from None
    if rate < 1:
        raise ValueError(f"invalid device rate: {text!r} (rate must be positive)")
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ValueError(f"invalid device rate: {text!r} ({path}: {exc.strerror})") from None
    if not stat.S_ISBLK(st.st_mode):
        raise ValueError(f"invalid device rate: {text!r} ({path} is not a block device)")
    return DeviceRate(os.major(st.st_rdev), os.minor(st.st_rdev), rate, path)


@dataclass(frozen=True)
class Limits:
    """Resource limits of one container; None means unlimited."""

    memory_bytes: int | None = None
    cpu_quota_us: int | None = None
    cpu_period_us: int = DEFAULT_CPU_PERIOD_US
    cpu_shares: int | None = None
    pids_max: int | None = None
    device_read_bps: tuple[DeviceRate, ...] = ()
    device_write_bps: tuple[DeviceRate, ...] = ()

    @classmethod
    def from_flags(
        cls,
        memory: str | None = None,
        cpus: str | None = None,
        cpu_shares: str | None = None,
        pids_limit: str | None = None,
        device_read_bps: Iterable[str] = (),
        device_write_bps: Iterable[str] = (),
    ) -> Limits:
        """Limits from the CLI's raw flag values (None or empty: flag not given)."""
        return cls(
            memory_bytes=parse_memory(memory) if memory is not None else None,
            cpu_quota_us=cpus_to_quota(parse_cpus(cpus)) if cpus is not None else None,
            cpu_shares=parse_cpu_shares(cpu_shares) if cpu_shares is not None else None,
            pids_max=parse_pids_limit(pids_limit) if pids_limit is not None else None,
            device_read_bps=tuple(parse_device_rate(r) for r in device_read_bps),
            device_write_bps=tuple(parse_device_rate(r) for r in device_write_bps),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "memory_bytes": self.memory_bytes,
            "cpu_quota_us": self.cpu_quota_us,
            "cpu_period_us": self.cpu_period_us,
            "cpu_shares": self.cpu_shares,
            "pids_max": self.pids_max,
            "device_read_bps": [r.to_dict() for r in self.device_read_bps],
            "device_write_bps": [r.to_dict() for r in self.device_write_bps],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Limits:
        return cls(
            memory_bytes=data.get("memory_bytes"),
            cpu_quota_us=data.get("cpu_quota_us"),
            cpu_period_us=data.get("cpu_period_us", DEFAULT_CPU_PERIOD_US),
            cpu_shares=data.get("cpu_shares"),
            pids_max=data.get("pids_max"),
            device_read_bps=tuple(
                DeviceRate.from_dict(r) for r in data.get("device_read_bps") or ()
            ),
            device_write_bps=tuple(
                DeviceRate.from_dict(r) for r in data.get("device_write_bps") or ()
            ),
        )
