"""The command workloads as pytest-benchmark tests, so its storage and comparison work:

    .venv/bin/pytest bench/ --benchmark-autosave
    .venv/bin/pytest bench/ --benchmark-compare --benchmark-compare-fail=median:10%

Each benchmark is one variant on one target, timed as a whole run (pedantic rounds, one
iteration each); the tool's own metrics and the cgroup accounting go into extra_info.
Needs root (namespaces, cgroups). Not part of `make test`: these are measurements.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import IMAGES_DIR
from bench.model import image_tag
from bench.targets import Job, all_targets
from bench.workloads import command_workloads
from runtime.api import Runtime

TARGETS = os.environ.get("ISOBENCH_PYTEST_TARGETS", "native,container,runc").split(",")
ROUNDS = int(os.environ.get("ISOBENCH_PYTEST_ROUNDS", "3"))
SECONDS = int(os.environ.get("ISOBENCH_PYTEST_SECONDS", "2"))
VARIANTS = [(w, v) for w in command_workloads() for v in w.variants]


@pytest.fixture(scope="session")
def runtime() -> Iterator[Runtime]:
    if os.geteuid() != 0:
        pytest.skip("needs root: the targets use namespaces and cgroups")
    root = Path(os.environ.get("ISOBENCH_ROOT") or tempfile.mkdtemp(prefix="isobench-pytest-"))
    rt = Runtime(root)
    from runtime.image.builder import Builder

    for name in sorted({w.image for w, _ in VARIANTS}):
        Builder(rt, out=lambda _line: None).build(IMAGES_DIR / name, tag=image_tag(name))
    yield rt


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("workload, variant", VARIANTS, ids=[v.name for _, v in VARIANTS])
def test_variant(benchmark, runtime: Runtime, workload, variant, target: str) -> None:  # noqa: ANN001
    tgt = all_targets(runtime)[target]
    reason = tgt.unavailable()
    if reason:
        pytest.skip(reason)
    argv = variant.argv(threads=os.cpu_count() or 1, seconds=SECONDS, scratch="{scratch}")
    outcomes = []

    def once() -> None:
        outcome = tgt.run(Job(image_tag(workload.image), argv))
        assert outcome.exit_code == 0, outcome.stderr[-500:]
        outcomes.append(outcome)

    benchmark.pedantic(once, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    last = outcomes[-1]
    benchmark.extra_info.update({
        "target": target, "variant": variant.name, "metrics": variant.parse(last.stdout),
        "cpu_total_ns": (last.accounting.get("delta") or {}).get("cpu_total_ns"),
        "memory_peak": (last.accounting.get("end") or {}).get("memory_peak"),
    })
