"""The compose keys of issue 21 in a real `isobench compose up` against the kernel, each test
naming the Compose Specification rule (05-services.md, deploy.md, build.md) it checks:
restart policies run by the monitor, health checks shown by `ps`, deploy limits in the
service's cgroup files, depends_on conditions, env_file, and the rest of the keys. Every
test ends with `down` and the leftover census back where it started (the `cli` fixture)."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Cli, Leftovers

pytestmark = pytest.mark.root

NOTHING = Leftovers(0, 0, 0, 0)


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "compose.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def inspect(cli: Cli, name: str) -> dict[str, Any]:
    return json.loads(cli("inspect", name, check=True).stdout)[0]


def status_of(cli: Cli, compose: str, name: str) -> str:
    """The STATUS column of `compose ps -a` for one container."""
    for line in cli("compose", "-f", compose, "ps", "-a", check=True).stdout.splitlines()[1:]:
        cells = [c.strip() for c in line.split("   ") if c.strip()]
        if cells and cells[0] == name:
            return cells[3]
    return ""


def wait_for(what: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def down(cli: Cli, compose: str, before: Leftovers) -> None:
    cli("compose", "-f", compose, "down", "-t", "2", check=True)
    assert cli.census() - before == NOTHING


# ---- restart ---------------------------------------------------------------------------------

def test_on_failure_restarts_exactly_max_retries_times(cli: Cli, tmp_path: Path) -> None:
    """05-services.md#restart `on-failure[:max-retries]`: a service that exits 1 runs again
    until it has been restarted max-retries times (Docker's RestartCount), then stays
    exited; a service that exits 0 is not restarted."""
    compose = write(tmp_path, """\
        name: rs
        services:
          fails:
            image: busybox
            command: sh -c 'echo attempt; exit 1'
            restart: on-failure:2
          succeeds:
            image: busybox
            command: sh -c 'echo once'
            restart: on-failure:2
        """)
    before = cli.census()
    cli("compose", "-f", compose, "up", "-d", check=True)
    assert wait_for(lambda: status_of(cli, compose, "rs-fails-1").startswith("Exited (1)"))
    time.sleep(1.0)  # a third restart would have come by now (back-off 0.1, 0.2, 0.4 s)
    info = inspect(cli, "rs-fails-1")
    assert info["RestartCount"] == 2 and info["State"]["ExitCode"] == 1
    assert info["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    logs = cli("compose", "-f", compose, "logs", "fails", check=True).stdout
    assert logs.count("attempt") == 3, logs
    assert wait_for(lambda: status_of(cli, compose, "rs-succeeds-1").startswith("Exited (0)"))
    assert inspect(cli, "rs-succeeds-1")["RestartCount"] == 0
    down(cli, compose, before)


def test_always_restarts_until_down_stops_it(cli: Cli, tmp_path: Path) -> None:
    """05-services.md#restart `always`: restarted whatever the exit code, until the user
    stops the container (`down`), which leaves nothing behind, even between two runs."""
    compose = write(tmp_path, """\
        name: ra
        services:
          loop:
            image: busybox
            command: sh -c 'sleep 0.2; exit 0'
            restart: always
        """)
    before = cli.census()
    cli("compose", "-f", compose, "up", "-d", check=True)
    assert wait_for(lambda: inspect(cli, "ra-loop-1")["RestartCount"] >= 3)
    assert cli("compose", "-f", compose, "ps", check=True).stdout.count("ra-loop-1") == 1
    down(cli, compose, before)


# ---- healthcheck -----------------------------------------------------------------------------

def test_health_status_in_compose_ps_and_ps(cli: Cli, tmp_path: Path) -> None:
    """05-services.md#healthcheck: the check runs in the container every `interval`; it is
    `starting` until a probe passes, `healthy` then, and `unhealthy` after `retries`
    failures in a row, shown as Docker shows it: `Up 2 seconds (healthy)`."""
    compose = write(tmp_path, """\
        name: hc
        services:
          good:
            image: busybox
            command: sh -c 'sleep 0.5; touch /tmp/ready; exec sleep 60'
            init: true
            healthcheck:
              test: ["CMD", "test", "-f", "/tmp/ready"]
              interval: 200ms
              retries: 20
          bad:
            image: busybox
            command: sleep 60
            init: true
            healthcheck:
              test: exit 1
              interval: 200ms
              retries: 2
        """)
    before = cli.census()
    cli("compose", "-f", compose, "up", "-d", check=True)
    assert "(health: starting)" in status_of(cli, compose, "hc-good-1")
    assert wait_for(lambda: status_of(cli, compose, "hc-good-1").endswith("(healthy)"))
    assert wait_for(lambda: status_of(cli, compose, "hc-bad-1").endswith("(unhealthy)"))
    ps = cli("ps", check=True).stdout
    assert any("hc-good-1" in ln and "(healthy)" in ln for ln in ps.splitlines()), ps
    assert any("hc-bad-1" in ln and "(unhealthy)" in ln for ln in ps.splitlines()), ps
    bad = inspect(cli, "hc-bad-1")["State"]["Health"]
    assert bad["Status"] == "unhealthy" and bad["FailingStreak"] >= 2
    assert all(entry["ExitCode"] == 1 for entry in bad["Log"])
    down(cli, compose, before)


# ---- deploy.resources.limits -----------------------------------------------------------------

def _cgroup_file(paths: dict[str, str], v1: tuple[str, str], v2: str) -> str:
    controller, name = v1
    if controller in paths and os.path.exists(os.path.join(paths[controller], name)):
        with open(os.path.join(paths[controller], name)) as f:
            return f.read().strip()
    base = next(iter(paths.values()))
    with open(os.path.join(base, v2)) as f:
        return f.read().strip()


def test_deploy_limits_are_the_services_cgroup_limits(cli: Cli, tmp_path: Path) -> None:
    """deploy.md#resources `limits`: cpus, memory and pids are the container's cgroup limits
    (cpu.cfs_quota_us / cpu.max, memory.limit_in_bytes / memory.max, pids.max)."""
    compose = write(tmp_path, """\
        name: lim
        services:
          capped:
            image: busybox
            command: sleep 60
            init: true
            deploy:
              resources:
                limits:
                  cpus: "0.5"
                  memory: 48M
                  pids: 20
        """)
    before = cli.census()
    cli("compose", "-f", compose, "up", "-d", check=True)
    paths = inspect(cli, "lim-capped-1")["Cgroup"]["Paths"]
    memory = _cgroup_file(paths, ("memory", "memory.limit_in_bytes"), "memory.max")
    assert memory == str(48 << 20)
    pids = _cgroup_file(paths, ("pids", "pids.max"), "pids.max")
    assert pids == "20"
    if "cpu" in paths and os.path.exists(os.path.join(paths["cpu"], "cpu.cfs_quota_us")):
        assert _cgroup_file(paths, ("cpu", "cpu.cfs_quota_us"), "") == "50000"
    else:
        assert _cgroup_file(paths, ("cpu", "-"), "cpu.max") == "50000 100000"
    down(cli, compose, before)


# ---- depends_on ------------------------------------------------------------------------------

def test_service_healthy_waits_for_healthy(cli: Cli, tmp_path: Path) -> None:
    """05-services.md#long-syntax-1 `service_healthy`: the dependent is started only once
    the dependency's healthcheck has passed."""
    compose = write(tmp_path, """\
        name: dh
        services:
          web:
            image: busybox
            command: sleep 60
            init: true
            depends_on:
              db: {condition: service_healthy}
          db:
            image: busybox
            command: sh -c 'sleep 1; touch /tmp/ready; exec sleep 60'
            init: true
            healthcheck:
              test: ["CMD", "test", "-f", "/tmp/ready"]
              interval: 200ms
              retries: 30
        """)
    before = cli.census()
    up = cli("compose", "-f", compose, "up", "-d", check=True)
    assert " Container dh-db-1  Healthy" in up.stderr
    db, web = inspect(cli, "dh-db-1"), inspect(cli, "dh-web-1")
    first_pass = min(e["End"] for e in db["State"]["Health"]["Log"] if e["ExitCode"] == 0)
    assert web["State"]["StartedAt"] >= first_pass >= db["State"]["StartedAt"] + 0.9
    down(cli, compose, before)


def test_service_healthy_refuses_an_unhealthy_dependency(cli: Cli, tmp_path: Path) -> None:
    """05-services.md#long-syntax-1 `service_healthy`: an unhealthy dependency fails the
    `up` (compose: "dependency failed to start: container X is unhealthy"); what the `up`
    made is taken back."""
    compose = write(tmp_path, """\
        name: du
        services:
          web:
            image: busybox
            command: sleep 60
            depends_on:
              db: {condition: service_healthy}
          db:
            image: busybox
            command: sleep 60
            init: true
            healthcheck: {test: "false", interval: 100ms, retries: 2}
        """)
    before = cli.census()
    up = cli("compose", "-f", compose, "up", "-d")
    assert up.returncode == 1
    assert up.stderr.strip().splitlines()[-1] == (
        "isobench: dependency failed to start: container du-db-1 is unhealthy")
    assert cli("ps", "-aq").stdout == ""
    assert cli.census() - before == NOTHING


def test_service_completed_successfully(cli: Cli, tmp_path: Path) -> None:
    """05-services.md#long-syntax-1 `service_completed_successfully`: the dependent starts
    after the dependency exited 0; a non-zero exit fails the `up` and nothing is left."""
    compose = write(tmp_path, """\
        name: dc
        services:
          app:
            image: busybox
            command: sleep 60
            init: true
            depends_on:
              migrate: {condition: service_completed_successfully}
          migrate:
            image: busybox
            command: sh -c 'sleep 0.5; exit ${MIGRATE_EXIT:-0}'
        """)
    before = cli.census()
    cli("compose", "-f", compose, "up", "-d", check=True)
    migrate, app = inspect(cli, "dc-migrate-1"), inspect(cli, "dc-app-1")
    assert migrate["State"]["ExitCode"] == 0
    assert app["State"]["StartedAt"] >= migrate["State"]["FinishedAt"]
    down(cli, compose, before)

    cli.env["MIGRATE_EXIT"] = "3"
    up = cli("compose", "-f", compose, "up", "-d")
    assert up.returncode == 1
    assert up.stderr.strip().splitlines()[-1] == (
        "isobench: service \"migrate\" didn't complete successfully: exit 3")
    assert cli("ps", "-aq").stdout == ""
    assert cli.census() - before == NOTHING


# ---- env_file and the other keys ---------------------------------------------------------------

def test_env_file_values_are_in_the_container(cli: Cli, tmp_path: Path) -> None:
    """05-services.md#env_file: the file's variables are in the container's environment,
    under `environment`'s."""
    (tmp_path / "app.env").write_text("MODE=production\nGREETING=from-file\nQUOTED=\"a # b\"\n")
    compose = write(tmp_path, """\
        name: ef
        services:
          show:
            image: busybox
            command: sh -c 'echo "$$MODE|$$GREETING|$$QUOTED"'
            env_file: app.env
            environment: {GREETING: from-environment}
        """)
    before = cli.census()
    up = cli("compose", "-f", compose, "up", check=True)
    assert "show-1  | production|from-environment|a # b\n" in up.stdout
    down(cli, compose, before)


def test_the_other_keys_in_the_container(cli: Cli, tmp_path: Path) -> None:
    """05-services.md #labels, #extra_hosts, #dns, #ulimits, #tmpfs, #init, #stop_signal,
    #stop_grace_period, #network_mode (service:NAME), and build.md#args, each as the
    container sees it."""
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text(
        "FROM busybox\nARG FLAVOUR=plain\nRUN echo \"$FLAVOUR\" > /flavour\n")
    compose = write(tmp_path, """\
        name: ok
        services:
          probe:
            build:
              context: ./ctx
              args: {FLAVOUR: spicy}
            command:
              - sh
              - -c
              - >-
                cat /flavour; grep -c 'somehost' /etc/hosts; cat /etc/resolv.conf;
                ulimit -n; ulimit -Hn; grep ' /scratch ' /proc/mounts | cut -d' ' -f1-3;
                cat /proc/1/comm; wget -qO- http://127.0.0.1:8080/ 2>&1 || echo no-web
            labels: {com.example.tier: probe}
            extra_hosts: ["somehost:10.1.2.3"]
            dns: 192.0.2.53
            ulimits: {nofile: {soft: 123, hard: 456}}
            tmpfs: /scratch:size=1m
            init: true
            network_mode: "service:web"
          web:
            image: busybox
            command: >-
              sh -c 'echo hello > /tmp/index.html; httpd -p 8080 -h /tmp;
              trap "exit 7" USR1; while :; do sleep 0.1; done'
            stop_signal: SIGUSR1
            stop_grace_period: 5s
        """)
    before = cli.census()
    up = cli("compose", "-f", compose, "up", "-d", timeout=120, check=True)
    assert wait_for(lambda: status_of(cli, compose, "ok-probe-1").startswith("Exited")), up.stderr
    out = cli("logs", "ok-probe-1", check=True).stdout.splitlines()
    assert out[:6] == ["spicy", "1", "nameserver 192.0.2.53", "123", "456",
                       "tmpfs /scratch tmpfs"], out
    assert out[6] != "sh" and out[7:] == ["hello"], out  # PID 1 is the init; web's netns
    assert inspect(cli, "ok-probe-1")["Labels"]["com.example.tier"] == "probe"
    started = time.monotonic()
    cli("stop", "ok-web-1", check=True)  # its own stop signal and grace period
    assert time.monotonic() - started < 4.0  # SIGUSR1 ended it at once, not SIGKILL after 5 s
    assert inspect(cli, "ok-web-1")["State"]["ExitCode"] == 7
    down(cli, compose, before)
