"""Capabilities, no_new_privs and seccomp (runtime.security, runtime.seccomp_profile), and
compose's hardening keys, against RecordingSyscalls; device access is in test_devices.py."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from runtime import security
from runtime.security import (
    CAPABILITIES,
    DEFAULT_CAPABILITIES,
    capability_mask,
    drop_bounding_set,
    set_capabilities,
    set_no_new_privs,
)
from runtime.syscalls import (
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAPBSET_DROP,
    PR_SET_NO_NEW_PRIVS,
    RecordingSyscalls,
)

DOCKER_CAPEFF = 0xA80425FB  # CapEff in /proc/PID/status of a default `docker run` as root


def test_default_mask_is_what_docker_shows_in_capeff() -> None:
    assert capability_mask(DEFAULT_CAPABILITIES) == DOCKER_CAPEFF


def test_default_set_has_fourteen_distinct_known_capabilities() -> None:
    assert len(set(DEFAULT_CAPABILITIES)) == 14
    assert all(name in CAPABILITIES for name in DEFAULT_CAPABILITIES)
    assert bin(DOCKER_CAPEFF).count("1") == 14


def test_capability_numbers_are_the_kernels() -> None:
    assert CAPABILITIES["SYS_ADMIN"] == 21
    assert CAPABILITIES["NET_ADMIN"] == 12
    assert CAPABILITIES["SETFCAP"] == 31
    assert CAPABILITIES["CHECKPOINT_RESTORE"] == 40
    assert sorted(CAPABILITIES.values()) == list(range(41))


@pytest.mark.parametrize("name", ["NET_ADMIN", "net_admin", "CAP_NET_ADMIN", "cap_net_admin"])
def test_mask_accepts_any_case_and_cap_prefix(name: str) -> None:
    assert capability_mask([name]) == 1 << 12


def test_empty_mask_is_zero() -> None:
    assert capability_mask([]) == 0


def test_unknown_capability_is_rejected() -> None:
    with pytest.raises(KeyError):
        capability_mask(["NOT_A_CAP"])


def test_drop_bounding_set_drops_exactly_what_is_not_kept_then_clears_ambient() -> None:
    sc = RecordingSyscalls()
    mask = capability_mask(DEFAULT_CAPABILITIES)
    drop_bounding_set(sc, mask, last_cap=40)
    drops = [c[2] for c in sc.calls if c[:2] == ("prctl", PR_CAPBSET_DROP)]
    assert len(drops) == 41 - 14
    assert drops == [cap for cap in range(41) if not mask & (1 << cap)]
    assert CAPABILITIES["SYS_ADMIN"] in drops
    assert CAPABILITIES["CHOWN"] not in drops
    assert sc.calls[-1] == ("prctl", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    assert len(sc.calls) == len(drops) + 1


def test_drop_bounding_set_stops_at_the_kernels_last_cap() -> None:
    sc = RecordingSyscalls()
    drop_bounding_set(sc, 0, last_cap=37)
    drops = [c[2] for c in sc.calls if c[:2] == ("prctl", PR_CAPBSET_DROP)]
    assert drops == list(range(38))


def test_keeping_everything_drops_nothing_but_still_clears_ambient() -> None:
    sc = RecordingSyscalls()
    drop_bounding_set(sc, (1 << 41) - 1, last_cap=40)
    assert sc.calls == [("prctl", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)]


def test_set_capabilities_keeps_mask_effective_and_permitted_and_nothing_inheritable() -> None:
    sc = RecordingSyscalls()
    set_capabilities(sc, DOCKER_CAPEFF)
    assert sc.calls == [("capset", DOCKER_CAPEFF, DOCKER_CAPEFF, 0)]


def test_set_no_new_privs() -> None:
    sc = RecordingSyscalls()
    set_no_new_privs(sc)
    assert sc.calls == [("prctl", PR_SET_NO_NEW_PRIVS, 1)]


def kernel_last_capability() -> int:
    """The kernel's answer without its sysctl: prctl(PR_CAPBSET_READ, n) fails with EINVAL
    for the first n past the last capability it knows."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_read = 23
    n = 0
    while libc.prctl(pr_capbset_read, n, 0, 0, 0) >= 0:
        n += 1
    assert ctypes.get_errno() == errno.EINVAL
    return n - 1


