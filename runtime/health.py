"""Docker's health checks: the check (HEALTHCHECK / --health-* / compose's `healthcheck`) and
the state the monitor keeps for it (State.Health: starting, healthy, unhealthy).

The rules are moby's (daemon/health.go): the first probe runs one interval after the start
(`start_interval` while in the start period); a probe that exits 0 makes the container
healthy and resets the failing streak; any other exit, or one that runs past the timeout,
adds to the streak, and `retries` failures in a row make it unhealthy. A failure inside the
start period does not count, unless a probe has already succeeded. The last five results
are kept, each with at most 4 KiB of output.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_INTERVAL_S = 30.0
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_START_INTERVAL_S = 5.0
DEFAULT_RETRIES = 3
KEEP_RESULTS = 5
MAX_OUTPUT = 4096

STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"


@dataclass
class Healthcheck:
    """Docker's Config.Healthcheck, in seconds. test: ["CMD", argv...] or
    ["CMD-SHELL", "command line"]; ["NONE"] (or no test) is no check."""

    test: list[str]
    interval: float = DEFAULT_INTERVAL_S
    timeout: float = DEFAULT_TIMEOUT_S
    start_period: float = 0.0
    start_interval: float = DEFAULT_START_INTERVAL_S
    retries: int = DEFAULT_RETRIES

    def argv(self) -> list[str]:
        if self.test[0] == "CMD-SHELL":
            return ["/bin/sh", "-c", " ".join(self.test[1:])]
        return list(self.test[1:])

    @property
    def disabled(self) -> bool:
        return not self.test or self.test[0] == "NONE"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Healthcheck | None:
        return cls(**d) if d else None


def parse_test(value: str | list[str]) -> list[str]:
    """A string is CMD-SHELL; a list starts with NONE, CMD or CMD-SHELL (compose and Docker
    refuse anything else)."""
    if isinstance(value, str):
        return ["CMD-SHELL", value]
    if not value:
        raise ValueError("healthcheck test: an empty list")
    kind = value[0]
    if kind == "NONE":
        return ["NONE"]
    if kind not in ("CMD", "CMD-SHELL"):
        raise ValueError(f"healthcheck test: the first item must be NONE, CMD or CMD-SHELL, "
                         f"not {kind!r}")
    if len(value) < 2:
        raise ValueError(f"healthcheck test: {kind} needs a command")
    return list(value)


@dataclass
class HealthState:
    """State.Health as `inspect` shows it."""

    status: str = STARTING
    failing_streak: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    succeeded_once: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"Status": self.status, "FailingStreak": self.failing_streak,
                "Log": list(self.log)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> HealthState | None:
        if not d:
            return None
        return cls(d.get("Status", STARTING), d.get("FailingStreak", 0), d.get("Log", []))

    def in_start_period(self, check: Healthcheck, started_at: float, now: float) -> bool:
        return not self.succeeded_once and now < started_at + check.start_period

    def next_delay(self, check: Healthcheck, started_at: float, now: float) -> float:
        """Seconds from the end of one probe (or the start) to the next."""
        if self.in_start_period(check, started_at, now) and check.start_period > 0:
            return check.start_interval
        return check.interval

    def record(self, check: Healthcheck, exit_code: int, output: str, start: float,
               end: float, started_at: float) -> None:
        self.log = [*self.log, {"Start": start, "End": end, "ExitCode": exit_code,
                                "Output": output[:MAX_OUTPUT]}][-KEEP_RESULTS:]
        if exit_code == 0:
            self.status, self.failing_streak, self.succeeded_once = HEALTHY, 0, True
            return
        if self.in_start_period(check, started_at, start):
            return  # a failure while the container starts does not count
        self.failing_streak += 1
        if self.failing_streak >= check.retries:
            self.status = UNHEALTHY


def timeout_output(check: Healthcheck) -> str:
    return f"Health check exceeded timeout ({check.timeout:g}s)"


def now() -> float:
    return time.time()
