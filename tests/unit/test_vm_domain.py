"""Domain XML as objects: ElementTree in and out, with a lossless round trip."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from vm.domain import (
    QEMU_NS,
    Disk,
    Domain,
    DomainCpu,
    DomainXMLError,
    Forward,
    OsBoot,
    Serial,
    TapNet,
    UserNet,
)
from vm.rawqemu import qemu_argv


def full_domain() -> Domain:
    return Domain(
        name="isobench-0123456789abcdef", memory_kib=2 << 20, vcpus=2, type="kvm",
        cpu=DomainCpu("host-passthrough"),
        os=OsBoot("/boot/vmlinuz-6.1.0-56-amd64", "/boot/initrd.img-6.1.0-56-amd64",
                  "console=ttyS0 root=/dev/vda init=/.isobench/init"),
        disks=[Disk("/r/root.qcow2", "vda", "qcow2"),
               Disk("/r/scratch.raw", "vdb", "raw", cache="none", io="native")],
        serials=[Serial(0, "file", "/r/console.log"), Serial(1, "unix", "/run/x.sock")],
        net=UserNet([Forward(15201, 5201), Forward(15202, 5202, "udp")]),
        qemu_args=["-global", "kvm-pit.lost_tick_policy=discard"],
        metadata={"id": "0123456789abcdef", "root": "/var/lib/isobench"},
        memballoon=False, emulator="/usr/bin/qemu-system-x86_64",
    )


def minimal_domain() -> Domain:
    return Domain(name="d", memory_kib=262144, os=OsBoot("/k"))


@pytest.mark.parametrize("dom", [full_domain(), minimal_domain()], ids=["full", "minimal"])
def test_round_trip(dom: Domain) -> None:
    assert Domain.from_xml(dom.to_xml()) == dom


def test_xml_says_what_libvirt_needs() -> None:
    root = ET.fromstring(full_domain().to_xml())
    assert root.get("type") == "kvm"
    assert root.findtext("memory") == str(2 << 20) and root.find("memory").get("unit") == "KiB"
    assert root.findtext("os/kernel") == "/boot/vmlinuz-6.1.0-56-amd64"
    assert "root=/dev/vda" in root.findtext("os/cmdline")
    assert root.find("features/acpi") is not None  # poweroff needs ACPI
    assert root.find("devices/serial[@type='unix']/source").get("mode") == "bind"
    assert root.find("devices/disk/target").get("dev") == "vda"
    args = [a.get("value") for a in root.iter(f"{{{QEMU_NS}}}arg")]
    netdev = args[args.index("-netdev") + 1]
    assert "restrict=on" in netdev and "hostfwd=tcp:127.0.0.1:15201-:5201" in netdev
    assert root.find("seclabel/label").text == "+0:+0"


def test_special_characters_are_escaped_not_formatted() -> None:
    dom = minimal_domain()
    dom.os.cmdline = "a='1' b=\"2\" <c> & d"
    dom.metadata = {"root": "/tmp/a&b<c>"}
    assert Domain.from_xml(dom.to_xml()) == dom


def test_parses_libvirt_live_xml_ignoring_what_libvirt_adds() -> None:
    live = """<domain type='qemu' id='3'>
      <name>isobench-x</name><uuid>7110ed6d-85c5-4120-a0c7-209292822369</uuid>
      <memory unit='MiB'>512</memory><currentMemory unit='KiB'>524288</currentMemory>
      <vcpu placement='static'>1</vcpu>
      <resource><partition>/machine</partition></resource>
      <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
        <kernel>/boot/vmlinuz</kernel><initrd>/boot/initrd</initrd>
        <cmdline>console=ttyS0</cmdline><boot dev='hd'/></os>
      <features><acpi/><apic/></features>
      <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
          <source file='/r/root.qcow2' index='1'/><backingStore/>
          <target dev='vda' bus='virtio'/><alias name='virtio-disk0'/>
          <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></disk>
        <controller type='usb' index='0' model='none'><alias name='usb'/></controller>
        <controller type='pci' index='0' model='pci-root'/>
        <serial type='file'><source path='/r/console.log'/><target type='isa-serial' port='0'>
          <model name='isa-serial'/></target><alias name='serial0'/></serial>
        <console type='file'><source path='/r/console.log'/><target type='serial' port='0'/>
        </console>
        <memballoon model='virtio'><alias name='balloon0'/></memballoon>
      </devices></domain>"""
    dom = Domain.from_xml(live)
    assert dom.memory_kib == 512 * 1024
    assert dom.os.machine == "pc-i440fx-7.2"
    assert [d.source for d in dom.disks] == ["/r/root.qcow2"]
    assert dom.serials == [Serial(0, "file", "/r/console.log")]
    assert dom.run_as_root is False and dom.net is None and dom.memballoon


def test_user_net_is_split_from_other_qemu_args() -> None:
    args = ["-global", "x=y", *UserNet([Forward(1, 2)], mac="52:54:00:00:00:09").qemu_args()]
    net, rest = UserNet.from_qemu_args(args)
    assert rest == ["-global", "x=y"]
    assert net == UserNet([Forward(1, 2)], mac="52:54:00:00:00:09")


@pytest.mark.parametrize("xml, message", [
    ("<domain", "invalid domain XML"),
    ("<network/>", "expected <domain>"),
    ("<domain><name>x</name><memory>1</memory><os><type>hvm</type></os></domain>",
     "no <os><kernel>"),
    ("<domain><name>x</name><os><type>hvm</type><kernel>/k</kernel></os></domain>",
     "lacks <memory>"),
    ("<domain><memory unit='parsecs'>1</memory><os><type/><kernel>/k</kernel></os></domain>",
     "unknown memory unit"),
])
def test_bad_xml_is_one_clear_error(xml: str, message: str) -> None:
    with pytest.raises(DomainXMLError, match=message):
        Domain.from_xml(xml)


def test_forward_option_round_trip_and_error() -> None:
    fwd = Forward(8080, 80, "tcp", "127.0.0.1")
    assert Forward.from_option(fwd.to_option().removeprefix("hostfwd=")) == fwd
    with pytest.raises(DomainXMLError):
        Forward.from_option("tcp:nonsense")


def bridged_domain(vhost: bool) -> Domain:
    return Domain(name="b", memory_kib=262144, os=OsBoot("/k"),
                  net=TapNet("ibtap0123456789", mac="52:54:00:00:00:0a", vhost=vhost),
                  free_page_reporting=True)


@pytest.mark.parametrize("vhost", [False, True])
def test_tap_network_round_trip_and_xml(vhost: bool) -> None:
    dom = bridged_domain(vhost)
    assert Domain.from_xml(dom.to_xml()) == dom
    iface = ET.fromstring(dom.to_xml()).find("devices/interface")
    assert iface is not None and iface.get("type") == "ethernet"
    target = iface.find("target")
    assert target is not None and target.attrib == {"dev": "ibtap0123456789", "managed": "no"}
    driver = iface.find("driver")
    assert driver is not None and driver.get("name") == ("vhost" if vhost else "qemu")
    assert "hostfwd" not in dom.to_xml() and "-netdev" not in dom.to_xml()
    balloon = ET.fromstring(dom.to_xml()).find("devices/memballoon")
    assert balloon is not None and balloon.get("freePageReporting") == "on"


def test_tap_network_without_libvirt() -> None:
    argv = qemu_argv(bridged_domain(True))
    netdev = argv[argv.index("-netdev") + 1].split(",")
    assert netdev[0] == "tap" and "ifname=ibtap0123456789" in netdev
    assert {"script=no", "downscript=no", "vhost=on"} <= set(netdev)
    assert "virtio-balloon-pci,free-page-reporting=on" in argv
    plain = qemu_argv(Domain(name="p", memory_kib=262144, os=OsBoot("/k")))
    assert "virtio-balloon-pci" in plain and "-netdev" not in plain
