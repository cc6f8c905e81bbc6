"""The one place that makes privileged system calls.

Everything the runtime does to the kernel (namespaces, mounts, identity,
capabilities, device nodes) goes through a `Syscalls` object. `LinuxSyscalls`
makes the real calls through ctypes (Python 3.11 has no os.unshare);
`RecordingSyscalls` records them so rootfs and namespace logic is unit tested
without root, in the style of youki's syscall crate. Every failure raises
OSError(errno, strerror, path).
"""

from __future__ import annotations

# _socket, not socket: the C module is all link_up needs, and socket.py (its enums,
# selectors) costs ~2 ms of every `isobench run`'s imports. Imported here, not in link_up:
# PID 1 calls it after the pivot, where the interpreter's files are out of reach.
import _socket
import ctypes
import fcntl
import os
import resource
import stat
import struct
from dataclasses import dataclass, field
from typing import Any

# <linux/sched.h>
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# <linux/mount.h>
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MNT_DETACH = 2

# <linux/prctl.h>
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

# Syscalls glibc has no wrapper for, by architecture: (pivot_root, capset).
_SYSCALL_NUMBERS = {"x86_64": (155, 126), "aarch64": (41, 91)}
_SYS_PIVOT_ROOT, _SYS_CAPSET = _SYSCALL_NUMBERS.get(os.uname().machine, (-1, -1))
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_SYS_BPF = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine, -1)

# <linux/sockios.h>, <net/if.h>
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1

# Namespace flag -> name of its file under /proc/PID/ns.
NAMESPACE_FILES = {
    CLONE_NEWIPC: "ipc",
    CLONE_NEWUTS: "uts",
    CLONE_NEWNET: "net",
    CLONE_NEWPID: "pid",
    CLONE_NEWCGROUP: "cgroup",
    CLONE_NEWNS: "mnt",
}

# glibc's soname is stable; ctypes.util.find_library would fork `ldconfig -p` on every start.
_libc = ctypes.CDLL("libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _check(result: int, path: str | None = None) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return result


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


class Syscalls:
    """The interface: one method per privileged operation."""

    def unshare(self, flags: int) -> None:
        raise NotImplementedError

    def setns(self, fd: int, nstype: int = 0) -> None:
        raise NotImplementedError

    def mount(
        self, source: str | None, target: str, fstype: str | None, flags: int = 0,
        data: str | None = None,
    ) -> None:
        raise NotImplementedError

    def umount2(self, target: str, flags: int = 0) -> None:
        raise NotImplementedError

    def pivot_root(self, new_root: str, put_old: str) -> None:
        raise NotImplementedError

    def sethostname(self, name: str) -> None:
        raise NotImplementedError

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0,
              arg5: int = 0) -> int:
        raise NotImplementedError

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        raise NotImplementedError

    def mknod(self, path: str, mode: int, device: int) -> None:
        raise NotImplementedError

    def chroot(self, path: str) -> None:
        raise NotImplementedError

    def set_identity(self, uid: int, gid: int, groups: list[int]) -> None:
        raise NotImplementedError

    def link_up(self, ifname: str) -> None:
        raise NotImplementedError

    def chdir(self, path: str | int) -> None:
        raise NotImplementedError

    def seccomp_load(self, program: bytes) -> None:
        """Install a classic-BPF seccomp filter (8-byte sock_filter instructions)."""
        raise NotImplementedError

    def bpf(self, cmd: int, attr: bytes) -> int:
        """bpf(2) with a union bpf_attr; returns its result (a new fd for PROG_LOAD)."""
        raise NotImplementedError

    def setrlimit(self, resource_id: int, soft: int, hard: int) -> None:
        """setrlimit(2): raising a hard limit needs CAP_SYS_RESOURCE (--ulimit)."""
        raise NotImplementedError


