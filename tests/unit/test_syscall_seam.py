"""The syscall seam (runtime.syscalls): the recording fake, and the real calls that are harmless.

Every LinuxSyscalls call here is one the kernel refuses or that changes nothing, even as root:
a no-op unshare, an unmount of a fresh directory, a mount onto a path that does not exist.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from runtime.syscalls import (
    CLONE_NEWNS,
    MNT_DETACH,
    MS_BIND,
    MS_PRIVATE,
    MS_REC,
    LinuxSyscalls,
    RecordingSyscalls,
)

PR_CAPBSET_READ = 23


# --- RecordingSyscalls ---


def test_recording_keeps_calls_in_order_with_their_arguments() -> None:
    sc = RecordingSyscalls()
    sc.unshare(CLONE_NEWNS)
    sc.mount(None, "/", None, MS_REC | MS_PRIVATE)
    sc.mknod("/x/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    sc.chdir("/new")
    sc.pivot_root(".", ".")
    sc.umount2(".", MNT_DETACH)
    sc.set_identity(1000, 100, [100, 10])
    sc.capset(5, 5, 0)
    sc.sethostname("box")
    assert sc.calls == [
        ("unshare", CLONE_NEWNS),
        ("mount", None, "/", None, MS_REC | MS_PRIVATE, None),
        ("mknod", "/x/null", stat.S_IFCHR | 0o666, os.makedev(1, 3)),
        ("chdir", "/new"),
        ("pivot_root", ".", "."),
        ("umount2", ".", MNT_DETACH),
        ("set_identity", 1000, 100, [100, 10]),
        ("capset", 5, 5, 0),
        ("sethostname", "box"),
    ]
    assert sc.names() == [
        "unshare", "mount", "mknod", "chdir", "pivot_root", "umount2", "set_identity",
        "capset", "sethostname",
    ]


def test_recording_fail_by_name_raises_errno_and_path() -> None:
    sc = RecordingSyscalls(fail={"pivot_root": errno.EINVAL})
    sc.chdir("/root")
    with pytest.raises(OSError) as info:
        sc.pivot_root("/new", "/new/old")
    assert info.value.errno == errno.EINVAL
    assert info.value.strerror == os.strerror(errno.EINVAL)
    assert info.value.filename == "/new"
    # The failed call is not recorded; the one before it is.
    assert sc.calls == [("chdir", "/root")]


def test_recording_fail_by_name_and_first_argument_only_hits_that_call() -> None:
    sc = RecordingSyscalls(fail={"mount:overlay": errno.ENOENT})
    sc.mount("proc", "/r/proc", "proc")
    with pytest.raises(OSError) as info:
        sc.mount("overlay", "/r", "overlay", 0, "lowerdir=/a")
    assert info.value.errno == errno.ENOENT
    assert info.value.filename == "/r"  # like the real call: the mount target
    sc.mount("tmpfs", "/r/dev", "tmpfs")
    assert [c[1] for c in sc.calls] == ["proc", "tmpfs"]


def test_recording_fail_by_first_argument_of_path_call() -> None:
    sc = RecordingSyscalls(fail={"chdir:/missing": errno.ENOENT})
    sc.chdir("/present")
    with pytest.raises(OSError) as info:
        sc.chdir("/missing")
    assert (info.value.errno, info.value.filename) == (errno.ENOENT, "/missing")
    assert sc.calls == [("chdir", "/present")]


def test_recording_prctl_returns_zero_and_records_option_and_arg() -> None:
    sc = RecordingSyscalls()
    assert sc.prctl(24, 13) == 0
    assert sc.calls == [("prctl", 24, 13)]


# --- LinuxSyscalls: only calls that cannot change the system ---


def test_linux_unshare_zero_is_a_no_op() -> None:
    before = os.stat("/proc/self/ns/mnt").st_ino
    LinuxSyscalls().unshare(0)
    assert os.stat("/proc/self/ns/mnt").st_ino == before


def test_linux_umount2_of_a_plain_directory_fails_naming_it(tmp_path: Path) -> None:
    target = tmp_path / "not-a-mount-point"
    target.mkdir()
    with pytest.raises(OSError) as info:
        LinuxSyscalls().umount2(str(target))
    assert info.value.errno in (errno.EINVAL, errno.EPERM)
    assert info.value.filename == str(target)
    assert info.value.strerror == os.strerror(info.value.errno)


def test_linux_mount_onto_a_missing_path_fails_naming_the_target(tmp_path: Path) -> None:
    target = str(tmp_path / "does" / "not" / "exist")
    with pytest.raises(OSError) as info:
        LinuxSyscalls().mount("tmpfs", target, "tmpfs", 0, "size=1k")
    assert info.value.errno in (errno.ENOENT, errno.EPERM)
    assert info.value.filename == target
    assert not os.path.exists(target)


def test_linux_bind_mount_of_missing_source_fails_naming_the_target(tmp_path: Path) -> None:
    target = str(tmp_path / "missing-target")
    with pytest.raises(OSError) as info:
        LinuxSyscalls().mount(str(tmp_path / "missing-source"), target, None, MS_BIND)
    assert info.value.errno in (errno.ENOENT, errno.EPERM)
    assert info.value.filename == target


def test_linux_pivot_root_to_a_missing_path_fails_naming_it(tmp_path: Path) -> None:
    new_root = str(tmp_path / "missing")
    with pytest.raises(OSError) as info:
        LinuxSyscalls().pivot_root(new_root, new_root)
    assert info.value.errno in (errno.ENOENT, errno.EPERM)
    assert info.value.filename == new_root


def test_linux_setns_on_a_bad_fd_fails() -> None:
    with pytest.raises(OSError) as info:
        LinuxSyscalls().setns(-1, 0)
    assert info.value.errno == errno.EBADF


def test_linux_mknod_in_a_missing_directory_fails(tmp_path: Path) -> None:
    path = str(tmp_path / "missing" / "null")
    with pytest.raises(OSError) as info:
        LinuxSyscalls().mknod(path, stat.S_IFIFO | 0o600, 0)
    assert info.value.errno == errno.ENOENT


def test_linux_mknod_applies_the_mode_despite_the_umask(tmp_path: Path) -> None:
    # A FIFO needs no privilege; the umask would otherwise strip the group/other bits.
    path = str(tmp_path / "fifo")
    old = os.umask(0o077)
    try:
        LinuxSyscalls().mknod(path, stat.S_IFIFO | 0o666, 0)
    finally:
        os.umask(old)
    st = os.stat(path)
    assert stat.S_ISFIFO(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o666


def test_linux_prctl_returns_the_kernel_result() -> None:
    # PR_CAPBSET_READ only reads: is CAP_CHOWN (0) in our bounding set?
    with open("/proc/self/status") as f:
        bnd = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    assert LinuxSyscalls().prctl(PR_CAPBSET_READ, 0) == bnd & 1


def test_linux_prctl_with_an_invalid_option_raises() -> None:
    with pytest.raises(OSError) as info:
        LinuxSyscalls().prctl(0x7FFF_FFF0)
    assert info.value.errno == errno.EINVAL


def test_linux_link_up_of_a_missing_interface_raises() -> None:
    with pytest.raises(OSError) as info:
        LinuxSyscalls().link_up("isbnoexist0")
    assert info.value.errno in (errno.ENODEV, errno.ENXIO)


def test_linux_chdir_to_a_missing_path_raises(tmp_path: Path) -> None:
    cwd = os.getcwd()
    with pytest.raises(FileNotFoundError):
        LinuxSyscalls().chdir(str(tmp_path / "missing"))
    assert os.getcwd() == cwd