def test_last_capability_reads_the_kernel() -> None:
    assert security.last_capability() == kernel_last_capability()


# --- capabilities from --privileged / --cap-add / --cap-drop (Docker's TweakCapabilities) ---

ALL_HELD = (1 << 41) - 1


@pytest.fixture
def full_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "last_capability", lambda: 40)
    monkeypatch.setattr(security, "own_bounding_set", lambda: ALL_HELD)


@pytest.mark.usefixtures("full_kernel")
def test_no_flags_is_dockers_default_set() -> None:
    assert security.effective_capabilities() == DEFAULT_CAPABILITIES


@pytest.mark.usefixtures("full_kernel")
def test_privileged_is_every_capability_whatever_else_is_asked() -> None:
    caps = security.effective_capabilities(["NET_ADMIN"], ["ALL"], privileged=True)
    assert len(caps) == 41 and capability_mask(caps) == ALL_HELD


@pytest.mark.usefixtures("full_kernel")
def test_cap_add_all_less_the_drops() -> None:
    caps = security.effective_capabilities(["all"], ["cap_sys_admin", "NET_RAW"])
    assert len(caps) == 39 and "SYS_ADMIN" not in caps and "NET_RAW" not in caps


@pytest.mark.usefixtures("full_kernel")
def test_cap_drop_all_keeps_only_the_adds() -> None:
    assert security.effective_capabilities(["CAP_CHOWN"], ["ALL"]) == ("CHOWN",)
    assert security.effective_capabilities([], ["ALL"]) == ()


@pytest.mark.usefixtures("full_kernel")
def test_default_less_drops_plus_adds_without_duplicates() -> None:
    caps = security.effective_capabilities(["NET_ADMIN", "chown"], ["MKNOD"])
    assert "MKNOD" not in caps and "NET_ADMIN" in caps
    assert caps.count("CHOWN") == 1
    assert len(caps) == 14


def test_privileged_gets_only_what_the_kernel_and_isobench_hold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "last_capability", lambda: 37)
    monkeypatch.setattr(security, "own_bounding_set", lambda: ALL_HELD & ~(1 << 24))
    caps = security.effective_capabilities(privileged=True)
    assert "SYS_RESOURCE" not in caps and "PERFMON" not in caps and len(caps) == 37


@pytest.mark.parametrize("flags, message", [
    ({"cap_add": ["FOO"]}, 'invalid CapAdd: unknown capability: "FOO"'),
    ({"cap_drop": ["cap_bar"]}, 'invalid CapDrop: unknown capability: "cap_bar"'),
    ({"security_opt": ["seccomp=/tmp/profile.json"]}, "invalid --security-opt"),
    ({"security_opt": ["label=disable"]}, "invalid --security-opt"),
    ({"security_opt": ["no-new-privileges=false"]}, "invalid --security-opt"),
])
@pytest.mark.usefixtures("full_kernel")
def test_bad_flags_are_one_line_value_errors(flags: dict, message: str) -> None:
    with pytest.raises(ValueError) as info:
        security.hardening(**flags)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_capability_isobench_lacks_cannot_be_granted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "own_bounding_set", lambda: ALL_HELD & ~(1 << 24))
    with pytest.raises(ValueError, match="cannot grant CAP_SYS_RESOURCE"):
        security.hardening(cap_add=["SYS_RESOURCE"])


@pytest.mark.parametrize("opts, enabled", [
    ([], True), (["seccomp=unconfined"], False), (["seccomp:unconfined"], False),
    (["seccomp=unconfined", "seccomp=default"], True), (["no-new-privileges"], True),
    (["no-new-privileges:true"], True),
])
def test_security_opt_seccomp(opts: list[str], enabled: bool) -> None:
    assert security.seccomp_enabled(opts) is enabled


@pytest.mark.usefixtures("full_kernel")
def test_hardening_privileged_has_no_seccomp_and_default_has() -> None:
    assert security.hardening().seccomp is True
    assert security.hardening().mask == DOCKER_CAPEFF
    priv = security.hardening(privileged=True)
    assert priv.seccomp is False and priv.privileged and priv.mask == ALL_HELD
    assert security.hardening(security_opt=["seccomp=unconfined"]).seccomp is False


