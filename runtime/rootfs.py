"""The container's filesystem view, built inside its new mount namespace.

Everything here runs in the container's first process after it unshared its
mount namespace, so every mount dies with the namespace: nothing can leak onto
the host's mount table, and there is nothing to unmount on the way out.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from runtime import syscalls as sc_mod
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
    Syscalls,
)
from runtime.volumes import fill_from_image

# As runc/Docker by default: paths hidden from the container, and paths it may only read.
MASKED_PATHS = (
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/proc/sysrq-trigger", "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys")

# name, kind, major, minor, mode: the standard nodes, and nothing else.
DEVICES = (
    ("null", stat.S_IFCHR, 1, 3), ("zero", stat.S_IFCHR, 1, 5), ("full", stat.S_IFCHR, 1, 7),
    ("random", stat.S_IFCHR, 1, 8), ("urandom", stat.S_IFCHR, 1, 9),
    ("tty", stat.S_IFCHR, 5, 0),
)
DEV_SYMLINKS = (
    ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"),
)
SHM_SIZE = "65536k"  # Docker's default --shm-size
# --privileged copies the host's device nodes, as Docker does; not these (own mounts, or the
# host's console).
HOST_DEV_SKIPPED = ("pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev", "console")


@dataclass
class RootfsPlan:
    """What the container's root is made of."""

    target: str                     # directory the root is assembled on
    lower: list[str]                # read-only layers, topmost first
    upper: str                      # the container's writable layer
    work: str                       # overlayfs scratch dir, same filesystem as upper
    readonly: bool = False
    masked: tuple[str, ...] = MASKED_PATHS
    readonly_paths: tuple[str, ...] = READONLY_PATHS
    binds: list[tuple[str, str, bool]] = field(default_factory=list)  # host, inside, ro
    fill: list[str] = field(default_factory=list)  # volume targets to seed from the image
    privileged: bool = False  # host devices, /sys writable (masks are emptied by the caller)
    tmpfs: list[tuple[str, str]] = field(default_factory=list)  # --tmpfs: inside, options

    def overlay_options(self) -> str:
        return f"lowerdir={':'.join(self.lower)},upperdir={self.upper},workdir={self.work}"

    def mounts(self) -> list[dict[str, str]]:
        """The mount table as `inspect` reports it."""
        table = [
            {"Type": "overlay", "Source": "overlay", "Destination": "/",
             "Options": self.overlay_options()},
            {"Type": "proc", "Source": "proc", "Destination": "/proc",
             "Options": "nosuid,nodev,noexec"},
            {"Type": "tmpfs", "Source": "tmpfs", "Destination": "/dev",
             "Options": "nosuid,mode=755"},
            {"Type": "devpts", "Source": "devpts", "Destination": "/dev/pts",
             "Options": "newinstance,ptmxmode=0666"},
            {"Type": "tmpfs", "Source": "shm", "Destination": "/dev/shm",
             "Options": f"nosuid,nodev,noexec,size={SHM_SIZE}"},
            {"Type": "mqueue", "Source": "mqueue", "Destination": "/dev/mqueue", "Options": ""},
            {"Type": "sysfs", "Source": "sysfs", "Destination": "/sys",
             "Options": "rw" if self.privileged else "ro"},
        ]
        table += [{"Type": "bind", "Source": h, "Destination": c, "Options": "ro" if ro else "rw"}
                  for h, c, ro in self.binds]
        table += [{"Type": "tmpfs", "Source": "tmpfs", "Destination": path,
                   "Options": ",".join(tmpfs_options(options)[2])}
                  for path, options in self.tmpfs]
        return table


# --tmpfs's option words that are mount flags; Docker's default is noexec,nosuid,nodev.
_TMPFS_FLAGS = {"ro": (MS_RDONLY, True), "rw": (MS_RDONLY, False),
                "noexec": (MS_NOEXEC, True), "exec": (MS_NOEXEC, False),
                "nosuid": (MS_NOSUID, True), "suid": (MS_NOSUID, False),
                "nodev": (MS_NODEV, True), "dev": (MS_NODEV, False)}
_TMPFS_DEFAULT = ("rw", "noexec", "nosuid", "nodev")


def tmpfs_options(options: str) -> tuple[int, str, list[str]]:
    """`size=64m,mode=1777,exec` -> (mount flags, data, every option as applied)."""
    words = [*_TMPFS_DEFAULT, *(w for w in options.split(",") if w)]
    flags, data, shown = 0, [], {}
    for word in words:
        if word in _TMPFS_FLAGS:
            bit, on = _TMPFS_FLAGS[word]
            flags = flags | bit if on else flags & ~bit
            group = next(k for k, (b, _) in _TMPFS_FLAGS.items() if b == bit)
            shown[group] = word
        else:
            data.append(word)
            shown[word.partition("=")[0]] = word
    return flags, ",".join(data), list(shown.values())


def mount_tmpfs(sc: Syscalls, root: str, tmpfs: list[tuple[str, str]]) -> None:
    for inside, options in tmpfs:
        target = _inside(root, inside)
        _mkdir(target)
        flags, data, _ = tmpfs_options(options)
        sc.mount("tmpfs", target, "tmpfs", flags, data or None)


