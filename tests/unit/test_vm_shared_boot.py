"""Several repetitions in one VM boot: the marks on the channel, each repetition's own output
and window, the per-window accounting arithmetic, and the harness asking a VM cell's
repetitions at once (its contended ones again in a fresh boot)."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from typing import Any

import pytest

from bench.collectors import window_delta
from bench.contention import assess
from bench.harness import Harness
from bench.model import Variant, Workload
from bench.profiles import PROFILES
from bench.targets import Job, Outcome, Target
from bench.targets.vm import rep_outcome
from results import document
from results.metrics import Metric
from tests.unit.test_bench_plugins import MACHINE
from vm import protocol
from vm.protocol import MAGIC, GuestSpec, Mark, ProtocolError, encode, parse_mark
from vm.run import rep_windows
from vm.session import GuestSession

# -- the marks ------------------------------------------------------------------------------


def test_marks_parse() -> None:
    assert parse_mark(b"B", b"2 14.500000001", 7.0) == Mark(b"B", 2, 14.500000001, None, 7.0)
    assert parse_mark(b"D", b"2 3 15.25") == Mark(b"D", 2, 15.25, 3, 0.0)


@pytest.mark.parametrize("kind,payload", [
    (b"B", b"1"), (b"B", b"1 2 3"), (b"D", b"1 2.5"), (b"D", b"x 0 1.0"), (b"B", b"1 up"),
    (b"X", b"1 2.0"), (b"D", b""),
])
def test_bad_marks_are_refused(kind: bytes, payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_mark(kind, payload)


def test_repeat_travels_in_the_spec_only_when_asked() -> None:
    one = GuestSpec(argv=["true"], env=[])
    assert b"repeat" not in one.encode()
    many = GuestSpec(argv=["true"], env=[], repeat=6)
    assert b"repeat\0" + b"6\0" in many.encode()
    assert GuestSpec.decode(many.encode()[5:]).repeat == 6
    assert GuestSpec.decode(one.encode()[5:]).repeat == 1


def test_a_preparation_travels_in_the_spec_only_when_asked() -> None:
    """The command the shim runs once before the first mark (a scratch disk's mkfs)."""
    assert b"prep\0" not in GuestSpec(argv=["true"], env=[]).encode()
    spec = GuestSpec(argv=["fio"], env=[], repeat=3, prepare=["sh", "-c", "mkfs.ext4 x"])
    assert b"prep\0sh\0prep\0-c\0prep\0mkfs.ext4 x\0" in spec.encode()
    assert GuestSpec.decode(spec.encode()[5:]) == spec


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def converse(*frames: tuple[bytes, bytes]) -> tuple[GuestSession, list[Mark]]:
    host_end, guest_end = socket.socketpair()
    seen: list[Mark] = []
    session = GuestSession(host_end, GuestSpec(argv=["x"], env=[], repeat=2), clock=Clock(),
                           on_mark=seen.append)
    guest_end.sendall(MAGIC + encode(b"R", b"1 1.0") + b"".join(encode(k, p) for k, p in frames))
    try:
        while not session.finished:
            session.step(1.0)
    finally:
        guest_end.close()
        host_end.close()
    return session, seen


def test_each_repetition_keeps_its_own_output_and_marks() -> None:
    session, seen = converse(
        (b"B", b"0 2.0"), (b"O", b"first\n"), (b"E", b"warn0"), (b"D", b"0 0 4.0"),
        (b"M", b"between"),
        (b"B", b"1 4.1"), (b"O", b"sec"), (b"O", b"ond\n"), (b"D", b"1 3 6.0"), (b"X", b"3"))
    assert [(m.kind, m.index, m.exit_code) for m in seen] == [
        (b"B", 0, None), (b"D", 0, 0), (b"B", 1, None), (b"D", 1, 3)]
    times = [m.at for m in seen]
    assert times == sorted(times) and len(set(times)) == 4  # stamped as each arrived
    assert [bytes(r.out) for r in session.reps] == [b"first\n", b"second\n"]
    assert [bytes(r.err) for r in session.reps] == [b"warn0", b""]
    assert bytes(session.out) == b"first\nsecond\n" and session.exit_code == 3
    assert session.messages == ["between"]


@pytest.mark.parametrize("frames", [
    [(b"D", b"0 0 1.0")],                                        # an end with no begin
    [(b"B", b"1 1.0")],                                          # not the next index
    [(b"B", b"0 1.0"), (b"B", b"1 2.0")],                        # begins inside another
    [(b"B", b"0 1.0"), (b"D", b"1 0 2.0")],                      # ends another one
])
def test_marks_out_of_order_are_a_protocol_error(frames: list[tuple[bytes, bytes]]) -> None:
    with pytest.raises(ProtocolError):
        converse(*frames)


# -- the windows ----------------------------------------------------------------------------


def reading(t: float, cpu_ns: int, busy: float, io: int = 0) -> dict[str, Any]:
    return {"t_s": t, "guest_s": t - 0.5,
            "cgroup": {"cpu_total_ns": cpu_ns, "cpu_user_ns": cpu_ns // 2,
                       "cpu_system_ns": cpu_ns // 4, "io_read_bytes": io,
                       "io_write_bytes": 2 * io, "io_read_ops": None, "io_write_ops": 1},
            "caller": {"time": 1000.0 + t,
                       "host": {"t": t, "busy_s": busy, "steal_s": 0.0, "harness_s": 0.0,
                                "kernel_s": 0.0, "load1": 1.0}}}


class Rep:
    def __init__(self, index: int, out: bytes, ended: bool = True) -> None:
        self.begin = Mark(b"B", index, 0.0, None)
        self.end = Mark(b"D", index, 0.0, index) if ended else None
        self.out, self.err = bytearray(out), bytearray()


def test_readings_pair_with_their_repetition() -> None:
    readings = [reading(3.0, 10, 0), reading(5.0, 20, 0), reading(5.5, 21, 0),
                reading(8.0, 40, 0), reading(8.2, 41, 0)]
    windows = rep_windows([Rep(0, b"a"), Rep(1, b"b"), Rep(2, b"c", ended=False)], readings)
    assert [(w["index"], w["exit_code"], w["stdout"]) for w in windows] == [
        (0, 0, "a"), (1, 1, "b")]  # the unfinished third is left out
    assert [w["begin"]["t_s"] for w in windows] == [3.0, 5.5]
    assert [w["end"]["t_s"] for w in windows] == [5.0, 8.0]


BOOT = {"cpu_total_ns": 9_000_000_000}
SAMPLES = [{"t": t} for t in (1.0, 3.0, 4.0, 5.0, 6.0, 7.5, 9.0)]


def two_reps() -> list[Outcome]:
    reps = [{"index": 1, "exit_code": 0, "stdout": "r1", "stderr": "",
             "begin": reading(3.0, 4_000_000_000, 10.0, io=100),
             "end": reading(5.0, 5_500_000_000, 11.6, io=400)},
            {"index": 2, "exit_code": 0, "stdout": "r2", "stderr": "",
             "begin": reading(5.5, 5_600_000_000, 13.0, io=400),
             "end": reading(8.0, 7_600_000_000, 17.0, io=1000)}]
    return [rep_outcome(r, SAMPLES, {}, 2, 1, i, "isobench-x", 12.0, BOOT)
            for i, r in enumerate(reps)]


def test_each_repetition_is_accounted_on_its_own_window() -> None:
    first, second = two_reps()
    # the cgroup's growth between the repetition's own marks, never the boot's total / n
    assert first.accounting["delta"]["cpu_total_ns"] == 1_500_000_000
    assert second.accounting["delta"]["cpu_total_ns"] == 2_000_000_000
    assert first.accounting["delta"]["io_write_bytes"] == 600
    assert second.accounting["delta"]["io_read_bytes"] == 600
    assert second.accounting["delta"]["io_read_ops"] is None
    assert (first.wall_s, second.wall_s) == (2.0, 2.5)
    assert (first.stdout, second.stdout) == ("r1", "r2")
    assert [s["t"] for s in first.accounting["samples"]] == [3.0, 4.0, 5.0]
    assert [s["t"] for s in second.accounting["samples"]] == [6.0, 7.5]
    assert first.accounting["host"]["busy_s"] == pytest.approx(1.6)
    assert second.accounting["host"]["wall_s"] == 2.5
    assert (first.started_at, second.started_at) == (1003.0, 1005.5)
    assert first.reps_per_boot == second.reps_per_boot == 2
    shared = second.extra["shared_boot"]
    assert shared["window_s"] == [5.5, 8.0] and shared["position"] == 1 and shared["index"] == 2
    assert shared["warmup"] == 1 and shared["boot_cgroup"] == BOOT
    total = sum(o.accounting["delta"]["cpu_total_ns"] for o in (first, second))
    assert total <= BOOT["cpu_total_ns"]


def test_the_guard_judges_a_repetition_on_its_window() -> None:
    first, second = two_reps()
    # first: host busy 1.6 s over 2 s, QEMU 1.5 s of it: others 0.05 of a core
    quiet = assess(first.accounting, None, judge_others=True)
    assert quiet is not None and quiet.others_cores == pytest.approx(0.05)
    assert not quiet.contended
    # second: busy 4.0 s over 2.5 s, QEMU 2.0 s: others 0.8 of a core
    busy = assess(second.accounting, None, judge_others=True)
    assert busy is not None and busy.others_cores == pytest.approx(0.8)
    assert busy.contended and busy.reasons == ("other processes used 0.80 of a core",)


def test_window_delta() -> None:
    assert window_delta(None, None) == {}
    d = window_delta(None, {"cpu_total_ns": 5, "io_read_bytes": None})
    assert d["cpu_total_ns"] == 5 and d["io_read_bytes"] is None and d["cpu_user_ns"] is None
    assert window_delta({"cpu_total_ns": 2}, {"cpu_total_ns": 7})["cpu_total_ns"] == 5


# -- the harness ----------------------------------------------------------------------------


def vm_outcome(i: int, busy_extra: float) -> Outcome:
    """A repetition whose window saw `busy_extra` CPU-seconds of other processes."""
    t0 = 10.0 * i
    acc = {"start": {"cpu_total_ns": 0}, "end": {"cpu_total_ns": 2_000_000_000},
           "delta": {"cpu_total_ns": 2_000_000_000},
           "host": {"wall_s": 2.0, "busy_s": 2.0 + busy_extra, "steal_s": 0.0,
                    "harness_s": 0.0, "kernel_s": 0.0, "load1_start": 1.0, "load1_end": 1.0,
                    "cpus": 2.0}}
    return Outcome(0, f"n {i}", "", 2.0, acc, {"shared_boot": {"window_s": [t0, t0 + 2]}},
                   reps_per_boot=0, started_at=500.0 + t0)


class Guest(Target):
    """A batching `vm` target: records each batch; a repetition is contended while its
    position is in `noisy` (which empties after the first batch)."""

    name = "vm"
    batches = True

    def __init__(self, noisy: set[int] = frozenset(), broken: bool = False) -> None:  # type: ignore[assignment]
        self.batches_run: list[tuple[str, int, int]] = []
        self.noisy = set(noisy)
        self.broken = broken

    def run(self, job: Job) -> Outcome:
        raise AssertionError("a batching target's scheduled runs come in batches")

    def run_batch(self, job: Job, count: int, warmup: int) -> list[Outcome]:
        self.batches_run.append((job.argv[0], count, warmup))
        if self.broken:
            raise OSError(5, "the guest never booted")
        outs = [dataclasses.replace(vm_outcome(i, 1.0 if i in self.noisy else 0.0),
                                    reps_per_boot=count) for i in range(count)]
        self.noisy = set()
        return outs


class Host(Target):
    name = "native"

    def run(self, job: Job) -> Outcome:
        return Outcome(0, "n 1", "", 0.5)


WORK = Workload("w", "bench", (
    Variant("w.a", ("a", "{seconds}"), lambda out: {"n": float(out.split()[1])},
            (Metric("n", "", "higher", "w: n"),)),
    Variant("w.b", ("b",), lambda out: {"n": float(out.split()[1])},
            (Metric("n", "", "higher", "w: n"),)),
))


def session(tmp_path: Path, guest: Guest, said: list[str]) -> Harness:
    profile = dataclasses.replace(PROFILES["quick"], repeat=4, warmup=1, vm_repeat=1)
    doc = document.new_document(profile="quick", argv=[], repeat=4, seed=0, machine=MACHINE)
    h = Harness(None, {"native": Host(None), "vm": guest}, [WORK], profile,  # type: ignore[arg-type]
                tmp_path, doc=doc, seed=3, progress=said.append)
    h.build_images = lambda: None  # type: ignore[method-assign]
    h.targets = {"native": h.all_targets["native"], "vm": guest}
    return h


def test_a_vm_cell_runs_all_its_repetitions_in_one_boot(tmp_path: Path) -> None:
    guest, said = Guest(), []
    doc = session(tmp_path, guest, said).run()
    # one boot per cell, all four repetitions (vm_repeat=1 limits only what boots per rep)
    assert sorted(guest.batches_run) == [("a", 4, 1), ("b", 4, 1)]
    vm = [r for r in doc["runs"] if r["target"] == "vm"]
    assert sorted((r["variant"], r["repetition"]) for r in vm) == \
        [(v, i) for v in ("w.a", "w.b") for i in range(4)]
    assert all(r["ok"] and r["reps_per_boot"] == 4 for r in vm)
    a = sorted((r for r in vm if r["variant"] == "w.a"), key=lambda r: r["repetition"])
    assert [r["metrics"]["n"] for r in a] == [0.0, 1.0, 2.0, 3.0]  # each its own output
    assert [r["started_at"] for r in a] == [500.0, 510.0, 520.0, 530.0]
    assert all(r["reps_per_boot"] is None for r in doc["runs"] if r["target"] == "native")
    assert doc["summary"]["w"]["w.a"]["n"]["vm"]["n"] == 4
    assert sum("in one boot" in line for line in said) == 2


def test_contended_repetitions_run_again_in_a_fresh_boot(tmp_path: Path) -> None:
    guest, said = Guest(noisy={1, 3}), []
    doc = session(tmp_path, guest, said).run()
    # the first cell's reps 2 and 4 were contended (others 0.5 of a core): again, together
    assert guest.batches_run[1][1:] == (2, 1)
    assert len(guest.batches_run) == 3
    vm = [r for r in doc["runs"] if r["target"] == "vm"]
    assert not any(r["contended"] for r in vm)
    again = [r for r in vm if r["contention"]["attempts"] == 2]
    assert len(again) == 2 and all(r["reps_per_boot"] == 2 for r in again)
    assert any("contended: again" in line for line in said)


def test_a_boot_that_fails_fails_each_of_its_repetitions(tmp_path: Path) -> None:
    said: list[str] = []
    doc = session(tmp_path, Guest(broken=True), said).run()
    vm = [r for r in doc["runs"] if r["target"] == "vm"]
    assert len(vm) == 8 and not any(r["ok"] for r in vm)
    assert all(r["error"] == "OSError: [Errno 5] the guest never booted" for r in vm)
    assert said.count("  failed: OSError: [Errno 5] the guest never booted") == 2


def test_profiles_give_a_shared_boot_every_repetition() -> None:
    quick = PROFILES["quick"]
    assert quick.repetitions("vm", quick.repeat, shared=True) == quick.repeat >= 5
    assert quick.repetitions("vm", quick.repeat) == quick.vm_repeat < quick.repeat
    assert quick.repetitions("native", 5) == 5


def test_the_vm_target_batches() -> None:
    from bench.targets.vm import VmTarget

    assert VmTarget.batches and not Host.batches
    with pytest.raises(NotImplementedError):
        Host(None).run_batch(Job("x", ["y"]), 2, 0)  # type: ignore[arg-type]
    assert protocol.BEGIN == b"B" and protocol.END == b"D"


def test_a_batchs_units_follow_its_first_so_the_counter_moves_with_the_boot(
        tmp_path: Path) -> None:
    """The progress counter ("[i/N]") and its ETA: a cell's four VM units are consecutive,
    the first runs the boot, the other three are found recorded; native's stay interleaved."""
    said: list[str] = []
    h = session(tmp_path, Guest(), said)
    units = [u for _, u, _ in h.units()]
    vm = [i for i, u in enumerate(units) if u.target == "vm"]
    for variant in ("w.a", "w.b"):
        at = [i for i in vm if units[i].variant == variant]
        assert at == list(range(at[0], at[0] + 4)), (variant, at)
        assert [units[i].rep for i in at] == [0, 1, 2, 3]
    native = [(u.variant, u.rep) for u in units if u.target == "native" and u.rep >= 0]
    plain = [(n, r) for n, t, r in h.plan(["w.a", "w.b"], 4) if t == "native"]
    assert native == plain  # the measured order is the plan's
    h.run()
    counted = [line.split("]")[0] for line in said if line.startswith("[")]
    assert len(counted) == len(units)  # every unit still counted once
