"""Prototype, not a verb (issue 18, s6): a resident server that has imported what
`isobench run` needs; each request from the tiny client bench/tools/forkclient.py (argv,
env, cwd, and its stdio descriptors by SCM_RIGHTS over a unix socket) is served by a fork
of the warm server, which runs the CLI's own `main(argv)` and sends the exit code back.

    python -m isobench.forkserver SOCKET [--warm-run]

Measured by bench/tools/forkserver.py; not wired into the CLI: no tty or job control (the
child is not in the client's session or process group: ^C/^Z/SIGWINCH do not reach it
unless the client forwards them), no authentication beyond the socket's mode 0600, no
lifecycle (start on demand, upgrade on a code change, gc of a dead server's socket).
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import socket
import sys
from collections.abc import Sequence

PING = "__ping__"  # the child answers 0 at once: the model's own round trip
WARM_RUN = ["run", "--rm", "--network", "none", "busybox", "true"]


def parse_request(body: bytes) -> tuple[list[str], dict[str, str], str]:
    """forkclient's fields back: (argv, env, cwd)."""
    fields = body.decode("utf-8", "surrogateescape").split("\0")
    n_argv, n_env, cwd = int(fields[0]), int(fields[1]), fields[2]
    argv = fields[3:3 + n_argv]
    env = dict(item.split("=", 1) for item in fields[3 + n_argv:3 + n_argv + n_env])
    return argv, env, cwd


def _recv_request(conn: socket.socket) -> tuple[bytes, list[int]]:
    data, fds = b"", []
    msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(3 * 4))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += [int.from_bytes(payload[i:i + 4], sys.byteorder, signed=True)
                    for i in range(0, len(payload) - len(payload) % 4, 4)]
    data = msg
    while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "little"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data[4:], fds


def _child(conn: socket.socket, body: bytes, fds: list[int]) -> None:
    """In the fork: become the client's process (stdio, cwd, env), run the CLI, answer."""
    code = 125
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the server auto-reaps; the CLI waits
        argv, env, cwd = parse_request(body)
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        if argv == [PING]:
            code = 0
        else:
            from isobench.cli import main

            code = main(argv)
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        try:
            conn.sendall(int(code).to_bytes(4, "little", signed=True))
        finally:
            os._exit(code)


def _spare(listener: socket.socket, accepted_w: int) -> None:
    """A pre-forked child: touch the inherited heap now (a full collection writes every
    tracked object's header, so the copy-on-write faults are taken before a request, not
    during it), then serve the next connection; tell the server when it has one."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    conn, _ = listener.accept()
    os.write(accepted_w, b"1")
    os.close(accepted_w)
    listener.close()
    body, fds = _recv_request(conn)
    _child(conn, body, fds)


def _serve_preforked(listener: socket.socket) -> None:
    """One spare child always waits in accept(); when it takes a connection the server
    forks the next. The request never waits for a fork of the big process."""
    accepted_r, accepted_w = os.pipe()
    while True:
        if os.fork() == 0:
            os.close(accepted_r)
            _spare(listener, accepted_w)
        os.read(accepted_r, 1)


def serve(path: str, warm_run: bool = False, prefork: bool = False) -> None:
    """Import what `run` needs, then fork a child per connection until killed (or keep a
    pre-forked spare child waiting for the next one)."""
    import isobench.cli
    import isobench.commands.containers  # noqa: F401 - warm: what `isobench run` imports

    isobench.cli.build_parser(("containers",))  # and argparse's lazy imports (gettext...)
    if warm_run:
        saved = os.dup(1)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        try:
            if isobench.cli.main(WARM_RUN) != 0:
                raise SystemExit("forkserver: the warm-up run failed")
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(null)
    gc.freeze()  # the warm heap is shared with every child: keep gc off those pages
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    os.chmod(path + ".tmp", 0o600)
    os.rename(path + ".tmp", path)  # the client may connect once the name exists
    listener.listen(64)
    if prefork:
        _serve_preforked(listener)
    while True:
        conn, _ = listener.accept()
        body, fds = _recv_request(conn)
        if os.fork() == 0:
            listener.close()
            _child(conn, body, fds)
        conn.close()
        for fd in fds:
            os.close(fd)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m isobench.forkserver")
    parser.add_argument("socket")
    parser.add_argument("--prefork", action="store_true",
                        help="keep one spare child waiting in accept(), its pages touched")
    parser.add_argument("--warm-run", action="store_true",
                        help="run one `run --rm --network none busybox true` before listening")
    args = parser.parse_args(argv)
    serve(args.socket, args.warm_run, args.prefork)
    return 0


if __name__ == "__main__":
    sys.exit(main())
