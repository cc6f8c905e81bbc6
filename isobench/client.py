"""`isobench`'s entry point: a container verb goes to `isobench daemon` when one serves this
state root (Docker's model: a thin CLI, a warm daemon), else the CLI runs here.

The daemon is found at $ISOBENCH_ROOT/daemon.sock. This client sends argv, the environment,
the cwd and the umask, with its stdin/stdout/stderr descriptors (SCM_RIGHTS), forwards the
signals a CLI gets (^C, a kill, a hang-up, a resize) and exits with the code the daemon's
child sends back. It imports only the interpreter's built-in modules (_socket and _signal
are C modules: socket.py and signal.py build enums, ~5 ms), so a served `run` pays the
interpreter's start and nothing else of the CLI's ~90 ms of imports (measured: bench.tools.
startup, methods cli and cli-direct).

ISOBENCH_DAEMON=0 runs every verb here, daemon or not. Anything that keeps a request from
being served (no daemon, a dead one's socket, a refusal, a daemon whose code is older than
the files) runs it here as well, so the daemon only ever makes a verb faster.

Wire (the daemon's parse_request reads it): u32 little-endian length, then NUL-separated
fields: argc, envc, cwd, umask (octal), argv..., env...; then, client to daemon, b"K" + i32
signal number per forwarded signal; daemon to client, b"X" + i32 exit code, or one byte:
b"S" (stale: run it yourself), b"R" (refused: run it yourself).
"""

from __future__ import annotations

import _signal
import _socket
import os
import sys

from isobench.verbs import SERVED, verb_of

DEFAULT_ROOT = "/var/lib/isobench"  # runtime.fsutil.DEFAULT_ROOT (a unit test keeps them equal)
SOCKET_NAME = "daemon.sock"
FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT,
             _signal.SIGUSR1, _signal.SIGUSR2, _signal.SIGWINCH)
EXIT, STALE, REFUSED, KILL = b"X", b"S", b"R", b"K"
NO_CODE = 125


def socket_path(env: dict[str, str] | os._Environ[str]) -> str:
    return os.path.join(env.get("ISOBENCH_ROOT") or DEFAULT_ROOT, SOCKET_NAME)


def request(argv: list[str]) -> bytes:
    """argv, env, cwd and umask as NUL-separated fields: counts first, then the strings."""
    env = [f"{k}={v}" for k, v in os.environ.items()]
    mask = os.umask(0)
    os.umask(mask)
    fields = [str(len(argv)), str(len(env)), os.getcwd(), f"{mask:o}", *argv, *env]
    body = "\0".join(fields).encode("utf-8", "surrogateescape")
    return len(body).to_bytes(4, "little") + body


def served(argv: list[str]) -> int | None:
    """The exit code of argv run by the daemon; None when it was not (run it here)."""
    if os.environ.get("ISOBENCH_DAEMON") == "0" or verb_of(argv) not in SERVED:
        return None
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(socket_path(os.environ))
        fds = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in (0, 1, 2))
        sock.sendmsg([request(argv)], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    except OSError:  # no daemon, a dead one's socket, a closed stdin: run it here
        sock.close()
        return None
    forwarded: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        forwarded.append(signum)
        try:
            sock.send(KILL + signum.to_bytes(4, "little", signed=True))
        except OSError:
            pass  # the child is gone: its code (or its end) is on the way

    for signum in FORWARDED:
        _signal.signal(signum, forward)
    reply = b""
    while len(reply) < 5 and reply[:1] not in (STALE, REFUSED):
        try:
            chunk = sock.recv(5 - len(reply))
        except OSError:
            chunk = b""
        if not chunk:
            break
        reply += chunk
    for signum in FORWARDED:
        _signal.signal(signum, _signal.SIG_DFL)
    if reply[:1] in (STALE, REFUSED) and not forwarded:
        return None
    if reply[:1] == EXIT and len(reply) == 5:
        return int.from_bytes(reply[1:], "little", signed=True)
    if forwarded:  # the child ended by the signal it was sent: so does the client
        os.kill(os.getpid(), forwarded[-1])
    os.write(2, b"isobench: the daemon's worker ended without an exit code\n")
    return NO_CODE


def entry() -> None:
    code = served(sys.argv[1:])
    if code is None:
        from isobench.cli import entry as run_here

        run_here()
    os._exit(code)


if __name__ == "__main__":
    entry()
