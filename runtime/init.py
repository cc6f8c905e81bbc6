"""What runs inside the container between fork and exec.

These functions run in a freshly forked child: they never return; they exec the
command or write one line "CODE<TAB>MESSAGE" to the error pipe and _exit(CODE).
The error pipe is close-on-exec, so the parent reads EOF when the exec succeeded.
"""

from __future__ import annotations

import errno
import os
import signal
from dataclasses import dataclass, field
from typing import NoReturn

from runtime import rootfs, security
from runtime.errors import EXIT_CANNOT_EXEC, EXIT_NOT_FOUND, EXIT_RUNTIME
from runtime.image.store import DEFAULT_PATH
from runtime.syscalls import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWUTS,
    Syscalls,
)
from runtime.users import UserError, resolve


class ExecFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class ProcessSpec:
    """The process to start: the same for a container's PID 1 and for `exec`."""

    argv: list[str]
    env: list[str]
    workdir: str = "/"
    user: str = ""
    capabilities: int = security.capability_mask(security.DEFAULT_CAPABILITIES)
    no_new_privs: bool = True
    seccomp: bytes | None = None  # a compiled BPF program, loaded last; None: unconfined
    rlimits: list[tuple[int, int, int]] = field(default_factory=list)  # resource, soft, hard


@dataclass
class InitSpec:
    """Everything the container's first process needs to build its world."""

    process: ProcessSpec
    rootfs: rootfs.RootfsPlan
    hostname: str
    cgroup_procs: list[str] = field(default_factory=list)
    network: str = "none"
    netns: str | None = None  # a prepared network namespace to join instead of a new one
    init: bool = False        # --init: PID 1 forwards signals and reaps; the command is its child

    def unshare_flags(self) -> int:
        flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP
        return flags if self.network == "host" or self.netns else flags | CLONE_NEWNET


def reset_signals() -> None:
    """Ignored signals survive exec: Python ignores SIGPIPE and SIGXFSZ, the monitor ignores
    SIGINT/SIGTERM/SIGHUP. The command must start with every disposition at its default."""
    for sig in signal.valid_signals():
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass  # real-time signals the C library reserves for itself
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _env_dict(env: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env:
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
    return out


def exec_command(argv: list[str], env: dict[str, str]) -> NoReturn:
    """execve with the container's own PATH, mapping failures to Docker's codes."""
    cmd = argv[0]
    if "/" in cmd:
        candidates = [cmd]
    else:
        candidates = [os.path.join(d or ".", cmd) for d in env.get("PATH", DEFAULT_PATH).split(":")]
    denied = False
    for candidate in candidates:
        try:
            os.execve(candidate, argv, env)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENOTDIR):
                continue
            if e.errno in (errno.EACCES, errno.EISDIR):
                denied = True
                continue
            raise ExecFailure(EXIT_CANNOT_EXEC, f'exec: "{cmd}": {e.strerror.lower()}') from e
    if denied:
        raise ExecFailure(EXIT_CANNOT_EXEC, f'exec: "{cmd}": permission denied')
    if "/" in cmd:
        raise ExecFailure(EXIT_NOT_FOUND, f'exec: "{cmd}": stat {cmd}: no such file or directory')
    raise ExecFailure(EXIT_NOT_FOUND, f'exec: "{cmd}": executable file not found in $PATH')


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def become(sc: Syscalls, spec: ProcessSpec, hostname: str) -> NoReturn:
    """Inside the container's root: take the user, workdir, capabilities; exec."""
    try:
        identity = resolve(spec.user, _read("/etc/passwd"), _read("/etc/group"))
    except UserError as e:
        raise ExecFailure(EXIT_RUNTIME, str(e)) from e
    env = _env_dict(spec.env)
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("HOSTNAME", hostname)
    env.setdefault("HOME", identity.home)
    workdir = spec.workdir or "/"
    os.makedirs(workdir, exist_ok=True)  # Docker creates a missing working directory
    for resource_id, soft, hard in spec.rlimits:  # --ulimit: before the capabilities go
        sc.setrlimit(resource_id, soft, hard)
    security.drop_bounding_set(sc, spec.capabilities, security.last_capability())
    sc.set_identity(identity.uid, identity.gid, list(identity.groups))
    if identity.uid == 0:
        security.set_capabilities(sc, spec.capabilities)
    if spec.no_new_privs:
        security.set_no_new_privs(sc)
    try:
        sc.chdir(workdir)
    except OSError as e:
        raise ExecFailure(EXIT_RUNTIME, f"chdir to cwd ({workdir!r}): {e.strerror}") from e
    if spec.seccomp:
        # After capset and no_new_privs, as runc: everything left (execve) is allowed by it.
        security.load_seccomp(sc, spec.seccomp)
    exec_command(spec.argv, env)


