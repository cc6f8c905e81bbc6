"""The VM run's host side: a sampler as light as the containers' (QEMU's cgroup at the run's
rate, QEMU's smaps and libvirt's bulk stats at most once a second: issue 15, "one light
sampler"), and a stopped run's machine really destroyed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from vm.run import HEAVY_SAMPLE_INTERVAL_S, VmRun


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def stats(self) -> Any:
        self.calls += 1
        return SimpleNamespace(memory_current=100 + self.calls, cpu_total_ns=7 * self.calls)


def run_with(machine: Counting, cgroup: Counting) -> VmRun:
    run = VmRun(plan=None, machine=machine, cgroup=cgroup, qemu_pid=0,  # type: ignore[arg-type]
                session=None, timings=None, run_dir=None)  # type: ignore[arg-type]
    run._qemu_memory = lambda: {"rss": 1, "pss": 1}  # type: ignore[method-assign]
    return run


def test_cgroup_every_sample_qemu_and_libvirt_at_most_once_a_second() -> None:
    machine, cgroup = Counting(), Counting()
    run = run_with(machine, cgroup)
    times = [i * 0.1 for i in range(31)]  # 10 Hz over 3 s
    samples = [run._sample(t) for t in times]
    assert cgroup.calls == len(times)
    assert [s["cgroup_memory"] for s in samples] == [101 + i for i in range(len(times))]
    heavy = [s["t"] for s in samples if "qemu" in s]
    assert heavy == [s["t"] for s in samples if "libvirt" in s]
    assert machine.calls == len(heavy) == 4  # t = 0, ~1, ~2, ~3 s
    assert heavy[0] == 0.0
    gaps = [b - a for a, b in zip(heavy, heavy[1:], strict=False)]
    assert all(g >= HEAVY_SAMPLE_INTERVAL_S for g in gaps)
    assert all(g < HEAVY_SAMPLE_INTERVAL_S + 0.1 + 1e-9 for g in gaps)


def test_a_stopped_runs_libvirt_machine_destroys_its_domain() -> None:
    """A run stopped from outside (a net server's VM at the end of its measurement) ends
    through Machine.destroy(): for libvirt, the domain's destroy."""
    from vm.run import LibvirtMachine

    class Domain:
        destroyed = 0

        def isActive(self) -> bool:  # noqa: N802 (libvirt's spelling)
            return True

        def destroy(self) -> None:
            self.destroyed += 1

    dom = Domain()
    LibvirtMachine(conn=None, dom=dom).destroy()  # type: ignore[arg-type]
    assert dom.destroyed == 1
