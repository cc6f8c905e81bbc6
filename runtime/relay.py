"""The container's output relay, and the small monitor it runs as once PID 1 is running.

The monitor forks PID 1 with the whole runtime imported; a monitor that kept that
interpreter for the container's life would own every page of it once a CLI caller exits
(11.4 MiB PSS per idle `run -d` container, measured). So, as conmon does for CRI-O, once
the command is exec'd the monitor execs this file in a bare interpreter
(`python -I -S relay.py ...`): it relays the container's output to the json-file log (and
to the attached terminal), reaps PID 1, and execs the full runtime's teardown with the exit
code. It keeps its pid and start time (the record's monitor) and the record's lock (an
inherited descriptor) through both execs, so `gc`'s rule is unchanged.

Python, not C (measured, 50 idle siblings, mean PSS per process): this relay 2.8 MiB
(4.8 alone), a C loop 0.11 MiB; both under the 5 MiB goal, and Python keeps one relay and
one json-file encoder (the json module's own) for both monitors, where a C one would need
its own JSON and UTF-8 escaping kept byte-identical and a compile step at setup.

This module imports only what a bare interpreter has (os, select, time, _json): nothing of
the runtime, so running it as a script costs no package import.
"""

import os
import select
import sys
import time
from _json import encode_basestring_ascii

TYPE_CHECKING = False  # typing's own flag, without importing typing
if TYPE_CHECKING:
    from typing import Protocol

    class Ticker(Protocol):
        """Work the monitor does between reads of the container's output (health probes)."""

        def timeout(self) -> float: ...
        def tick(self) -> None: ...
        def close(self) -> None: ...

RELAY_FLAGS = "tei"  # mode letters: t a pty, e echo to our stdout/stderr, i our stdin to it
EXIT_CODE_FILE = "exit-code"  # in the record, beside the log: the exit before the teardown


def exit_code_of(status: int) -> int:
    """Docker's convention: a signal N becomes 128 + N."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class LogWriter:
    """Docker's json-file log driver: one JSON object per chunk, stream-tagged. Written as
    `json.dumps({"log": ..., "stream": ..., "time": time.time()})` writes it, with the json
    module's own string encoder (and float repr), without importing json."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)

    def write(self, stream: str, data: bytes) -> None:
        text = encode_basestring_ascii(data.decode("utf-8", "surrogateescape"))
        line = f'{{"log": {text}, "stream": {encode_basestring_ascii(stream)}, ' \
               f'"time": {time.time()!r}}}\n'
        os.write(self.fd, line.encode("ascii"))

    def close(self) -> None:
        os.close(self.fd)


def relay(streams: dict[int, tuple[str, int | None]], log: LogWriter,
          ticker: "Ticker | None" = None) -> None:
    """Copy each pipe ({fd: (stream name, echo fd or None)}) to the log and, when attached,
    to our own stdout/stderr, until EOF. `ticker` (launcher.Ticker: health probes) is given
    the time between reads."""
    open_fds = dict(streams)
    while open_fds:
        ready, _, _ = select.select(list(open_fds), [], [],
                                    None if ticker is None else max(0.0, ticker.timeout()))
        if ticker is not None:
            ticker.tick()
        for fd in ready:
            data = os.read(fd, 65536)
            name, echo = open_fds[fd]
            if not data:
                os.close(fd)
                del open_fds[fd]
                continue
            log.write(name, data)
            if echo is not None:
                try:
                    os.write(echo, data)
                except OSError:
                    open_fds[fd] = (name, None)  # the terminal went away; keep logging


def relay_tty(master: int, log: LogWriter, echo: int | None, stdin: int | None) -> None:
    """`run -t`: the container's terminal is a pty whose slave is its stdin, stdout and
    stderr (one stream, as in Docker). Copy the master to the log and, attached, to our
    stdout; with -i copy our stdin to the master. The master reads EIO once the last holder
    of the slave has gone: that is the end."""
    inputs = [master] + ([stdin] if stdin is not None else [])
    while True:
        ready, _, _ = select.select(inputs, [], [])
        if stdin is not None and stdin in ready:
            data = os.read(stdin, 65536)
            if data:
                os.write(master, data)
            else:  # our stdin closed: the terminal sends end-of-file, as a typed ^D would
                os.write(master, b"\x04")
                inputs.remove(stdin)
                stdin = None
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the slave's last holder closed it
                data = b""
            if not data:
                os.close(master)
                return
            log.write("stdout", data)
            if echo is not None:
                try:
                    os.write(echo, data)
                except OSError:
                    echo = None  # the terminal went away; keep logging