# --- Docker's profile: which rules a capability set selects ---

from runtime.seccomp_profile import (  # noqa: E402
    CLONE_NAMESPACE_FLAGS,
    DEFAULT_PROFILE,
    ArgCheck,
    Rule,
    kernel_version,
    select_rules,
)


def allowed(rules: list[Rule]) -> set[str]:
    """Syscalls allowed unconditionally (no argument checks)."""
    return {n for r in rules if r.action == "allow" and not r.args for n in r.names}


def test_default_caps_allow_the_ordinary_and_none_of_the_admin_calls() -> None:
    names = allowed(select_rules(set(DEFAULT_CAPABILITIES), "amd64", (6, 1)))
    assert {"read", "execve", "chown", "mknod", "chroot", "arch_prctl", "ptrace"} <= names
    forbidden = {"mount", "umount2", "unshare", "setns", "reboot", "init_module",
                 "finit_module", "delete_module", "settimeofday", "clock_settime", "swapon",
                 "keyctl", "add_key", "kexec_load", "bpf", "open_by_handle_at", "acct",
                 "clone", "clone3", "iopl", "syslog"}
    assert not names & forbidden


def test_without_sys_admin_clone_is_limited_to_no_namespace_flags_and_clone3_is_enosys() -> None:
    rules = select_rules(set(DEFAULT_CAPABILITIES), "amd64", (6, 1))
    clone = [r for r in rules if r.names == ("clone",)]
    assert [r.args for r in clone] == [(ArgCheck(0, "MASKED_EQ", CLONE_NAMESPACE_FLAGS, 0),)]
    assert CLONE_NAMESPACE_FLAGS == 0x7E020000
    clone3 = [r for r in rules if r.names == ("clone3",)]
    assert [(r.action, r.errno_ret) for r in clone3] == [("errno", 38)]


def test_sys_admin_unlocks_mount_unshare_setns_and_plain_clone() -> None:
    rules = select_rules({*DEFAULT_CAPABILITIES, "SYS_ADMIN"}, "amd64", (6, 1))
    assert {"mount", "umount2", "unshare", "setns", "clone", "clone3", "sethostname"} \
        <= allowed(rules)
    assert not [r for r in rules if r.names in (("clone",), ("clone3",))]


@pytest.mark.parametrize("cap, unlocked", [
    ("SYS_BOOT", {"reboot"}),
    ("SYS_MODULE", {"init_module", "finit_module", "delete_module"}),
    ("SYS_TIME", {"settimeofday", "stime", "clock_settime", "clock_settime64"}),
    ("SYS_PTRACE", {"kcmp", "pidfd_getfd", "process_madvise"}),
    ("SYS_RAWIO", {"iopl", "ioperm"}),
    ("DAC_READ_SEARCH", {"open_by_handle_at"}),
    ("SYSLOG", {"syslog"}),
    ("BPF", {"bpf"}),
])
def test_each_capability_unlocks_its_group(cap: str, unlocked: set[str]) -> None:
    without = allowed(select_rules(set(DEFAULT_CAPABILITIES), "amd64", (6, 1)))
    with_cap = allowed(select_rules({*DEFAULT_CAPABILITIES, f"CAP_{cap}"}, "amd64", (6, 1)))
    assert not without & unlocked
    assert with_cap - without == unlocked


def test_personality_only_for_the_harmless_personas() -> None:
    rules = [r for r in select_rules(set(), "amd64", (6, 1)) if r.names == ("personality",)]
    assert sorted(r.args[0].value for r in rules) == [0, 8, 0x20000, 0x20008, 0xFFFFFFFF]
    assert all(r.args[0].op == "EQ" for r in rules)


def test_architecture_and_kernel_conditions() -> None:
    amd64 = allowed(select_rules(set(), "amd64", (6, 1)))
    arm64 = allowed(select_rules(set(), "arm64", (6, 1)))
    assert "arch_prctl" in amd64 and "arch_prctl" not in arm64
    assert "set_tls" in arm64 and "set_tls" not in amd64
    s390 = [r for r in select_rules(set(), "s390x", (6, 1)) if r.names == ("clone",)]
    assert [r.args[0].index for r in s390] == [1]  # s390 swaps clone's arguments
    assert "ptrace" not in allowed(select_rules(set(), "amd64", (4, 4)))


