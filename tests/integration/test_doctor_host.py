"""`isobench doctor` on the host it runs on: the cgroup line (mode, driver, controllers) and
the KVM/TCG lines (which check decided) agree with what the kernel shows, read here
independently of isobench's own code."""

from __future__ import annotations

import os
import re

from tests.integration.conftest import Cli, require_root
from tests.vmhost import parse_doctor


def _mounts() -> list[tuple[str, str]]:
    with open("/proc/self/mountinfo") as f:
        out = []
        for line in f:
            left, _, right = line.partition(" - ")
            out.append((left.split()[4], right.split()[0]))
        return out


def _expected_cgroup_line() -> str:
    mounts = _mounts()
    cgroup2 = [p for p, fs in mounts if fs == "cgroup2"]
    systemd = os.path.isdir("/run/systemd/system")
    if "/sys/fs/cgroup" in cgroup2:
        with open("/sys/fs/cgroup/cgroup.controllers") as f:
            offered = f.read().split()
        return (f"v2; driver {'systemd' if systemd else 'cgroupfs'}; v2 controllers: "
                f"{' '.join(offered) or 'none'}; "
                f"{'systemd is PID 1' if systemd else 'no systemd as PID 1'}")
    v1 = sorted({c for p, fs in mounts if fs == "cgroup" and p.startswith("/sys/fs/cgroup/")
                 for c in ("cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "freezer",
                           "devices") if os.path.basename(p) == c or f",{c}," in
                 f",{os.path.basename(p)},"})
    parts = ["hybrid" if cgroup2 else "v1", "driver cgroupfs", f"v1 controllers: {' '.join(v1)}"]
    for mount in cgroup2:
        with open(os.path.join(mount, "cgroup.controllers")) as f:
            parts.append(f"cgroup2 at {mount} offers: {' '.join(f.read().split()) or 'none'}")
    parts.append("systemd is PID 1" if systemd else "no systemd as PID 1")
    return "; ".join(parts)


def test_doctor_says_cgroup_mode_driver_controllers_and_what_decided_kvm(cli: Cli) -> None:
    require_root()
    proc = cli("doctor", "--json", timeout=600)
    checks = parse_doctor(proc.returncode, proc.stdout, proc.stderr)
    assert checks["cgroups"]["detail"] == _expected_cgroup_line()
    accel = checks["acceleration"]["detail"]
    assert re.match(r"(KVM|TCG) \(", accel), accel
    if not os.path.exists("/dev/kvm"):
        assert "decided by the device check" in accel
        return
    probe = checks["KVM probe"]["detail"]
    decided = re.search(r"decided by the (sector|kernel|libvirt) check", probe)
    assert decided is not None, probe
    assert f"(decided by the {decided.group(1)} check)" in accel
    if checks["KVM probe"]["ok"]:
        assert accel.startswith("KVM (") and "passed: sector, kernel, libvirt" in probe
    else:
        assert accel.startswith("TCG (") and "falling back to TCG" in accel
