"""Acceleration decisions and the probe's plumbing, without running QEMU."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from vm import accel
from vm.accel import AccelError, ProbeResult, decide

KVM_OK = ProbeResult("kvm", True, 0.3, "a vCPU ran the probe in 0.30 s")
KVM_SPINS = ProbeResult("kvm", False, 3.0, "the vCPU did not finish a 512-byte boot sector "
                        "within 3 s (QEMU spins: the vCPU never runs)")


@pytest.mark.parametrize("requested, device, kvm, expected", [
    ("auto", None, KVM_OK, "kvm"),
    ("auto", None, KVM_SPINS, "tcg"),           # these machines: /dev/kvm opens, vCPU spins
    ("auto", "/dev/kvm does not exist", None, "tcg"),
    ("auto", None, None, "tcg"),                # never assume KVM without a probe
    ("tcg", None, KVM_OK, "tcg"),
    ("kvm", None, KVM_OK, "kvm"),
])
def test_decisions(requested: str, device: str | None, kvm: ProbeResult | None,
                   expected: str) -> None:
    decision = decide(requested, device, kvm)
    assert decision.accel == expected
    assert decision.note == (accel.KVM_NOTE if expected == "kvm" else accel.TCG_NOTE)


def test_fallback_says_why() -> None:
    decision = decide("auto", None, KVM_SPINS)
    assert "vCPU never runs" in decision.reason and "TCG" in decision.reason
    assert "emulation" in decision.note


@pytest.mark.parametrize("device, kvm, why", [
    (None, KVM_SPINS, "vCPU never runs"),
    ("/dev/kvm does not open: Permission denied", None, "Permission denied"),
])
def test_kvm_requested_but_unusable_is_an_error(device: str | None, kvm: ProbeResult | None,
                                                why: str) -> None:
    with pytest.raises(AccelError, match=why) as info:
        decide("kvm", device, kvm)
    assert info.value.exit_code == 125


def test_unknown_mode() -> None:
    with pytest.raises(AccelError, match="auto, kvm or tcg"):
        decide("hvf", None, None)


def test_boot_sector_writes_the_exit_port_and_is_bootable() -> None:
    sector = accel.boot_sector()
    assert len(sector) == 512 and sector[-2:] == b"\x55\xaa"
    assert sector[:4] == bytes([0xB0, accel.EXIT_VALUE, 0xE6, accel.EXIT_PORT])
    assert accel.EXPECTED_STATUS == (accel.EXIT_VALUE << 1) | 1


def test_probe_command_uses_the_requested_accelerator() -> None:
    cmd = accel.probe_command("kvm", "/tmp/p.img")
    assert cmd[cmd.index("-accel") + 1] == "kvm"
    assert any(a.startswith("isa-debug-exit") for a in cmd)


class FakeProc:
    def __init__(self, returncode: int | None, hang: bool = False) -> None:
        self.returncode, self.hang, self.killed = returncode, hang, False

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        if self.hang and not self.killed:
            raise subprocess.TimeoutExpired("qemu", timeout or 0)
        return "", "qemu-system-x86_64: failed to initialize kvm: No such file\n"

    def kill(self) -> None:
        self.killed = True


@pytest.mark.parametrize("proc, ok, detail", [
    (FakeProc(accel.EXPECTED_STATUS), True, "ran the probe"),
    (FakeProc(None, hang=True), False, "never runs"),
    (FakeProc(1), False, "failed to initialize kvm"),
])
def test_run_probe_verdicts(monkeypatch: pytest.MonkeyPatch, proc: FakeProc, ok: bool,
                            detail: str) -> None:
    monkeypatch.setattr(accel.subprocess, "Popen", lambda *a, **k: proc)
    result = accel.run_probe("kvm", timeout=0.01)
    assert result.ok is ok and detail in result.detail


KERNEL_HANGS = ProbeResult("kvm", False, 15.0, "vmlinuz printed nothing", "kernel")


def test_success_is_cached_per_boot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ISOBENCH_RUN_DIR", str(tmp_path))
    calls: list[str | None] = []

    def fake_checks(mode: str, kernel: str | None) -> ProbeResult:
        calls.append(kernel)
        return KVM_OK

    monkeypatch.setattr(accel, "run_checks", fake_checks)
    monkeypatch.setattr(accel, "_guest_kernel", lambda: "/boot/vmlinuz-1")
    monkeypatch.setattr(accel, "_boot_id", lambda: "boot-1")
    assert accel.probe_kvm() == KVM_OK
    monkeypatch.setattr(accel.time, "time", lambda: 1e12)   # long after: still valid
    assert accel.probe_kvm() == KVM_OK
    assert calls == ["/boot/vmlinuz-1"]
    key = json.loads((tmp_path / accel.CACHE_FILE).read_text())["key"]
    assert key["boot_id"] == "boot-1" and key["probe"] == accel.PROBE_VERSION
    monkeypatch.setattr(accel, "_boot_id", lambda: "boot-2")  # the host rebooted
    accel.probe_kvm()
    monkeypatch.setattr(accel, "_guest_kernel", lambda: "/boot/vmlinuz-2")  # a new kernel
    accel.probe_kvm()
    accel.probe_kvm(refresh=True)
    assert calls == ["/boot/vmlinuz-1", "/boot/vmlinuz-1", "/boot/vmlinuz-2", "/boot/vmlinuz-2"]


def test_a_failure_is_kept_by_this_process_only(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    """A failed (or timed-out) probe is not written to /run: the next command probes again;
    within one command it is not repeated for every VM run."""
    monkeypatch.setenv("ISOBENCH_RUN_DIR", str(tmp_path))
    monkeypatch.setattr(accel, "_FAILED", {})
    calls: list[str] = []
    monkeypatch.setattr(accel, "run_checks", lambda mode, kernel: calls.append(mode)
                        or KERNEL_HANGS)
    monkeypatch.setattr(accel, "_guest_kernel", lambda: "/boot/vmlinuz-1")
    assert accel.probe_kvm() == KERNEL_HANGS
    assert accel.probe_kvm() == KERNEL_HANGS
    assert calls == ["kvm"]
    assert not (tmp_path / accel.CACHE_FILE).exists()
    monkeypatch.setattr(accel, "_FAILED", {})  # the next isobench command
    monkeypatch.setattr(accel, "run_checks", lambda mode, kernel: calls.append(mode) or KVM_OK)
    assert accel.probe_kvm() == KVM_OK
    assert calls == ["kvm", "kvm"]
    assert json.loads((tmp_path / accel.CACHE_FILE).read_text())["kvm"]["ok"] is True


def test_a_failure_after_a_success_removes_the_cached_success(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ISOBENCH_RUN_DIR", str(tmp_path))
    monkeypatch.setattr(accel, "_FAILED", {})
    monkeypatch.setattr(accel, "_guest_kernel", lambda: "/boot/vmlinuz-1")
    monkeypatch.setattr(accel, "run_checks", lambda mode, kernel: KVM_OK)
    accel.probe_kvm()
    monkeypatch.setattr(accel, "run_checks", lambda mode, kernel: KERNEL_HANGS)
    assert accel.probe_kvm(refresh=True) == KERNEL_HANGS
    assert not (tmp_path / accel.CACHE_FILE).exists()


def test_a_verdict_of_the_older_probe_is_not_reused(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    """The sector-only probe said ok on hosts where Linux hangs under KVM: probe again."""
    monkeypatch.setenv("ISOBENCH_RUN_DIR", str(tmp_path))
    monkeypatch.setattr(accel, "_guest_kernel", lambda: "/boot/vmlinuz-1")
    old_key = {"boot_id": accel._boot_id(), "qemu": accel._qemu_identity()}
    (tmp_path / accel.CACHE_FILE).write_text(json.dumps({"key": old_key, "kvm": KVM_OK.to_dict()}))
    monkeypatch.setattr(accel, "run_checks", lambda mode, kernel: KERNEL_HANGS)
    assert accel.probe_kvm() == KERNEL_HANGS


LIBVIRT_OK = ProbeResult("kvm", True, 0.01, "libvirt makes kvm domains", "libvirt")
LIBVIRT_NO = ProbeResult("kvm", False, 0.01, "libvirt cannot make kvm domains: x", "libvirt")


@pytest.mark.parametrize("sector, kernel, lv, decided_by, passed", [
    (KVM_SPINS, "/boot/vmlinuz-1", LIBVIRT_OK, "sector", []),  # real mode fails: stop there
    (KVM_OK, "/boot/vmlinuz-1", LIBVIRT_OK, "kernel", ["sector"]),
    (KVM_OK, None, LIBVIRT_NO, "libvirt", ["sector"]),       # no guest kernel: not booted
])
def test_the_first_failing_check_decides(monkeypatch: pytest.MonkeyPatch, sector: ProbeResult,
                                         kernel: str | None, lv: ProbeResult, decided_by: str,
                                         passed: list[str]) -> None:
    monkeypatch.setattr(accel, "run_probe", lambda mode: ProbeResult(**sector.to_dict()))
    monkeypatch.setattr(accel, "run_kernel_probe", lambda mode, k: ProbeResult(
        **KERNEL_HANGS.to_dict()))
    monkeypatch.setattr(accel, "run_libvirt_check", lambda: ProbeResult(**lv.to_dict()))
    result = accel.run_checks("kvm", kernel)
    assert (result.ok, result.check, result.passed) == (False, decided_by, passed)


def test_kvm_counts_only_when_qemu_and_libvirt_both_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    kernel_ok = ProbeResult("kvm", True, 2.0, "a vCPU booted vmlinuz", "kernel")
    monkeypatch.setattr(accel, "run_probe", lambda mode: ProbeResult(**KVM_OK.to_dict()))
    monkeypatch.setattr(accel, "run_kernel_probe", lambda mode, k: ProbeResult(
        **kernel_ok.to_dict()))
    monkeypatch.setattr(accel, "run_libvirt_check", lambda: ProbeResult(**LIBVIRT_OK.to_dict()))
    result = accel.run_checks("kvm", "/boot/vmlinuz-1")
    assert (result.ok, result.check, result.passed) == (True, "libvirt", ["sector", "kernel"])
    assert result.detail == "libvirt makes kvm domains; passed: sector, kernel, libvirt"
    decision = accel.decide("auto", None, result)
    assert (decision.accel, decision.check) == ("kvm", "libvirt")
    assert decision.reason.endswith("(decided by the libvirt check)")


def test_tcg_probes_skip_libvirt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accel, "run_probe", lambda mode: ProbeResult("tcg", True, 0.1, "ran"))
    monkeypatch.setattr(accel, "run_libvirt_check", lambda: pytest.fail("libvirt asked"))
    assert accel.run_checks("tcg", None).ok


class FakeConn:
    def __init__(self, caps: str | Exception) -> None:
        self.caps, self.closed = caps, False

    def getDomainCapabilities(self, *args: object) -> str:  # noqa: N802 (libvirt's name)
        assert args == (None, "x86_64", None, "kvm", 0)
        if isinstance(self.caps, Exception):
            raise self.caps
        return self.caps

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("caps, ok, detail", [
    ("<domainCapabilities><path>/usr/bin/qemu-system-x86_64</path><domain>kvm</domain>"
     "<machine>pc-i440fx-7.2</machine></domainCapabilities>", True,
     "libvirt makes kvm domains (/usr/bin/qemu-system-x86_64, machine pc-i440fx-7.2)"),
    ("<domainCapabilities><domain>qemu</domain></domainCapabilities>", False,
     "libvirt offers 'qemu' domains, not kvm"),
    ("not xml", False, "libvirt's domain capabilities for kvm are not XML"),
])
def test_libvirt_check_reads_domain_capabilities(caps: str, ok: bool, detail: str) -> None:
    conn = FakeConn(caps)
    result = accel.run_libvirt_check(lambda: conn)  # type: ignore[arg-type,return-value]
    assert (result.ok, result.check, result.detail) == (ok, "libvirt", detail)
    assert conn.closed


def test_libvirt_refusing_kvm_is_a_failed_check() -> None:
    import libvirt
    err = libvirt.libvirtError("unsupported configuration: virttype kvm not supported")
    result = accel.run_libvirt_check(lambda: FakeConn(err))  # type: ignore[arg-type,return-value]
    assert not result.ok and result.detail.startswith("libvirt cannot make kvm domains: ")


@pytest.mark.parametrize("script, ok, detail", [
    ("printf 'early\\nLinux version 6.1.0\\n'; exec sleep 30", True, "to its banner"),
    ("exec sleep 30", False, "printed nothing"),            # the vCPU spins: no byte, ever
    ("echo booting; exit 3", False, "exit status"),
])
def test_kernel_probe_reads_the_serial_port(monkeypatch: pytest.MonkeyPatch, script: str,
                                            ok: bool, detail: str) -> None:
    """A stand-in for QEMU writes to the pipe the probe reads; the probe kills it when done."""
    monkeypatch.setattr(accel, "kernel_probe_command", lambda mode, k: ["sh", "-c", script])
    result = accel.run_kernel_probe("kvm", "/boot/vmlinuz-1", timeout=1.0)
    assert (result.ok, result.check) == (ok, "kernel") and detail in result.detail
    assert result.seconds < 5


def test_kernel_probe_boots_the_domains_kernel_the_domains_way() -> None:
    cmd = accel.kernel_probe_command("kvm", "/boot/vmlinuz-1")
    assert cmd[cmd.index("-kernel") + 1] == "/boot/vmlinuz-1"
    assert cmd[cmd.index("-cpu") + 1] == "host"     # host-passthrough, as under KVM
    assert "-cpu" not in accel.kernel_probe_command("tcg", "/boot/vmlinuz-1")
    assert "console=ttyS0" in cmd[cmd.index("-append") + 1]


def test_tcg_needs_no_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accel, "probe_kvm", lambda **k: pytest.fail("probed"))
    assert accel.choose("tcg").accel == "tcg"


def test_missing_device_skips_the_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accel, "kvm_device_status", lambda: "/dev/kvm does not exist")
    monkeypatch.setattr(accel, "probe_kvm", lambda **k: pytest.fail("probed"))
    assert accel.choose("auto").accel == "tcg"


def test_device_status(tmp_path: Path) -> None:
    assert "does not exist" in (accel.kvm_device_status(str(tmp_path / "kvm")) or "")
    node = tmp_path / "kvm"
    node.write_text("")
    assert accel.kvm_device_status(str(node)) is None


def test_a_slow_tcg_probe_is_not_a_failure(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    """A loaded host runs the sector slowly under TCG; well past the KVM probe's limit (where
    a slow vCPU means one that never runs) it is still a TCG that works."""
    qemu = tmp_path / accel.QEMU
    qemu.write_text(f"#!/bin/sh\nsleep {accel.PROBE_TIMEOUT_S + 1}\n"
                    f"exit {accel.EXPECTED_STATUS}\n")
    qemu.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    result = accel.probe_tcg()
    assert result.ok and result.accel == "tcg", result.detail
    assert result.seconds > accel.PROBE_TIMEOUT_S