def test_kernel_version_parsing() -> None:
    assert kernel_version("6.18.44-fc-v782") == (6, 18)
    assert kernel_version("4.8") == (4, 8)
    assert kernel_version("garbage") == (0, 0)


def test_profile_allow_list_has_no_duplicates_and_no_forbidden_call() -> None:
    first = DEFAULT_PROFILE[0].names
    assert len(first) == len(set(first))
    assert not {"mount", "reboot", "init_module", "unshare", "keyctl", "swapon"} & set(first)


# --- compiling: the rules fed to libseccomp (a fake builder) ---

class FakeBuilder:
    def __init__(self, unknown: set[str] = frozenset()) -> None:
        self.unknown = unknown
        self.arches: list[str] = []
        self.rules: list[tuple[str, str, int, tuple[ArgCheck, ...]]] = []

    def add_arch(self, arch: str) -> None:
        self.arches.append(arch)

    def known(self, syscall: str) -> bool:
        return syscall not in self.unknown

    def add_rule(self, rule: Rule, syscall: str) -> None:
        self.rules.append((syscall, rule.action, rule.errno_ret, rule.args))

    def export_bpf(self) -> bytes:
        return b"\x06\x00\x00\x00\x00\x00\xff\x7f"  # one instruction: RET ALLOW


def test_compile_adds_sub_arches_and_one_rule_per_known_syscall() -> None:
    rules = select_rules(set(DEFAULT_CAPABILITIES), "amd64", (6, 1))
    builder = FakeBuilder(unknown={"futex_waitv", "cachestat"})
    skipped = security.compile_rules(rules, builder, ("x86", "x32"))
    assert builder.arches == ["x86", "x32"]
    assert skipped == ["cachestat", "futex_waitv"]
    names = [r[0] for r in builder.rules]
    assert "cachestat" not in names and "read" in names and "mount" not in names
    assert ("clone", "allow", 0, (ArgCheck(0, "MASKED_EQ", 0x7E020000, 0),)) in builder.rules
    assert ("clone3", "errno", 38, ()) in builder.rules
    total = sum(len(r.names) for r in rules)
    assert len(builder.rules) == total - 2


def test_compile_with_sys_admin_has_unconditional_mount_and_clone() -> None:
    builder = FakeBuilder()
    security.compile_rules(select_rules({*DEFAULT_CAPABILITIES, "SYS_ADMIN"}, "amd64", (6, 1)),
                           builder)
    assert ("mount", "allow", 0, ()) in builder.rules
    assert ("clone", "allow", 0, ()) in builder.rules
    assert not [r for r in builder.rules if r[0] == "clone" and r[3]]


def test_program_is_compiled_once_then_read_from_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[FakeBuilder] = []

    def make() -> FakeBuilder:
        built.append(FakeBuilder())
        return built[-1]

    monkeypatch.setattr(security, "LibseccompBuilder", make)
    first = security.seccomp_program(DEFAULT_CAPABILITIES, tmp_path)
    second = security.seccomp_program(DEFAULT_CAPABILITIES, tmp_path)
    assert first == second == FakeBuilder().export_bpf()
    assert len(built) == 1
    security.seccomp_program((*DEFAULT_CAPABILITIES, "SYS_ADMIN"), tmp_path)
    assert len(built) == 2  # another capability set is another program
    assert len(list(tmp_path.glob("*.bpf"))) == 2


def test_real_libseccomp_compiles_the_default_profile(tmp_path: Path) -> None:
    pytest.importorskip("pyseccomp", reason="pyseccomp (and libseccomp.so.2) not installed")
    program = security.seccomp_program(DEFAULT_CAPABILITIES, tmp_path)
    assert len(program) % 8 == 0 and len(program) // 8 > 100  # sock_filter instructions
    admin = security.seccomp_program((*DEFAULT_CAPABILITIES, "SYS_ADMIN"), tmp_path)
    assert admin != program


