"""Process hardening applied just before the container's command runs: capabilities,
no_new_privs and Docker's default seccomp profile (compiled once, loaded in PID 1)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from runtime.errors import IsobenchError
from runtime.fsutil import atomic_write, sha256_hex
from runtime.syscalls import (
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAPBSET_DROP,
    PR_SET_NO_NEW_PRIVS,
    Syscalls,
)

if TYPE_CHECKING:  # the profile's data is imported only to compile it (a cache miss)
    from runtime.seccomp_profile import Rule

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


def normalize_capability(name: str) -> str:
    """"cap_net_admin" / "NET_ADMIN" -> "NET_ADMIN"; "all" -> "ALL"; ValueError if unknown."""
    short = name.strip().upper().removeprefix("CAP_")
    if short != "ALL" and short not in CAPABILITIES:
        raise ValueError(f'unknown capability: "{name}"')
    return short


def own_bounding_set() -> int:
    """The capabilities isobench itself may hand out (a container cannot gain others)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return (1 << (last_capability() + 1)) - 1


def all_capabilities() -> tuple[str, ...]:
    """Every capability this kernel knows and we hold (capset refuses the others)."""
    last, held = last_capability(), own_bounding_set()
    return tuple(name for name, bit in CAPABILITIES.items()
                 if bit <= last and held & (1 << bit))


def effective_capabilities(add: Iterable[str] = (), drop: Iterable[str] = (),
                           privileged: bool = False) -> tuple[str, ...]:
    """Docker's TweakCapabilities: --privileged gets everything; --cap-add ALL starts from
    every capability less the drops; --cap-drop ALL starts from nothing plus the adds;
    otherwise the default set, less the drops, plus the adds."""
    if privileged:
        return all_capabilities()
    adds = [normalize_capability(c) for c in add]
    drops = [normalize_capability(c) for c in drop]
    if "ALL" in adds:
        return tuple(c for c in all_capabilities() if c not in drops)
    if "ALL" in drops:
        base: list[str] = []
    else:
        base = [c for c in DEFAULT_CAPABILITIES if c not in drops]
    return tuple(dict.fromkeys([*base, *adds]))


# ---- seccomp ----

class SeccompError(IsobenchError):
    """The filter could not be built (no libseccomp): one line, for exit code 125."""


class FilterBuilder(Protocol):
    """What compiling a profile needs from libseccomp (a fake in unit tests)."""

    def add_arch(self, arch: str) -> None: ...

    def known(self, syscall: str) -> bool: ...

    def add_rule(self, rule: Rule, syscall: str) -> None: ...

    def export_bpf(self) -> bytes: ...


def compile_rules(rules: list[Rule], builder: FilterBuilder,
                  sub_arches: tuple[str, ...] = ()) -> list[str]:
    """Feed the selected rules to `builder`; the syscalls this libseccomp does not know are
    skipped (as runc does), and returned."""
    for arch in sub_arches:
        builder.add_arch(arch)
    skipped = []
    for rule in rules:
        for name in rule.names:
            if builder.known(name):
                builder.add_rule(rule, name)
            else:
                skipped.append(name)
    return skipped


class LibseccompBuilder:
    """The real builder, over pyseccomp (imported here: it costs ~50 ms, paid on a cache miss
    only). The default action is ERRNO(EPERM), as Docker's profile."""

    def __init__(self) -> None:
        try:
            import pyseccomp
        except (ImportError, RuntimeError, OSError) as e:
            raise SeccompError(f"seccomp: cannot use libseccomp ({e}); install libseccomp2 "
                               "and pyseccomp, or run with --security-opt seccomp=unconfined"
                               ) from None
        from runtime.seccomp_profile import DEFAULT_ERRNO

        self.lib = pyseccomp
        self.filter = pyseccomp.SyscallFilter(pyseccomp.ERRNO(DEFAULT_ERRNO))
        self.ops = {"EQ": pyseccomp.EQ, "NE": pyseccomp.NE, "MASKED_EQ": pyseccomp.MASKED_EQ}

    def add_arch(self, arch: str) -> None:
        code = getattr(self.lib.Arch, arch.upper(), None)
        if code is None or self.filter.exist_arch(code):
            return
        self.filter.add_arch(code)

    def known(self, syscall: str) -> bool:
        return self.lib.resolve_syscall(self.lib.Arch.NATIVE, syscall) != -1  # __NR_SCMP_ERROR

    def add_rule(self, rule: Rule, syscall: str) -> None:
        action = self.lib.ALLOW if rule.action == "allow" else self.lib.ERRNO(rule.errno_ret)
        args = [self.lib.Arg(a.index, self.ops[a.op], a.value, a.value_two) for a in rule.args]
        self.filter.add_rule(action, syscall, *args)

    def export_bpf(self) -> bytes:
        import tempfile  # only on a cache miss, with pyseccomp: ~1.3 ms per `run`

        with tempfile.TemporaryFile() as f:
            self.filter.export_bpf(f)
            f.seek(0)
            return f.read()


