"""Process plumbing: the caller, the monitor, and the container's PID 1.

    caller ──fork──▶ monitor ──unshare(PID), fork──▶ PID 1 ──▶ exec(command)

The monitor plays the part of Docker's containerd-shim: it stays in the host's
namespaces and outside the container's cgroup (so it is not charged for, nor
counted against --pids-limit), relays the container's stdout/stderr to the log
(and to the terminal when attached), reaps PID 1, records the exit code, OOM
kill and final cgroup counters, and tears the container down. It survives the
caller, so a killed CLI still leaves a recorded, cleaned-up container. It also
holds the container record's lock (one of `keep_fds`) until it exits: that is how
`isobench gc` tells a container someone still answers for from one whose monitor died.
"""

from __future__ import annotations

import fcntl
import gc
import os
import signal
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from runtime import health, init
from runtime.errors import EXIT_RUNTIME
from runtime.relay import LogWriter, exit_code_of, relay, relay_tty, report_exit
from runtime.relay import command as relay_command
from runtime.syscalls import CLONE_NEWPID, NAMESPACE_FILES, Syscalls

if TYPE_CHECKING:
    from runtime.relay import Ticker


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def namespace_inodes(pid: int) -> dict[str, int]:
    out = {}
    for name in [*NAMESPACE_FILES.values(), "user"]:
        try:
            out[name] = os.stat(f"/proc/{pid}/ns/{name}").st_ino
        except OSError:
            pass
    return out


