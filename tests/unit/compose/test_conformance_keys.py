"""Conformance: the service keys of issue 21 read as the Compose Specification's services
section (https://github.com/compose-spec/compose-spec/blob/main/05-services.md) defines
them, each case naming the rule it checks; what they become for the runtime (the options of
`isobench run`) is checked here, their effect in a real `compose up` in
tests/integration/test_compose_keys.py."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from runtime.compose.model import Dependency
from runtime.limits import cpus_to_quota
from runtime.options import RestartPolicy
from tests.unit.compose.helpers import error_of, project


def web(extra: str, more: str = "") -> str:
    return f"services:\n  web:\n    image: busybox\n{extra}{more}"


# ---- restart ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "policy"), [
    ("'no'", RestartPolicy("no")), ("always", RestartPolicy("always")),
    ("on-failure", RestartPolicy("on-failure")),
    ("on-failure:2", RestartPolicy("on-failure", 2)),
    ("unless-stopped", RestartPolicy("unless-stopped")),
])
def test_restart_policies(tmp_path: Path, value: str, policy: RestartPolicy) -> None:
    """05-services.md#restart: no, always, on-failure[:max-retries], unless-stopped."""
    assert project(tmp_path, web(f"    restart: {value}\n")).services["web"].restart == policy


def test_restart_bad_policy(tmp_path: Path) -> None:
    """05-services.md#restart: any other value is an error (moby's ParseRestartPolicy)."""
    assert error_of(tmp_path, web("    restart: sometimes\n")).startswith(
        "services.web.restart: invalid restart policy: 'sometimes'")


# ---- healthcheck -----------------------------------------------------------------------------

def test_healthcheck_forms_and_durations(tmp_path: Path) -> None:
    """05-services.md#healthcheck: test as a list (CMD, CMD-SHELL) or a string (CMD-SHELL);
    interval, timeout, start_period, start_interval as durations; retries a number."""
    p = project(tmp_path, web("""\
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost"]
      interval: 1m30s
      timeout: 10s
      retries: 3
      start_period: 40s
      start_interval: 5s
"""))
    hc = p.services["web"].healthcheck
    assert hc is not None and hc.test == ["CMD", "curl", "-f", "http://localhost"]
    assert (hc.interval, hc.timeout, hc.retries, hc.start_period, hc.start_interval) == (
        90.0, 10.0, 3, 40.0, 5.0)
    p = project(tmp_path, web("    healthcheck:\n      test: curl -f http://localhost\n"))
    hc = p.services["web"].healthcheck
    assert hc is not None and hc.test == ["CMD-SHELL", "curl -f http://localhost"]
    assert (hc.interval, hc.timeout, hc.retries) == (30.0, 30.0, 3)  # Docker's defaults


def test_healthcheck_disable(tmp_path: Path) -> None:
    """05-services.md#healthcheck: `disable: true` (or test ["NONE"]) disables the check."""
    for extra in ("    healthcheck:\n      disable: true\n",
                  "    healthcheck:\n      test: [\"NONE\"]\n"):
        hc = project(tmp_path, web(extra)).services["web"].healthcheck
        assert hc is not None and hc.disabled


def test_healthcheck_bad_test_and_duration(tmp_path: Path) -> None:
    """05-services.md#healthcheck: a list's first item is NONE, CMD or CMD-SHELL; durations
    follow the specification's duration format."""
    assert error_of(tmp_path, web("    healthcheck: {test: [curl, x]}\n")) == (
        "services.web.healthcheck.test: healthcheck test: the first item must be NONE, CMD or "
        "CMD-SHELL, not 'curl'")
    assert error_of(tmp_path, web("    healthcheck: {test: 'true', interval: 10}\n")) == (
        "services.web.healthcheck.interval: must be a string")
    assert error_of(tmp_path, web("    healthcheck: {test: 'true', interval: ten}\n")) == (
        "services.web.healthcheck.interval: invalid duration: 'ten' (e.g. 30s, 1m30s, 500ms)")


# ---- deploy.resources.limits -----------------------------------------------------------------

def test_deploy_resource_limits(tmp_path: Path) -> None:
    """deploy.md#resources: limits.cpus, limits.memory, limits.pids -> the cgroup limits of
    --cpus, --memory and --pids-limit."""
    p = project(tmp_path, web("""\
    deploy:
      resources:
        limits:
          cpus: '0.50'
          memory: 50M
          pids: 1
"""))
    lim = p.services["web"].limits
    assert (lim.cpu_quota_us, lim.memory_bytes, lim.pids_max) == (
        cpus_to_quota(0.5), 50 << 20, 1)


