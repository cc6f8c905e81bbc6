"""Container verbs: run, ps, stop, kill, rm, logs, exec, inspect."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import termios
import time
import tty
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from isobench.commands.common import each, env_flags, print_formatted, print_table, template
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


@contextlib.contextmanager
def raw_terminal(wanted: bool) -> Iterator[None]:
    """`run -it`: our terminal passes every key to the container's pty (which echoes and
    edits lines itself), and is restored however the run ends."""
    fd = sys.stdin.fileno() if wanted and sys.stdin.isatty() else None
    saved = termios.tcgetattr(fd) if fd is not None else None
    if fd is not None:
        tty.setraw(fd)
    try:
        yield
    finally:
        if fd is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


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
    with raw_terminal(args.tty and args.interactive and not args.detach):
        # --rm: back at the exit; the teardown goes on ("removing", the name reserved).
        result = rt.run(spec, detach=args.detach, interactive=args.interactive, tty=args.tty,
                        exit_first=args.rm)
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
    if s.status == "removing":
        return "Removal In Progress"
    return s.status.capitalize()


PS_TITLES = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
             "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS",
             "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Names": "NAMES",
             "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS"}


def go_time(ts: float | None) -> str:
    """Go's time.Time as Docker's CreatedAt prints it: 2024-05-01 12:00:00 +0000 UTC."""
    if not ts:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(ts))


def ps_row(c: Container, no_trunc: bool) -> dict[str, Any]:
    """One container as `docker ps --format` sees it (Docker's ContainerContext fields)."""
    command = " ".join(c.config.argv)
    if not no_trunc and len(command) > 20:
        command = command[:19] + "…"
    running = c.state.status == "running"
    return {"ID": c.id if no_trunc else c.short_id, "Image": c.config.image,
            "Command": f'"{command}"', "CreatedAt": go_time(c.created),
            "RunningFor": f"{_ago(c.created)} ago",
            "Ports": ", ".join(str(PortMapping(**p)) for p in c.state.ports) if running else "",
            "State": c.state.status, "Status": status_line(c), "Size": "",
            "Names": c.name,
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(c.config.labels.items())),
            "Mounts": ",".join(m.get("Name") or m.get("Source", "") for m in c.mounts),
            "Networks": c.config.network}


def cmd_ps(args: argparse.Namespace) -> int:
    tmpl = template(args.format, fields=PS_TITLES, context="ContainerContext") if args.format \
        else None
    found = Runtime().list(all_=args.all)
    if args.quiet:
        for c in found:
            print(c.id if args.no_trunc else c.short_id)
        return 0
    rows = [ps_row(c, args.no_trunc) for c in found]
    if tmpl is not None:
        print_formatted(tmpl, rows, PS_TITLES)
        return 0
    table = [tuple(PS_TITLES[k] for k in ("ID", "Image", "Command", "RunningFor", "Status",
                                          "Ports", "Names"))]
    table += [(r["ID"], r["Image"], r["Command"], r["RunningFor"], r["Status"], r["Ports"],
               r["Names"]) for r in rows]
    print_table(table)
    return 0