def open_pty(size_from: int | None) -> tuple[int, int]:
    """A pty pair; the slave gets the size of the terminal `size_from`, when it is one."""
    master, slave = os.openpty()
    if size_from is not None and os.isatty(size_from):
        size = fcntl.ioctl(size_from, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    return master, slave


@dataclass
class Started:
    """What the caller learns once the command has been exec'd (or has failed to be)."""

    monitor_pid: int
    pid: int = 0
    error_code: int = 0
    error: str = ""
    exit_fd: int = -1  # exit_first: the monitor writes the exit code there before its teardown
    # attached: the caller's signal mask before start blocked FORWARDED; wait_attached
    # restores it once its handlers forward to PID 1
    signal_mask: set[int] | None = None


@dataclass
class MonitorHooks:
    """What the monitor does at the container's milestones (records state, cleans up)."""

    on_started: Callable[[int, dict[str, int]], None]
    on_exited: Callable[[int, bool], None]  # exit code, whether the start failed
    on_failed_start: Callable[[int, str], None]
    # The restart policy: given the exit code and how long the command ran, the delay before
    # it runs again, or None when it does not (no policy, its limit, a stop by the user).
    restart_delay: Callable[[int, float], float | None] = lambda _code, _ran: None
    on_restarting: Callable[[int], None] = lambda _code: None
    stop_requested: Callable[[], bool] = lambda: False
    # The health check of one run of the command (None: none configured).
    prober: Callable[[int], Ticker | None] = lambda _pid: None


@dataclass
class Handoff:
    """The small monitor: once the command runs, the monitor execs `runtime/relay.py` in a
    bare interpreter, which relays, reaps PID 1, then execs `teardown` (the full runtime,
    with the exit code appended). Only for detached containers whose monitor has nothing
    else to do while they run (no health check, restart policy or published ports: those
    keep the Python monitor of the whole runtime; see Runtime._handoff). `keep`:
    descriptors both execs must inherit (the record's lock)."""

    teardown: list[str]
    keep: set[int]


def _exec_relay(handoff: Handoff, log_path: str, pid: int, out_r: int, err_r: int,
                mode: str, exit_w: int) -> None:
    """Become the small monitor; returns only when the exec failed (the monitor then goes on
    as it is)."""
    for fd in (out_r, err_r, *handoff.keep, *([exit_w] if exit_w >= 0 else [])):
        os.set_inheritable(fd, True)
    try:
        os.execv(sys.executable, relay_command(sys.executable, log_path, pid, out_r, err_r,
                                               mode, handoff.teardown, exit_w))
    except OSError:
        pass


def _close(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _tell(info_w: int, message: bytes) -> None:
    """Tell the caller how the start went. A caller killed meanwhile (EPIPE) is no reason
    for the monitor to abandon the container: it carries on and tears it down later."""
    try:
        os.write(info_w, message)
    except BrokenPipeError:
        pass


def _to_devnull(*targets: int) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for t in targets:
        os.dup2(null, t)
    os.close(null)


def _close_all_but(keep: set[int]) -> None:
    low = 3
    for fd in sorted(keep):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, 65536)


def _spawn(sc: Syscalls, spec: init.InitSpec, interactive: bool, tty: bool = False,
           size_from: int | None = None) -> tuple[int, int, int, int]:
    """Fork the container's PID 1 in a new PID namespace: (pid, stdout, stderr, error pipe).
    With `tty` its stdio is a new pty (sized from `size_from`) whose master is the stdout
    returned, and the stderr returned reads nothing."""
    if tty:  # the master plays both pipes' part
        out_r, out_w = open_pty(size_from)
        err_r, err_w = os.open(os.devnull, os.O_RDONLY), os.dup(out_w)
        # The container mounts a devpts of its own, where the host's slave is not: it is
        # bound at /dev/console, as runc does with its console, so `tty` names it (a
        # restart's new pty replaces the last one's).
        spec.rootfs.binds = [*(b for b in spec.rootfs.binds if b[1] != "/dev/console"),
                             (os.ttyname(out_w), "/dev/console", False)]
    else:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
    fail_r, fail_w = os.pipe()
    joined_r, joined_w = os.pipe()
    own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY)
    sc.unshare(CLONE_NEWPID)
    pid = os.fork()
    if pid == 0:
        if tty:  # a session of its own with the pty as its controlling terminal
            os.close(out_r)
            os.setsid()
            fcntl.ioctl(out_w, termios.TIOCSCTTY, 0)
            os.dup2(out_w, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        if not interactive and not tty:
            _to_devnull(0)
        _close_all_but({fail_w, joined_r})
        init.guarded(fail_w, lambda: init.container_init(sc, spec, fail_w, joined_r))
    # Our own later children (iproute2 for the teardown, the next run of a restart policy)
    # must not land in the container's PID namespace: once its PID 1 is gone, forking there
    # fails with ENOMEM.
    sc.setns(own_pid_ns, CLONE_NEWPID)
    _close(out_w, err_w, fail_w, own_pid_ns, joined_r)
    try:  # PID 1 sets up its namespaces and rootfs meanwhile, and waits for this before exec
        init.join_cgroups(spec.cgroup_procs, pid)
        os.write(joined_w, init.JOINED)
    except OSError as e:  # PID 1 reports it on the error pipe, and exits
        where = f" {e.filename}:" if e.filename else ""
        _tell(joined_w, f"joining the container's cgroup:{where} {e.strerror}".encode())
    finally:
        os.close(joined_w)
    return pid, out_r, err_r, fail_r


def _sleep_unless_stopped(delay: float, stop_requested: Callable[[], bool]) -> bool:
    """The restart policy's back-off; True when the user stopped the container meanwhile."""
    deadline = time.monotonic() + delay
    while True:
        if stop_requested():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(left, 0.05))


def _restart(sc: Syscalls, spec: init.InitSpec, interactive: bool, hooks: MonitorHooks,
             log: LogWriter, tty: bool = False) -> tuple[int, int, int] | int:
    """Run the command again (same cgroup, network, upper layer): (pid, stdout, stderr), or
    the failure's exit code when it could not be exec'd (told on the container's stderr)."""
    pid, out_r, err_r, fail_r = _spawn(sc, spec, interactive, tty)
    failure = read_all(fail_r)
    if failure:
        failed_code, _, message = failure.decode(errors="replace").partition("\t")
        if tty:  # a pty's master reads EIO, not EOF
            _close(out_r, err_r)
        else:
            relay({out_r: ("stdout", None), err_r: ("stderr", None)}, log)
        os.waitpid(pid, 0)
        log.write("stderr", f"isobench: {message}\n".encode())
        return int(failed_code)
    hooks.on_started(pid, namespace_inodes(pid))
    return pid, out_r, err_r


