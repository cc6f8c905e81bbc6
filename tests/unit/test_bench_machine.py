"""bench/machine.py: the results document's "machine" block, from this host."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest

from bench import machine as machine_block
from results import document

# -- machine metadata --------------------------------------------------------------------------

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R)  CPU @ 2.20GHz
flags\t\t: fpu vme
"""


def test_host_file_parsers() -> None:
    assert machine_block.cpu_model_from(CPUINFO) == "Intel(R) Xeon(R) CPU @ 2.20GHz"
    assert machine_block.cpu_model_from("processor : 0\n") is None
    assert machine_block.memory_bytes_from("MemTotal:       24609720 kB\nMemFree: 1 kB\n") \
        == 24609720 * 1024
    assert machine_block.memory_bytes_from("") is None
    assert machine_block.distribution_from(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n') \
        == "Debian GNU/Linux 12 (bookworm)"
    assert machine_block.distribution_from('NAME="Alpine Linux"\nVERSION_ID=3.19.1\n') \
        == "Alpine Linux 3.19.1"
    assert machine_block.distribution_from("") is None


@pytest.mark.parametrize(("output", "version"), [
    ("QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u16)\nCopyright", "7.2.19"),
    ("libvirtd (libvirt) 9.0.0\n", "9.0.0"),
    ("runc version 1.1.5\ncommit: v1.1.5-0-gf19387a\nspec: 1.0.2-dev\n", "1.1.5"),
    ("sysbench 1.0.20\n", "1.0.20"),
    ("fio-3.33\n", "3.33"),
    ("iperf 3.12 (cJSON 1.7.15)\nLinux host 6.1.0\n", "3.12"),
    ("stress-ng, version 0.15.06 (gcc 12.2, x86_64 Linux 6.1.0)\n", "0.15.06"),
    ("\nsome-tool nightly\n", "some-tool nightly"),
    ("", None),
])
def test_version_from_output(output: str, version: str | None) -> None:
    assert machine_block.version_from_output(output) == version


def test_tool_versions(tmp_path: Path) -> None:
    tool = tmp_path / "fake-tool"
    tool.write_text("#!/bin/sh\necho 'fake-tool version 2.4.1' >&2\n")
    tool.chmod(0o755)
    assert machine_block.tool_version([str(tool), "--version"]) == "2.4.1"
    assert machine_block.tool_version(["isobench-no-such-tool", "--version"]) is None
    hang = tmp_path / "hang"
    hang.write_text("#!/bin/sh\nexec sleep 5\n")
    hang.chmod(0o755)
    assert machine_block.tool_version([str(hang)], timeout=0.2) is None


def test_machine_metadata_of_this_host(tmp_path: Path) -> None:
    tool = tmp_path / "fake"
    tool.write_text("#!/bin/sh\necho 'fake 1.2'\n")
    tool.chmod(0o755)
    accel = {"mode": "tcg", "reason": "KVM vCPU did not run within 2 s"}
    machine = machine_block.machine_metadata(
        accel, tools={"fake": (str(tool), "--version"), "missing": ("isobench-nope", "-V")})
    assert machine["acceleration"] == accel
    assert machine["versions"]["fake"] == "1.2"
    assert machine["versions"]["missing"] is None
    assert machine["versions"]["python"] == platform.python_version()
    assert machine["cores"] == os.cpu_count()
    assert machine["kernel"] == platform.release()
    assert machine["cgroup_mode"] in ("v1", "v2", "hybrid", None)
    doc = document.new_document(profile="quick", argv=[], repeat=1, seed=0, machine=machine)
    document.validate(doc)
    assert machine_block.machine_metadata(tools={})["acceleration"] == {"mode": None,
                                                                  "reason": "not probed"}


def test_machine_block_says_whether_this_host_is_a_guest() -> None:
    machine = machine_block.machine_metadata(tools={})
    virt = machine["virtualization"]
    flag = "hypervisor" in machine_block.cpu_flags_from(Path("/proc/cpuinfo").read_text())
    assert virt["hypervisor_flag"] is flag
    assert virt["guest"] is (flag or virt["type"] != "none")
    cpu = machine["cpu"]
    assert cpu["logical_cores"] == os.cpu_count()
    assert cpu["freq_mhz"]["current"] is None or cpu["freq_mhz"]["current"] > 0
    assert machine["isobench"]["commit"] == __import__("results.provenance").provenance \
        .checkout_commit()
    doc = document.new_document(profile="quick", argv=[], repeat=1, seed=0, machine=machine)
    document.validate(doc)


CPUINFO_GUEST = "processor\t: 0\nflags\t\t: fpu vme sse2 hypervisor lahf_lm\n"
CPUINFO_METAL = "processor\t: 0\nflags\t\t: fpu vme sse2 lahf_lm\n"


def _no_tool(*_flags: str) -> None:
    return None


def test_virtualization_sources_in_order() -> None:
    def tool(*flags: str) -> str:
        return {"--vm": "kvm", "--container": "none"}[flags[0]]

    assert machine_block.virtualization(CPUINFO_GUEST, detect=tool) == {
        "guest": True, "type": "kvm", "source": "systemd-detect-virt",
        "hypervisor_flag": True, "container": None}
    # no systemd-detect-virt: DMI names the hypervisor
    virt = machine_block.virtualization(CPUINFO_GUEST, detect=_no_tool, dmi=lambda: "qemu")
    assert (virt["guest"], virt["type"], virt["source"]) == (True, "qemu", "dmi")
    # neither: the CPU flag alone says "a guest of an unknown hypervisor"
    virt = machine_block.virtualization(CPUINFO_GUEST, detect=_no_tool, dmi=lambda: None)
    assert (virt["guest"], virt["type"], virt["source"]) == (True, "unknown", "cpuid")
    virt = machine_block.virtualization(CPUINFO_METAL, detect=_no_tool, dmi=lambda: None)
    assert (virt["guest"], virt["type"]) == (False, "none")
    # the flag where the tool says none: still a guest
    virt = machine_block.virtualization(CPUINFO_GUEST, detect=lambda *f: "none")
    assert (virt["guest"], virt["type"]) == (True, "unknown")


def test_dmi_names(tmp_path: Path) -> None:
    (tmp_path / "sys_vendor").write_text("QEMU\n")
    (tmp_path / "product_name").write_text("Standard PC (Q35 + ICH9, 2009)\n")
    assert machine_block.dmi_virt(str(tmp_path)) == "qemu"
    (tmp_path / "sys_vendor").write_text("Dell Inc.\n")
    (tmp_path / "product_name").write_text("PowerEdge R640\n")
    assert machine_block.dmi_virt(str(tmp_path)) == "none"
    assert machine_block.dmi_virt(str(tmp_path / "absent")) is None
