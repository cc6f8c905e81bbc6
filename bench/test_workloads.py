"""The command workloads as pytest-benchmark tests, each doing a fixed amount of work, so the
time pytest-benchmark takes *is* the metric (`make bench-pytest`):

    .venv/bin/pytest bench/test_workloads.py --benchmark-autosave
    .venv/bin/pytest bench/test_workloads.py --benchmark-compare --benchmark-compare-fail=mean:10%

Each benchmark is one variant's fixed-work form (Variant.fixed: sysbench --events=N --time=0,
fio --io_size without --time_based) on one target, run through the same Target code as
`isobench bench`, timed as a whole run (pedantic rounds, one iteration each): start-up plus
the work. Its group is the variant, so each table puts the targets of one variant side by
side; extra_info holds the work, its unit, the target and the tool's own metrics. A later
run that takes longer for the same work fails --benchmark-compare-fail: the runtime's
overhead or the host got slower.

Targets: native, container (isobench's own runtime) and runc by default
(ISOBENCH_PYTEST_TARGETS). Not the VM: under TCG a boot alone takes tens of seconds and the
work runs many times slower, so its rounds would take longer than the rest together.
memory.random has no fixed-work form (see bench/workloads/memory.py).

ISOBENCH_PYTEST_SCALE multiplies every amount of work (the benchmark names stay the same):
0.05 for a smoke run, 1.5 for a deliberately slower run that comparing must catch.

Needs root (namespaces, cgroups). A private ISOBENCH_ROOT (and cgroup parent) is made for
the session and removed after it, unless ISOBENCH_ROOT is given (its images then stay);
either way the session fails if a mount, a cgroup, a container or a bench lease is left.
Not part of `make test` (tests/integration/test_bench_pytest.py runs it small there).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import IMAGES_DIR
from bench.leases import LEASES
from bench.model import FixedWork, Variant, Workload, image_tag
from bench.targets import Job, all_targets
from bench.workloads import command_workloads
from runtime.api import Runtime

TARGETS = os.environ.get("ISOBENCH_PYTEST_TARGETS", "native,container,runc").split(",")
ROUNDS = int(os.environ.get("ISOBENCH_PYTEST_ROUNDS", "5"))
SCALE = float(os.environ.get("ISOBENCH_PYTEST_SCALE", "1"))
VARIANTS = [(w, v) for w in command_workloads() for v in w.scheduled_variants() if v.fixed]
CGROUP_ROOT = Path("/sys/fs/cgroup")


def work(fixed: FixedWork) -> int:
    """The amount of work at ISOBENCH_PYTEST_SCALE, at least one unit."""
    return max(1, round(fixed.work * SCALE))


def leftovers(rt: Runtime) -> dict[str, int]:
    """What a finished session must not leave: mounts under its root, cgroups under its
    parent (in every hierarchy), container records, bench leases (each names a native or
    runc instance's cgroup, overlay and runc state until it is undone)."""
    with open("/proc/self/mountinfo") as f:
        mounts = sum(1 for line in f if str(rt.root) in line)
    cgroups = sum(1 for p in cgroup_parents(rt) for e in os.scandir(p) if e.is_dir())
    counts = {"mounts": mounts, "cgroups": cgroups,
              "containers": len(rt.containers.list()),
              "bench leases": sum(1 for _ in (rt.root / LEASES).glob("*"))}
    return {kind: n for kind, n in counts.items() if n}


def cgroup_parents(rt: Runtime) -> list[Path]:
    """The parent's dir in every hierarchy, named ones included (runc makes its cgroup in
    each v1 hierarchy, systemd's and the unified one of a hybrid host too)."""
    return [p for p in (*CGROUP_ROOT.glob(f"*/{rt.cgroup_parent}"),
                        CGROUP_ROOT / rt.cgroup_parent) if p.is_dir()]


def remove_cgroup_parent(rt: Runtime) -> None:
    for path in cgroup_parents(rt):
        try:
            os.rmdir(path)
        except OSError:
            pass  # absent, or still holding a cgroup: counted by leftovers()


@pytest.fixture(scope="session")
def runtime() -> Iterator[Runtime]:
    if os.geteuid() != 0:
        pytest.skip("needs root: the targets use namespaces and cgroups")
    given = os.environ.get("ISOBENCH_ROOT")
    saved = {k: os.environ.get(k) for k in ("ISOBENCH_ROOT", "ISOBENCH_CGROUP_PARENT")}
    root = Path(given or tempfile.mkdtemp(prefix="isobench-pytest-"))
    if not given:
        # A cgroup parent of its own, so the census below counts only this session's.
        os.environ["ISOBENCH_ROOT"] = str(root)
        os.environ["ISOBENCH_CGROUP_PARENT"] = root.name  # isobench-pytest-...
    try:
        rt = Runtime(root)
        from runtime.image.builder import Builder

        # every target runs the image's tools, native too (chrooted into its layers)
        for name in sorted({w.image for w, _ in VARIANTS}):
            Builder(rt, out=lambda _line: None).build(IMAGES_DIR / name, tag=image_tag(name))
        before = leftovers(rt)      # a given root's parent may hold others' cgroups
        yield rt
        left = {kind: n - before.get(kind, 0) for kind, n in leftovers(rt).items()
                if n > before.get(kind, 0)}
        if not given:
            remove_cgroup_parent(rt)
    finally:
        if not given:
            shutil.rmtree(root, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert not left, f"the benchmark session left behind: {left}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("workload, variant", VARIANTS, ids=[v.name for _, v in VARIANTS])
def test_variant(benchmark, runtime: Runtime, workload: Workload,  # noqa: ANN001
                 variant: Variant, target: str) -> None:
    targets = all_targets(runtime)
    if target not in targets:
        pytest.fail(f"ISOBENCH_PYTEST_TARGETS: unknown target {target!r} "
                    f"(valid: {', '.join(targets)})", pytrace=False)
    tgt = targets[target]
    reason = tgt.unavailable() or tgt.cannot_run(variant.scratch)
    if reason:  # a target that cannot run it as asked: never run in another setup
        pytest.skip(reason)
    assert variant.fixed is not None
    amount = work(variant.fixed)
    argv = variant.fixed.argv(amount, threads=os.cpu_count() or 1, scratch="{scratch}")
    outcomes = []

    def once() -> None:
        outcome = tgt.run(Job(image_tag(workload.image), argv, scratch=variant.scratch))
        assert outcome.exit_code == 0, outcome.stderr[-500:]
        outcomes.append(outcome)

    benchmark.group = variant.name
    benchmark.pedantic(once, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    last = outcomes[-1]
    benchmark.extra_info.update({
        "target": target, "variant": variant.name, "work": amount,
        "work_unit": variant.fixed.unit, "argv": argv,
        "metrics": variant.parse(last.stdout) if variant.parse else {},
        "cpu_total_ns": (last.accounting.get("delta") or {}).get("cpu_total_ns"),
        "memory_peak": (last.accounting.get("end") or {}).get("memory_peak"),
    })
