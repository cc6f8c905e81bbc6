"""libvirt domain XML as config objects (nova's config.py style): `to_xml()` builds an
ElementTree, `from_xml()` parses one back, and `Domain.from_xml(d.to_xml()) == d`.

Only what isobench's guests use is modelled; elements libvirt adds on its own (addresses,
aliases, the implicit console) are ignored when parsing its live XML.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
ISOBENCH_NS = "https://isobench.invalid/vm/1"
ET.register_namespace("qemu", QEMU_NS)
ET.register_namespace("isobench", ISOBENCH_NS)

NETDEV_ID = "isonet0"
VHOST_NET = "/dev/vhost-net"


def vhost_net(accel: str) -> bool:
    """vhost-net where the host has it and the guest runs under KVM (libvirt uses vhost-net
    for KVM domains only; a TCG domain's virtio-net queues are served by QEMU itself)."""
    return accel == "kvm" and os.path.exists(VHOST_NET)


class DomainXMLError(ValueError):
    """The XML is not a domain these objects can represent."""


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def _req(el: ET.Element, path: str) -> ET.Element:
    found = el.find(path)
    if found is None:
        raise DomainXMLError(f"domain XML lacks <{path}>")
    return found


def _text(el: ET.Element, path: str, default: str | None = None) -> str | None:
    found = el.find(path)
    return default if found is None or found.text is None else found.text


@dataclass
class OsBoot:
    """Direct kernel boot: no firmware disk search, the kernel and initrd come from the host."""

    kernel: str
    initrd: str | None = None
    cmdline: str = ""
    arch: str = "x86_64"
    machine: str = "pc"

    def to_element(self) -> ET.Element:
        el = ET.Element("os")
        _sub(el, "type", "hvm", arch=self.arch, machine=self.machine)
        _sub(el, "kernel", self.kernel)
        if self.initrd:
            _sub(el, "initrd", self.initrd)
        if self.cmdline:
            _sub(el, "cmdline", self.cmdline)
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> OsBoot:
        typ = _req(el, "type")
        kernel = _text(el, "kernel")
        if kernel is None:
            raise DomainXMLError("domain XML has no <os><kernel>: only direct kernel boot is used")
        return cls(kernel=kernel, initrd=_text(el, "initrd"), cmdline=_text(el, "cmdline", ""),
                   arch=typ.get("arch", "x86_64"), machine=typ.get("machine", "pc"))


@dataclass
class Disk:
    source: str
    target: str = "vda"
    format: str = "raw"
    bus: str = "virtio"
    cache: str | None = None
    io: str | None = None
    readonly: bool = False

    def to_element(self) -> ET.Element:
        el = ET.Element("disk", type="file", device="disk")
        _sub(el, "driver", name="qemu", type=self.format, cache=self.cache, io=self.io)
        _sub(el, "source", file=self.source)
        _sub(el, "target", dev=self.target, bus=self.bus)
        if self.readonly:
            _sub(el, "readonly")
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Disk:
        driver, source, target = el.find("driver"), _req(el, "source"), _req(el, "target")
        return cls(source=source.get("file", ""), target=target.get("dev", "vda"),
                   format=driver.get("type", "raw") if driver is not None else "raw",
                   bus=target.get("bus", "virtio"),
                   cache=driver.get("cache") if driver is not None else None,
                   io=driver.get("io") if driver is not None else None,
                   readonly=el.find("readonly") is not None)


@dataclass
class Serial:
    """An ISA serial port: `file` (QEMU appends to it) or `unix` (QEMU listens on the socket)."""

    port: int
    kind: str
    path: str

    def to_element(self) -> ET.Element:
        el = ET.Element("serial", type=self.kind)
        if self.kind == "unix":
            _sub(el, "source", mode="bind", path=self.path)
        elif self.kind == "file":
            _sub(el, "source", path=self.path)
        else:
            raise DomainXMLError(f"unsupported serial type {self.kind!r}")
        _sub(el, "target", port=str(self.port))
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Serial:
        source = _req(el, "source")
        return cls(port=int(_req(el, "target").get("port", "0")), kind=el.get("type", ""),
                   path=source.get("path", ""))


@dataclass(frozen=True)
class Forward:
    """A host port on 127.0.0.1 forwarded to a guest port (slirp's hostfwd)."""

    host_port: int
    guest_port: int
    proto: str = "tcp"
    host_addr: str = "127.0.0.1"

    def to_option(self) -> str:
        return f"hostfwd={self.proto}:{self.host_addr}:{self.host_port}-:{self.guest_port}"

    @classmethod
    def from_option(cls, value: str) -> Forward:
        # tcp:127.0.0.1:5201-:5201
        try:
            proto, addr, rest = value.split(":", 2)
            host_port, guest = rest.split("-", 1)
            return cls(int(host_port), int(guest.rsplit(":", 1)[-1]), proto, addr)
        except ValueError:
            raise DomainXMLError(f"unparsable hostfwd {value!r}") from None


@dataclass
class UserNet:
    """User-mode networking, isolated (`restrict=on`): the guest reaches nothing, and the host
    reaches the guest only through its forwards on loopback. libvirt 9.0 has no portForward
    for slirp, so this is passed as QEMU arguments."""

    forwards: list[Forward] = field(default_factory=list)
    mac: str = "52:54:00:15:0b:01"
    model: str = "virtio-net-pci"
    # QEMU creates our -device before libvirt's: a fixed high slot keeps out of their way.
    pci_slot: str = "0x1e"

    def qemu_args(self) -> list[str]:
        netdev = ",".join(["user", f"id={NETDEV_ID}", "restrict=on",
                           *(f.to_option() for f in self.forwards)])
        device = f"{self.model},netdev={NETDEV_ID},mac={self.mac},bus=pci.0,addr={self.pci_slot}"
        return ["-netdev", netdev, "-device", device]

    @classmethod
    def from_qemu_args(cls, args: list[str]) -> tuple[UserNet | None, list[str]]:
        """Split our -netdev/-device pair out of `args`; the rest is returned untouched."""
        rest: list[str] = []
        net: UserNet | None = None
        i = 0
        while i < len(args):
            value = args[i + 1] if i + 1 < len(args) else ""
            if args[i] == "-netdev" and f"id={NETDEV_ID}" in value.split(","):
                opts = value.split(",")
                net = net or cls()
                net.forwards = [Forward.from_option(o.split("=", 1)[1]) for o in opts
                                if o.startswith("hostfwd=")]
                i += 2
            elif args[i] == "-device" and f"netdev={NETDEV_ID}" in value.split(","):
                model, *opts = value.split(",")
                net = net or cls()
                net.model = model
                net.mac = next((o[4:] for o in opts if o.startswith("mac=")), net.mac)
                net.pci_slot = next((o[5:] for o in opts if o.startswith("addr=")), net.pci_slot)
                i += 2
            else:
                rest.append(args[i])
                i += 1
        return net, rest


@dataclass
class TapNet:
    """virtio-net on a pre-made tap device (isobench's bridge network: runtime/network.py's
    attach_tap), as a real deployment plugs a VM into a bridge. libvirt opens the tap
    (`<interface type='ethernet'>`, `managed='no'`: it neither makes nor removes it) and, with
    `vhost`, /dev/vhost-net, so the virtqueues are served by the host kernel instead of
    QEMU's own thread. Traffic reaches only what the bridge's firewall rules allow."""

    tap: str
    mac: str = "52:54:00:15:0b:02"
    model: str = "virtio"
    vhost: bool = False

    def to_element(self) -> ET.Element:
        el = ET.Element("interface", type="ethernet")
        _sub(el, "mac", address=self.mac)
        _sub(el, "target", dev=self.tap, managed="no")
        _sub(el, "model", type=self.model)
        _sub(el, "driver", name="vhost" if self.vhost else "qemu")
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> TapNet:
        target, model, driver = _req(el, "target"), el.find("model"), el.find("driver")
        mac = el.find("mac")
        return cls(tap=target.get("dev", ""),
                   mac=mac.get("address", cls.mac) if mac is not None else cls.mac,
                   model=model.get("type", "virtio") if model is not None else "virtio",
                   vhost=driver is not None and driver.get("name") == "vhost")

    def qemu_args(self) -> list[str]:
        """The same NIC for a QEMU without libvirt (vm/rawqemu.py): QEMU opens the tap."""
        netdev = ",".join(["tap", f"id={NETDEV_ID}", f"ifname={self.tap}", "script=no",
                           "downscript=no", f"vhost={'on' if self.vhost else 'off'}"])
        model = "virtio-net-pci" if self.model == "virtio" else self.model
        return ["-netdev", netdev, "-device", f"{model},netdev={NETDEV_ID},mac={self.mac}"]


CPU_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass
class DomainCpu:
    """The guest CPU: host-passthrough (KVM's default), maximum (QEMU's `-cpu max`: under
    TCG it emulates AMD SVM, what the KVM lane's guest needs to run KVM itself), or a named
    model with features it must have (custom, e.g. EPYC with svm and npt required)."""

    mode: str                        # host-passthrough, maximum or custom
    model: str | None = None
    require: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> DomainCpu:
        """ISOBENCH_VM_CPU: "host-passthrough", "max", or MODEL[+FEATURE...]."""
        text = text.strip()
        if text in ("host-passthrough", "host"):
            return cls("host-passthrough")
        if text in ("max", "maximum"):
            return cls("maximum")
        model, *features = text.split("+")
        if not all(CPU_MODEL.match(part) for part in (model, *features)):
            raise DomainXMLError(f"invalid ISOBENCH_VM_CPU {text!r}: host-passthrough, max, or "
                                 "MODEL[+FEATURE...] (e.g. EPYC+svm+npt)")
        return cls("custom", model, tuple(features))

    def to_element(self) -> ET.Element:
        cpu = ET.Element("cpu", mode=self.mode)
        if self.mode == "custom":
            cpu.set("match", "exact")
            cpu.set("check", "none")  # TCG: nothing to check against the host's CPU
            _sub(cpu, "model", self.model, fallback="forbid")
            for name in self.require:
                _sub(cpu, "feature", policy="require", name=name)
        return cpu

    @classmethod
    def from_element(cls, cpu: ET.Element) -> DomainCpu:
        return cls(cpu.get("mode", "custom"), _text(cpu, "model"),
                   tuple(f.get("name", "") for f in cpu.findall("feature[@policy='require']")))


@dataclass
class Domain:
    name: str
    memory_kib: int
    os: OsBoot
    vcpus: int = 1
    type: str = "qemu"             # "qemu" is TCG (emulation), "kvm" hardware virtualization
    cpu: DomainCpu | None = None   # e.g. host-passthrough under KVM; None: QEMU's default
    disks: list[Disk] = field(default_factory=list)
    serials: list[Serial] = field(default_factory=list)
    net: UserNet | TapNet | None = None
    qemu_args: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)  # isobench's own labels
    run_as_root: bool = True       # see driver: the state root may be private to root
    memballoon: bool = True
    # virtio-balloon's free page reporting (QEMU >= 5.1, libvirt >= 6.9): the guest kernel
    # reports pages it freed and QEMU discards them, so freed guest memory goes back to the
    # host without a balloon inflation
    free_page_reporting: bool = False
    on_poweroff: str = "destroy"
    on_reboot: str = "destroy"     # a panicking guest (panic=-1) ends instead of looping
    on_crash: str = "destroy"
    emulator: str | None = None

    def to_element(self) -> ET.Element:
        dom = ET.Element("domain", type=self.type)
        _sub(dom, "name", self.name)
        if self.metadata:
            meta = _sub(dom, "metadata")
            _sub(meta, f"{{{ISOBENCH_NS}}}run", **dict(sorted(self.metadata.items())))
        _sub(dom, "memory", str(self.memory_kib), unit="KiB")
        _sub(dom, "vcpu", str(self.vcpus))
        dom.append(self.os.to_element())
        features = _sub(dom, "features")
        _sub(features, "acpi")  # without ACPI the guest's poweroff only halts: QEMU never exits
        _sub(features, "apic")
        if self.cpu:
            dom.append(self.cpu.to_element())
        _sub(dom, "clock", offset="utc")
        _sub(dom, "on_poweroff", self.on_poweroff)
        _sub(dom, "on_reboot", self.on_reboot)
        _sub(dom, "on_crash", self.on_crash)
        devices = _sub(dom, "devices")
        if self.emulator:
            _sub(devices, "emulator", self.emulator)
        for disk in self.disks:
            devices.append(disk.to_element())
        _sub(devices, "controller", type="usb", model="none")
        for serial in self.serials:
            devices.append(serial.to_element())
        if isinstance(self.net, TapNet):
            devices.append(self.net.to_element())
        _sub(devices, "memballoon", model="virtio" if self.memballoon else "none",
             freePageReporting="on" if self.memballoon and self.free_page_reporting else None)
        if self.run_as_root:
            label = _sub(dom, "seclabel", type="static", model="dac", relabel="no")
            _sub(label, "label", "+0:+0")
        slirp = self.net.qemu_args() if isinstance(self.net, UserNet) else []
        args = slirp + self.qemu_args
        if args:
            cmdline = _sub(dom, f"{{{QEMU_NS}}}commandline")
            for arg in args:
                _sub(cmdline, f"{{{QEMU_NS}}}arg", value=arg)
        return dom

    def to_xml(self) -> str:
        el = self.to_element()
        ET.indent(el)
        return ET.tostring(el, encoding="unicode")

    @classmethod
    def from_element(cls, dom: ET.Element) -> Domain:
        if dom.tag != "domain":
            raise DomainXMLError(f"expected <domain>, got <{dom.tag}>")
        memory = _req(dom, "memory")
        devices = dom.find("devices")
        devs = list(devices) if devices is not None else []
        run = dom.find(f"metadata/{{{ISOBENCH_NS}}}run")
        args = [a.get("value", "") for a in dom.findall(f"{{{QEMU_NS}}}commandline/"
                                                         f"{{{QEMU_NS}}}arg")]
        net: UserNet | TapNet | None
        net, rest = UserNet.from_qemu_args(args)
        tap = next((d for d in devs if d.tag == "interface" and d.get("type") == "ethernet"),
                   None)
        if tap is not None:
            net = TapNet.from_element(tap)
        label = dom.find("seclabel[@model='dac']")
        balloon = next((d for d in devs if d.tag == "memballoon"), None)
        cpu = dom.find("cpu")
        return cls(
            name=_text(dom, "name") or "",
            memory_kib=_to_kib(int(memory.text or 0), memory.get("unit", "KiB")),
            os=OsBoot.from_element(_req(dom, "os")),
            vcpus=int(_text(dom, "vcpu", "1") or 1),
            type=dom.get("type", "qemu"),
            cpu=DomainCpu.from_element(cpu) if cpu is not None else None,
            disks=[Disk.from_element(d) for d in devs
                   if d.tag == "disk" and d.get("device", "disk") == "disk"],
            serials=[Serial.from_element(d) for d in devs if d.tag == "serial"],
            net=net,
            qemu_args=rest,
            metadata=dict(run.attrib) if run is not None else {},
            run_as_root=label is not None and _text(label, "label") == "+0:+0",
            memballoon=balloon is None or balloon.get("model") != "none",
            free_page_reporting=balloon is not None and
            balloon.get("freePageReporting") == "on",
            on_poweroff=_text(dom, "on_poweroff", "destroy") or "destroy",
            on_reboot=_text(dom, "on_reboot", "destroy") or "destroy",
            on_crash=_text(dom, "on_crash", "destroy") or "destroy",
            emulator=_text(devices, "emulator") if devices is not None else None,
        )

    @classmethod
    def from_xml(cls, xml: str) -> Domain:
        try:
            return cls.from_element(ET.fromstring(xml))
        except ET.ParseError as e:
            raise DomainXMLError(f"invalid domain XML: {e}") from None


_KIB = {"b": 1 / 1024, "bytes": 1 / 1024, "k": 1, "kib": 1, "kb": 1000 / 1024,
        "m": 1024, "mib": 1024, "mb": 1000**2 / 1024, "g": 1024**2, "gib": 1024**2,
        "gb": 1000**3 / 1024}


def _to_kib(value: int, unit: str) -> int:
    try:
        return int(value * _KIB[unit.lower()])
    except KeyError:
        raise DomainXMLError(f"unknown memory unit {unit!r}") from None