def _next_run(sc: Syscalls, spec: init.InitSpec, interactive: bool, hooks: MonitorHooks,
              log: LogWriter, code: int, ran_for: float, tty: bool = False
              ) -> tuple[tuple[int, int, int] | None, int]:
    """After an exit: the restart policy's next run, or (None, the last exit code)."""
    while True:
        delay = hooks.restart_delay(code, ran_for)
        if delay is None:
            return None, code
        hooks.on_restarting(code)
        if _sleep_unless_stopped(delay, hooks.stop_requested):
            return None, code
        started = _restart(sc, spec, interactive, hooks, log, tty)
        if not isinstance(started, int):
            return started, code
        code, ran_for = started, 0.0  # a failed exec is an exit like another


def _monitor(sc: Syscalls, spec: init.InitSpec, hooks: MonitorHooks, log_path: str,
             attach: bool, interactive: bool, info_w: int, keep_fds: set[int],
             tty: bool = False, output: int | None = None,
             handoff: Handoff | None = None, exit_w: int = -1) -> NoReturn:
    code = EXIT_RUNTIME
    try:
        # Hold nothing of the caller's but the info pipe, the published ports' sockets, the
        # exit pipe (and stdio when attached).
        _close_all_but({info_w, *keep_fds, exit_w} | ({output} if output is not None else set()))
        if output is not None:  # the caller reads the output there (a build's progress)
            os.dup2(output, 1)
            os.dup2(output, 2)
            if output > 2:
                os.close(output)
        os.setsid()  # terminal signals go to the caller, which forwards them
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if not attach:
            _to_devnull(0, 1, 2)
        pid, out_r, err_r, fail_r = _spawn(sc, spec, interactive, tty,
                                           0 if attach else None)
        failure = read_all(fail_r)
        log = LogWriter(log_path)
        if failure:
            failed_code, _, message = failure.decode(errors="replace").partition("\t")
            if tty:  # a pty's master reads EIO, not EOF: what the start printed is in `failure`
                _close(out_r, err_r)
            else:
                relay({out_r: ("stdout", None), err_r: ("stderr", None)}, log)
            os.waitpid(pid, 0)
            code = int(failed_code)
            hooks.on_failed_start(code, message)
            _tell(info_w, f"E\t{code}\t{message}".encode())
            os._exit(code)
        hooks.on_started(pid, namespace_inodes(pid))
        _tell(info_w, f"S\t{pid}".encode())
        os.close(info_w)
        if handoff is not None:
            log.close()
            _exec_relay(handoff, log_path, pid, out_r, err_r,
                        ("t" if tty else "") + ("e" if attach else "")
                        + ("i" if attach and interactive else ""), exit_w)
            log = LogWriter(log_path)
        echo_out, echo_err = (1, 2) if attach else (None, None)
        run: tuple[int, int, int] | None = (pid, out_r, err_r)
        while run is not None:
            pid, out_r, err_r = run
            began = time.monotonic()
            ticker = hooks.prober(pid)
            if tty:  # health probes tick with the pipes' relay only
                os.close(err_r)
                relay_tty(out_r, log, echo_out, 0 if attach and interactive else None)
            else:
                relay({out_r: ("stdout", echo_out), err_r: ("stderr", echo_err)}, log, ticker)
            if ticker is not None:
                ticker.close()
            _, status = os.waitpid(pid, 0)
            run, code = _next_run(sc, spec, interactive, hooks, log, exit_code_of(status),
                                  time.monotonic() - began, tty)
        log.close()
        report_exit(log_path, code, exit_w)
        hooks.on_exited(code, False)
    except BaseException as e:  # noqa: BLE001 - never unwind into the caller's copy of the stack
        try:
            import traceback  # only on this failure: ~1 ms of every `run`'s imports

            detail = traceback.format_exc() if os.environ.get("ISOBENCH_DEBUG") else (
                f"isobench: container monitor: {type(e).__name__}: {e}\n")
            os.write(2, detail.encode())
        finally:
            os._exit(EXIT_RUNTIME)
    os._exit(code)


# What an attached caller forwards to its container's PID 1 (wait_attached). They stay
# blocked from the fork of the monitor until the forwarding handlers are in place: one that
# arrives once the command runs (its first output read) is forwarded, not fatal to the caller.
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _forked() -> None:
    """First thing in a child forked from the caller: the caller's objects are never
    collected here. Its garbage may hold handles of libraries whose threads and sockets the
    fork did not bring along: a bench session's libvirt domain, collected in a container's
    monitor, called virDomainFree over a descriptor the monitor had closed and spun in
    poll() at 100 % CPU forever. Frozen objects stay out of the collector's reach, in this
    process and in what it forks (the container's PID 1)."""
    gc.freeze()


