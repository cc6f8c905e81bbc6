"""Docker's per-container options beyond limits, parsed once for `run`'s flags and for
compose's keys alike: --restart, --ulimit, --tmpfs, --add-host, --dns, --stop-signal and
the durations of --stop-timeout and the --health-* flags (Go's time.ParseDuration).

Every parser raises ValueError with a one-line message the caller prints as is.
"""

from __future__ import annotations

import ipaddress
import re
import resource
import signal
from dataclasses import dataclass
from typing import Any

RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")

# Docker's --ulimit names (go-units' ulimit table) and Linux's resource numbers
# (<asm-generic/resource.h>; Python's resource module lacks a few of them).
ULIMITS = {"cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6,
           "nofile": 7, "memlock": 8, "locks": 10, "sigpending": 11, "msgqueue": 12,
           "nice": 13, "rtprio": 14, "rttime": 15}

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                   "m": 60.0, "h": 3600.0}
_DURATION_RE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_HOSTNAME_RE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$")


# ---- restart --------------------------------------------------------------------------------

@dataclass(frozen=True)
class RestartPolicy:
    """Docker's HostConfig.RestartPolicy: Name and MaximumRetryCount (on-failure only)."""

    name: str = "no"
    max_retries: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"Name": self.name, "MaximumRetryCount": self.max_retries}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> RestartPolicy:
        if not d:
            return cls()
        return cls(d.get("Name", "no"), int(d.get("MaximumRetryCount", 0)))

    def wants_restart(self, exit_code: int, restart_count: int, stopped: bool) -> bool:
        """Whether the monitor starts the command again after it exited with `exit_code`.
        A container stopped by the user (stop, kill, rm -f) is never restarted."""
        if stopped or self.name == "no":
            return False
        if self.name == "on-failure":
            return exit_code != 0 and (self.max_retries == 0 or
                                        restart_count < self.max_retries)
        return True  # always, unless-stopped


def parse_restart(text: str) -> RestartPolicy:
    """`no`, `always`, `unless-stopped`, `on-failure[:N]` (moby's ParseRestartPolicy)."""
    name, sep, count = text.partition(":")
    if name not in RESTART_POLICIES:
        raise ValueError(f"invalid restart policy: {text!r} (no, always, on-failure[:N] or "
                         "unless-stopped)")
    if not sep:
        return RestartPolicy(name)
    if name != "on-failure":
        raise ValueError(f"invalid restart policy: {text!r} (maximum retry count cannot be "
                         f"used with restart policy '{name}')")
    try:
        retries = int(count)
    except ValueError:
        raise ValueError(f"invalid restart policy: {text!r} (maximum retry count must be an "
                         "integer)") from None
    if retries < 0:
        raise ValueError(f"invalid restart policy: {text!r} (maximum retry count cannot be "
                         "negative)")
    return RestartPolicy(name, retries)


def restart_delay(previous: float, ran_for: float) -> float:
    """Docker's back-off: 100 ms, doubled at each restart, back to 100 ms after a run of at
    least 10 s, at most a minute."""
    if previous <= 0 or ran_for >= 10.0:
        return 0.1
    return min(previous * 2, 60.0)


# ---- durations, signals ----------------------------------------------------------------------

def parse_duration(text: str) -> float:
    """Go's time.ParseDuration ("1m30s", "500ms", "1.5h") -> seconds; a bare number is
    refused as Go refuses it, except 0."""
    value = text.strip()
    if value in ("0", "+0", "-0"):
        return 0.0
    sign = -1.0 if value.startswith("-") else 1.0
    body = value.lstrip("+-")
    pos, total = 0, 0.0
    while pos < len(body):
        m = _DURATION_RE.match(body, pos)
        if m is None:
            raise ValueError(f"invalid duration: {text!r} (e.g. 30s, 1m30s, 500ms)")
        total += float(m[1]) * _DURATION_UNITS[m[2]]
        pos = m.end()
    if not body:
        raise ValueError(f"invalid duration: {text!r} (e.g. 30s, 1m30s, 500ms)")
    return sign * total


def parse_signal(value: str) -> int:
    """`SIGTERM`, `TERM`, `15` -> 15, as Docker's --stop-signal and `kill -s`."""
    name = value.strip().upper()
    if name.isdigit():
        number = int(name)
        if number not in {int(s) for s in signal.Signals}:
            raise ValueError(f"invalid signal: {value}")
        return number
    try:
        return int(signal.Signals[name if name.startswith("SIG") else f"SIG{name}"])
    except KeyError:
        raise ValueError(f"invalid signal: {value}") from None


# ---- ulimits, tmpfs, hosts, dns --------------------------------------------------------------

@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int

    @property
    def resource(self) -> int:
        return ULIMITS[self.name]

    def __str__(self) -> str:
        return f"{self.name}={self.soft}:{self.hard}"


def _limit_value(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"invalid ulimit {what}: {text!r}") from None
    return resource.RLIM_INFINITY if value == -1 else value


def ulimit(name: str, soft: int | str, hard: int | str | None = None) -> Ulimit:
    if name not in ULIMITS:
        raise ValueError(f"invalid ulimit type: {name}")
    lo = _limit_value(str(soft), "value")
    hi = _limit_value(str(hard), "value") if hard is not None else lo
    infinite = resource.RLIM_INFINITY
    if hi != infinite and (lo == infinite or lo > hi):
        raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: "
                         f"{soft} > {hard}")
    return Ulimit(name, lo, hi)


def parse_ulimit(text: str) -> Ulimit:
    """`nofile=1024:2048` or `nproc=64` (go-units ParseUlimit)."""
    name, sep, values = text.partition("=")
    if not sep:
        raise ValueError(f"invalid ulimit argument: {text}")
    soft, _, hard = values.partition(":")
    return ulimit(name, soft, hard or None)


def parse_tmpfs(text: str) -> tuple[str, str]:
    """`/run[:OPTIONS]` -> (path, options), as --tmpfs."""
    path, _, options = text.partition(":")
    if not path.startswith("/"):
        raise ValueError(f"invalid tmpfs: {text!r} (the mount point must be an absolute path)")
    if path == "/":
        raise ValueError(f"invalid tmpfs: {text!r} (cannot mount over /)")
    return path, options


def parse_extra_host(text: str) -> tuple[str, str]:
    """`host:IP` (--add-host; compose also writes `host=IP`) -> (host, IP). An IPv6 address
    keeps its colons: the host is what comes before the first separator."""
    for sep in ("=", ":"):
        host, found, ip = text.partition(sep)
        if found:
            break
    else:
        raise ValueError(f"invalid extra host: {text!r} (HOST:IP)")
    ip = ip.strip("[]")
    if not _HOSTNAME_RE.match(host):
        raise ValueError(f"invalid extra host: {text!r} (bad host name {host!r})")
    if ip == "host-gateway":
        raise ValueError(f"invalid extra host: {text!r} (host-gateway is not supported by "
                         "isobench)")
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise ValueError(f"invalid extra host: {text!r} (invalid IP address {ip!r})") from None
    return host, ip


def parse_dns(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"{text} is not an ip address") from None
