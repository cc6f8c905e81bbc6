"""The rootfs mount sequence (runtime.rootfs), replayed against RecordingSyscalls on a temp dir."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from runtime.rootfs import MASKED_PATHS, READONLY_PATHS, RootfsPlan, build_rootfs, mount_binds
from runtime.syscalls import (
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_SLAVE,
    RecordingSyscalls,
)

FD = "<old-root-fd>"


def _plan(tmp_path: Path, **kw: Any) -> RootfsPlan:
    target = tmp_path / "merged"
    target.mkdir()
    return RootfsPlan(
        target=str(target),
        lower=["/layers/top/diff", "/layers/middle/diff", "/layers/bottom/diff"],
        upper="/ctr/upper",
        work="/ctr/work",
        **kw,
    )


def _calls(sc: RecordingSyscalls) -> list[tuple[Any, ...]]:
    """The recorded calls, with the old root's fd (a number that varies) made a placeholder."""
    out = []
    for call in sc.calls:
        if call[0] == "chdir" and isinstance(call[1], int):
            call = ("chdir", FD)
        out.append(call)
    return out


def _build(plan: RootfsPlan, **fail: int) -> RecordingSyscalls:
    sc = RecordingSyscalls(fail=dict(fail))
    build_rootfs(plan, sc)
    return sc


def _mounts(sc: RecordingSyscalls) -> list[tuple[Any, ...]]:
    return [c for c in sc.calls if c[0] == "mount"]