def test_deploy_limit_errors(tmp_path: Path) -> None:
    """deploy.md#resources: a memory value is a byte size; limits below the runtime's
    minimum are refused as `run` refuses them."""
    assert error_of(tmp_path, web("    deploy: {resources: {limits: {memory: lots}}}\n")) == (
        "services.web.deploy.resources.limits.memory: invalid size: 'lots'")
    assert "minimum memory limit allowed is 6MB" in error_of(
        tmp_path, web("    deploy: {resources: {limits: {memory: 1k}}}\n"))


# ---- env_file --------------------------------------------------------------------------------

def test_env_file_under_environment(tmp_path: Path) -> None:
    """05-services.md#env_file: relative to the compose file's directory; later files
    override earlier ones; `environment` overrides env_file."""
    (tmp_path / "a.env").write_text("A=1\nB=from-a\nQ=\"quoted # kept\"\n")
    (tmp_path / "b.env").write_text("B=from-b\nC=from-b\n")
    p = project(tmp_path, web("    env_file: [a.env, ./b.env]\n    environment: {C: env}\n"))
    assert sorted(p.services["web"].environment) == [
        "A=1", "B=from-b", "C=env", "Q=quoted # kept"]


def test_env_file_missing_and_optional(tmp_path: Path) -> None:
    """05-services.md#env_file: a missing file is an error unless `required: false`."""
    msg = error_of(tmp_path, web("    env_file: nope.env\n"))
    assert msg == (f"env file {tmp_path}/nope.env not found: stat {tmp_path}/nope.env: no "
                   "such file or directory")
    p = project(tmp_path, web("    env_file:\n      - path: nope.env\n        required: false\n"))
    assert p.services["web"].environment == []


# ---- extra_hosts, labels, dns, ulimits, tmpfs, init, stop_* ------------------------------------

def test_extra_hosts_forms(tmp_path: Path) -> None:
    """05-services.md#extra_hosts: `HOST:IP`, `HOST=IP`, or a mapping HOST: IP."""
    p = project(tmp_path, web("    extra_hosts: ['somehost=162.242.195.82',"
                              " 'otherhost:50.31.209.229', 'myhostv6=::1']\n"))
    assert p.services["web"].extra_hosts == ["somehost:162.242.195.82",
                                             "otherhost:50.31.209.229", "myhostv6:::1"]
    p = project(tmp_path, web("    extra_hosts: {somehost: 162.242.195.82}\n"))
    assert p.services["web"].extra_hosts == ["somehost:162.242.195.82"]
    assert "invalid IP address" in error_of(tmp_path, web("    extra_hosts: ['a:b']\n"))


def test_labels_forms(tmp_path: Path) -> None:
    """05-services.md#labels: a mapping or a list of `K=V`; compose's own labels are not the
    file's to set."""
    p = project(tmp_path, web("    labels: {com.example.tier: web, n: 1}\n"))
    assert p.services["web"].labels == {"com.example.tier": "web", "n": "1"}
    p = project(tmp_path, web("    labels: ['a=b', 'c']\n"))
    assert p.services["web"].labels == {"a": "b", "c": ""}
    assert "reserved" in error_of(tmp_path, web("    labels: {com.docker.compose.project: x}\n"))


def test_dns_string_or_list(tmp_path: Path) -> None:
    """05-services.md#dns: one address or a list."""
    assert project(tmp_path, web("    dns: 8.8.8.8\n")).services["web"].dns == ["8.8.8.8"]
    assert project(tmp_path, web("    dns: [8.8.8.8, 9.9.9.9]\n")).services["web"].dns == [
        "8.8.8.8", "9.9.9.9"]
    assert error_of(tmp_path, web("    dns: resolver\n")) == (
        "services.web.dns: resolver is not an ip address")


