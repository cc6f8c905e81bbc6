"""Pure logic of the orchestration workloads' additions: the VM's CPU share window, the VM
CPU cap's validation, first-output timing of a pipe and of our own stdout, the background
VM's hand-over, client retries, and crun listed as skipped with its reason."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import runtime.cgroups as runtime_cgroups
from bench import targets
from bench.harness import Harness
from bench.profiles import PROFILES
from bench.targets import CrunTarget, Target, oci
from bench.targets import vm as vmtarget
from bench.timers import StdoutTimer, communicate_timed
from bench.workloads import net
from bench.workloads.limits import vm_busy_share
from runtime.errors import InvalidArgument
from runtime.limits import Limits
from vm.driver import VmRequest, cpu_limits

# ---- the VM's CPU share while its command runs ----
# Timings count from the request, sample times from the resume (0.5 s after the request).
TIMINGS = {"resumed_s": 0.5, "ready_s": 20.5, "capped_s": 20.6, "exit_s": 23.5}


def samples(points: list[tuple[float, float]]) -> list[dict[str, Any]]:
    return [{"t": t, "cgroup_cpu_ns": ns} for t, ns in points]


def test_share_is_measured_between_command_start_and_exit_only() -> None:
    # The boot (t < 20) ran at a full CPU; from 20.1 s on, half a CPU.
    s = samples([(0.0, 0.0), (10.0, 10e9), (19.9, 19.9e9), (20.1, 20.0e9), (21.1, 20.5e9),
                 (22.1, 21.0e9), (23.1, 21.5e9), (23.5, 23.0e9)])
    share = vm_busy_share(s, TIMINGS)
    assert share == pytest.approx(0.5)  # 20.1 .. 22.1: 23.1 and 23.5 are after the exit


def test_share_window_starts_when_the_cap_was_set_if_later_than_ready() -> None:
    s = samples([(20.0, 0.0), (20.05, 0.05e9), (20.2, 0.1e9), (21.2, 0.6e9)])
    # ready at 20.5 - 0.5 = sample t 20.0; capped at t 20.1: the first two samples are out
    assert vm_busy_share(s, TIMINGS) == pytest.approx(0.5e9 / 1.0e9)


@pytest.mark.parametrize("timings, points", [
    ({"resumed_s": 0.5, "ready_s": None, "exit_s": 3.0}, [(0.0, 0), (1.0, 1e9)]),
    (TIMINGS, [(21.0, 1e9)]),                       # one sample: no interval
    (TIMINGS, [(1.0, 1e9), (2.0, 2e9)]),           # all during the boot
])
def test_share_is_none_when_it_cannot_be_told(timings: dict, points: list) -> None:
    assert vm_busy_share(samples(points), timings) is None


def test_samples_without_cgroup_reading_are_skipped() -> None:
    s = samples([(20.1, 1e9), (20.6, None), (21.1, 1.5e9)])  # type: ignore[list-item]
    assert vm_busy_share(s, TIMINGS) == pytest.approx(0.5)


# ---- the VM's CPU cap ----
def test_no_quota_no_cap() -> None:
    assert cpu_limits(VmRequest(image="x")) is None


def test_quota_becomes_the_same_limits_a_container_gets() -> None:
    cap = cpu_limits(VmRequest(image="x", cpu_quota_us=50_000))
    assert cap == Limits(cpu_quota_us=50_000, cpu_period_us=100_000)


@pytest.mark.parametrize("quota, period", [(0, 100_000), (999, 100_000), (50_000, 10)])
def test_quota_below_the_kernel_floor_is_refused(quota: int, period: int) -> None:
    with pytest.raises(InvalidArgument, match="at least 1000 us"):
        cpu_limits(VmRequest(image="x", cpu_quota_us=quota, cpu_period_us=period))


def test_job_limits_reach_the_vm_request_as_a_quota() -> None:
    assert vmtarget._cpu_cap(None) == (None, 100_000)
    assert vmtarget._cpu_cap(Limits(memory_bytes=1 << 30)) == (None, 100_000)
    assert vmtarget._cpu_cap(Limits(cpu_quota_us=50_000, cpu_period_us=200_000)) == \
        (50_000, 200_000)


# ---- first output ----
def test_first_output_time_of_a_pipe() -> None:
    t0 = time.perf_counter()
    proc = subprocess.Popen(["sh", "-c", "sleep 0.3; echo hi; echo err >&2; sleep 0.3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err, first, timed_out = communicate_timed(proc, 10, proc.kill)
    end = time.perf_counter()
    assert (out, err, timed_out, proc.returncode) == ("hi\n", "err\n", False, 0)
    assert first is not None and 0.25 < first - t0 < end - t0 - 0.25


def test_no_output_means_no_first_output_time() -> None:
    proc = subprocess.Popen(["true"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert communicate_timed(proc, 10, proc.kill) == ("", "", None, False)


def test_timeout_kills_and_keeps_what_came() -> None:
    proc = subprocess.Popen(["sh", "-c", "echo started; exec sleep 30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    out, _, first, timed_out = communicate_timed(proc, 0.5, proc.kill)
    assert timed_out and out == "started\n" and first is not None
    assert time.monotonic() - t0 < 10


def test_stdout_timer_sees_a_child_writing_to_our_fd_1() -> None:
    with StdoutTimer() as timer:
        t0 = time.perf_counter()
        subprocess.run(["sh", "-c", "sleep 0.2; echo from-child"], check=True)
    assert bytes(timer.data) == b"from-child\n"
    assert timer.first is not None and timer.first - t0 >= 0.15


def test_stdout_timer_restores_fd_1() -> None:
    import os

    before = os.fstat(1)
    with StdoutTimer():
        assert os.fstat(1).st_ino != before.st_ino
    after = os.fstat(1)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)


# ---- a VM kept up in the background ----
class FakeDriver:
    """Stands in for VmDriver: prints after `delay`, then runs until stopped."""

    delay = 0.1
    fail: BaseException | None = None

    def run(self, req: VmRequest, *, stdout: Any, capture: bool, on_started: Any) -> str:
        if FakeDriver.fail is not None:
            raise FakeDriver.fail
        time.sleep(FakeDriver.delay)
        stdout.write(b"up\n")
        assert req.stop is not None
        if not req.stop.wait(10):
            raise AssertionError("never stopped")
        return "result"


@pytest.fixture
def fake_driver() -> type[FakeDriver]:
    FakeDriver.delay, FakeDriver.fail = 0.1, None
    return FakeDriver


def test_background_vm_reports_first_output_and_stops(fake_driver: type) -> None:
    vm = vmtarget.BackgroundVm(fake_driver(), VmRequest(image="x")).start()  # type: ignore[arg-type]
    assert 0.08 < vm.wait_output(5) < 5
    assert not vm.finished
    vm.stop(5)
    assert vm.finished and vm.result == "result" and vm.error is None


def test_background_vm_failure_reaches_the_caller(fake_driver: type) -> None:
    fake_driver.fail = RuntimeError("libvirt said no")
    vm = vmtarget.BackgroundVm(fake_driver(), VmRequest(image="x")).start()  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="libvirt said no"):
        vm.wait_output(5)
    vm.stop(5)


def test_background_vm_without_output_in_time_times_out(fake_driver: type) -> None:
    fake_driver.delay = 2.0
    vm = vmtarget.BackgroundVm(fake_driver(), VmRequest(image="x")).start()  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):
        vm.wait_output(0.2)
    vm.stop(5)  # stopped before it printed: still ends
    assert not vm._thread.is_alive()


# ---- net clients ----
def test_free_ports_differ_and_are_bindable() -> None:
    import socket

    ports = net.free_ports(3)
    assert len(set(ports)) == 3
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_retry_until_the_server_answers() -> None:
    calls: list[int] = []

    def client() -> float:
        calls.append(1)
        if len(calls) < 3:
            raise subprocess.CalledProcessError(1, ["qperf"])
        return 4.2

    assert net.retry(client, timeout=5, pause=0.01) == 4.2 and len(calls) == 3


def test_retry_gives_up_at_once_when_the_server_is_gone() -> None:
    calls: list[int] = []

    def client() -> float:
        calls.append(1)
        raise subprocess.CalledProcessError(1, ["qperf"])

    t0 = time.monotonic()
    with pytest.raises(SystemExit, match="instance has ended"):
        net.retry(client, timeout=30, pause=0.01, alive=lambda: False)
    assert len(calls) == 1 and time.monotonic() - t0 < 5


def test_retry_gives_up_with_the_last_error() -> None:
    def client() -> float:
        raise SystemExit("iperf3 to 127.0.0.1: unable to connect")

    with pytest.raises(SystemExit, match="unable to connect"):
        net.retry(client, timeout=0.1, pause=0.02)


# ---- crun: listed, and skipped with its reason ----
def test_crun_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oci.shutil, "which", lambda _name: None)
    assert CrunTarget(None).unavailable() == "crun not installed"  # type: ignore[arg-type]


def test_crun_refuses_hybrid_cgroups(monkeypatch: pytest.MonkeyPatch) -> None:
    import runtime.cgroups

    monkeypatch.setattr(oci.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(runtime.cgroups, "detect_mode", lambda: "hybrid")
    assert "hybrid" in (CrunTarget(None).unavailable() or "")  # type: ignore[arg-type]
    monkeypatch.setattr(runtime.cgroups, "detect_mode", lambda: "v2")
    monkeypatch.setattr(CrunTarget, "cgroup_problem", lambda self: None)
    assert CrunTarget(None).unavailable() is None  # type: ignore[arg-type]


class ProbeCgroup:
    """A cgroup whose create() fails as V2Cgroup's does when a controller is refused."""

    made: list[str] = []
    destroyed: list[str] = []

    def __init__(self, name: str, error: str | None) -> None:
        self.name, self.error = name, error

    def create(self) -> None:
        if self.error:
            raise runtime_cgroups.CgroupError(self.error)
        ProbeCgroup.made.append(self.name)

    def destroy(self) -> None:
        ProbeCgroup.destroyed.append(self.name)


