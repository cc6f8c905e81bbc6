"""Where QEMU runs and where its accounting is read: the decision, and libvirt's layouts as
/proc/<pid>/cgroup shows them (captured from libvirt 9 with and without systemd)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.cgroups import CgroupError
from runtime.errors import InvalidArgument
from vm import placement as placement_mod
from vm.placement import domain_cgroup_name, placement

V2_SYSTEMD = "0::/machine.slice/machine-qemu\\x2d3\\x2disobench\\x2dab.scope/libvirt/emulator\n"
V1_NO_SYSTEMD = """\
12:pids:/machine/qemu-3-isobench-ab.libvirt-qemu
8:memory:/machine/qemu-3-isobench-ab.libvirt-qemu
4:cpu,cpuacct:/machine/qemu-3-isobench-ab.libvirt-qemu/emulator
1:name=systemd:/
0::/
"""
OURS = "0::/isobench/vm-ab\n"


@pytest.mark.parametrize("accel, configured, where", [
    ("kvm", "", "libvirt"), ("tcg", "", "isobench"),   # TCG: today's behaviour
    ("kvm", "isobench", "isobench"), ("tcg", "libvirt", "libvirt")])
def test_placement(accel: str, configured: str, where: str) -> None:
    assert placement(accel, configured) == where


def test_a_bad_placement_is_one_line() -> None:
    with pytest.raises(InvalidArgument, match="invalid ISOBENCH_VM_QEMU_CGROUP 'host'"):
        placement("kvm", "host")


@pytest.mark.parametrize("text, name", [
    (V2_SYSTEMD, "machine.slice/machine-qemu\\x2d3\\x2disobench\\x2dab.scope"),
    (V1_NO_SYSTEMD, "machine/qemu-3-isobench-ab.libvirt-qemu"),
    (OURS, "isobench/vm-ab"),
])
def test_the_domain_cgroup_takes_in_every_vcpu(text: str, name: str) -> None:
    assert domain_cgroup_name(text) == name


def test_qemu_in_the_root_is_refused() -> None:
    with pytest.raises(CgroupError, match="QEMU is in no cgroup of libvirt's"):
        domain_cgroup_name("0::/\n")


def test_libvirt_cgroup_reads_qemus_proc_entry(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "cgroup").write_text(V2_SYSTEMD)
    monkeypatch.setattr(placement_mod, "open_cgroup", lambda name: f"opened {name}")
    assert placement_mod.libvirt_cgroup(42, str(tmp_path)) == \
        "opened machine.slice/machine-qemu\\x2d3\\x2disobench\\x2dab.scope"
    with pytest.raises(CgroupError, match="cannot read QEMU's cgroup \\(pid 43\\)"):
        placement_mod.libvirt_cgroup(43, str(tmp_path))