def _inside(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def _mkdir(path: str, mode: int = 0o755) -> None:
    os.makedirs(path, mode=mode, exist_ok=True)


def mount_root(sc: Syscalls, plan: RootfsPlan) -> None:
    """Make the host's mounts private to us, then mount the overlay root."""
    # Nothing we mount may propagate back to the host (or to other containers).
    sc.mount(None, "/", None, MS_REC | MS_PRIVATE)
    sc.mount("overlay", plan.target, "overlay", 0, plan.overlay_options())


def host_devices(dev: str = "/dev") -> list[tuple[str, int, int]]:
    """(path relative to /dev, mode, rdev) of every device node under the host's /dev."""
    found = []
    for top, dirs, files in os.walk(dev):
        rel_top = os.path.relpath(top, dev)
        if rel_top == ".":
            dirs[:] = [d for d in dirs if d not in HOST_DEV_SKIPPED]
        for name in files:
            rel = os.path.normpath(os.path.join(rel_top, name))
            if rel in HOST_DEV_SKIPPED:
                continue
            try:
                st = os.lstat(os.path.join(top, name))
            except OSError:
                continue  # gone meanwhile
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                found.append((rel, st.st_mode, st.st_rdev))
    return found


def copy_host_devices(sc: Syscalls, dev: str, nodes: list[tuple[str, int, int]]) -> None:
    """--privileged: the host's nodes in the container's /dev; the standard ones stay."""
    standard = {name for name, *_ in DEVICES}
    for rel, mode, rdev in nodes:
        path = os.path.join(dev, rel)
        if rel in standard or os.path.lexists(path):
            continue
        _mkdir(os.path.dirname(path))
        sc.mknod(path, mode, rdev)


def mount_pseudo_filesystems(sc: Syscalls, root: str, privileged: bool = False) -> None:
    """/proc for the new PID namespace, a private /dev, and a read-only /sys (writable and
    with the host's devices when privileged)."""
    for d in ("proc", "dev", "sys"):
        _mkdir(_inside(root, d))
    sc.mount("proc", _inside(root, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    dev = _inside(root, "dev")
    sc.mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=755,size=65536k")
    for name, kind, major, minor in DEVICES:
        path = os.path.join(dev, name)
        sc.mknod(path, kind | 0o666, os.makedev(major, minor))
    for name, target in DEV_SYMLINKS:
        os.symlink(target, os.path.join(dev, name))
    for sub in ("pts", "shm", "mqueue"):
        _mkdir(os.path.join(dev, sub))
    sc.mount("devpts", os.path.join(dev, "pts"), "devpts", MS_NOSUID | MS_NOEXEC,
             "newinstance,ptmxmode=0666,mode=0620")
    sc.mount("shm", os.path.join(dev, "shm"), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
             f"mode=1777,size={SHM_SIZE}")
    sc.mount("mqueue", os.path.join(dev, "mqueue"), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if privileged:
        copy_host_devices(sc, dev, host_devices())
    sys_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (0 if privileged else MS_RDONLY)
    sc.mount("sysfs", _inside(root, "sys"), "sysfs", sys_flags)


def mount_binds(sc: Syscalls, root: str, binds: list[tuple[str, str, bool]],
                fill: tuple[str, ...] | list[str] = ()) -> None:
    for host, inside, readonly in binds:
        target = _inside(root, inside)
        if inside in fill:  # an empty volume gets the image's content at its mount point
            fill_from_image(target, host)
        if os.path.isdir(host):
            _mkdir(target)
        elif not os.path.exists(target):
            _mkdir(os.path.dirname(target))
            open(target, "a").close()
        sc.mount(host, target, None, MS_BIND | MS_REC)
        if readonly:
            sc.mount(host, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)


def harden_paths(sc: Syscalls, root: str, masked: tuple[str, ...],
                 readonly: tuple[str, ...]) -> None:
    """Hide what leaks the host (kcore, keys, timers) and freeze /proc/sys and friends."""
    null = _inside(root, "dev/null")
    for path in masked:
        target = _inside(root, path)
        if os.path.isdir(target):
            sc.mount("tmpfs", target, "tmpfs", MS_RDONLY)
        elif os.path.exists(target):
            sc.mount(null, target, None, MS_BIND)
    for path in readonly:
        target = _inside(root, path)
        if os.path.exists(target):
            sc.mount(target, target, None, MS_BIND | MS_REC)
            sc.mount(target, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)


def enter_root(sc: Syscalls, root: str, readonly: bool = False) -> None:
    """pivot_root into `root` and detach the old root (runc's pivot_root(".", ".") trick)."""
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY)
    try:
        sc.chdir(root)
        sc.pivot_root(".", ".")
        # The old root is now stacked on top of the new one: step into it and let go.
        sc.chdir(old_root)
        sc.mount(None, ".", None, MS_SLAVE | MS_REC)
        sc.umount2(".", MNT_DETACH)
    finally:
        os.close(old_root)
    sc.chdir("/")
    if readonly:
        sc.mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY)


def build_rootfs(plan: RootfsPlan, sc: Syscalls = sc_mod.REAL) -> None:
    """The whole sequence, in the order the kernel needs it."""
    mount_root(sc, plan)
    mount_pseudo_filesystems(sc, plan.target, plan.privileged)
    mount_binds(sc, plan.target, plan.binds, plan.fill)
    mount_tmpfs(sc, plan.target, plan.tmpfs)
    harden_paths(sc, plan.target, plan.masked, plan.readonly_paths)
    enter_root(sc, plan.target, plan.readonly)