def fail(err_fd: int, code: int, message: str) -> NoReturn:
    try:
        os.write(err_fd, f"{code}\t{message}".encode(errors="replace"))
    finally:
        os._exit(code)


def guarded(err_fd: int, body) -> NoReturn:  # noqa: ANN001
    """Run `body` (which execs); any failure becomes one line on the error pipe."""
    try:
        body()
        fail(err_fd, EXIT_RUNTIME, "container init returned without exec")
    except ExecFailure as e:
        fail(err_fd, e.code, str(e))
    except OSError as e:
        where = f" {e.filename}:" if e.filename else ""
        fail(err_fd, EXIT_RUNTIME, f"container init:{where} {e.strerror}")
    except BaseException as e:  # noqa: BLE001 - a forked child must never unwind into the parent's code
        fail(err_fd, EXIT_RUNTIME, f"container init: {type(e).__name__}: {e}")


# What an init (tini, Docker's --init) passes on to the command it runs.
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
                     signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH)


def reap_as_init(child: int) -> NoReturn:
    """PID 1 under --init, as tini: pass signals on to the command, reap every orphan, and
    exit with the command's status (a signal N as 128 + N)."""
    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for sig in FORWARDED_SIGNALS:
        signal.signal(sig, forward)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(EXIT_RUNTIME)
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)


JOINED = b"1"  # monitor -> PID 1 on the join pipe: it is in every hierarchy's cgroup now


def join_cgroups(paths: list[str], pid: int) -> None:
    """Move `pid` (0: the caller) into the cgroup: one cgroup.procs per hierarchy. The first
    write of a quiet spell waits out an RCU grace period in the kernel (~9 ms here, the
    threadgroup rwsem's switch to its writer mode), CPU-idle."""
    for path in paths:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, str(pid).encode())
        finally:
            os.close(fd)


def await_cgroup(joined_r: int) -> None:
    """Block until the monitor has moved this process into the cgroup (join_cgroups);
    what it could not do ends the start with its reason."""
    said = os.read(joined_r, 4096)
    os.close(joined_r)
    if said != JOINED:
        raise OSError(0, said.decode(errors="replace") or "the monitor did not join the "
                      "container's cgroup")


def container_init(sc: Syscalls, spec: InitSpec, err_fd: int | None = None,
                   joined_r: int | None = None) -> None:
    """PID 1 of the new PID namespace: cgroup, namespaces, rootfs, then `become` (under
    --init, in a child of PID 1: `err_fd`, the error pipe, is then the child's alone).
    `joined_r`: the monitor moves this process into the cgroup meanwhile (its kernel wait
    overlaps the namespaces and the rootfs) and says so there; PID 1 waits for that before
    its cgroup namespace, a fork or the exec. None: it joins the cgroup itself, first."""
    reset_signals()
    if joined_r is None:
        join_cgroups(spec.cgroup_procs, 0)
    if spec.netns:
        fd = os.open(spec.netns, os.O_RDONLY)
        sc.setns(fd, CLONE_NEWNET)
        os.close(fd)
    flags = spec.unshare_flags()
    sc.unshare(flags & ~CLONE_NEWCGROUP if joined_r is not None else flags)
    rootfs.build_rootfs(spec.rootfs, sc)
    sc.sethostname(spec.hostname)
    if spec.network != "host":
        sc.link_up("lo")
    if joined_r is not None:
        await_cgroup(joined_r)  # in the cgroup before anything of the container's runs
        sc.unshare(flags & CLONE_NEWCGROUP)  # rooted at it
    if spec.init:
        child = os.fork()
        if child != 0:
            if err_fd is not None:
                os.close(err_fd)  # the command's exec closes the last copy: the start is told
            reap_as_init(child)
    become(sc, spec.process, spec.hostname)


def exec_init(sc: Syscalls, spec: ProcessSpec, hostname: str, cgroup_fds: list[int]) -> None:
    """A process joining a running container (already in its namespaces)."""
    reset_signals()
    for fd in cgroup_fds:
        os.write(fd, b"0")
        os.close(fd)
    become(sc, spec, hostname)