def command(executable: str, log_path: str, pid: int, out_r: int, err_r: int, mode: str,
            then: list[str], exit_w: int = -1) -> list[str]:
    """The argv that runs this file as the monitor: relay, reap `pid`, report the exit on
    `exit_w` (when >= 0), then exec `then` with the exit code appended."""
    return [executable, "-I", "-S", __file__, log_path, str(pid), str(out_r), str(err_r),
            mode, str(exit_w), "--", *then]


def report_exit(log_path: str, code: int, exit_w: int) -> None:
    """The exit is known: tell a caller waiting on `exit_w` (it returns now: `run --rm`),
    leave its terminal (stdio to /dev/null: the teardown that follows must not hold its
    pipes open or write after its prompt), and write the code beside the log, where
    `wait` and `inspect` find it while the teardown runs (Docker's "removing")."""
    if exit_w >= 0:
        try:
            os.write(exit_w, str(code).encode())
        except OSError:  # the caller is gone: nobody to tell
            pass
        os.close(exit_w)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
    try:
        fd = os.open(os.path.join(os.path.dirname(log_path), EXIT_CODE_FILE),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    except OSError:  # the record is gone (rm of a crashed start): the teardown copes
        return
    os.write(fd, str(code).encode())
    os.close(fd)


def exited_at(record_dir: str) -> float | None:
    """When the exit was reported (report_exit wrote the code then): None where it was not."""
    try:
        return os.stat(os.path.join(record_dir, EXIT_CODE_FILE)).st_mtime
    except OSError:
        return None


def own_cpu_s() -> float:
    """This process's CPU time since its fork, through its execs (the monitor's relay and
    teardown are one process): what the container cost outside its cgroup."""
    t = os.times()
    return t.user + t.system


# The package's parent, put first on the teardown's sys.path: the very code that started
# the container tears it down, whatever the working directory or the installed copy.
_HOME = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from runtime import teardown; teardown.main(sys.argv[2:])")


def teardown_command(root: str, cid: str) -> list[str]:
    """The argv of runtime/teardown.py that the relay execs (it appends the exit code).
    -P: no working directory on sys.path (a `runtime` folder there must not shadow ours)."""
    return [sys.executable, "-P", "-c", _BOOT, _HOME, root, cid]


def main(argv: list[str]) -> None:
    """The small monitor (see the module docstring); argv as `command` makes it."""
    try:
        _relay_then_exec(*argv)
    except BaseException as e:  # noqa: BLE001 - the monitor's rule: one line, code 125
        os.write(2, f"isobench: container monitor: {type(e).__name__}: {e}\n".encode())
        os._exit(125)


def _relay_then_exec(log_path: str, pid: str, out_r: str, err_r: str, mode: str,
                     exit_w: str, _sep: str, *then: str) -> None:
    log = LogWriter(log_path)
    echo = "e" in mode
    if "t" in mode:  # the pty's master is the one stream
        os.close(int(err_r))
        relay_tty(int(out_r), log, 1 if echo else None, 0 if "i" in mode else None)
    else:
        relay({int(out_r): ("stdout", 1 if echo else None),
               int(err_r): ("stderr", 2 if echo else None)}, log)
    log.close()
    _, status = os.waitpid(int(pid), 0)
    code = exit_code_of(status)
    report_exit(log_path, code, int(exit_w))
    try:
        os.execv(then[0], [*then, str(code)])
    except OSError as e:  # nobody tears down: the lock goes with us, so `gc` will
        raise OSError(e.errno, f"teardown: {e.strerror}", then[0]) from None


if __name__ == "__main__":
    main(sys.argv[1:])