def test_overlay_options_list_the_lower_layers_topmost_first(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert plan.overlay_options() == (
        "lowerdir=/layers/top/diff:/layers/middle/diff:/layers/bottom/diff,"
        "upperdir=/ctr/upper,workdir=/ctr/work"
    )


def test_build_rootfs_exact_sequence(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    t = plan.target
    dev = f"{t}/dev"
    sc = _build(plan)
    chr666 = stat.S_IFCHR | 0o666
    assert _calls(sc) == [
        ("mount", None, "/", None, MS_REC | MS_PRIVATE, None),
        ("mount", "overlay", t, "overlay", 0,
         "lowerdir=/layers/top/diff:/layers/middle/diff:/layers/bottom/diff,"
         "upperdir=/ctr/upper,workdir=/ctr/work"),
        ("mount", "proc", f"{t}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
        ("mount", "tmpfs", dev, "tmpfs", MS_NOSUID, "mode=755,size=65536k"),
        ("mknod", f"{dev}/null", chr666, os.makedev(1, 3)),
        ("mknod", f"{dev}/zero", chr666, os.makedev(1, 5)),
        ("mknod", f"{dev}/full", chr666, os.makedev(1, 7)),
        ("mknod", f"{dev}/random", chr666, os.makedev(1, 8)),
        ("mknod", f"{dev}/urandom", chr666, os.makedev(1, 9)),
        ("mknod", f"{dev}/tty", chr666, os.makedev(5, 0)),
        ("mount", "devpts", f"{dev}/pts", "devpts", MS_NOSUID | MS_NOEXEC,
         "newinstance,ptmxmode=0666,mode=0620"),
        ("mount", "shm", f"{dev}/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
         "mode=1777,size=65536k"),
        ("mount", "mqueue", f"{dev}/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
        ("mount", "sysfs", f"{t}/sys", "sysfs",
         MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
        ("chdir", t),
        ("pivot_root", ".", "."),
        ("chdir", FD),
        ("mount", None, ".", None, MS_SLAVE | MS_REC, None),
        ("umount2", ".", MNT_DETACH),
        ("chdir", "/"),
    ]


def test_build_rootfs_makes_exactly_the_standard_device_nodes(tmp_path: Path) -> None:
    sc = _build(_plan(tmp_path))
    nodes = {os.path.basename(c[1]): (c[2], os.major(c[3]), os.minor(c[3]))
             for c in sc.calls if c[0] == "mknod"}
    chr666 = stat.S_IFCHR | 0o666
    assert nodes == {
        "null": (chr666, 1, 3), "zero": (chr666, 1, 5), "full": (chr666, 1, 7),
        "random": (chr666, 1, 8), "urandom": (chr666, 1, 9), "tty": (chr666, 5, 0),
    }


def test_build_rootfs_creates_dev_symlinks_and_mount_points(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    _build(plan)
    dev = Path(plan.target) / "dev"
    links = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
             "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}
    for name, target in links.items():
        assert (dev / name).is_symlink(), name
        assert os.readlink(dev / name) == target
    for d in ("pts", "shm", "mqueue"):
        assert (dev / d).is_dir()
    for d in ("proc", "sys"):
        assert (Path(plan.target) / d).is_dir()


def test_masked_files_get_dev_null_and_masked_dirs_a_readonly_tmpfs(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    proc = Path(plan.target) / "proc"
    proc.mkdir()
    files = ("kcore", "keys", "timer_list", "sysrq-trigger")
    for name in files:
        (proc / name).write_text("host secrets")
    (proc / "acpi").mkdir()
    sc = _build(plan)
    null = f"{plan.target}/dev/null"
    mounts = _mounts(sc)
    for name in files:
        assert ("mount", null, f"{proc}/{name}", None, MS_BIND, None) in mounts, name
    assert ("mount", "tmpfs", f"{proc}/acpi", "tmpfs", MS_RDONLY, None) in mounts
    # Nothing else under /proc was masked: the other masked paths do not exist here.
    masked = [m for m in mounts if m[2].startswith(f"{proc}/")]
    assert len(masked) == len(files) + 1


def test_masking_happens_after_the_pseudo_filesystems_and_before_pivot_root(
    tmp_path: Path,
) -> None:
    plan = _plan(tmp_path)
    (Path(plan.target) / "proc").mkdir()
    (Path(plan.target) / "proc" / "kcore").touch()
    sc = _build(plan)
    calls = _calls(sc)
    kcore = calls.index(("mount", f"{plan.target}/dev/null", f"{plan.target}/proc/kcore",
                         None, MS_BIND, None))
    sysfs = next(i for i, c in enumerate(calls) if c[0] == "mount" and c[3] == "sysfs")
    assert sysfs < kcore < calls.index(("pivot_root", ".", "."))


def test_readonly_paths_are_bound_then_remounted_readonly(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    sys_dir = Path(plan.target) / "proc" / "sys"
    sys_dir.mkdir(parents=True)
    sc = _build(plan)
    target = str(sys_dir)
    mounts = [m for m in _mounts(sc) if m[2] == target]
    assert mounts == [
        ("mount", target, target, None, MS_BIND | MS_REC, None),
        ("mount", target, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, None),
    ]


def test_absent_masked_and_readonly_paths_produce_no_mount(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    sc = _build(plan)
    hardened = {f"{plan.target}{p}" for p in (*MASKED_PATHS, *READONLY_PATHS)}
    assert [m for m in _mounts(sc) if m[2] in hardened] == []
    assert not any(m[4] & MS_BIND for m in _mounts(sc))


def test_custom_masked_and_readonly_lists_are_honoured(tmp_path: Path) -> None:
    plan = _plan(tmp_path, masked=("/etc/secret",), readonly_paths=("/etc/conf",))
    etc = Path(plan.target) / "etc"
    etc.mkdir()
    (etc / "secret").touch()
    (etc / "conf").mkdir()
    (Path(plan.target) / "proc").mkdir()
    (Path(plan.target) / "proc" / "kcore").touch()  # not in this plan's list: left alone
    sc = _build(plan)
    binds = [m for m in _mounts(sc) if m[4] & MS_BIND]
    assert [m[2] for m in binds] == [str(etc / "secret"), str(etc / "conf"), str(etc / "conf")]


def test_failing_overlay_mount_propagates_and_stops_the_sequence(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    sc = RecordingSyscalls(fail={"mount:overlay": errno.EINVAL})
    with pytest.raises(OSError) as info:
        build_rootfs(plan, sc)
    assert info.value.errno == errno.EINVAL
    assert sc.calls == [("mount", None, "/", None, MS_REC | MS_PRIVATE, None)]
    assert "pivot_root" not in sc.names()
    assert not (Path(plan.target) / "dev").exists()


def test_failing_pivot_root_stops_before_detaching_anything(tmp_path: Path) -> None:
    sc = RecordingSyscalls(fail={"pivot_root": errno.EINVAL})
    with pytest.raises(OSError):
        build_rootfs(_plan(tmp_path), sc)
    assert sc.names()[-1] == "chdir"
    assert "umount2" not in sc.names()


def test_readonly_rootfs_remounts_root_readonly_last(tmp_path: Path) -> None:
    sc = _build(_plan(tmp_path, readonly=True))
    assert _calls(sc)[-2:] == [
        ("chdir", "/"),
        ("mount", None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY, None),
    ]


def test_writable_rootfs_has_no_readonly_remount_of_root(tmp_path: Path) -> None:
    sc = _build(_plan(tmp_path))
    assert not any(m[2] == "/" and m[4] & MS_REMOUNT for m in _mounts(sc))


def test_bind_of_a_directory_creates_the_mount_point(tmp_path: Path) -> None:
    host = tmp_path / "data"
    host.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    sc = RecordingSyscalls()
    mount_binds(sc, str(root), [(str(host), "/srv/data", False)])
    target = str(root / "srv" / "data")
    assert (root / "srv" / "data").is_dir()
    assert sc.calls == [("mount", str(host), target, None, MS_BIND | MS_REC, None)]


def test_readonly_bind_of_a_file_creates_an_empty_file_and_remounts(tmp_path: Path) -> None:
    host = tmp_path / "hosts"
    host.write_text("127.0.0.1 localhost\n")
    root = tmp_path / "root"
    root.mkdir()
    sc = RecordingSyscalls()
    mount_binds(sc, str(root), [(str(host), "/etc/hosts", True)])
    target = root / "etc" / "hosts"
    assert target.is_file() and target.read_text() == ""
    assert sc.calls == [
        ("mount", str(host), str(target), None, MS_BIND | MS_REC, None),
        ("mount", str(host), str(target), None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, None),
    ]


def test_binds_come_after_pseudo_filesystems_and_before_masking(tmp_path: Path) -> None:
    host = tmp_path / "vol"
    host.mkdir()
    plan = _plan(tmp_path, binds=[(str(host), "/vol", False)])
    (Path(plan.target) / "proc").mkdir()
    (Path(plan.target) / "proc" / "keys").touch()
    sc = _build(plan)
    targets = [m[2] for m in _mounts(sc)]
    bind = targets.index(f"{plan.target}/vol")
    assert targets.index(f"{plan.target}/sys") < bind < targets.index(f"{plan.target}/proc/keys")


def test_inspect_mount_table_reports_overlay_and_binds(tmp_path: Path) -> None:
    plan = _plan(tmp_path, binds=[("/host/a", "/a", True), ("/host/b", "/b", False)])
    table = plan.mounts()
    assert table[0]["Type"] == "overlay"
    assert table[0]["Options"] == plan.overlay_options()
    assert [m["Destination"] for m in table] == [
        "/", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/a", "/b"]
    assert table[-2:] == [
        {"Type": "bind", "Source": "/host/a", "Destination": "/a", "Options": "ro"},
        {"Type": "bind", "Source": "/host/b", "Destination": "/b", "Options": "rw"},
    ]
