"""`isobench daemon`: a resident process that has imported what the container verbs need, so
that each `isobench run`, `ps`, `rm`... from the thin client (isobench/client.py) is served
by a fork of it instead of a fresh interpreter importing the runtime (Docker's model: the
CLI is thin, dockerd is warm). Measured with bench.tools.startup, methods cli (served) and
cli-direct (ISOBENCH_DAEMON=0): see the README's start-up section.

A served request runs the CLI's own `main(argv)` in the fork, on the client's stdin,
stdout and stderr, in its cwd, with its environment and umask; the client forwards its
signals and gets the exit code. What the fork takes from the daemon, as Docker's containers
take it from dockerd: its cgroup, rlimits, nice value and session (it calls setsid: no
controlling terminal, so a tty the client passes is used without job control).

Only the daemon's own uid is served (SO_PEERCRED; the socket is 0600 as well). A request
that finds the code changed since the daemon imported it is answered "stale": the client
runs it itself and the daemon exits, never serving old code. SIGTERM or SIGINT stops the
daemon; the socket goes with it (a SIGKILLed daemon's socket refuses connections, which
the client takes as "no daemon"; the next daemon replaces it). daemon.sock.lock, flocked
for the daemon's life, keeps a root to one daemon.
"""

from __future__ import annotations

import fcntl
import gc
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from isobench.client import EXIT, KILL, REFUSED, STALE, socket_path
from isobench.verbs import SERVED_MODULE
from runtime.errors import Conflict, IsobenchError

# The packages whose source a served request runs: a newer file than the daemon's import
# makes it stale.
PACKAGES = ("isobench", "runtime", "vm", "bench", "results", "reports")
HEADER_BYTES = 4
MAX_FDS = 3
TAKEN = b"1"  # spare -> daemon: I have a request, fork the next one
Request = tuple[list[str], dict[str, str], str, int]  # argv, env, cwd, umask


def parse_request(body: bytes) -> Request:
    """The client's fields back: (argv, env, cwd, umask)."""
    fields = body.decode("utf-8", "surrogateescape").split("\0")
    n_argv, n_env, cwd, mask = int(fields[0]), int(fields[1]), fields[2], int(fields[3], 8)
    argv = fields[4:4 + n_argv]
    env = dict(item.split("=", 1) for item in fields[4 + n_argv:4 + n_argv + n_env])
    return argv, env, cwd, mask


def loaded_sources() -> dict[str, int]:
    """The .py files of our packages this process has imported, with their mtimes (ns)."""
    roots = {str(Path(__file__).resolve().parents[1] / p) + os.sep for p in PACKAGES}
    found: dict[str, int] = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path.endswith(".py") and any(path.startswith(r) for r in roots):
            try:
                found[path] = os.stat(path).st_mtime_ns
            except OSError:
                found[path] = -1
    return found


def changed(sources: dict[str, int]) -> str | None:
    """The first file whose mtime is no longer the one imported; None if none."""
    for path, mtime in sources.items():
        try:
            now = os.stat(path).st_mtime_ns
        except OSError:
            now = -1
        if now != mtime:
            return path
    return None


def _recv_request(conn: socket.socket) -> tuple[bytes, list[int]]:
    fds: list[int] = []
    msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(MAX_FDS * 4))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += [int.from_bytes(payload[i:i + 4], sys.byteorder, signed=True)
                    for i in range(0, len(payload) - len(payload) % 4, 4)]
    data = msg
    while len(data) < HEADER_BYTES or len(data) < HEADER_BYTES + int.from_bytes(
            data[:HEADER_BYTES], "little"):
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("the client went away mid-request")
        data += chunk
    return data[HEADER_BYTES:], fds


def _relay_signals(conn: socket.socket) -> None:
    """In the served child: each b"K" + signal number from the client is raised here, as if
    the client's terminal or a kill had reached this process. The client gone (EOF: killed)
    changes nothing, as a killed CLI changes nothing for its container. This thread blocks
    them all: the kernel then hands each to the main thread, whose mask decides when (the
    launcher's attach blocks them until it forwards them)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    pending = b""
    while True:
        try:
            chunk = conn.recv(64)
        except OSError:
            chunk = b""
        if not chunk:
            return
        pending += chunk
        while len(pending) >= 5:
            if pending[:1] == KILL:
                os.kill(os.getpid(), int.from_bytes(pending[1:5], "little", signed=True))
            pending = pending[5:]


def _child(conn: socket.socket, request: Request, fds: list[int]) -> None:
    """In the fork: become the client's process (stdio, cwd, env, umask), run the CLI,
    answer with its exit code."""
    code = 125
    try:
        os.setsid()
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)  # the daemon's handlers are not the CLI's
        signal.signal(signal.SIGINT, signal.default_int_handler)
        argv, env, cwd, mask = request
        for target, fd in enumerate(fds[:MAX_FDS]):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        os.chdir(cwd)
        os.umask(mask)
        os.environ.clear()
        os.environ.update(env)
        sys.argv = ["isobench", *argv]
        threading.Thread(target=_relay_signals, args=(conn,), daemon=True).start()
        from isobench.cli import main

        code = main(argv)
    except KeyboardInterrupt:
        code = 130
    except SystemExit as e:  # argparse's --help and the like: what the interpreter would do
        if isinstance(e.code, int) or e.code is None:
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001 - a bug: the traceback the CLI would have shown
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:
            pass  # the reader went away
        try:
            conn.sendall(EXIT + int(code).to_bytes(4, "little", signed=True))
        finally:
            os._exit(code)


def _peer(conn: socket.socket) -> tuple[int, int]:
    """The client's (pid, uid), as the kernel saw them at connect (SO_PEERCRED)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return int.from_bytes(creds[:4], sys.byteorder), int.from_bytes(creds[4:8], sys.byteorder)


