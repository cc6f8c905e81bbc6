"""Process hardening applied just before the container's command runs."""

from __future__ import annotations

from runtime.syscalls import (
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAPBSET_DROP,
    PR_SET_NO_NEW_PRIVS,
    Syscalls,
)

CAPABILITIES = {
    "CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5,
    "SETGID": 6, "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9, "NET_BIND_SERVICE": 10,
    "NET_BROADCAST": 11, "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "IPC_OWNER": 15,
    "SYS_MODULE": 16, "SYS_RAWIO": 17, "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20,
    "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23, "SYS_RESOURCE": 24, "SYS_TIME": 25,
    "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28, "AUDIT_WRITE": 29, "AUDIT_CONTROL": 30,
    "SETFCAP": 31, "MAC_OVERRIDE": 32, "MAC_ADMIN": 33, "SYSLOG": 34, "WAKE_ALARM": 35,
    "BLOCK_SUSPEND": 36, "AUDIT_READ": 37, "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
}

# Docker's default set (moby/oci/caps/defaults.go).
DEFAULT_CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
)


def last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return max(CAPABILITIES.values())


def capability_mask(names: tuple[str, ...] | list[str]) -> int:
    mask = 0
    for name in names:
        mask |= 1 << CAPABILITIES[name.upper().removeprefix("CAP_")]
    return mask


def drop_bounding_set(sc: Syscalls, keep_mask: int, last_cap: int) -> None:
    """Shrink the bounding set first: it caps what any later exec can regain."""
    for cap in range(last_cap + 1):
        if not keep_mask & (1 << cap):
            sc.prctl(PR_CAPBSET_DROP, cap)
    sc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)


def set_capabilities(sc: Syscalls, keep_mask: int) -> None:
    """Effective and permitted = the kept set; inheritable empty (Docker since CVE-2022-24769)."""
    sc.capset(keep_mask, keep_mask, 0)


def set_no_new_privs(sc: Syscalls) -> None:
    sc.prctl(PR_SET_NO_NEW_PRIVS, 1)
