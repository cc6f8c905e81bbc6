"""The lane's driver inside the guest (tests/lanes/guest.sh execs it): `isobench doctor`,
then pytest over the lane's test list, one summary line per test (passed, failed, skipped
with its reason). The exit code is pytest's: the lane fails when a test does.

    python3 -m tests.lanes.inside cgroupfs|systemd|kvm
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time

ROOT_TESTS = ["-m", "root"]
# The cgroupfs pass: the runtime, limits, accounting, hardening and gc on pure cgroup v2.
CGROUPFS = [
    "tests/lanes/test_cgroup2_lane.py",
    "tests/integration/test_cgroups_live.py::test_v2_process_cpu_freeze_kill_destroy",
    "tests/integration/test_cgroups_live.py::test_v2_memory_limit_needs_the_controller",
    "tests/integration/test_cgroup2_kernel.py",
    "tests/integration/test_hardening.py",
    "tests/integration/test_container_run.py",
]
# Under systemd: the container and limits tests (the lane file's) with the systemd driver.
SYSTEMD = [
    "tests/lanes/test_cgroup2_lane.py",
    "tests/integration/test_container_run.py",
]
# Not the tiny bench session on the vm target (test_tiny_bench_session_on_the_vm_target_under_
# kvm): in this nested guest it ran over 15 minutes (the bench image's disk made and booted
# under TCG-emulated KVM) and was stopped; LANE_PYTEST_ARGS=<its node id> adds it.
KVM = [f"tests/lanes/test_kvm_lane.py::{name}" for name in (
    "test_the_guest_cpu_has_svm_and_kvm_amd_runs",
    "test_doctor_and_the_probe_pass_every_check",
    "test_vm_run_on_kvm_returns_output_exit_code_and_libvirt_accounting",
    "test_gc_leaves_no_domain_or_run_dir")]
PASSES = {"cgroupfs": CGROUPFS, "systemd": SYSTEMD, "kvm": KVM}


# Each step's bound: a step that hangs fails the lane with its name and the processes then
# running, rather than running on to the outer `vm run --timeout` with no word (a KVM pass
# once sat silent for 8 minutes after kvm_amd loaded; its passes take 1-3 minutes).
DOCTOR_TIMEOUT_S = 600
PYTEST_TIMEOUT_S = 1800


def run(argv: list[str], prefix: list[str], timeout: float) -> int:
    print(f"guest: $ {' '.join(argv)}", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen([*prefix, *argv], start_new_session=True)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"guest: FAILED: {argv[0]} went past {timeout:.0f} s; running then:", flush=True)
        subprocess.run(["ps", "-eo", "pid,ppid,etimes,time,stat,args", "--forest"])
        os.killpg(proc.pid, 9)
        proc.wait()
        return 124
    finally:
        print(f"guest: {argv[0]} took {time.monotonic() - started:.0f} s", flush=True)


def start_systemd() -> list[str]:
    """Debian's systemd as PID 1 of a new PID namespace (as in a container: it is told so
    by $container), on the guest's pure cgroup v2, up to basic.target (D-Bus, no gettys).
    Returns the nsenter prefix that runs a command beside it, where systemd-run can see the
    command's PID."""
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "env",
                             "container=isobench-lane", "/lib/systemd/systemd", "--system",
                             "--unit=basic.target", "--log-target=kmsg"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid = None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                  text=True).stdout.split()
        if children:
            pid = children[0]
            prefix = ["nsenter", "-t", pid, "-p", "-m", "--wd=/lane/src", "--"]
            state = subprocess.run([*prefix, "systemctl", "is-system-running"],
                                   capture_output=True, text=True).stdout.strip()
            if state in ("running", "degraded"):
                print(f"guest: systemd {state} as PID 1 of its namespace (pid {pid} here), "
                      f"after {time.monotonic() - deadline + 240:.1f} s", flush=True)
                if state == "degraded":
                    subprocess.run([*prefix, "systemctl", "--failed", "--no-pager"])
                return prefix
        time.sleep(1)
    raise SystemExit("guest: FAILED: systemd did not reach running/degraded in 240 s")


def start_kvm() -> None:
    """kvm_amd on the emulated SVM CPU, then libvirt's daemons (no systemd in this pass)."""
    for argv in (["modprobe", "kvm_amd"], ["virtlogd", "-d"], ["libvirtd", "-d"]):
        if subprocess.run(argv).returncode != 0:
            raise SystemExit(f"guest: FAILED: {' '.join(argv)}")
    subprocess.run(["sh", "-c", "dmesg | grep -i -E 'kvm|svm|nested' | tail -5"])
    for _ in range(60):
        if subprocess.run(["virsh", "-c", "qemu:///system", "version"],
                          capture_output=True).returncode == 0:
            return
        time.sleep(1)
    raise SystemExit("guest: FAILED: libvirtd did not answer in 60 s")


def main() -> int:
    lane = sys.argv[1]
    prefix: list[str] = []
    if lane == "systemd":
        prefix = start_systemd()
        os.environ["ISOBENCH_CGROUP_DRIVER"] = "systemd"
    elif lane == "kvm":
        start_kvm()
    started = time.monotonic()
    if run(["isobench", "doctor"], prefix, DOCTOR_TIMEOUT_S) == 124:
        return 124
    code = run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
                "--no-header", "--durations=0", *ROOT_TESTS, *PASSES[lane],
                *shlex.split(os.environ.get("LANE_PYTEST_ARGS", ""))], prefix,
               PYTEST_TIMEOUT_S)
    print(f"guest: pass {lane}: pytest exit {code} after {time.monotonic() - started:.0f} s",
          flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