def _bind(path: str) -> tuple[socket.socket, int]:
    """Listen at `path`, holding `path`.lock (flock) for the daemon's life: a second daemon
    of the root is a Conflict, even one starting at the same moment; a dead one's socket is
    replaced. Returns the listener and the lock's descriptor."""
    lock = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        raise Conflict(f"a daemon already serves {path}", 1) from None
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        listener.bind(tmp)
        os.chmod(tmp, 0o600)
        os.rename(tmp, path)  # a client may connect once the name exists
    except OSError as e:
        listener.close()
        os.close(lock)
        try:
            os.unlink(tmp)
        except OSError:
            pass  # never bound
        raise IsobenchError(f"cannot listen at {path}: {e.strerror or e}") from None
    listener.listen(64)
    return listener, lock


def serve(log: int = 2) -> int:
    """Import what the container verbs need, listen, and serve until SIGTERM or SIGINT; one
    line per request on `log`. A spare fork always waits in accept() with its pages already
    touched: a request never waits for a fork of this process or its copy-on-write faults
    (the prototype's figures, s6: 1.83 -> 1.61 x runc for `run --rm`)."""
    import isobench.cli
    import isobench.commands.containers  # noqa: F401 - what the served verbs import
    from runtime.fsutil import state_root
    from runtime.private import forget_checks, secure_state

    root = state_root()
    secure_state(root)  # the root exists, private, before the socket goes into it
    forget_checks()  # each served request checks the root again, as a CLI run does
    isobench.cli.warm((SERVED_MODULE,))  # and argparse's lazy imports (gettext...)
    sources = loaded_sources()
    path = socket_path(os.environ)
    listener, lock = _bind(path)
    mine, daemon = os.stat(path).st_ino, os.getpid()

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the served children
    gc.freeze()  # the warm heap is shared with every child: keep gc off those pages
    _say(log, f"serving {path} (pid {daemon}, {len(sources)} source files)")
    taken_r, taken_w = os.pipe()
    spare = 0
    try:
        while True:
            spare = os.fork()
            if spare == 0:
                os.close(taken_r)
                os.close(lock)  # the daemon's alone: a served run must not keep it held
                _spare(listener, taken_w, daemon, sources, log)
            if os.read(taken_r, 1) != TAKEN:  # stale (the spare said so), or it died
                return 0
    finally:
        if os.getpid() == daemon:
            if spare > 0:
                try:
                    os.kill(spare, signal.SIGKILL)  # waiting in accept(): it has nobody
                except ProcessLookupError:
                    pass
            try:
                if os.stat(path).st_ino == mine:
                    os.unlink(path)
            except OSError:
                pass
            listener.close()
            os.close(lock)


def _say(log: int, line: str) -> None:
    os.write(log, f"isobench daemon: {line}\n".encode())


def _spare(listener: socket.socket, taken_w: int, daemon: int, sources: dict[str, int],
           log: int) -> None:
    """The next request's process: die with the daemon, touch the inherited heap now (a
    full collection writes every tracked object's header: the copy-on-write faults come
    before a request, not during it), take one connection the daemon's uid made, tell the
    daemon (which forks the next spare), and serve it."""
    from runtime.syscalls import PR_SET_PDEATHSIG, LinuxSyscalls

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    LinuxSyscalls().prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != daemon:  # it died before the line above
        os._exit(0)
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    while True:
        conn, _ = listener.accept()
        peer, uid = _peer(conn)
        if uid != os.geteuid():
            _say(log, f"refused uid {uid} (pid {peer})")
            conn.sendall(REFUSED)
            conn.close()
            continue
        stale = changed(sources)
        if stale is not None:
            conn.sendall(STALE)
            _say(log, f"{stale} changed since the start: exiting, restart me")
            os.write(taken_w, STALE)
            os._exit(0)
        fds: list[int] = []
        try:
            body, fds = _recv_request(conn)
            request = parse_request(body)
        except (OSError, ValueError, IndexError) as e:
            _say(log, f"a bad request from pid {peer}: {e}")
            for fd in fds:
                os.close(fd)
            conn.close()
            continue
        break
    os.write(taken_w, TAKEN)
    os.close(taken_w)
    listener.close()
    _say(log, f"served {request[0][:1]} in pid {os.getpid()} for pid {peer}")
    _child(conn, request, fds)


def _peer(conn: socket.socket) -> tuple[int, int]:
    """The client's (pid, uid), as the kernel saw them at connect (SO_PEERCRED)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return int.from_bytes(creds[:4], sys.byteorder), int.from_bytes(creds[4:8], sys.byteorder)
