"""The contention guard's reading of one run (bench/contention.py): what a run asked for,
what it received, what else ran, and when that makes it contended."""

from __future__ import annotations

import pytest

from bench import contention
from bench.contention import asked_cpu, assess, host_window


def accounting(received_s: float | None, busy_s: float, wall_s: float = 2.0,
               steal_s: float = 0.0, *, start: bool = True) -> dict:
    used = None if received_s is None else int(received_s * 1e9)
    acc = {"start": {"cpu_total_ns": 0} if start else None, "end": {"cpu_total_ns": used},
           "delta": {"cpu_total_ns": used} if start else {},
           "host": {"wall_s": wall_s, "busy_s": busy_s, "steal_s": steal_s,
                    "load1_start": 0.5, "load1_end": 1.5, "cpus": 2.0}}
    return acc


def test_a_run_that_got_its_cpu_on_a_quiet_host_is_not_contended() -> None:
    # two threads for 2 s received 3.9 CPU-s; the host was busy 3.95 CPU-s in all
    reading = assess(accounting(3.9, 3.95), threads=2)
    assert reading is not None and not reading.contended
    assert reading.asked_cpu_s == 4.0 and reading.received_cpu_s == pytest.approx(3.9)
    assert reading.others_cores == pytest.approx(0.025)
    assert reading.load1 == 1.5
    assert reading.as_dict()["received_fraction"] == pytest.approx(0.975)


def test_receiving_under_90_percent_of_what_was_asked_is_contended() -> None:
    # the captured case: cpu.all asked for 2 CPUs and got 1.6 CPU-s per second
    reading = assess(accounting(3.2, 3.2), threads=2)
    assert reading is not None and reading.contended
    assert reading.reasons == ("received 80% of the CPU it asked for (3.20 of 4.00 CPU-s)",)
    # 90 % is still enough
    assert not assess(accounting(3.6, 3.6), threads=2).contended  # type: ignore[union-attr]
    assert assess(accounting(3.59, 3.59), threads=2).contended  # type: ignore[union-attr]


def test_other_processes_over_a_tenth_of_a_core_is_contended() -> None:
    # one thread got all its CPU, but something else took 0.3 CPU-s over 2 s: 0.15 cores
    reading = assess(accounting(2.0, 2.3), threads=1)
    assert reading is not None
    assert reading.reasons == ("other processes used 0.15 of a core",)
    assert not assess(accounting(2.0, 2.19), threads=1).contended  # type: ignore[union-attr]


def test_steal_beyond_a_tenth_of_a_core_is_contended() -> None:
    reading = assess(accounting(2.0, 2.0, steal_s=0.4), threads=1)
    assert reading is not None
    assert reading.reasons == ("the hypervisor stole 0.20 of a core",)
    assert reading.steal_cores == pytest.approx(0.2)


def test_a_cpu_limit_given_on_purpose_bounds_what_was_asked() -> None:
    # --cpus 0.5 on two threads: 1 CPU-s over 2 s is all it could get, so not contended
    reading = assess(accounting(0.98, 0.99), threads=2, cpu_limit=0.5)
    assert reading is not None and not reading.contended
    assert reading.asked_cpu_s == pytest.approx(1.0)
    assert asked_cpu(2, 2.0, 4.0) == 4.0  # a limit above the threads changes nothing


def test_a_run_that_is_not_cpu_bound_is_judged_by_the_others_only() -> None:
    # a disk run waits on I/O: 0.3 CPU-s of 2 s is not starvation
    reading = assess(accounting(0.3, 0.35), threads=None)
    assert reading is not None and not reading.contended and reading.asked_cpu_s is None
    assert assess(accounting(0.3, 0.9), threads=None).contended  # type: ignore[union-attr]


def test_a_fresh_cgroup_without_a_start_reading_counts_from_zero() -> None:
    # the VM's QEMU cgroup: only an end reading
    reading = assess(accounting(1.5, 1.52, start=False), threads=None)
    assert reading is not None and reading.received_cpu_s == pytest.approx(1.5)
    assert reading.others_cores == pytest.approx(0.01)


def test_no_cpu_reading_means_no_judgement_of_received_or_others() -> None:
    reading = assess(accounting(None, 5.0), threads=2)
    assert reading is not None and reading.received_cpu_s is None
    assert reading.others_cores is None and not reading.contended


def test_no_host_window_means_no_reading() -> None:
    assert assess({"delta": {"cpu_total_ns": 1}}, threads=1) is None
    assert assess({"host": {"wall_s": 0.0}}, threads=1) is None


def test_the_host_window_is_the_difference_of_two_snapshots() -> None:
    a = {"t": 10.0, "busy_s": 100.0, "steal_s": 1.0, "load1": 0.2}
    b = {"t": 12.5, "busy_s": 104.0, "steal_s": 1.5, "load1": 0.9}
    window = host_window(a, b)
    assert window["wall_s"] == 2.5 and window["busy_s"] == 4.0 and window["steal_s"] == 0.5
    assert (window["load1_start"], window["load1_end"]) == (0.2, 0.9)


