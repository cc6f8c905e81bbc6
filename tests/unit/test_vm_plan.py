"""What the driver decides before creating anything: the command, env, workdir and user the
guest's init gets, exactly as `isobench run` would apply them; and the limits it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.cgroups import CgroupFactory
from runtime.errors import InvalidArgument
from runtime.image.store import Image, ImageConfig, ImageStore
from vm import accel, driver, guest
from vm.driver import Plan, RunFiles, VmDriver, VmError, VmRequest

IMAGE = Image(id="sha256:" + "ab" * 32, layers=[],
              config=ImageConfig(Env=["PATH=/custom/bin", "MODE=image"],
                                 Entrypoint=["/entry"], Cmd=["default-arg"],
                                 WorkingDir="/srv", User="app"))
PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
GROUP = "root:x:0:\napp:x:1000:\ndocker:x:999:app\n"


class OneImage(ImageStore):
    """A store that holds IMAGE under every name."""

    def get(self, ref: str) -> Image:
        return IMAGE


@pytest.fixture
def drv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> VmDriver:
    monkeypatch.setenv("ISOBENCH_BOOT_CACHE", str(tmp_path / "boot-cache"))
    monkeypatch.setattr(guest, "find_kernel", lambda: guest.Kernel("/k", "/i", "6.1.0-test"))
    monkeypatch.setattr(accel, "choose", lambda mode: accel.decide("tcg", None, None))
    return VmDriver(OneImage(tmp_path), tmp_path, CgroupFactory("isobench-unit-vm"),
                    uri="test:///default")


def planned(drv: VmDriver, req: VmRequest) -> Plan:
    plan = drv.plan(req, "isobench-0123456789abcdef")
    disk = guest.GuestDisk(Path("/d.raw"), IMAGE.id, 1 << 30, PASSWD, GROUP, 0.0)
    drv._identity(plan, disk)
    return plan


def test_image_config_applies_like_a_container(drv: VmDriver) -> None:
    spec = planned(drv, VmRequest(image="x", env=["MODE=cli", "EXTRA=1"])).spec
    assert spec.argv == ["/entry", "default-arg"]
    assert spec.env == ["PATH=/custom/bin", "HOSTNAME=0123456789ab", "MODE=cli", "EXTRA=1",
                        "HOME=/home/app"]
    assert (spec.workdir, spec.uid, spec.gid, spec.groups) == ("/srv", 1000, 1000, (1000, 999))
    assert spec.hostname == "0123456789ab" and spec.address == ""


def test_overrides(drv: VmDriver) -> None:
    req = VmRequest(image="x", command=["ls", "-l"], entrypoint=[], workdir="/tmp", user="0",
                    hostname="h", forwards=[], scratch_bytes=1 << 20)
    spec = planned(drv, req).spec
    assert spec.argv == ["ls", "-l"]  # --entrypoint "" drops the image's entrypoint and CMD
    assert (spec.workdir, spec.uid, spec.hostname) == ("/tmp", 0, "h")
    assert spec.address == driver.GUEST_ADDRESS  # a NIC exists once networking is asked for
    assert "ISOBENCH_SCRATCH=/dev/vdb" in spec.env and "HOME=/root" in spec.env


def test_command_replaces_cmd_but_keeps_entrypoint(drv: VmDriver) -> None:
    assert planned(drv, VmRequest(image="x", command=["a"])).spec.argv == ["/entry", "a"]


@pytest.mark.parametrize("req, message", [
    (VmRequest(image="x", memory_bytes=driver.MIN_MEMORY_BYTES - (1 << 20)), "too small"),
    # the fake kernel has no modules: the Debian initrd is kept, and needs more
    (VmRequest(image="x", memory_bytes=driver.MIN_MEMORY_BYTES), "at least 256m to boot with"),
    (VmRequest(image="x", boot="debian", memory_bytes=255 << 20), "with the Debian initrd"),
    (VmRequest(image="x", vcpus=0), "1 to 64 vCPUs"),
    (VmRequest(image="x", timeout=0), "must be positive"),
    (VmRequest(image="x", command=[], entrypoint=[]), "No command specified"),
])
def test_refused_before_anything_exists(drv: VmDriver, req: VmRequest, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as info:
        drv.plan(req, "isobench-x")
    assert info.value.exit_code == 125


def test_unknown_user_is_one_line(drv: VmDriver) -> None:
    with pytest.raises(VmError, match="unable to find user ghost"):
        planned(drv, VmRequest(image="x", user="ghost"))


def test_domain_for_a_plan(drv: VmDriver, tmp_path: Path) -> None:
    req = VmRequest(image="x", memory_bytes=768 << 20, vcpus=2, scratch_bytes=1 << 30,
                    forwards=[])
    plan = planned(drv, req)
    dom = drv.domain(plan, RunFiles(tmp_path, tmp_path / "c.sock", tmp_path / "root.qcow2",
                                    tmp_path / "scratch.raw"))
    assert (dom.type, dom.memory_kib, dom.vcpus) == ("qemu", 768 << 10, 2)
    assert "root=/dev/vda" in dom.os.cmdline and f"init={guest.SHIM_PATH}" in dom.os.cmdline
    assert [d.target for d in dom.disks] == ["vda", "vdb"] and dom.disks[1].cache == "none"
    assert [(s.port, s.kind) for s in dom.serials] == [(0, "file"), (1, "unix")]
    assert dom.net is not None and dom.metadata["root"] == str(tmp_path)


def test_our_initrd_boots_in_less_than_the_debian_one(drv: VmDriver,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    own = guest.Kernel("/vmlinux", "/cache/initrd-x.cpio", "6.1.0-test")
    monkeypatch.setattr(guest, "boot_kernel", lambda mode, root: own)
    assert driver.MIN_MEMORY_BYTES < driver.MIN_MEMORY_DEBIAN_INITRD_BYTES == 256 << 20
    plan = drv.plan(VmRequest(image="x", memory_bytes=driver.MIN_MEMORY_BYTES), "isobench-y")
    assert plan.kernel is own
    with pytest.raises(InvalidArgument, match="too small"):
        drv.plan(VmRequest(image="x", memory_bytes=driver.MIN_MEMORY_BYTES - 1), "isobench-y")