def start(sc: Syscalls, spec: init.InitSpec, hooks: MonitorHooks, log_path: str, *,
          attach: bool, interactive: bool = False, keep_fds: set[int] | None = None,
          tty: bool = False, output: int | None = None,
          handoff: Handoff | None = None, exit_first: bool = False) -> Started:
    """Fork the monitor (detached: double-forked so nobody has to reap it) and wait until
    the command has been exec'd or has failed. `output`, attached: a descriptor the
    command's stdout and stderr are copied to instead of ours. `handoff`: the monitor then
    becomes the small one (see Handoff). `exit_first`, attached: the monitor reports the exit
    code on a pipe before its teardown, and wait_attached returns on it."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED) if attach else None
    try:
        started = _start(sc, spec, hooks, log_path, attach, interactive, keep_fds, tty,
                         output, handoff, exit_first, mask)
        started.signal_mask = mask
        return started
    except BaseException:
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise


def _start(sc: Syscalls, spec: init.InitSpec, hooks: MonitorHooks, log_path: str,
           attach: bool, interactive: bool, keep_fds: set[int] | None, tty: bool,
           output: int | None, handoff: Handoff | None, exit_first: bool,
           mask: set[int] | None) -> Started:
    info_r, info_w = os.pipe()
    exit_r, exit_w = os.pipe() if exit_first and attach else (-1, -1)
    pid = os.fork()
    if pid == 0:
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        _forked()
        os.close(info_r)
        _close(exit_r)
        if not attach and os.fork() != 0:
            os._exit(0)  # the intermediate child; the monitor is re-parented to init
        _monitor(sc, spec, hooks, log_path, attach, interactive, info_w, keep_fds or set(),
                 tty, output if attach else None, handoff, exit_w)
    os.close(info_w)
    _close(exit_w)
    if not attach:
        os.waitpid(pid, 0)
    message = read_all(info_r).decode(errors="replace")
    kind, _, rest = message.partition("\t")
    if kind == "S":
        return Started(monitor_pid=pid if attach else 0, pid=int(rest), exit_fd=exit_r)
    _close(exit_r)
    if kind == "E":
        code, _, error = rest.partition("\t")
        return Started(monitor_pid=pid if attach else 0, error_code=int(code), error=error)
    return Started(monitor_pid=pid if attach else 0, error_code=EXIT_RUNTIME,
                   error="container monitor died before the container started")


def wait_attached(started: Started) -> int:
    """Wait for an attached container, forwarding SIGINT/SIGTERM/SIGHUP to its PID 1 (what
    arrived since start blocked them first; a start that failed has no PID 1: they then
    reach the caller's own handlers, after the monitor is reaped)."""
    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(started.pid, signum)
        except ProcessLookupError:
            pass

    previous = {s: signal.signal(s, forward) for s in FORWARDED} if started.pid > 0 else {}
    if previous and started.signal_mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, started.signal_mask)
    try:
        if started.exit_fd >= 0:
            reported = read_all(started.exit_fd)
            if reported:  # the teardown goes on in the monitor, which init will reap
                return int(reported)
        _, status = os.waitpid(started.monitor_pid, 0)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if started.signal_mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, started.signal_mask)
    return exit_code_of(status)


