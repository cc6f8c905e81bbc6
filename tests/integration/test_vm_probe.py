"""The KVM probe's kernel check against real QEMU: under TCG (which runs on every host with
QEMU) the guest kernel must reach its banner, so a "printed nothing" verdict under KVM means
the vCPU, not the check, failed."""

from __future__ import annotations

import shutil
import subprocess

from tests.vmhost import require_vm
from vm import accel
from vm.guest import GuestError, find_kernel


def guest_kernel() -> str:
    try:
        return find_kernel().kernel
    except GuestError as e:
        problem = str(e)
    require_vm(f"no guest kernel on this host: {problem}")


def test_kernel_check_passes_under_tcg_and_leaves_no_qemu() -> None:
    if shutil.which(accel.QEMU) is None:
        require_vm(f"{accel.QEMU} is not installed (make setup installs it)")
    kernel = guest_kernel()
    result = accel.run_kernel_probe("tcg", kernel, timeout=60)
    assert result.ok, result.detail
    assert result.check == "kernel" and "banner" in result.detail
    running = subprocess.run(["pgrep", "-f", f"-kernel {kernel} -append console=ttyS0 earlyprintk"],
                             capture_output=True, text=True).stdout
    assert running == "", f"probe QEMU left running: {running}"