STATS_TITLES = {"Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID",
                "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
                "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}
STATS_FORMAT = ("table {{.ID}}\\t{{.Name}}\\t{{.CPUPerc}}\\t{{.MemUsage}}\\t{{.MemPerc}}\\t"
                "{{.NetIO}}\\t{{.BlockIO}}\\t{{.PIDs}}")


def _human_size(n: float, base: int, units: tuple[str, ...], digits: int) -> str:
    for unit in units[:-1]:
        if abs(n) < base:
            return f"{n:.{digits}g}{unit}"
        n /= base
    return f"{n:.{digits}g}{units[-1]}"


def binary_size(n: float) -> str:
    """Docker's units.BytesSize: 15.94MiB."""
    return _human_size(n, 1024, ("B", "KiB", "MiB", "GiB", "TiB"), 4)


def decimal_size(n: float) -> str:
    """Docker's units.HumanSizeWithPrecision(n, 3): 693MB, 1.27kB, 0B."""
    return _human_size(n, 1000, ("B", "kB", "MB", "GB", "TB"), 3)


def net_bytes(pid: int) -> tuple[int, int]:
    """Received and sent bytes of every interface but lo in `pid`'s network namespace."""
    rx = tx = 0
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return 0, 0
    for line in lines:
        name, _, data = line.partition(":")
        fields = data.split()
        if name.strip() != "lo" and len(fields) >= 9:
            rx, tx = rx + int(fields[0]), tx + int(fields[8])
    return rx, tx


def host_memory_bytes() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def stats_rows(rt: Runtime, containers: list[Container], interval_s: float
               ) -> list[dict[str, Any]]:
    """One sample per container: CPU % over `interval_s` (100 % = one core, as in Docker),
    memory against its limit (the host's memory without one), network, block I/O, pids."""
    first = {c.id: (time.monotonic(), rt.stats(c)) for c in containers}
    time.sleep(interval_s)
    rows, host_memory = [], host_memory_bytes()
    for c in containers:
        t0, before = first[c.id]
        now = rt.stats(c)
        wall_ns = (time.monotonic() - t0) * 1e9
        cpu = ((now.cpu_total_ns or 0) - (before.cpu_total_ns or 0)) / wall_ns * 100 \
            if c.state.status == "running" and wall_ns > 0 else 0.0
        memory = now.memory_current or 0
        limit = (c.config.limits or {}).get("memory_bytes") or host_memory
        rx, tx = net_bytes(c.state.pid) if c.state.status == "running" else (0, 0)
        rows.append({"Container": c.short_id, "Name": c.name, "ID": c.short_id,
                     "CPUPerc": f"{max(cpu, 0.0):.2f}%",
                     "MemUsage": f"{binary_size(memory)} / {binary_size(limit)}",
                     "MemPerc": f"{memory / limit * 100 if limit else 0.0:.2f}%",
                     "NetIO": f"{decimal_size(rx)} / {decimal_size(tx)}",
                     "BlockIO": f"{decimal_size(now.io_read_bytes or 0)} / "
                                f"{decimal_size(now.io_write_bytes or 0)}",
                     "PIDs": str(now.pids_current or 0)})
    return rows


def cmd_stats(args: argparse.Namespace) -> int:
    tmpl = template(args.format or STATS_FORMAT, fields=STATS_TITLES, context="StatsEntry")
    rt = Runtime()
    chosen = [rt.get(ref) for ref in args.containers] if args.containers else \
        rt.list(all_=args.all)
    clear = sys.stdout.isatty() and not args.no_stream
    while True:
        live = [c for c in (rt.get(c.id) for c in chosen)
                if c.state.status == "running" or args.all or args.containers]
        rows = stats_rows(rt, live, 0.5 if args.no_stream else 1.0)
        if clear:
            sys.stdout.write("\033[2J\033[H")
        print_formatted(tmpl, rows, STATS_TITLES)
        sys.stdout.flush()
        if args.no_stream:
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


def cmd_wait(args: argparse.Namespace) -> int:
    """Docker's `container wait --condition`: each container's exit code, one a line."""
    rt, failed = Runtime(), 0
    for ref in args.containers:
        try:
            code = rt.wait(ref, condition=args.condition)
        except IsobenchError as e:
            print(f"isobench: {e}", file=sys.stderr)
            failed = e.exit_code
            continue
        print("" if code is None else code, flush=True)
    return failed


def cmd_logs(args: argparse.Namespace) -> int:
    rt = Runtime()
    for stream, data in rt.logs(args.container, follow=args.follow):
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
    tmpl = template(args.format) if args.format else None
    rt = Runtime()
    out, code = [], 0
    for ref in args.refs:
        try:
            out.append(inspect_any(rt, ref))
        except IsobenchError as e:
            print(f"isobench: {e}", file=sys.stderr)
            code = 1
    if args.format:
        print_formatted(tmpl, out, {})
    else:
        print(json.dumps(out, indent=4))
    return code


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rm", action="store_true", help="remove the container when it exits")
    p.add_argument("-d", "--detach", action="store_true", help="run in the background")
    p.add_argument("-i", "--interactive", action="store_true", help="keep stdin open")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
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
    p.add_argument("--format", help="Go template: '{{.Names}}', 'table {{.ID}}\\t{{.Status}}'")
    p.set_defaults(handler=cmd_ps)

    p = sub.add_parser("stats", help="live CPU, memory, network, block I/O and PIDs")
    p.add_argument("-a", "--all", action="store_true", help="all containers, not just running")
    p.add_argument("--no-stream", action="store_true", help="one sample, then exit")
    p.add_argument("--format", help="Go template, e.g. 'table {{.Name}}\\t{{.CPUPerc}}'")
    p.add_argument("containers", nargs="*")
    p.set_defaults(handler=cmd_stats)

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

    p = sub.add_parser("wait", help="block until containers stop (or are removed), then "
                                    "print their exit codes")
    p.add_argument("--condition", default="not-running", choices=("not-running", "removed"),
                   help="not-running (default), or removed (a --rm container's teardown)")
    p.add_argument("containers", nargs="+")
    p.set_defaults(handler=cmd_wait)

    p = sub.add_parser("logs", help="fetch a container's output")
    p.add_argument("-f", "--follow", action="store_true",
                   help="follow the output until the container exits")
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
    p.add_argument("-f", "--format", help="Go template, e.g. '{{.State.Pid}}', '{{json .}}'")
    p.add_argument("refs", nargs="+")
    p.set_defaults(handler=cmd_inspect)


def _require_image(handler):  # noqa: ANN001
    def checked(args: argparse.Namespace) -> int:
        if args.image is None and args.rootfs is None:
            raise InvalidArgument("'isobench run' requires at least 1 argument", EXIT_RUNTIME)
        return handler(args)
    return checked