def spawn_in(sc: Syscalls, pid: int, spec: init.ProcessSpec, hostname: str,
             cgroup_procs: list[str], interactive: bool, output: int | None = None
             ) -> tuple[int, int]:
    """Start a process inside a running container: join its cgroup and namespaces, then
    exec. Returns (the joining child, the error pipe); the child's status is the process's.
    `output`: a descriptor for the process's stdout and stderr (a health probe's pipe), whose
    SIGTERM then kills the process outright (a probe past its timeout).

    The joining child forks once more because setns(PID) applies only to children."""
    fail_r, fail_w = os.pipe()
    child = os.fork()
    if child == 0:
        _forked()

        def body() -> None:
            if output is not None:
                os.dup2(output, 1)
                os.dup2(output, 2)
                _close_all_but({fail_w})
            ns_fds = [os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY)
                      for name in ("ipc", "uts", "net", "pid", "cgroup", "mnt")]
            procs = [os.open(p, os.O_WRONLY) for p in cgroup_procs]  # host paths: open first
            for fd in ns_fds:
                sc.setns(fd)
                os.close(fd)
            if not interactive:
                _to_devnull(0)
            grandchild = os.fork()
            if grandchild == 0:
                init.exec_init(sc, spec, hostname, procs)
            _close(fail_w, *procs)
            for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(s, lambda n, _f: os.kill(grandchild, n))
            if output is not None:
                signal.signal(signal.SIGTERM, lambda _n, _f: os.kill(grandchild, signal.SIGKILL))
            _, status = os.waitpid(grandchild, 0)
            os._exit(exit_code_of(status))
        init.guarded(fail_w, body)
    os.close(fail_w)
    return child, fail_r


def exec_in(sc: Syscalls, pid: int, spec: init.ProcessSpec, hostname: str,
            cgroup_procs: list[str], interactive: bool) -> int:
    """Run a process inside a running container and wait for it (`exec`)."""
    child, fail_r = spawn_in(sc, pid, spec, hostname, cgroup_procs, interactive)
    failure = read_all(fail_r)
    _, status = os.waitpid(child, 0)
    if failure:
        code, _, message = failure.decode(errors="replace").partition("\t")
        raise init.ExecFailure(int(code), message)
    return exit_code_of(status)


class Prober:
    """A container's health check, run by its monitor between reads of its output: one
    probe at a time, `exec`'d into the container, killed past its timeout; each result goes
    to `record` (exit code, output, start, end)."""

    def __init__(self, check: health.Healthcheck, state: health.HealthState,
                 started_at: float, spawn: Callable[[int], tuple[int, int]],
                 record: Callable[[health.HealthState], None]) -> None:
        self.check, self.state, self.started_at = check, state, started_at
        self.spawn, self.record = spawn, record
        self.due = time.time() + state.next_delay(check, started_at, time.time())
        self.child = 0
        self.out_r = -1
        self.output = b""
        self.began = 0.0

    def timeout(self) -> float:
        now = time.time()
        if self.child:
            return min(0.05, max(0.0, self.began + self.check.timeout - now))
        return max(0.0, self.due - now)

    def tick(self) -> None:
        now = time.time()
        if not self.child:
            if now >= self.due:
                self._start(now)
            return
        self._drain()
        done, status = os.waitpid(self.child, os.WNOHANG)
        if done:
            self._finish(exit_code_of(status), self.output.decode(errors="replace"), now)
        elif now >= self.began + self.check.timeout:
            os.kill(self.child, signal.SIGTERM)  # the probe is SIGKILLed, its joiner exits
            os.waitpid(self.child, 0)
            self._finish(-1, health.timeout_output(self.check), now)

    def _start(self, now: float) -> None:
        out_r, out_w = os.pipe()
        os.set_blocking(out_r, False)
        try:
            self.child, fail_r = self.spawn(out_w)
        finally:
            os.close(out_w)
        failure = read_all(fail_r)
        self.out_r, self.output, self.began = out_r, b"", now
        if failure:  # the probe's command does not exist: a failed probe, as Docker's
            os.waitpid(self.child, 0)
            _, _, message = failure.decode(errors="replace").partition("\t")
            self._finish(-1, message, time.time())

    def _drain(self) -> None:
        try:
            while chunk := os.read(self.out_r, 65536):
                self.output = (self.output + chunk)[-health.MAX_OUTPUT:]
        except BlockingIOError:
            pass

    def _finish(self, code: int, output: str, end: float) -> None:
        _close(self.out_r)
        self.child, self.out_r = 0, -1
        self.state.record(self.check, code, output, self.began, end, self.started_at)
        self.record(self.state)
        self.due = end + self.state.next_delay(self.check, self.started_at, end)

    def close(self) -> None:
        """The container has exited: a probe still running goes with it."""
        if self.child:
            try:
                os.kill(self.child, signal.SIGTERM)
            except ProcessLookupError:
                pass
            os.waitpid(self.child, 0)
            _close(self.out_r)
            self.child = 0