# --- PID 1: the filter is the last thing before exec ---

def test_become_loads_seccomp_after_capset_and_no_new_privs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime import init
    from runtime.init import ExecFailure, ProcessSpec

    files = {"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", "/etc/group": "root:x:0:\n"}
    monkeypatch.setattr(init, "_read", lambda path: files.get(path, ""))
    monkeypatch.setattr(security, "last_capability", lambda: 40)

    def stop(argv: list[str], env: dict[str, str]) -> None:
        raise ExecFailure(127, "stopped before exec")

    monkeypatch.setattr(init, "exec_command", stop)
    sc = RecordingSyscalls()
    with pytest.raises(ExecFailure):
        init.become(sc, ProcessSpec(argv=["sh"], env=[], workdir=str(tmp_path),
                                    seccomp=b"PROGRAM!"), "host")
    names = sc.names()
    assert names[-1] == "seccomp_load" and sc.calls[-1] == ("seccomp_load", b"PROGRAM!")
    assert names.index("capset") < names.index("chdir") < names.index("seccomp_load")
    assert ("prctl", PR_SET_NO_NEW_PRIVS, 1) in sc.calls[:-1]
    sc = RecordingSyscalls()
    with pytest.raises(ExecFailure):
        init.become(sc, ProcessSpec(argv=["sh"], env=[], workdir=str(tmp_path)), "host")
    assert "seccomp_load" not in sc.names()  # unconfined / privileged


# --- compose: privileged, cap_add, cap_drop, security_opt ---

import textwrap  # noqa: E402

from runtime.compose import ComposeError, load  # noqa: E402


def _compose(tmp_path: Path, service: str):  # noqa: ANN202
    path = tmp_path / "compose.yaml"
    path.write_text(textwrap.dedent("""\
        services:
          app:
            image: busybox
        """) + textwrap.indent(textwrap.dedent(service), "    "))
    return load(path, "proj", host_env={})


@pytest.mark.usefixtures("full_kernel")
def test_compose_reads_the_hardening_keys(tmp_path: Path) -> None:
    s = _compose(tmp_path, """\
        privileged: true
        cap_add: [NET_ADMIN]
        cap_drop: [ALL]
        security_opt: ["seccomp:unconfined"]
        """).services["app"].security
    assert (s.privileged, s.cap_add, s.cap_drop, s.security_opt) == (
        True, ["NET_ADMIN"], ["ALL"], ["seccomp:unconfined"])
    plain = _compose(tmp_path, "").services["app"].security
    assert (plain.privileged, plain.cap_add, plain.cap_drop, plain.security_opt) == (
        False, [], [], [])


@pytest.mark.parametrize("service, message", [
    ("privileged: yes-please\n", "services.app.privileged: must be a boolean"),
    ("cap_add: NET_ADMIN\n", "services.app.cap_add: must be a list"),
    ("cap_drop: [BOGUS]\n", 'services.app: invalid CapDrop: unknown capability: "BOGUS"'),
    ("security_opt: [apparmor=x]\n", "services.app: invalid --security-opt"),
])
@pytest.mark.usefixtures("full_kernel")
def test_compose_bad_hardening_keys_are_errors_before_up(tmp_path: Path, service: str,
                                                         message: str) -> None:
    with pytest.raises(ComposeError) as info:
        _compose(tmp_path, service)
    assert message in str(info.value)


@pytest.mark.usefixtures("full_kernel")
def test_compose_up_passes_them_to_create(tmp_path: Path) -> None:
    from runtime.compose import Compose
    from tests.unit.compose.fakes import FakeRuntime

    p = _compose(tmp_path, "cap_add: [SYS_ADMIN]\nsecurity_opt: [seccomp=unconfined]\n")
    rt = FakeRuntime()
    Compose(rt, p.name, p, say=lambda _line: None).up(detach=True)  # type: ignore[arg-type]
    kw = rt.records["id-proj-app-1"].kw
    assert (kw["privileged"], kw["cap_add"], kw["cap_drop"], kw["security_opt"]) == (
        False, ["SYS_ADMIN"], [], ["seccomp=unconfined"])
