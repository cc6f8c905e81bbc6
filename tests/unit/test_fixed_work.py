"""The fixed-work forms the pytest-benchmark suite runs (Variant.fixed): the same tool and
options as the timed command, the amount of work where the duration was, nothing that stops
the run on time."""

from __future__ import annotations

from bench.workloads import all_variants

FIXED = [v for v in all_variants() if v.fixed]


def test_every_command_variant_but_memory_random_has_one() -> None:
    assert {v.name for v in FIXED} == {v.name for v in all_variants()} - {"memory.random"}


def test_the_work_replaces_the_duration_and_the_rest_is_the_timed_command() -> None:
    for v in FIXED:
        assert v.fixed is not None
        timed = v.argv(threads=2, seconds=7, scratch="/s")
        fixed = v.fixed.argv(123, threads=2, scratch="/s")
        assert "7" not in " ".join(fixed) and "--time_based" not in fixed, v.name
        assert any("123" in part for part in fixed), v.name
        changed = {p for p in fixed if p not in timed}
        assert all("123" in p or p == "--time=0" for p in changed), (v.name, changed)
        dropped = {p for p in timed if p not in fixed}
        assert all("7" in p or p in ("--time_based", "--memory-total-size=1T")
                   for p in dropped), (v.name, dropped)


def test_sysbench_runs_are_uncapped_and_end_on_their_events() -> None:
    for v in FIXED:
        assert v.fixed is not None
        argv = v.fixed.argv(5, threads=1, scratch="/s")
        if argv[0] == "sysbench":
            # sysbench's default --time=10 would cut a slow run short: the time must not cap
            assert "--time=0" in argv, v.name
        else:
            assert "--io_size=5M" in argv and not any(p.startswith("--runtime") for p in argv)