def test_ulimits_single_and_soft_hard(tmp_path: Path) -> None:
    """05-services.md#ulimits: a single limit, or soft/hard."""
    p = project(tmp_path, web("    ulimits:\n      nproc: 65535\n      nofile:\n"
                              "        soft: 20000\n        hard: 40000\n"))
    got = {u.name: (u.soft, u.hard) for u in p.services["web"].ulimits}
    assert got == {"nproc": (65535, 65535), "nofile": (20000, 40000)}
    assert project(tmp_path, web("    ulimits: {core: -1}\n")).services["web"].ulimits[0].soft == (
        resource.RLIM_INFINITY)
    assert "invalid ulimit type: bogus" in error_of(tmp_path, web("    ulimits: {bogus: 1}\n"))


def test_tmpfs_init_stop_signal_grace_period(tmp_path: Path) -> None:
    """05-services.md#tmpfs (a path or a list), #init (boolean), #stop_signal (a signal
    name), #stop_grace_period (a duration)."""
    s = project(tmp_path, web("    tmpfs: [/run, '/tmp:size=1m']\n    init: true\n"
                              "    stop_signal: SIGUSR1\n    stop_grace_period: 1m30s\n")
                ).services["web"]
    assert (s.tmpfs, s.init, s.stop_signal, s.stop_grace_period) == (
        ["/run", "/tmp:size=1m"], True, "SIGUSR1", 90.0)
    assert project(tmp_path, web("    tmpfs: /run\n")).services["web"].tmpfs == ["/run"]
    assert error_of(tmp_path, web("    stop_signal: SIGNOPE\n")) == (
        "services.web.stop_signal: invalid signal: SIGNOPE")
    assert error_of(tmp_path, web("    tmpfs: run\n")) == (
        "services.web.tmpfs: invalid tmpfs: 'run' (the mount point must be an absolute path)")


# ---- network_mode ----------------------------------------------------------------------------

def test_network_mode(tmp_path: Path) -> None:
    """05-services.md#network_mode: host, none, service:NAME (which implies a dependency);
    it excludes `networks`."""
    p = project(tmp_path, "services:\n  a: {image: x, network_mode: 'service:b'}\n"
                          "  b: {image: x}\n  h: {image: x, network_mode: host}\n")
    assert p.services["a"].network_mode == "service:b" and p.services["a"].networks == []
    assert p.services["a"].depends_on == ["b"] and p.order().index("b") < p.order().index("a")
    assert p.services["h"].network_mode == "host"
    assert error_of(tmp_path, web("    network_mode: host\n    networks: [default]\n")) == (
        'service "web" declares mutually exclusive `network_mode` and `networks`')
    assert "container:NAME is not supported by isobench" in error_of(
        tmp_path, web("    network_mode: 'container:x'\n"))
    assert error_of(tmp_path, web("    network_mode: 'service:nope'\n")) == (
        'service "web" depends on undefined service "nope"')


# ---- build.args ------------------------------------------------------------------------------

def test_build_args(tmp_path: Path) -> None:
    """build.md#args: a mapping or a list; a name without a value takes the environment's,
    or is left out."""
    p = project(tmp_path, "services:\n  web:\n    build:\n      context: .\n"
                          "      args: {GIT_COMMIT: cdc3b19, N: 1}\n")
    build = p.services["web"].build
    assert build is not None and build.args == {"GIT_COMMIT": "cdc3b19", "N": "1"}
    p = project(tmp_path, "services:\n  web:\n    build:\n      context: .\n"
                          "      args: [A=1, FROM_ENV, UNSET]\n", env={"FROM_ENV": "e"})
    build = p.services["web"].build
    assert build is not None and build.args == {"A": "1", "FROM_ENV": "e"}


# ---- depends_on ------------------------------------------------------------------------------

def test_depends_on_long_syntax(tmp_path: Path) -> None:
    """05-services.md#long-syntax-1: condition service_started, service_healthy,
    service_completed_successfully; required (default true)."""
    p = project(tmp_path, """\
        services:
          web:
            image: x
            depends_on:
              db: {condition: service_healthy}
              init: {condition: service_completed_successfully, required: false}
              cache: {condition: service_started, restart: true}
          db: {image: x, healthcheck: {test: 'true'}}
          init: {image: x}
          cache: {image: x}
        """)
    deps = p.services["web"].dependencies
    assert deps == {"db": Dependency("service_healthy"),
                    "init": Dependency("service_completed_successfully", False),
                    "cache": Dependency("service_started")}
    assert p.order()[-1] == "web"
    p = project(tmp_path, "services:\n  web: {image: x, depends_on: [db]}\n  db: {image: x}\n")
    assert p.services["web"].dependencies == {"db": Dependency()}
