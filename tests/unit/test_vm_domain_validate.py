"""The domains the driver generates, for KVM and for TCG and with each guest CPU it can ask
for, pass libvirt's own schema (virt-xml-validate, from libvirt-clients in APT_PACKAGES)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from runtime.errors import InvalidArgument
from vm import accel
from vm.domain import DomainCpu, TapNet
from vm.driver import RunFiles, VmDriver, domain_cpu
from vm.rawqemu import qemu_cpu
from vm.request import VmRequest

VALIDATE = shutil.which("virt-xml-validate")


def generated_xml(tmp_path: Path, mode: str, scratch: bool, tap: TapNet | None = None) -> str:
    """What VmDriver.domain writes for a plan under `mode`."""
    driver = VmDriver.__new__(VmDriver)
    driver.root = tmp_path
    decision = accel.Decision(mode, "test", accel.KVM_NOTE if mode == "kvm" else accel.TCG_NOTE)
    kernel = SimpleNamespace(kernel="/boot/vmlinuz-6.1.0-57-amd64",
                             initrd="/boot/initrd.img-6.1.0-57-amd64")
    plan = SimpleNamespace(req=VmRequest(image="busybox", command=["true"], memory_bytes=512 << 20,
                                         vcpus=2, forwards=[]),
                           name="isobench-0123456789ab", run_id="0123456789ab",
                           decision=decision, kernel=kernel)
    files = RunFiles(tmp_path, tmp_path / "ch.sock", tmp_path / "root.qcow2",
                     tmp_path / "scratch.raw" if scratch else None)
    return driver.domain(plan, files, tap).to_xml()  # type: ignore[arg-type]


def validate(xml: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "domain.xml"
    path.write_text(xml)
    return subprocess.run([VALIDATE or "virt-xml-validate", str(path), "domain"],
                          capture_output=True, text=True, timeout=60)


def test_virt_xml_validate_is_installed() -> None:
    assert VALIDATE is not None, "virt-xml-validate missing: make setup (libvirt-clients)"


@pytest.mark.parametrize("mode", ["kvm", "tcg"])
@pytest.mark.parametrize("cpu", ["", "max", "EPYC+svm+npt", "qemu64+svm"])
@pytest.mark.parametrize("scratch", [False, True])
def test_generated_domains_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str,
                                    cpu: str, scratch: bool) -> None:
    monkeypatch.setenv("ISOBENCH_VM_CPU", cpu)
    xml = generated_xml(tmp_path, mode, scratch)
    assert f" type=\"{'kvm' if mode == 'kvm' else 'qemu'}\">" in xml.splitlines()[0]
    out = validate(xml, tmp_path)
    assert out.returncode == 0, out.stderr + out.stdout + xml


@pytest.mark.parametrize("vhost", [False, True])
def test_a_bridged_domain_validates(tmp_path: Path, vhost: bool) -> None:
    xml = generated_xml(tmp_path, "kvm" if vhost else "tcg", False,
                        TapNet("ibtap0123456789", vhost=vhost))
    assert "<interface type=\"ethernet\">" in xml and "hostfwd" not in xml
    out = validate(xml, tmp_path)
    assert out.returncode == 0, out.stderr + out.stdout + xml


def test_the_validator_can_fail(tmp_path: Path) -> None:
    xml = generated_xml(tmp_path, "kvm", False).replace("<vcpu>", "<vcpus>").replace(
        "</vcpu>", "</vcpus>")
    assert validate(xml, tmp_path).returncode != 0


def test_default_cpus() -> None:
    assert domain_cpu("kvm", "") == DomainCpu("host-passthrough")
    assert domain_cpu("tcg", "") is None


@pytest.mark.parametrize("text, cpu, qemu", [
    ("max", DomainCpu("maximum"), "max"),
    ("host-passthrough", DomainCpu("host-passthrough"), "host"),
    ("EPYC+svm+npt", DomainCpu("custom", "EPYC", ("svm", "npt")), "EPYC,+svm,+npt"),
    ("qemu64+svm", DomainCpu("custom", "qemu64", ("svm",)), "qemu64,+svm"),
])
def test_svm_capable_cpus(text: str, cpu: DomainCpu, qemu: str) -> None:
    assert domain_cpu("tcg", text) == cpu
    assert qemu_cpu(cpu) == qemu


def test_custom_cpu_xml_requires_its_features() -> None:
    import xml.etree.ElementTree as ET
    el = DomainCpu.parse("EPYC+svm").to_element()
    assert ET.tostring(el, encoding="unicode") == (
        '<cpu mode="custom" match="exact" check="none"><model fallback="forbid">EPYC</model>'
        '<feature policy="require" name="svm" /></cpu>')
    assert DomainCpu.from_element(el) == DomainCpu("custom", "EPYC", ("svm",))


@pytest.mark.parametrize("text", ["EPYC+", "+svm", "EP YC", "a;b"])
def test_a_bad_cpu_is_one_line(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid ISOBENCH_VM_CPU"):
        domain_cpu("kvm", text)