def test_a_real_snapshot_moves_forward() -> None:
    a = contention.host_snapshot()
    sum(i * i for i in range(200_000))  # some CPU, so busy time advances
    b = contention.host_snapshot()
    window = host_window(a, b)
    assert window["wall_s"] > 0 and window["busy_s"] >= 0 and window["cpus"] >= 1


def test_the_harness_own_cpu_is_not_another_process() -> None:
    # 0.3 CPU-s besides the run, of which 0.25 were the harness's (sampler, setup)
    acc = accounting(2.0, 2.3)
    acc["host"]["harness_s"] = 0.25
    reading = assess(acc, threads=1)
    assert reading is not None and not reading.contended
    assert reading.others_cores == pytest.approx(0.025)
    assert reading.harness_cores == pytest.approx(0.125)
    assert reading.as_dict()["harness_cores"] == pytest.approx(0.125)


def test_the_kernels_own_threads_are_counted_apart() -> None:
    # a disk run: 0.3 CPU-s in its cgroup, 0.28 in kernel flushers, 0.05 elsewhere, over 2 s
    acc = accounting(0.3, 0.63)
    acc["host"]["kernel_s"] = 0.28
    reading = assess(acc, threads=None)
    assert reading is not None and not reading.contended
    assert reading.kernel_cores == pytest.approx(0.14)
    assert reading.others_cores == pytest.approx(0.025)


def test_kernel_threads_are_read_from_proc() -> None:
    # kthreadd (PID 2) and its children are kernel threads: their CPU time is counted, and
    # it never goes backwards
    first = contention._kernel_threads_cpu_s()
    assert first > 0
    assert contention._kernel_threads_cpu_s() >= first


def test_a_window_under_a_second_is_recorded_not_judged() -> None:
    # a 25 ms start-up run: runc's own CPU outside the cgroup is half a core of "others"
    reading = assess(accounting(0.005, 0.0175, wall_s=0.025), threads=None)
    assert reading is not None and not reading.contended
    assert reading.others_cores == pytest.approx(0.5)
    # the same half core over a whole second is judged
    assert assess(accounting(0.2, 0.7, wall_s=1.0), threads=None).contended  # type: ignore[union-attr]


def test_a_vms_others_are_recorded_not_judged() -> None:
    reading = assess(accounting(20.0, 36.0, wall_s=28.0, start=False), threads=None,
                     judge_others=False)
    assert reading is not None and not reading.contended
    assert reading.others_cores == pytest.approx(16.0 / 28.0)
    # steal still counts: it is the hypervisor's, not QEMU's
    reading = assess(accounting(20.0, 20.0, wall_s=28.0, steal_s=5.6, start=False),
                     threads=None, judge_others=False)
    assert reading is not None and reading.reasons == ("the hypervisor stole 0.20 of a core",)


def test_the_cpu_asked_for_spans_the_command_where_the_target_knows_it() -> None:
    # the captured case: a tiny cpu.single container run, a 1.16 s window around a 1.03 s
    # command (the rest: the container's start and its monitor's teardown)
    acc = accounting(1.02, 1.05, wall_s=1.16)
    assert assess(acc, threads=1).contended  # type: ignore[union-attr]
    acc["instance"] = {"command_s": 1.03}
    reading = assess(acc, threads=1)
    assert reading is not None and not reading.contended
    assert reading.asked_cpu_s == pytest.approx(1.03) and reading.command_s == 1.03
    # a command that took less than asked of its own span is still caught
    acc = accounting(0.8, 0.83, wall_s=1.16)
    acc["instance"] = {"command_s": 1.03}
    assert assess(acc, threads=1).contended  # type: ignore[union-attr]
    # a lifetime past the window (clock granularity) asks no more than the window
    acc["instance"] = {"command_s": 2.0}
    assert assess(acc, threads=1).asked_cpu_s == pytest.approx(1.16)  # type: ignore[union-attr]


def test_the_containers_monitor_is_the_instances_cost_not_another_process() -> None:
    # 0.14 CPU-s besides the run over 1.16 s, of which 0.12 were the monitor's own
    acc = accounting(1.02, 1.16, wall_s=1.16)
    assert assess(acc, threads=1).contended  # type: ignore[union-attr]
    acc["instance"] = {"command_s": 1.03, "launcher_cpu_s": 0.12}
    reading = assess(acc, threads=1)
    assert reading is not None and not reading.contended
    assert reading.launcher_cores == pytest.approx(0.12 / 1.16)
    assert reading.others_cores == pytest.approx(0.02 / 1.16)
    assert reading.as_dict()["launcher_cores"] == pytest.approx(0.12 / 1.16)