def _libseccomp_identity() -> str:
    """Which libseccomp compiles the filter (its version decides which syscalls it knows),
    without ctypes.util.find_library, which forks ldconfig."""
    arch = os.uname().machine
    for d in (f"/lib/{arch}-linux-gnu", f"/usr/lib/{arch}-linux-gnu", "/usr/lib64", "/lib64",
              "/usr/lib", "/lib"):
        path = os.path.join(d, "libseccomp.so.2")
        if os.path.exists(path):
            return os.path.realpath(path)
    return "unknown"


def _program_key(capabilities: Iterable[str]) -> str:
    """What the compiled program depends on: the capability set, the profile and compiler
    code (their files' stamps: any edit makes a new key), the kernel (rules with a minimum
    version), the architecture and libseccomp. Computed without importing the profile's
    data, so a cached start pays for neither it nor pyseccomp."""
    here = Path(__file__)
    stamps = [(p.name, st.st_mtime_ns, st.st_size)
              for p in (here, here.with_name("seccomp_profile.py")) for st in (p.stat(),)]
    uname = os.uname()
    return sha256_hex(repr((capability_mask(capabilities), stamps, uname.release,
                            uname.machine, _libseccomp_identity())).encode())[:32]


def seccomp_program(capabilities: Iterable[str], cache_dir: Path) -> bytes:
    """Docker's default profile for this capability set, as a BPF program ready to load.

    Compiled once per key (see _program_key) and cached: a start only reads a file."""
    capabilities = tuple(capabilities)
    path = cache_dir / f"{_program_key(capabilities)}.bpf"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    from runtime.seccomp_profile import SUB_ARCHES, machine, select_rules

    rules = select_rules(frozenset(capabilities))
    sub_arches = SUB_ARCHES.get(machine(), ())
    builder = LibseccompBuilder()
    compile_rules(rules, builder, sub_arches)
    program = builder.export_bpf()
    atomic_write(path, program, durable=False)
    return program


def load_seccomp(sc: Syscalls, program: bytes) -> None:
    """The last step before exec: from here on the filter applies to us and every child."""
    sc.seccomp_load(program)


# ---- the flags: --privileged, --cap-add/--cap-drop, --security-opt ----

@dataclass(frozen=True)
class Hardening:
    """What one container's processes get, decided from its flags."""

    capabilities: tuple[str, ...]
    seccomp: bool           # Docker's default profile (False: --privileged or unconfined)
    privileged: bool = False

    @property
    def mask(self) -> int:
        return capability_mask(self.capabilities)

    def program(self, cache_dir: Path) -> bytes | None:
        return seccomp_program(self.capabilities, cache_dir) if self.seccomp else None


def seccomp_enabled(security_opt: Iterable[str]) -> bool:
    """Docker's --security-opt values isobench knows; ValueError on any other.

    seccomp=unconfined turns the profile off; seccomp=default keeps it; no-new-privileges is
    always on here (the filter relies on it)."""
    enabled = True
    for opt in security_opt:
        key, sep, value = opt.replace(":", "=", 1).partition("=")
        key, value = key.strip(), value.strip()
        if key == "seccomp" and sep and value in ("unconfined", "default", "builtin"):
            enabled = value != "unconfined"
        elif key == "no-new-privileges" and value in ("", "true"):
            pass
        else:
            raise ValueError(f'invalid --security-opt: "{opt}" (isobench supports '
                             "seccomp=unconfined, seccomp=default and no-new-privileges)")
    return enabled


def hardening(privileged: bool = False, cap_add: Iterable[str] = (),
              cap_drop: Iterable[str] = (), security_opt: Iterable[str] = ()) -> Hardening:
    """Validate the flags (ValueError with one line) and decide, as Docker does."""
    cap_add, cap_drop = list(cap_add), list(cap_drop)
    for flag, names in (("CapAdd", cap_add), ("CapDrop", cap_drop)):
        for name in names:
            try:
                normalize_capability(name)
            except ValueError as e:
                raise ValueError(f"invalid {flag}: {e}") from None
    seccomp = seccomp_enabled(security_opt)
    caps = effective_capabilities(cap_add, cap_drop, privileged)
    held = own_bounding_set()
    lacking = [c for c in caps if not held & (1 << CAPABILITIES[c])]
    if lacking:
        raise ValueError(f"cannot grant CAP_{lacking[0]}: isobench itself does not hold it "
                         "(its bounding set lacks it)")
    return Hardening(caps, seccomp and not privileged, privileged)
