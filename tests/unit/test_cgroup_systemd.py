"""The systemd cgroup driver's logic against a fake systemctl/systemd-run and a temp-dir
cgroup2 tree (this host has no systemd as PID 1: the real one runs in the lane's second
pass)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runtime.cgroups import CgroupError, CgroupFactory, driver_for
from runtime.cgroups.systemd import ANCHOR_LEAF, SystemdScope, booted, unit_name

CGROUP = "/system.slice/isobench.scope"


class FakeSystemd:
    """systemctl show answers from `state`; systemd-run makes the scope active."""

    def __init__(self, mount: Path, active: bool = False, activates: bool = True) -> None:
        self.mount, self.active, self.activates = mount, active, activates
        self.calls: list[list[str]] = []

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(argv)
        state, cgroup = ("active", CGROUP) if self.active else ("inactive", "")
        return subprocess.CompletedProcess(argv, 0, f"ActiveState={state}\nControlGroup={cgroup}\n",
                                           "")

    def start(self, argv: list[str]) -> int:
        self.calls.append(argv)
        if self.activates:
            self.active = True
            leaf = self.mount / CGROUP.strip("/") / ANCHOR_LEAF  # as mkdir on cgroupfs makes it
            leaf.mkdir(parents=True)
            (leaf / "cgroup.procs").write_text("")
        return 4242


def test_unit_names() -> None:
    assert unit_name("isobench") == "isobench.scope"
    assert unit_name("isobench-test-ab12") == "isobench-test-ab12.scope"
    assert unit_name("a/b c") == "a-b_c.scope"


def test_booted_is_sd_booted(tmp_path: Path) -> None:
    assert booted(str(tmp_path)) and not booted(str(tmp_path / "none"))


def test_a_missing_scope_is_started_delegated_and_its_anchor_moved(tmp_path: Path) -> None:
    fake = FakeSystemd(tmp_path)
    scope = SystemdScope("isobench.scope", str(tmp_path), fake.run, fake.start)
    assert scope.parent() == "system.slice/isobench.scope"
    started = [c for c in fake.calls if c[0] == "systemd-run"]
    assert started == [["systemd-run", "--scope", "--quiet", "--unit=isobench.scope",
                        "--description=isobench cgroups (delegated)", "-p", "Delegate=yes",
                        "--", "sleep", "infinity"]]
    procs = tmp_path / CGROUP.strip("/") / ANCHOR_LEAF / "cgroup.procs"
    assert procs.read_text() == "4242"  # out of the scope's own cgroup: it may delegate


def test_a_running_scope_is_reused(tmp_path: Path) -> None:
    fake = FakeSystemd(tmp_path, active=True)
    assert SystemdScope("isobench.scope", str(tmp_path), fake.run, fake.start).parent() == \
        "system.slice/isobench.scope"
    assert [c[0] for c in fake.calls] == ["systemctl"]


def test_a_scope_that_never_starts_is_one_line(tmp_path: Path) -> None:
    fake = FakeSystemd(tmp_path, activates=False)
    scope = SystemdScope("isobench.scope", str(tmp_path), fake.run, fake.start, timeout_s=0.1)
    with pytest.raises(CgroupError) as info:
        scope.parent()
    assert str(info.value) == (
        "systemd driver: isobench.scope did not become active within 0.1 s (state "
        "'inactive'); set ISOBENCH_CGROUP_DRIVER=cgroupfs to bypass systemd")


@pytest.mark.parametrize(("mode", "requested", "booted_", "driver"), [
    ("v2", "", True, "systemd"), ("v2", "", False, "cgroupfs"),
    ("hybrid", "", True, "cgroupfs"), ("v1", "", True, "cgroupfs"),
    ("v2", "cgroupfs", True, "cgroupfs"), ("hybrid", "systemd", False, "systemd")])
def test_driver_choice(mode: str, requested: str, booted_: bool, driver: str) -> None:
    assert driver_for(mode, requested, booted_) == driver  # type: ignore[arg-type]


def test_an_unknown_driver_is_refused() -> None:
    with pytest.raises(CgroupError, match="invalid ISOBENCH_CGROUP_DRIVER 'docker'"):
        driver_for("v2", "docker", True)


def test_the_factory_starts_the_scope_on_first_use_only(tmp_path: Path) -> None:
    fake = FakeSystemd(tmp_path)
    factory = CgroupFactory("isobench", "systemd",
                            SystemdScope("isobench.scope", str(tmp_path), fake.run, fake.start))
    assert fake.calls == []  # building a runtime starts nothing
    assert factory.name("c0ffee") == "system.slice/isobench.scope/c0ffee"
    assert factory.name("beef") == "system.slice/isobench.scope/beef"
    assert sum(c[0] == "systemd-run" for c in fake.calls) == 1


def test_the_cgroupfs_factory_is_as_before() -> None:
    factory = CgroupFactory("isobench-x")
    assert (factory.parent, factory.driver, factory.name("a")) == \
        ("isobench-x", "cgroupfs", "isobench-x/a")


def test_gc_stops_an_idle_scope_only(tmp_path: Path) -> None:
    fake = FakeSystemd(tmp_path, active=True)
    scope = SystemdScope("isobench.scope", str(tmp_path), fake.run, fake.start)
    base = tmp_path / CGROUP.strip("/")
    (base / "c0ffee").mkdir(parents=True)
    (base / ANCHOR_LEAF).mkdir()
    assert not scope.stop_if_idle()  # a container's cgroup is still there
    (base / "c0ffee").rmdir()
    assert scope.stop_if_idle(dry_run=True)
    assert ["systemctl", "stop", "isobench.scope"] not in fake.calls
    assert scope.stop_if_idle()
    assert fake.calls[-1] == ["systemctl", "stop", "isobench.scope"]


def test_gc_never_starts_a_scope(tmp_path: Path) -> None:
    fake = FakeSystemd(tmp_path)
    assert not SystemdScope("isobench.scope", str(tmp_path), fake.run, fake.start).stop_if_idle()
    assert all(c[0] == "systemctl" and c[1] == "show" for c in fake.calls)
