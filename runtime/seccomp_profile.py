"""Docker's default seccomp profile, as data, and the choice of its rules for one container.

The lists follow moby's profiles/seccomp/default.json (defaultAction ERRNO(EPERM), one big
allow-list, then groups that only apply with, or without, a capability or on an architecture).
Nothing here touches libseccomp: `select_rules` is pure, so what a capability set unlocks is
unit tested; runtime.security turns the selected rules into a BPF program.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

DEFAULT_ERRNO = errno.EPERM


@dataclass(frozen=True)
class ArgCheck:
    """One condition on a syscall argument (libseccomp's scmp_arg_cmp)."""

    index: int
    op: str          # "EQ", "NE", "MASKED_EQ" (value = mask, value_two = expected)
    value: int
    value_two: int = 0


@dataclass(frozen=True)
class Rule:
    """A group of syscalls with one action, and when it applies.

    Like Docker: every capability in `caps` must be held, none of `not_caps`; the machine's
    architecture (Go's names: amd64, arm64, ...) in `arches` if given, not in `not_arches`.
    """

    names: tuple[str, ...]
    action: str = "allow"          # "allow" or "errno"
    errno_ret: int = 0
    args: tuple[ArgCheck, ...] = ()
    caps: tuple[str, ...] = ()
    not_caps: tuple[str, ...] = ()
    arches: tuple[str, ...] = ()
    not_arches: tuple[str, ...] = ()
    min_kernel: tuple[int, int] = (0, 0)


ALLOWED = (
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
    "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
    "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
    "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
    "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
    "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old",
    "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat",
    "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod",
    "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
    "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64",
    "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
    "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat",
    "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid",
    "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername",
    "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
    "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage",
    "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday",
    "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
    "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
    "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit",
    "io_uring_enter", "io_uring_register", "io_uring_setup", "ipc", "kill",
    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
    "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek",
    "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack",
    "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod",
    "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr",
    "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
    "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd",
    "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat",
    "_newselect", "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal",
    "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll",
    "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease",
    "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
    "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
    "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
    "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
    "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
    "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
    "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
    "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32",
    "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
    "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
    "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid",
    "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr",
    "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4",
    "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64",
    "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
    "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
    "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
    "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
    "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat",
    "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid",
    "waitpid", "write", "writev",
)

# Namespace flags a process without CAP_SYS_ADMIN may not pass to clone (0x7E020000):
# NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
CLONE_NAMESPACE_FLAGS = 0x7E020000
AF_VSOCK = 40

DEFAULT_PROFILE: tuple[Rule, ...] = (
    Rule(ALLOWED),
    Rule(("process_vm_readv", "process_vm_writev", "ptrace"), min_kernel=(4, 8)),
    Rule(("socket",), args=(ArgCheck(0, "NE", AF_VSOCK),)),
    # personality: only the harmless personas (Linux, Linux32, UNAME26 variants, the query).
    *(Rule(("personality",), args=(ArgCheck(0, "EQ", persona),))
      for persona in (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)),
    Rule(("sync_file_range2", "swapcontext"), arches=("ppc64le",)),
    Rule(("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
          "cacheflush", "set_tls"), arches=("arm", "arm64")),
    Rule(("arch_prctl",), arches=("amd64", "x32")),
    Rule(("modify_ldt",), arches=("amd64", "x32", "x86")),
    Rule(("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"),
         arches=("s390", "s390x")),
    Rule(("riscv_flush_icache",), arches=("riscv64",)),
    Rule(("open_by_handle_at",), caps=("DAC_READ_SEARCH",)),
    Rule(("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
          "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree",
          "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns",
          "syslog", "umount", "umount2", "unshare"), caps=("SYS_ADMIN",)),
    # Without CAP_SYS_ADMIN: clone only without namespace flags (s390 swaps the arguments).
    Rule(("clone",), args=(ArgCheck(0, "MASKED_EQ", CLONE_NAMESPACE_FLAGS, 0),),
         not_caps=("SYS_ADMIN",), not_arches=("s390", "s390x")),
    Rule(("clone",), args=(ArgCheck(1, "MASKED_EQ", CLONE_NAMESPACE_FLAGS, 0),),
         not_caps=("SYS_ADMIN",), arches=("s390", "s390x")),
    # clone3 hides its flags in memory seccomp cannot read: ENOSYS makes libc fall back to clone.
    Rule(("clone3",), action="errno", errno_ret=errno.ENOSYS, not_caps=("SYS_ADMIN",)),
    Rule(("reboot",), caps=("SYS_BOOT",)),
    Rule(("chroot",), caps=("SYS_CHROOT",)),
    Rule(("delete_module", "init_module", "finit_module"), caps=("SYS_MODULE",)),
    Rule(("acct",), caps=("SYS_PACCT",)),
    Rule(("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
          "ptrace"), caps=("SYS_PTRACE",)),
    Rule(("iopl", "ioperm"), caps=("SYS_RAWIO",)),
    Rule(("settimeofday", "stime", "clock_settime", "clock_settime64"), caps=("SYS_TIME",)),
    Rule(("vhangup",), caps=("SYS_TTY_CONFIG",)),
    Rule(("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
         caps=("SYS_NICE",)),
    Rule(("syslog",), caps=("SYSLOG",)),
    Rule(("bpf",), caps=("BPF",)),
    Rule(("perf_event_open",), caps=("PERFMON",)),
)

# The extra architectures a filter also covers, as Docker's archMap (libseccomp's names).
SUB_ARCHES = {"x86_64": ("x86", "x32"), "aarch64": ("arm",)}

_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "i386": "386",
            "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def machine() -> str:
    return os.uname().machine


def go_arch(uname_machine: str) -> str:
    """Docker's profile names architectures as Go does."""
    return _GO_ARCH.get(uname_machine, uname_machine)


def kernel_version(release: str | None = None) -> tuple[int, int]:
    release = release or os.uname().release
    parts = (release.split("-")[0].split(".") + ["0", "0"])[:2]
    try:
        return int(parts[0]), int(parts[1])
    except ValueError:
        return 0, 0


def applies(rule: Rule, caps: frozenset[str], arch: str, kernel: tuple[int, int]) -> bool:
    """Docker's includes/excludes test for one rule; caps are names without CAP_."""
    if any(c not in caps for c in rule.caps) or any(c in caps for c in rule.not_caps):
        return False
    if rule.arches and arch not in rule.arches:
        return False
    if arch in rule.not_arches:
        return False
    return kernel >= rule.min_kernel


def select_rules(caps: frozenset[str] | set[str], arch: str | None = None,
                 kernel: tuple[int, int] | None = None,
                 profile: tuple[Rule, ...] = DEFAULT_PROFILE) -> list[Rule]:
    """The rules of `profile` that apply to a process holding `caps` on this machine."""
    caps = frozenset(c.upper().removeprefix("CAP_") for c in caps)
    arch = arch or go_arch(machine())
    kernel = kernel or kernel_version()
    return [r for r in profile if applies(r, caps, arch, kernel)]