@pytest.mark.parametrize("error", [
    None, "cgroup v2: cannot enable the memory controller in /sys/fs/cgroup/isobench: the "
          "cgroup has processes of its own (cgroup v2's no-internal-processes rule); pids "
          "there: 4242"])
def test_a_target_whose_cgroup_cannot_be_made_is_skipped_with_the_line(
        monkeypatch: pytest.MonkeyPatch, error: str | None) -> None:
    from types import SimpleNamespace

    from bench.targets import base
    from bench.targets.native import NativeTarget
    monkeypatch.setattr(base, "open_cgroup", lambda name: ProbeCgroup(name, error))
    ProbeCgroup.made, ProbeCgroup.destroyed = [], []
    target = NativeTarget(SimpleNamespace(cgroup_parent="isobench-t"))  # type: ignore[arg-type]
    assert target.unavailable() == error
    assert len(ProbeCgroup.destroyed) == 1 and ProbeCgroup.destroyed[0].startswith(
        "isobench-t/probe-")  # made or not, nothing stays


def test_crun_is_one_of_the_targets() -> None:
    found = targets.all_targets(None)  # type: ignore[arg-type]
    assert list(found) == ["native", "container", "runc", "crun", "microvm", "vm"]
    # microvm only when asked for by name: a session's default set is as before
    assert [n for n, t in found.items() if t.default] == ["native", "container", "runc",
                                                           "crun", "vm"]


class Fixed(Target):
    def __init__(self, name: str, reason: str | None) -> None:
        self.name, self.reason = name, reason

    def unavailable(self) -> str | None:
        return self.reason

    def run(self, job: Any) -> Any:
        raise AssertionError("not run")


def test_availability_map_lists_a_skipped_target_with_its_reason(tmp_path: Path) -> None:
    said: list[str] = []
    h = Harness(None, {"native": Fixed("native", None),  # type: ignore[arg-type]
                       "crun": Fixed("crun", "crun not installed")},
                [], PROFILES["tiny"], tmp_path, progress=said.append)
    table = h._availability()
    assert table == {"native": {"available": True, "reason": ""},
                     "crun": {"available": False, "reason": "crun not installed"}}
    assert list(h.targets) == ["native"]
    assert said == ["target crun skipped: crun not installed"]


def test_stop_event_is_given_to_the_request() -> None:
    req = VmRequest(image="x")
    vm = vmtarget.BackgroundVm(FakeDriver(), req)  # type: ignore[arg-type]
    assert isinstance(req.stop, threading.Event) and vm.req is req
