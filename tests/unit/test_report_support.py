"""Small hand-made results documents for the report tests (schema version 1); no tests
here, only builders the test_report_* modules share."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "reports"
MIB = 2**20

MACHINE: dict[str, Any] = {
    "cpu_model": "Test CPU", "cores": 2, "memory_bytes": 8 * 2**30, "kernel": "6.1.0-test",
    "distribution": "Debian GNU/Linux 12 (bookworm)", "cgroup_mode": "hybrid",
    "acceleration": {"mode": None, "reason": "no vm target"}, "versions": {"python": "3.11"},
}


def fixture(name: str) -> dict[str, Any]:
    with open(FIXTURES / f"{name}.json", encoding="utf-8") as f:
        return json.load(f)


def doc(*runs: dict[str, Any], targets: tuple[str, ...] = ("native", "container", "runc", "vm"),
        machine: dict[str, Any] | None = None, session_id: str = "s1",
        started_at: str = "2026-11-28T10:00:00Z", workloads: dict[str, Any] | None = None
        ) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "session": {"id": session_id, "started_at": started_at,
                    "finished_at": started_at, "profile": "tiny", "argv": ["isobench"],
                    "repeat": 1, "seed": 0, "complete": True},
        "machine": copy.deepcopy(machine or MACHINE),
        "targets": {t: {"available": True, "reason": ""} for t in targets},
        "workloads": workloads or {},
        "runs": list(runs),
        "summary": {},
    }


def run(workload: str, variant: str, target: str, metrics: dict[str, float] | None = None,
        *, extra: dict[str, Any] | None = None, accounting: dict[str, Any] | None = None,
        rep: int = 0, ok: bool = True, exit_code: int | None = 0, wall_s: float = 1.0,
        error: str = "") -> dict[str, Any]:
    return {"workload": workload, "variant": variant, "target": target, "repetition": rep,
            "ok": ok, "metrics": metrics or {}, "wall_s": wall_s, "exit_code": exit_code,
            "error": error, "output": "", "accounting": accounting or {},
            "extra": extra or {}, "started_at": 0.0}


def host_samples(mib: list[float], dt: float = 0.25) -> dict[str, Any]:
    """Accounting with list samples as the host collectors write them."""
    return {"start": None, "end": {}, "sample_fields": ["t_s", "cpu_total_ns", "memory_current"],
            "samples": [[round((i + 1) * dt, 3), 0, int(m * MIB)] for i, m in enumerate(mib)]}


def vm_samples(mib: list[float], dt: float = 0.25) -> dict[str, Any]:
    """Accounting with dict samples as the VM driver writes them."""
    return {"start": None, "end": {},
            "samples": [{"t": i * dt, "cgroup_memory": int(m * MIB),
                         "qemu": {"rss": int(m * 1.1 * MIB), "pss": int(m * MIB)}}
                        for i, m in enumerate(mib)]}
