"""The same Domain as a plain qemu-system-x86_64 command line, without libvirt: the baseline
that libvirt's own cost is measured against (bench/tools/vmboot.py), and the microVM
(vm/microvm.py: libvirt cannot define QEMU's microvm machine).

What libvirt adds and this leaves out: the paused start and QMP resume, its monitor socket,
-sandbox, cgroup placement, and -no-shutdown (libvirt ends QEMU itself after a poweroff).
"""

from __future__ import annotations

from vm.accel import QEMU
from vm.domain import NETDEV_ID, Disk, Domain, DomainCpu, Serial


def qemu_cpu(cpu: DomainCpu) -> str:
    """The domain's CPU as QEMU's -cpu: host, max, or MODEL,+feature,..."""
    if cpu.mode == "host-passthrough":
        return "host"
    if cpu.mode == "maximum":
        return "max"
    return ",".join([cpu.model or "qemu64", *(f"+{f}" for f in cpu.require)])


def balloon_args(dom: Domain) -> list[str]:
    """virtio-balloon, with free page reporting where the domain asks for it."""
    if not dom.memballoon:
        return []
    return ["-device", "virtio-balloon-pci" + (",free-page-reporting=on"
                                               if dom.free_page_reporting else "")]


def _head(dom: Domain, machine: str) -> list[str]:
    """Machine, accelerator, memory, CPUs, the kernel and its command line."""
    accel = "kvm" if dom.type == "kvm" else "tcg"
    argv = [dom.emulator or QEMU, "-name", f"guest={dom.name}", "-machine", machine,
            "-accel", accel, "-m", f"{dom.memory_kib // 1024}M", "-smp", str(dom.vcpus),
            "-nodefaults", "-no-user-config", "-display", "none", "-rtc", "base=utc"]
    if dom.cpu is not None:
        argv += ["-cpu", qemu_cpu(dom.cpu)]
    argv += ["-kernel", dom.os.kernel]
    if dom.os.initrd:
        argv += ["-initrd", dom.os.initrd]
    if dom.os.cmdline:
        argv += ["-append", dom.os.cmdline]
    if dom.on_reboot == "destroy":
        argv.append("-no-reboot")
    return argv


def _drive(disk: Disk, *extra: str) -> str:
    opts = [f"file={disk.source}", f"format={disk.format}", *extra]
    if disk.cache:
        opts.append(f"cache={disk.cache}")
    if disk.io:
        opts.append(f"aio={disk.io}")
    if disk.readonly:
        opts.append("readonly=on")
    return ",".join(opts)


def _chardev(serial: Serial, wait_for_channel: bool) -> tuple[str, list[str]]:
    """The serial port's backend: its id and the -chardev option."""
    cid = f"serial{serial.port}"
    if serial.kind == "unix":
        wait = "on" if wait_for_channel else "off"
        return cid, ["-chardev", f"socket,id={cid},path={serial.path},server=on,wait={wait}"]
    return cid, ["-chardev", f"file,id={cid},path={serial.path}"]


def qemu_argv(dom: Domain, *, wait_for_channel: bool = True) -> list[str]:
    argv = _head(dom, dom.os.machine)
    for i, disk in enumerate(dom.disks):
        argv += ["-drive", _drive(disk, f"if={disk.bus}", f"index={i}")]
    for serial in sorted(dom.serials, key=lambda s: s.port):
        cid, chardev = _chardev(serial, wait_for_channel)
        argv += [*chardev, "-serial", f"chardev:{cid}"]
    argv += balloon_args(dom)
    if dom.net:
        argv += dom.net.qemu_args()
    return argv + dom.qemu_args


# QEMU's microvm machine: no PCI bus, no PCIe, no option ROMs. ACPI stays on: the Debian
# kernel finds the virtio-mmio devices in its DSDT (it lacks
# CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, so the virtio_mmio.device= arguments QEMU would add
# are of no use), and the guest's poweroff reaches QEMU through ACPI's sleep register.
# Its one built-in serial port is replaced by two of our own: ttyS0 for the console,
# ttyS1 for the init's channel, as on the pc machine.
MICROVM_MACHINE = ("microvm,isa-serial=off,pcie=off,x-option-roms=off,"
                   "auto-kernel-cmdline=off")


def microvm_argv(dom: Domain, *, wait_for_channel: bool = True) -> list[str]:
    """The Domain on QEMU's microvm machine: the same kernel, initrd, disks, serial ports and
    NIC, each on virtio-mmio or the ISA bus. The balloon is left out (the guest runs one
    command and powers off)."""
    argv = _head(dom, MICROVM_MACHINE)
    for serial in sorted(dom.serials, key=lambda s: s.port):
        cid, chardev = _chardev(serial, wait_for_channel)
        argv += [*chardev, "-device", f"isa-serial,chardev={cid},index={serial.port}"]
    # virtio-mmio slots are probed in the order the devices are made: vda first
    for disk in dom.disks:
        argv += ["-drive", _drive(disk, "if=none", f"id={disk.target}"),
                 "-device", f"virtio-blk-device,drive={disk.target}"]
    if dom.net:
        netdev, device = dom.net.qemu_args()[1], f"virtio-net-device,netdev={NETDEV_ID}"
        argv += ["-netdev", netdev, "-device", f"{device},mac={dom.net.mac}"]
    return argv + dom.qemu_args
