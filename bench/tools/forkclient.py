"""The tiny client of the fork-server prototype (bench/tools/forkserver.py).

    python -I -S bench/tools/forkclient.py SOCKET ARG...

Sends argv, the environment and the cwd, with its stdin/stdout/stderr descriptors
(SCM_RIGHTS), over the server's unix socket, and exits with the code the server's child
sends back. Imports nothing but the interpreter's built-in modules (_socket is a C
module; no socket.py, struct or json), so that `-I -S` keeps its start at the floor.
"""

import _socket
import os
import sys


def request(argv: list[str]) -> bytes:
    """argv, env and cwd as NUL-separated fields: counts first, then the strings."""
    env = [f"{k}={v}" for k, v in os.environ.items()]
    fields = [str(len(argv)), str(len(env)), os.getcwd(), *argv, *env]
    body = "\0".join(fields).encode("utf-8", "surrogateescape")
    return len(body).to_bytes(4, "little") + body


def main() -> int:
    if len(sys.argv) < 2:
        os.write(2, b"usage: forkclient.py SOCKET ARG...\n")
        return 2
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.connect(sys.argv[1])
    fds = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in (0, 1, 2))
    sock.sendmsg([request(sys.argv[2:])], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    reply = b""
    while len(reply) < 4:
        chunk = sock.recv(4 - len(reply))
        if not chunk:  # the child died before answering
            os.write(2, b"forkclient: the server's child ended without an exit code\n")
            return 125
        reply += chunk
    return int.from_bytes(reply, "little", signed=True)


if __name__ == "__main__":
    sys.exit(main())
