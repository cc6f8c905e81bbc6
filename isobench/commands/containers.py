"""Container verbs: run, ps, stop, kill, rm, logs, exec, inspect."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any

from isobench.commands.common import each, env_flags, print_table
from runtime.api import Runtime
from runtime.containers import Container
from runtime.errors import EXIT_RUNTIME, InvalidArgument, IsobenchError, NotFound
from runtime.limits import Limits
from runtime.ports import PortMapping
from runtime.spec import ContainerSpec, Security


def _limits(args: argparse.Namespace) -> Limits:
    flags = {"memory": "-m, --memory", "cpus": "--cpus", "cpu_shares": "-c, --cpu-shares",
             "pids_limit": "--pids-limit", "device_read_bps": "--device-read-bps",
             "device_write_bps": "--device-write-bps"}
    for dest, flag in flags.items():
        value = getattr(args, dest)
        try:
            Limits.from_flags(**{dest: value})
        except ValueError as e:
            shown = value if isinstance(value, str) else ",".join(value)
            raise InvalidArgument(f'invalid argument "{shown}" for "{flag}" flag: {e}') from None
    return Limits.from_flags(memory=args.memory, cpus=args.cpus, cpu_shares=args.cpu_shares,
                             pids_limit=args.pids_limit, device_read_bps=args.device_read_bps,
                             device_write_bps=args.device_write_bps)


def cmd_run(args: argparse.Namespace) -> int:
    limits = _limits(args)
    image, command = args.image, list(args.command)
    rootfs = args.rootfs
    if rootfs is not None:  # with --rootfs every positional is the command
        image, command = None, ([args.image] if args.image else []) + command
    entrypoint = [args.entrypoint] if args.entrypoint else None
    rt = Runtime()
    spec = ContainerSpec(
        image, command or None, rootfs=rootfs, name=args.name, env=env_flags(args.env),
        workdir=args.workdir, user=args.user, hostname=args.hostname, entrypoint=entrypoint,
        limits=limits, network=args.network, auto_remove=args.rm,
        readonly_rootfs=args.read_only, volumes=args.volume, publish=args.publish,
        aliases=args.network_alias,
        labels=dict(item.partition("=")[::2] for item in args.label),
        security=Security(args.privileged, args.cap_add, args.cap_drop, args.security_opt),
    )
    result = rt.run(spec, detach=args.detach, interactive=args.interactive)
    if args.detach:
        print(result.container.id)
        return 0
    return result.exit_code or 0


def _ago(ts: float | None) -> str:
    if not ts:
        return ""
    secs = max(0, int(time.time() - ts))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if secs >= size:
            n = secs // size
            return f"{n} {unit}{'s' if n > 1 else ''}"
    return f"{secs} second{'s' if secs != 1 else ''}"


def status_line(c: Container) -> str:
    s = c.state
    if s.status == "running":
        return f"Up {_ago(s.started_at)}"
    if s.status == "exited":
        return f"Exited ({s.exit_code}) {_ago(s.finished_at)} ago"
    return s.status.capitalize()


def cmd_ps(args: argparse.Namespace) -> int:
    found = Runtime().list(all_=args.all)
    if args.quiet:
        for c in found:
            print(c.id if args.no_trunc else c.short_id)
        return 0
    rows = [("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")]
    for c in found:
        command = " ".join(c.config.argv)
        if not args.no_trunc and len(command) > 20:
            command = command[:19] + "…"
        rows.append((c.id if args.no_trunc else c.short_id, c.config.image, f'"{command}"',
                     f"{_ago(c.created)} ago", status_line(c),
                     ", ".join(str(PortMapping(**p)) for p in c.state.ports)
                     if c.state.status == "running" else "", c.name))
    print_table(rows)
    return 0




def cmd_stop(args: argparse.Namespace) -> int:
    rt = Runtime()
    return each(args.containers, lambda ref: rt.stop(ref, timeout=args.time))


def parse_signal(value: str) -> int:
    name = value.upper()
    if name.isdigit():
        return int(name)
    try:
        return int(signal.Signals[name if name.startswith("SIG") else f"SIG{name}"])
    except KeyError:
        raise InvalidArgument(f"invalid signal: {value}") from None


def cmd_kill(args: argparse.Namespace) -> int:
    rt = Runtime()
    sig = parse_signal(args.signal)
    return each(args.containers, lambda ref: rt.kill(ref, sig))


def cmd_rm(args: argparse.Namespace) -> int:
    rt = Runtime()
    return each(args.containers,
                 lambda ref: rt.remove(ref, force=args.force, volumes=args.volumes))


def cmd_logs(args: argparse.Namespace) -> int:
    rt = Runtime()
    for stream, data in rt.logs(args.container):
        target = sys.stdout.buffer if stream == "stdout" else sys.stderr.buffer
        target.write(data)
        target.flush()
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    return Runtime().exec(args.container, list(args.command), env=env_flags(args.env),
                          workdir=args.workdir, user=args.user, interactive=args.interactive)


def inspect_any(rt: Runtime, ref: str) -> dict[str, Any]:
    try:
        return rt.inspect(ref)
    except NotFound:
        pass
    try:
        image = rt.image(ref)
    except NotFound:
        raise NotFound(f"No such object: {ref}", 1) from None
    return {"Id": image.id, "RepoTags": image.tags, "Created": image.created,
            "Config": image.config.__dict__, "Layers": image.layers,
            "LayerSizes": {d: rt.images.size_of_layer(d) for d in image.layers},
            "Size": rt.images.size(image), "History": image.history}


def cmd_inspect(args: argparse.Namespace) -> int:
    rt = Runtime()
    out, code = [], 0
    for ref in args.refs:
        try:
            out.append(inspect_any(rt, ref))
        except IsobenchError as e:
            print(f"isobench: {e}", file=sys.stderr)
            code = 1
    print(json.dumps(out, indent=4))
    return code


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rm", action="store_true", help="remove the container when it exits")
    p.add_argument("-d", "--detach", action="store_true", help="run in the background")
    p.add_argument("-i", "--interactive", action="store_true", help="keep stdin open")
    p.add_argument("--name")
    p.add_argument("-e", "--env", action="append", default=[], metavar="K=V")
    p.add_argument("-w", "--workdir")
    p.add_argument("-u", "--user")
    p.add_argument("-h", "--hostname")
    p.add_argument("--entrypoint")
    p.add_argument("-m", "--memory", help="memory limit, e.g. 256m (swap off)")
    p.add_argument("--cpus", help="CPU quota in cores, e.g. 0.5")
    p.add_argument("-c", "--cpu-shares")
    p.add_argument("--pids-limit")
    p.add_argument("--device-read-bps", action="append", default=[], metavar="DEV:RATE")
    p.add_argument("--device-write-bps", action="append", default=[], metavar="DEV:RATE")
    p.add_argument("--network", "--net", default="bridge", help="bridge, none, host or NAME")
    p.add_argument("-v", "--volume", action="append", default=[], metavar="SRC:DST[:ro]")
    p.add_argument("-p", "--publish", action="append", default=[],
                   metavar="[IP:]HOSTPORT:PORT")
    p.add_argument("--label", "-l", action="append", default=[], metavar="K=V")
    p.add_argument("--network-alias", action="append", default=[])
    p.add_argument("--rootfs", help="run a directory instead of an image")
    p.add_argument("--read-only", action="store_true")
    p.add_argument("--privileged", action="store_true",
                   help="all capabilities and host devices, no seccomp, /proc and /sys unmasked")
    p.add_argument("--cap-add", action="append", default=[], metavar="CAP",
                   help="add a Linux capability (ALL for every one)")
    p.add_argument("--cap-drop", action="append", default=[], metavar="CAP",
                   help="drop a Linux capability (ALL for every one)")
    p.add_argument("--security-opt", action="append", default=[], metavar="OPT",
                   help="seccomp=unconfined turns Docker's default seccomp profile off")
    p.add_argument("image", nargs="?", metavar="IMAGE")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="CMD")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a command in a new container", add_help=False)
    p.add_argument("--help", action="help")
    _add_run_flags(p)
    p.set_defaults(handler=_require_image(cmd_run))

    p = sub.add_parser("ps", help="list containers")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.set_defaults(handler=cmd_ps)

    p = sub.add_parser("stop", help="stop running containers")
    p.add_argument("-t", "--time", type=float, default=10.0)
    p.add_argument("containers", nargs="+")
    p.set_defaults(handler=cmd_stop)

    p = sub.add_parser("kill", help="kill running containers")
    p.add_argument("-s", "--signal", default="KILL")
    p.add_argument("containers", nargs="+")
    p.set_defaults(handler=cmd_kill)

    p = sub.add_parser("rm", help="remove containers")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-v", "--volumes", action="store_true", help="also its anonymous volumes")
    p.add_argument("containers", nargs="+")
    p.set_defaults(handler=cmd_rm)

    p = sub.add_parser("logs", help="fetch a container's output")
    p.add_argument("container")
    p.set_defaults(handler=cmd_logs)

    p = sub.add_parser("exec", help="run a command in a running container")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("-w", "--workdir")
    p.add_argument("-u", "--user")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("container")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(handler=cmd_exec)

    p = sub.add_parser("inspect", help="low-level information on containers or images")
    p.add_argument("refs", nargs="+")
    p.set_defaults(handler=cmd_inspect)


def _require_image(handler):  # noqa: ANN001
    def checked(args: argparse.Namespace) -> int:
        if args.image is None and args.rootfs is None:
            raise InvalidArgument("'isobench run' requires at least 1 argument", EXIT_RUNTIME)
        return handler(args)
    return checked