class LinuxSyscalls(Syscalls):
    """The real calls."""

    def unshare(self, flags: int) -> None:
        _check(_libc.unshare(ctypes.c_int(flags)))

    def setns(self, fd: int, nstype: int = 0) -> None:
        _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)))

    def mount(
        self, source: str | None, target: str, fstype: str | None, flags: int = 0,
        data: str | None = None,
    ) -> None:
        _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), target)

    def umount2(self, target: str, flags: int = 0) -> None:
        _check(_libc.umount2(_b(target), ctypes.c_int(flags)), target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        _check(_libc.syscall(_SYS_PIVOT_ROOT, _b(new_root), _b(put_old)), new_root)

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))))

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0,
              arg5: int = 0) -> int:
        args = [ctypes.c_ulong(a) for a in (arg2, arg3, arg4, arg5)]
        return _check(_libc.prctl(ctypes.c_int(option), *args))

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        header = struct.pack("Ii", _LINUX_CAPABILITY_VERSION_3, 0)
        data = struct.pack(
            "6I",
            effective & 0xFFFFFFFF, permitted & 0xFFFFFFFF, inheritable & 0xFFFFFFFF,
            effective >> 32, permitted >> 32, inheritable >> 32,
        )
        _check(_libc.syscall(_SYS_CAPSET, header, data))

    def mknod(self, path: str, mode: int, device: int) -> None:
        os.mknod(path, mode, device)
        os.chmod(path, stat.S_IMODE(mode))  # mknod honours the umask; we mean the mode given

    def chroot(self, path: str) -> None:
        os.chroot(path)

    def set_identity(self, uid: int, gid: int, groups: list[int]) -> None:
        os.setgroups(groups)
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)

    def link_up(self, ifname: str) -> None:
        # An ioctl on any socket is the cheapest way to raise an interface:
        # pyroute2 costs tens of milliseconds to import in a freshly forked child.
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        try:
            ifreq = struct.pack("16sH14x", ifname.encode(), 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(sock, _SIOCGIFFLAGS, ifreq))[1]
            fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", ifname.encode(),
                                                         flags | _IFF_UP))
        finally:
            sock.close()

    def chdir(self, path: str | int) -> None:
        os.chdir(path)

    def seccomp_load(self, program: bytes) -> None:
        if not program or len(program) % 8:
            raise OSError(22, "seccomp: not a BPF program")
        buf = ctypes.create_string_buffer(program, len(program))
        fprog = _SockFprog(len(program) // 8, ctypes.addressof(buf))
        _check(_libc.prctl(ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(SECCOMP_MODE_FILTER),
                           ctypes.byref(fprog), ctypes.c_ulong(0), ctypes.c_ulong(0)))

    def bpf(self, cmd: int, attr: bytes) -> int:
        buf = ctypes.create_string_buffer(attr, len(attr))
        return _check(_libc.syscall(ctypes.c_long(_SYS_BPF), ctypes.c_int(cmd), buf,
                                    ctypes.c_uint(len(attr))))

    def setrlimit(self, resource_id: int, soft: int, hard: int) -> None:
        try:
            resource.setrlimit(resource_id, (soft, hard))
        except ValueError as e:  # the kernel's EINVAL, as the module reports it
            raise OSError(22, f"setrlimit: {e}") from None


@dataclass
class RecordingSyscalls(Syscalls):
    """A fake that records each call as (name, args...) and can be told to fail.

    `fail` maps a call name (optionally "name:first-arg") to an errno to raise.
    """

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)

    def _record(self, name: str, *args: Any) -> None:
        for key in (f"{name}:{args[0]}" if args else name, name):
            if key in self.fail:
                err = self.fail[key]
                # Name the path as the real call does: mount's is its target.
                path = args[1] if name == "mount" else (args[0] if args else None)
                raise OSError(err, os.strerror(err), None if path is None else str(path))
        self.calls.append((name, *args))

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def unshare(self, flags: int) -> None:
        self._record("unshare", flags)

    def setns(self, fd: int, nstype: int = 0) -> None:
        self._record("setns", fd, nstype)

    def mount(self, source, target, fstype, flags=0, data=None) -> None:  # noqa: ANN001
        self._record("mount", source, target, fstype, flags, data)

    def umount2(self, target: str, flags: int = 0) -> None:
        self._record("umount2", target, flags)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._record("pivot_root", new_root, put_old)

    def sethostname(self, name: str) -> None:
        self._record("sethostname", name)

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0,
              arg5: int = 0) -> int:
        self._record("prctl", option, arg2)
        return 0

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        self._record("capset", effective, permitted, inheritable)

    def mknod(self, path: str, mode: int, device: int) -> None:
        self._record("mknod", path, mode, device)

    def chroot(self, path: str) -> None:
        self._record("chroot", path)

    def set_identity(self, uid: int, gid: int, groups: list[int]) -> None:
        self._record("set_identity", uid, gid, groups)

    def link_up(self, ifname: str) -> None:
        self._record("link_up", ifname)

    def chdir(self, path: str | int) -> None:
        self._record("chdir", path)

    def seccomp_load(self, program: bytes) -> None:
        self._record("seccomp_load", program)

    def bpf(self, cmd: int, attr: bytes) -> int:
        self._record("bpf", cmd, attr)
        # BPF_PROG_LOAD gives a new fd, which the caller closes: make it a real one.
        return os.open(os.devnull, os.O_RDONLY) if cmd == 5 else 0

    def setrlimit(self, resource_id: int, soft: int, hard: int) -> None:
        self._record("setrlimit", resource_id, soft, hard)


REAL: Syscalls = LinuxSyscalls()
