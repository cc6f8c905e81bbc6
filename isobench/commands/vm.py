"""VM verbs: `isobench vm run` (the same image and command, in a libvirt/QEMU guest, or with
`--machine microvm` in QEMU's microvm machine without libvirt)."""

from __future__ import annotations

import argparse
import re
import signal
import sys
from pathlib import Path
from types import FrameType

from isobench.commands.common import env_flags
from runtime.errors import EXIT_RUNTIME, InvalidArgument
from runtime.fsutil import write_json
from runtime.limits import parse_bytes

PUBLISH_RE = re.compile(r"^(?:(127\.0\.0\.1):)?(\d{1,5}):(\d{1,5})(?:/(tcp|udp))?$")


def parse_memory(text: str) -> int:
    try:
        return parse_bytes(text)
    except ValueError as e:
        raise InvalidArgument(f'invalid argument "{text}" for "-m, --memory" flag: {e}') from None


def parse_vcpus(text: str) -> int:
    """A VM has whole vCPUs (Docker's fractional --cpus is a cgroup quota, not a CPU count)."""
    if not text.isdigit() or int(text) < 1:
        raise InvalidArgument(f'invalid argument "{text}" for "--cpus" flag: a VM takes a whole '
                              "number of vCPUs (1 or more)")
    return int(text)


def parse_publish(values: list[str]) -> list:
    # start-up time: ElementTree (~5 ms) serves `vm run` alone, not `isobench --help`
    from vm.domain import Forward

    forwards = []
    for value in values:
        match = PUBLISH_RE.match(value)
        ports = [int(p) for p in match.groups()[1:3]] if match else []
        if not match or not all(1 <= p <= 65535 for p in ports):
            raise InvalidArgument(f'invalid argument "{value}" for "-p, --publish" flag: '
                                  "expected [127.0.0.1:]HOSTPORT:GUESTPORT[/tcp|udp] "
                                  "(the host side is always loopback)")
        forwards.append(Forward(ports[0], ports[1], match.group(4) or "tcp"))
    return forwards


def parse_timeout(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise InvalidArgument(f'invalid argument "{text}" for "--timeout" flag: seconds > 0')
    return value


def parse_kernel_args(values: list[str]) -> str:
    """Extra words for the guest kernel's command line (e.g. cgroup_no_v1=all): one word
    each, since the driver appends them to its own and a space would smuggle in two."""
    for value in values:
        if not value or any(c.isspace() for c in value):
            raise InvalidArgument(f'invalid argument "{value}" for "--kernel-arg" flag: one '
                                  "word, e.g. cgroup_no_v1=all (repeat the flag for more)")
    return " ".join(values)


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM tears the VM down the same way Ctrl-C does


def cmd_vm_run(args: argparse.Namespace) -> int:
    # start-up time: the driver loads libvirt's bindings (~25 ms), which `vm --help` and the
    # full `isobench --help` (it registers this module) need not pay
    from vm.driver import VmDriver, VmRequest
    from vm.microvm import MicrovmDriver

    if args.image is None:
        raise InvalidArgument("'isobench vm run' requires at least 1 argument", EXIT_RUNTIME)
    forwards = parse_publish(args.publish)
    bridged = args.network not in ("none", "user", "host")
    if args.network == "host":
        raise InvalidArgument("network host: a VM has none, user or an isobench network", 125)
    if bridged and forwards:
        raise InvalidArgument(f"-p needs --network user: a VM on network {args.network} is "
                              "reached at its own address", 125)
    req = VmRequest(
        image=args.image, command=list(args.command) or None, env=env_flags(args.env),
        workdir=args.workdir, user=args.user,
        entrypoint=[args.entrypoint] if args.entrypoint else None, hostname=args.hostname,
        memory_bytes=parse_memory(args.memory), vcpus=parse_vcpus(args.cpus),
        accel=args.accel, timeout=parse_timeout(args.timeout), boot=args.boot,
        scratch_bytes=parse_bytes(args.scratch) if args.scratch else None,
        forwards=forwards if forwards or args.network == "user" else None,
        network=args.network if bridged else None,
        sample_interval=args.sample_interval, cmdline_extra=parse_kernel_args(args.kernel_arg),
    )
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        driver = MicrovmDriver() if args.machine == "microvm" else VmDriver()
        result = driver.run(req, stdout=sys.stdout.buffer, stderr=sys.stderr.buffer,
                            capture=bool(args.stats))
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.stats:
        write_json(Path(args.stats), result.to_dict())
    if args.verbose:
        boot = result.timings.get("ready_s")
        print(f"isobench: vm {result.domain}: {result.accel.upper()}, exit {result.exit_code}, "
              f"init ready after {boot:.2f} s, total {result.timings['end_s']:.2f} s. "
              f"{result.accel_note}", file=sys.stderr)
    return result.exit_code


def register(sub: argparse._SubParsersAction) -> None:
    vm = sub.add_parser("vm", help="run images in libvirt/QEMU virtual machines")
    vm.set_defaults(handler=lambda _args: vm.print_help(sys.stderr) or 1)
    vm_sub = vm.add_subparsers(dest="vm_verb", metavar="COMMAND", parser_class=type(vm))
    p = vm_sub.add_parser("run", help="run a command in a new VM")
    p.add_argument("-m", "--memory", default="512m", help="guest memory, e.g. 512m, 2g")
    p.add_argument("--cpus", default="1", help="number of vCPUs")
    p.add_argument("--accel", default="auto", choices=("auto", "kvm", "tcg"),
                   help="auto: KVM only when a probe ran a vCPU; else TCG (emulation)")
    p.add_argument("--machine", default="pc", choices=("pc", "microvm"),
                   help="pc: a libvirt domain (PCI, ACPI); microvm: QEMU's microvm machine "
                        "(virtio-mmio, no PCI), started by isobench without libvirt")
    p.add_argument("--timeout", help="seconds for the whole run, boot included")
    p.add_argument("--boot", default="fast", choices=("fast", "initrd", "debian"),
                   help="fast: the extracted vmlinux and isobench's initrd; initrd: the "
                        "packaged bzImage and isobench's initrd; debian: the packaged bzImage "
                        "and Debian initrd")
    p.add_argument("--kernel-arg", action="append", default=[], metavar="ARG",
                   help="append ARG to the guest kernel's command line (repeatable)")
    p.add_argument("-e", "--env", action="append", default=[], metavar="K=V")
    p.add_argument("-w", "--workdir")
    p.add_argument("-u", "--user")
    p.add_argument("--entrypoint")
    p.add_argument("--hostname")
    p.add_argument("--scratch", metavar="SIZE", help="an empty raw disk at /dev/vdb")
    p.add_argument("--network", default="none",
                   help="none; user (slirp, isolated, host-only: -p forwards); or an isobench "
                        "network such as bridge (a tap on its bridge, virtio-net)")
    p.add_argument("-p", "--publish", action="append", default=[],
                   metavar="[127.0.0.1:]HOST:GUEST", help="forward a loopback port to the guest")
    p.add_argument("--stats", metavar="FILE", help="write the run's accounting as JSON")
    p.add_argument("--sample-interval", type=float, metavar="S",
                   help="also sample memory and cpu every S seconds into --stats")
    p.add_argument("-v", "--verbose", action="store_true", help="a summary line on stderr")
    p.add_argument("--rm", action="store_true", help="accepted for Docker's sake: a VM is "
                   "always removed when its command ends")
    p.add_argument("image", nargs="?", metavar="IMAGE")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="CMD")
    p.set_defaults(handler=cmd_vm_run)
