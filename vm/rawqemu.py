"""The same Domain as a plain qemu-system-x86_64 command line, without libvirt: the baseline
that libvirt's own cost is measured against (bench/tools/vmboot.py).

What libvirt adds and this leaves out: the paused start and QMP resume, its monitor socket,
-sandbox, cgroup placement, and -no-shutdown (libvirt ends QEMU itself after a poweroff).
"""

from __future__ import annotations

from vm.accel import QEMU
from vm.domain import Domain, DomainCpu


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


def qemu_argv(dom: Domain, *, wait_for_channel: bool = True) -> list[str]:
    accel = "kvm" if dom.type == "kvm" else "tcg"
    argv = [dom.emulator or QEMU, "-name", f"guest={dom.name}", "-machine", dom.os.machine,
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
    for i, disk in enumerate(dom.disks):
        opts = [f"file={disk.source}", f"format={disk.format}", f"if={disk.bus}",
                f"index={i}"]
        if disk.cache:
            opts.append(f"cache={disk.cache}")
        if disk.io:
            opts.append(f"aio={disk.io}")
        if disk.readonly:
            opts.append("readonly=on")
        argv += ["-drive", ",".join(opts)]
    for serial in sorted(dom.serials, key=lambda s: s.port):
        cid = f"serial{serial.port}"
        if serial.kind == "unix":
            wait = "on" if wait_for_channel else "off"
            argv += ["-chardev", f"socket,id={cid},path={serial.path},server=on,wait={wait}"]
        else:
            argv += ["-chardev", f"file,id={cid},path={serial.path}"]
        argv += ["-serial", f"chardev:{cid}"]
    argv += balloon_args(dom)
    if dom.net:
        argv += dom.net.qemu_args()
    return argv + dom.qemu_args
