"""Guest preparation without a VM: kernel choice, boot-log reading, the init shim, CLI parsing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from isobench.commands import vm as vm_cli
from runtime.errors import InvalidArgument
from tests.vmhost import require_vm
from vm import bootlog, guest
from vm.domain import Forward


def touch(path: Path) -> None:
    path.write_text("")


def test_newest_kernel_with_an_initrd_wins(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ISOBENCH_VM_KERNEL", raising=False)
    for release in ("6.1.0-9-amd64", "6.1.0-56-amd64", "6.10.0-1-amd64"):
        touch(tmp_path / f"vmlinuz-{release}")
    for release in ("6.1.0-9-amd64", "6.1.0-56-amd64"):
        touch(tmp_path / f"initrd.img-{release}")
    k = guest.find_kernel(str(tmp_path))
    # 6.10 is newest but has no initrd; 56 > 9 numerically, not as text.
    assert (k.release, k.initrd) == ("6.1.0-56-amd64", str(tmp_path / "initrd.img-6.1.0-56-amd64"))


def test_no_kernel_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ISOBENCH_VM_KERNEL", raising=False)
    with pytest.raises(guest.GuestError, match="linux-image-amd64"):
        guest.find_kernel(str(tmp_path))
    touch(tmp_path / "vmlinuz-6.1.0-1-amd64")
    with pytest.raises(guest.GuestError, match="no initrd"):
        guest.find_kernel(str(tmp_path))


def test_kernel_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISOBENCH_VM_KERNEL", str(tmp_path / "vmlinuz-x"))
    with pytest.raises(guest.GuestError, match="kernel .* not found"):
        guest.find_kernel()
    touch(tmp_path / "vmlinuz-x")
    with pytest.raises(guest.GuestError, match="initrd .*initrd.img-x not found"):
        guest.find_kernel()
    touch(tmp_path / "initrd.img-x")
    assert guest.find_kernel().release == "x"


def no_static_toolchain(tmp: Path) -> str | None:
    """Why this host cannot link a static C program (None: it can), probed with an empty
    program before the shim is compiled: the shim's own errors then fail the test."""
    if shutil.which("cc") is None:
        return "no C compiler (gcc)"
    (tmp / "probe.c").write_text("int main(void) { return 0; }\n")
    proc = subprocess.run(["cc", "-static", "-o", str(tmp / "probe"), str(tmp / "probe.c")],
                          capture_output=True, text=True)
    return None if proc.returncode == 0 else f"no static libc (libc6-dev): {proc.stderr}"


def test_init_shim_compiles_cleanly(tmp_path: Path) -> None:
    problem = no_static_toolchain(tmp_path)
    if problem:
        require_vm(problem)
    proc = subprocess.run(["cc", "-static", "-Os", "-Wall", "-Wextra", "-Werror", "-o",
                           str(tmp_path / "init"), str(guest.SHIM_SOURCE)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


CONSOLE_KERNEL = "[    0.000000] Linux version 6.1.0\n[    2.05] Trying to unpack rootfs\n"
CONSOLE_INITRAMFS = CONSOLE_KERNEL + "[   9.2] Run /init as init process\nLoading, please wait...\n"


@pytest.mark.parametrize("console, ready, phrase", [
    ("", False, "before the kernel printed anything"),
    (CONSOLE_KERNEL, False, "in the kernel, before the initramfs"),
    (CONSOLE_INITRAMFS, False, "in the initramfs, before root=/dev/vda was mounted"),
    (CONSOLE_INITRAMFS + "Gave up waiting for root file system device.\n", False,
     "root disk /dev/vda never appeared"),
    (CONSOLE_INITRAMFS + "[ 19.5] EXT4-fs (vda): mounted filesystem\n", False,
     "before the isobench init started"),
    (CONSOLE_KERNEL + "[ 3.1] Kernel panic - not syncing: System is deadlocked on memory\n",
     False, "kernel panic: System is deadlocked on memory"),
    (CONSOLE_INITRAMFS, True, "the command was still running"),
    (CONSOLE_KERNEL + "[ 1.9] Run /init as init process\n"
     "isobench-initrd: /dev/vda never appeared\n",
     False, "in the initramfs, before root=/dev/vda was mounted (the isobench initrd: /dev/vda "
     "never appeared)"),
])
def test_where_boot_stopped(console: str, ready: bool, phrase: str) -> None:
    assert phrase in bootlog.where_stopped(console, ready)


def test_console_tail() -> None:
    assert bootlog.tail("a\r\nb\r\nc\r\n", 2) == ["b", "c"]


@pytest.mark.parametrize("value, expected", [
    ("5201:5201", Forward(5201, 5201)),
    ("127.0.0.1:8080:80/tcp", Forward(8080, 80)),
    ("9000:9000/udp", Forward(9000, 9000, "udp")),
])
def test_publish(value: str, expected: Forward) -> None:
    assert vm_cli.parse_publish([value]) == [expected]


@pytest.mark.parametrize("value", ["0.0.0.0:80:80", "80", "70000:80", "a:b"])
def test_publish_refuses_non_loopback_and_nonsense(value: str) -> None:
    with pytest.raises(InvalidArgument, match="publish"):
        vm_cli.parse_publish([value])


def test_cli_values() -> None:
    assert vm_cli.parse_memory("2g") == 2 << 30
    assert vm_cli.parse_vcpus("2") == 2
    assert vm_cli.parse_timeout("1.5") == 1.5 and vm_cli.parse_timeout(None) is None
    for fn, value in ((vm_cli.parse_memory, "lots"), (vm_cli.parse_vcpus, "0.5"),
                      (vm_cli.parse_vcpus, "0"), (vm_cli.parse_timeout, "-1")):
        with pytest.raises(InvalidArgument) as info:
            fn(value)
        assert info.value.exit_code == 125 and "\n" not in str(info.value)


def test_kernel_args_are_single_words() -> None:
    assert vm_cli.parse_kernel_args([]) == ""
    assert vm_cli.parse_kernel_args(["cgroup_no_v1=all", "quiet"]) == "cgroup_no_v1=all quiet"
    for bad in ("a b", "", "x\ty"):
        with pytest.raises(InvalidArgument, match="--kernel-arg"):
            vm_cli.parse_kernel_args([bad])
