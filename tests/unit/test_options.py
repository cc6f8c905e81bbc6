"""Docker's per-container options (runtime.options) and its health-check rules
(runtime.health): restart policies and their back-off, durations, signals, ulimits, tmpfs,
extra hosts, and how probe results make a container healthy or unhealthy."""

from __future__ import annotations

import pytest

from runtime import health
from runtime.options import (
    RestartPolicy,
    parse_duration,
    parse_extra_host,
    parse_restart,
    parse_signal,
    parse_tmpfs,
    parse_ulimit,
    restart_delay,
)
from runtime.rootfs import tmpfs_options
from runtime.syscalls import MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY

# ---- restart (docker run --restart; moby's restartmanager) ----------------------------------


@pytest.mark.parametrize(("text", "policy"), [
    ("no", RestartPolicy("no", 0)), ("always", RestartPolicy("always", 0)),
    ("unless-stopped", RestartPolicy("unless-stopped", 0)),
    ("on-failure", RestartPolicy("on-failure", 0)),
    ("on-failure:3", RestartPolicy("on-failure", 3)),
])
def test_restart_policies(text: str, policy: RestartPolicy) -> None:
    assert parse_restart(text) == policy


@pytest.mark.parametrize(("text", "error"), [
    ("sometimes", "invalid restart policy"), ("always:2", "cannot be used with restart policy"),
    ("on-failure:x", "must be an integer"), ("on-failure:-1", "cannot be negative"),
])
def test_bad_restart_policies(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_restart(text)


def test_on_failure_restarts_a_failure_up_to_its_count() -> None:
    p = RestartPolicy("on-failure", 2)
    assert p.wants_restart(1, 0, False) and p.wants_restart(1, 1, False)
    assert not p.wants_restart(1, 2, False)       # two restarts done: the third exit stays
    assert not p.wants_restart(0, 0, False)       # success is not a failure
    assert RestartPolicy("on-failure").wants_restart(1, 1000, False)  # no count: no limit


def test_always_and_unless_stopped_restart_any_exit_but_a_stop() -> None:
    for name in ("always", "unless-stopped"):
        p = RestartPolicy(name)
        assert p.wants_restart(0, 50, False) and p.wants_restart(137, 0, False)
        assert not p.wants_restart(0, 0, True)
    assert not RestartPolicy("no").wants_restart(1, 0, False)
    assert not RestartPolicy("on-failure", 5).wants_restart(1, 0, True)


def test_restart_back_off_doubles_and_resets_after_ten_seconds() -> None:
    assert restart_delay(0.0, 0.0) == 0.1
    assert restart_delay(0.1, 0.5) == 0.2 and restart_delay(0.2, 0.5) == 0.4
    assert restart_delay(0.4, 10.0) == 0.1
    assert restart_delay(50.0, 1.0) == 60.0


# ---- durations, signals, ulimits, tmpfs, hosts -----------------------------------------------

@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5), ("1.5h", 5400.0), ("0", 0.0),
    ("2m", 120.0), ("10us", 1e-5),
])
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["30", "1x", "s", "", "1m 30s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_signals() -> None:
    assert parse_signal("SIGTERM") == parse_signal("TERM") == parse_signal("15") == 15
    assert parse_signal("sigusr1") == 10
    for bad in ("SIGNOPE", "999"):
        with pytest.raises(ValueError, match="invalid signal"):
            parse_signal(bad)


def test_ulimits() -> None:
    u = parse_ulimit("nofile=1024:2048")
    assert (u.name, u.soft, u.hard, u.resource) == ("nofile", 1024, 2048, 7)
    assert parse_ulimit("nproc=64").hard == 64
    for bad, error in (("nofile", "invalid ulimit argument"), ("bogus=1", "invalid ulimit type"),
                       ("nofile=10:5", "soft limit must be less than or equal")):
        with pytest.raises(ValueError, match=error):
            parse_ulimit(bad)


def test_tmpfs_defaults_are_dockers_and_options_override_them() -> None:
    assert parse_tmpfs("/run:size=64m") == ("/run", "size=64m")
    flags, data, shown = tmpfs_options("")
    assert flags == MS_NOEXEC | MS_NOSUID | MS_NODEV and data == ""
    flags, data, shown = tmpfs_options("ro,exec,size=1m,mode=1777")
    assert flags == MS_RDONLY | MS_NOSUID | MS_NODEV and data == "size=1m,mode=1777"
    assert shown == ["ro", "exec", "nosuid", "nodev", "size=1m", "mode=1777"]
    for bad in ("run", "/"):
        with pytest.raises(ValueError, match="invalid tmpfs"):
            parse_tmpfs(bad)


def test_extra_hosts() -> None:
    assert parse_extra_host("db:10.0.0.2") == ("db", "10.0.0.2")
    assert parse_extra_host("db=10.0.0.2") == ("db", "10.0.0.2")
    assert parse_extra_host("v6:::1") == ("v6", "::1")
    for bad, error in (("db", "HOST:IP"), ("db:nope", "invalid IP"),
                       ("db:host-gateway", "not supported")):
        with pytest.raises(ValueError, match=error):
            parse_extra_host(bad)


# ---- health (moby's daemon/health.go) --------------------------------------------------------

CHECK = health.Healthcheck(["CMD", "true"], interval=1.0, retries=3, start_period=10.0,
                           start_interval=0.5)


def test_health_test_forms() -> None:
    assert health.parse_test("curl -f x") == ["CMD-SHELL", "curl -f x"]
    assert health.parse_test(["CMD", "true"]) == ["CMD", "true"]
    assert health.parse_test(["NONE"]) == ["NONE"]
    assert health.Healthcheck(["CMD-SHELL", "a && b"]).argv() == ["/bin/sh", "-c", "a && b"]
    assert health.Healthcheck(["NONE"]).disabled
    with pytest.raises(ValueError, match="NONE, CMD or CMD-SHELL"):
        health.parse_test(["true"])


def test_a_success_makes_healthy_and_retries_failures_make_unhealthy() -> None:
    st = health.HealthState()
    assert st.status == "starting"
    st.record(CHECK, 0, "ok", 1.0, 1.1, started_at=0.0)
    assert (st.status, st.failing_streak) == ("healthy", 0)
    for n in (1, 2):
        st.record(CHECK, 1, "no", 2.0 + n, 2.1 + n, started_at=0.0)
        assert (st.status, st.failing_streak) == ("healthy", n)
    st.record(CHECK, 1, "no", 5.0, 5.1, started_at=0.0)
    assert (st.status, st.failing_streak) == ("unhealthy", 3)
    st.record(CHECK, 0, "ok", 6.0, 6.1, started_at=0.0)
    assert (st.status, st.failing_streak) == ("healthy", 0)


def test_failures_in_the_start_period_do_not_count_until_a_success() -> None:
    st = health.HealthState()
    for t in range(5):
        st.record(CHECK, 1, "", float(t), t + 0.1, started_at=0.0)
    assert (st.status, st.failing_streak) == ("starting", 0)
    assert st.next_delay(CHECK, 0.0, 5.0) == 0.5           # start_interval in the period
    st.record(CHECK, 1, "", 11.0, 11.1, started_at=0.0)     # after it: counted
    assert st.failing_streak == 1 and st.next_delay(CHECK, 0.0, 11.1) == 1.0
    st2 = health.HealthState()
    st2.record(CHECK, 0, "", 1.0, 1.1, started_at=0.0)
    st2.record(CHECK, 1, "", 2.0, 2.1, started_at=0.0)       # a success ends the grace
    assert st2.failing_streak == 1


def test_the_log_keeps_five_results_and_4k_of_output() -> None:
    st = health.HealthState()
    for t in range(8):
        st.record(CHECK, 0, "x" * 10000, float(t), t + 0.5, started_at=-100.0)
    assert len(st.log) == 5 and st.log[0]["Start"] == 3.0
    assert len(st.log[-1]["Output"]) == 4096
    assert health.timeout_output(health.Healthcheck(["CMD", "x"], timeout=2.0)) == (
        "Health check exceeded timeout (2s)")
