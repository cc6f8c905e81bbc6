"""Container verbs: run, ps, stop, kill, rm, logs, exec, inspect."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from isobench.commands.common import each, env_flags, print_table
from runtime.api import Runtime
from runtime.containers import Container
from runtime.errors import EXIT_RUNTIME, InvalidArgument, IsobenchError, NotFound
from runtime.health import Healthcheck
from runtime.limits import Limits
from runtime.options import (
    parse_dns,
    parse_duration,
    parse_extra_host,
    parse_restart,
    parse_signal,
    parse_ulimit,
)
from runtime.ports import PortMapping
from runtime.spec import ContainerSpec, Security

T = TypeVar("T")


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


def _flag(flag: str, value: str, parse: Callable[[str], T]) -> T:
    try:
        return parse(value)
    except ValueError as e:
        raise InvalidArgument(f'invalid argument "{value}" for "{flag}" flag: {e}') from None


def _healthcheck(args: argparse.Namespace) -> Healthcheck | None:
    """--health-cmd and friends (Docker's): none given keeps no check; --no-healthcheck is
    test NONE."""
    if args.no_healthcheck:
        if args.health_cmd:
            raise InvalidArgument("--no-healthcheck conflicts with --health-* options")
        return Healthcheck(["NONE"])
    if not args.health_cmd:
        return None
    check = Healthcheck(["CMD-SHELL", args.health_cmd])
    for dest, flag in (("interval", "--health-interval"), ("timeout", "--health-timeout"),
                       ("start_period", "--health-start-period"),
                       ("start_interval", "--health-start-interval")):
        value = getattr(args, f"health_{dest}")
        if value is not None:
            seconds = _flag(flag, value, parse_duration)
            if seconds < 0:
                raise InvalidArgument(f"{flag} cannot be negative")
            if seconds:  # 0: the default, as Docker
                setattr(check, dest, seconds)
    if args.health_retries is not None:
        if args.health_retries < 0:
            raise InvalidArgument("--health-retries cannot be negative")
        check.retries = args.health_retries or check.retries
    return check


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
        tmpfs=args.tmpfs, restart=_flag("--restart", args.restart, parse_restart),
        healthcheck=_healthcheck(args), init=args.init, stop_signal=args.stop_signal,
        stop_timeout=args.stop_timeout,
        ulimits=[_flag("--ulimit", u, parse_ulimit) for u in args.ulimit],
        dns=[_flag("--dns", d, parse_dns) for d in args.dns],
        extra_hosts=[":".join(_flag("--add-host", h, parse_extra_host)) for h in args.add_host],
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
    """Docker's STATUS: `Up 5 seconds (healthy)`, `Restarting (1) 2 seconds ago`, ..."""
    s = c.state
    if s.status == "running":
        health = (s.health or {}).get("Status")
        shown = {"starting": " (health: starting)", "healthy": " (healthy)",
                 "unhealthy": " (unhealthy)"}.get(health or "", "")
        return f"Up {_ago(s.started_at)}{shown}"
    if s.status == "restarting":
        return f"Restarting ({s.exit_code}) {_ago(s.finished_at)} ago"
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
    return each(args.containers, lambda ref: rt.stop(ref, timeout=args.time))  # -t, or its own


def cmd_kill(args: argparse.Namespace) -> int:
    rt = Runtime()
    try:
        sig = parse_signal(args.signal)
    except ValueError as e:
        raise InvalidArgument(str(e)) from None
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
    p.add_argument("--restart", default="no", help="no, always, on-failure[:N], unless-stopped")
    p.add_argument("--health-cmd", help="command run in the container to check its health")
    p.add_argument("--health-interval", help="time between checks (default 30s)")
    p.add_argument("--health-timeout", help="time one check may take (default 30s)")
    p.add_argument("--health-retries", type=int, help="failures in a row for unhealthy (3)")
    p.add_argument("--health-start-period", help="grace period after the start (0s)")
    p.add_argument("--health-start-interval", help="time between checks in it (5s)")
    p.add_argument("--no-healthcheck", action="store_true")
    p.add_argument("--init", action="store_true",
                   help="an init as PID 1 that forwards signals and reaps processes")
    p.add_argument("--stop-signal", help="signal to stop the container (default SIGTERM)")
    p.add_argument("--stop-timeout", type=float, help="seconds before SIGKILL (default 10)")
    p.add_argument("--ulimit", action="append", default=[], metavar="NAME=SOFT[:HARD]")
    p.add_argument("--tmpfs", action="append", default=[], metavar="PATH[:OPTIONS]")
    p.add_argument("--dns", action="append", default=[], metavar="IP")
    p.add_argument("--add-host", action="append", default=[], metavar="HOST:IP")
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
    p.add_argument("-t", "--time", type=float, default=None,
                   help="seconds before SIGKILL (default: the container's --stop-timeout, else 10)")
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
