"""Between fork and exec (runtime.init) and the monitor's plumbing (runtime.launcher).

exec_command is only called in-process for commands that cannot be exec'd, so the test
process is never replaced; anything that may exec runs in a forked child.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtime import init, launcher, security
from runtime.errors import EXIT_CANNOT_EXEC, EXIT_NOT_FOUND, EXIT_RUNTIME
from runtime.image.store import DEFAULT_PATH
from runtime.init import ExecFailure, ProcessSpec, exec_command
from runtime.launcher import LogWriter, exit_code_of, relay
from runtime.syscalls import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWUTS,
    PR_CAPBSET_DROP,
    PR_SET_NO_NEW_PRIVS,
    RecordingSyscalls,
)

# --- helpers ---


def _in_child(body: Callable[[], object]) -> int:
    """Run `body` in a forked child; return its Docker-style exit code."""
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            body()
        except BaseException:  # noqa: BLE001 - never unwind into pytest in the child
            code = 98
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return exit_code_of(status)


def _guarded_in_child(body: Callable[[], object]) -> tuple[int, str]:
    """Run init.guarded(body) in a forked child: (exit code, what it wrote to the error pipe)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            init.guarded(w, body)
        finally:
            os._exit(99)  # guarded never returns; if it did, say so
    os.close(w)
    message = launcher.read_all(r).decode()
    _, status = os.waitpid(pid, 0)
    return exit_code_of(status), message


def _exec_failure(argv: list[str], env: dict[str, str]) -> ExecFailure:
    with pytest.raises(ExecFailure) as info:
        exec_command(argv, env)
    return info.value


# --- exec_command: Docker's codes and messages ---


def test_missing_command_is_127_not_found_in_path(tmp_path: Path) -> None:
    e = _exec_failure(["isobench-no-such-cmd"], {"PATH": str(tmp_path)})
    assert e.code == EXIT_NOT_FOUND == 127
    assert str(e) == 'exec: "isobench-no-such-cmd": executable file not found in $PATH'


def test_search_covers_every_path_entry(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (b / "tool").write_text("not executable")
    # Found (but not executable) in the second entry: 126, not 127.
    e = _exec_failure(["tool"], {"PATH": f"{a}:{b}"})
    assert e.code == EXIT_CANNOT_EXEC


def test_non_executable_file_in_path_is_126_permission_denied(tmp_path: Path) -> None:
    (tmp_path / "script").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "script").chmod(0o644)
    e = _exec_failure(["script"], {"PATH": str(tmp_path)})
    assert e.code == EXIT_CANNOT_EXEC == 126
    assert str(e) == 'exec: "script": permission denied'


def test_directory_in_path_is_126_permission_denied(tmp_path: Path) -> None:
    (tmp_path / "subdir").mkdir()
    e = _exec_failure(["subdir"], {"PATH": str(tmp_path)})
    assert (e.code, str(e)) == (126, 'exec: "subdir": permission denied')


def test_path_entry_that_is_a_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "plainfile").write_text("")
    e = _exec_failure(["x"], {"PATH": str(tmp_path / "plainfile")})  # ENOTDIR
    assert e.code == 127


def test_non_executable_path_with_slash_is_126(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("hello")
    path.chmod(0o644)
    e = _exec_failure([str(path)], {"PATH": str(tmp_path)})
    assert (e.code, str(e)) == (126, f'exec: "{path}": permission denied')


def test_missing_path_with_slash_is_127_stat_message(tmp_path: Path) -> None:
    path = str(tmp_path / "nope" / "cmd")
    e = _exec_failure([path], {"PATH": str(tmp_path)})
    assert e.code == 127
    assert str(e) == f'exec: "{path}": stat {path}: no such file or directory'


def test_relative_path_with_slash_is_not_searched_in_path(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    e = _exec_failure(["bin/nothing"], {"PATH": str(tmp_path)})
    assert str(e) == 'exec: "bin/nothing": stat bin/nothing: no such file or directory'


def test_executable_without_interpreter_is_126_exec_format_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage"
    path.write_bytes(b"\x00\x01\x02 not an ELF and no #!")
    path.chmod(0o755)
    e = _exec_failure([str(path)], {"PATH": str(tmp_path)})
    assert e.code == 126
    assert str(e) == f'exec: "{path}": exec format error'


def test_missing_path_variable_falls_back_to_default_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tried: list[str] = []

    def fake_execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        tried.append(path)
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)

    monkeypatch.setattr(init.os, "execve", fake_execve)
    e = _exec_failure(["x"], {})
    assert e.code == 127
    assert tried == [f"{d}/x" for d in DEFAULT_PATH.split(":")]


def test_search_skips_a_non_executable_and_execs_the_next_match(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "tool").write_text("#!/bin/sh\nexit 1\n")
    (first / "tool").chmod(0o644)
    (second / "tool").write_text("#!/bin/sh\nexit 7\n")
    (second / "tool").chmod(0o755)
    code = _in_child(lambda: exec_command(["tool"], {"PATH": f"{first}:{second}"}))
    assert code == 7


# --- guarded / fail: the error-pipe protocol, in a real forked child ---


def test_guarded_reports_exec_failure_code_and_message() -> None:
    def body() -> None:
        raise ExecFailure(126, "m")

    assert _guarded_in_child(body) == (126, "126\tm")


def test_guarded_reports_a_real_exec_failure(tmp_path: Path) -> None:
    code, message = _guarded_in_child(lambda: exec_command(["nope"], {"PATH": str(tmp_path)}))
    assert code == 127
    assert message == '127\texec: "nope": executable file not found in $PATH'


def test_guarded_reports_oserror_with_its_path() -> None:
    def body() -> None:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/sys/fs/cgroup/x")

    code, message = _guarded_in_child(body)
    assert code == EXIT_RUNTIME == 125
    assert message == "125\tcontainer init: /sys/fs/cgroup/x: No such file or directory"


def test_guarded_reports_any_other_exception() -> None:
    def body() -> None:
        raise RuntimeError("boom")

    assert _guarded_in_child(body) == (125, "125\tcontainer init: RuntimeError: boom")


def test_guarded_body_that_returns_is_a_failure() -> None:
    assert _guarded_in_child(lambda: None) == (125, "125\tcontainer init returned without exec")


def test_guarded_successful_exec_leaves_the_pipe_empty(tmp_path: Path) -> None:
    # The error pipe is close-on-exec (os.pipe's default): EOF means the exec happened.
    script = tmp_path / "ok"
    script.write_text("#!/bin/sh\nexit 3\n")
    script.chmod(0o755)
    assert _guarded_in_child(lambda: exec_command([str(script)], {})) == (3, "")


# --- become: identity, capabilities and workdir, then exec ---

PASSWD = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"
GROUP = "root:x:0:\nalice:x:1000:\nwheel:x:10:alice\n"


@pytest.fixture
def container_files(monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"/etc/passwd": PASSWD, "/etc/group": GROUP}
    monkeypatch.setattr(init, "_read", lambda path: files.get(path, ""))
    monkeypatch.setattr(security, "last_capability", lambda: 40)


@pytest.fixture
def exec_seen(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], dict[str, str]]]:
    seen: list[tuple[list[str], dict[str, str]]] = []

    def fake_exec(argv: list[str], env: dict[str, str]) -> None:
        seen.append((argv, env))
        raise ExecFailure(127, "stopped before exec")

    monkeypatch.setattr(init, "exec_command", fake_exec)
    return seen


def _become(spec: ProcessSpec, sc: RecordingSyscalls) -> ExecFailure:
    with pytest.raises(ExecFailure) as info:
        init.become(sc, spec, "myhost")
    return info.value


@pytest.mark.usefixtures("container_files")
def test_become_as_root_drops_sets_identity_caps_nnp_then_chdirs(
    tmp_path: Path, exec_seen: list[Any],
) -> None:
    sc = RecordingSyscalls()
    mask = security.capability_mask(security.DEFAULT_CAPABILITIES)
    spec = ProcessSpec(argv=["sh"], env=[], workdir=str(tmp_path / "wd"))
    _become(spec, sc)
    drops = [c for c in sc.calls if c[:2] == ("prctl", PR_CAPBSET_DROP)]
    assert len(drops) == 27
    rest = sc.calls[len(drops):]
    assert [c[0] for c in rest] == ["prctl", "set_identity", "capset", "prctl", "chdir"]
    assert rest[1] == ("set_identity", 0, 0, [0])
    assert rest[2] == ("capset", mask, mask, 0)
    assert rest[3] == ("prctl", PR_SET_NO_NEW_PRIVS, 1)
    assert rest[4] == ("chdir", str(tmp_path / "wd"))
    assert (tmp_path / "wd").is_dir()  # Docker creates a missing working directory
    assert exec_seen == [(["sh"], {"PATH": DEFAULT_PATH, "HOSTNAME": "myhost", "HOME": "/root"})]


@pytest.mark.usefixtures("container_files")
def test_become_as_a_user_gets_no_capabilities(tmp_path: Path, exec_seen: list[Any]) -> None:
    sc = RecordingSyscalls()
    spec = ProcessSpec(argv=["id"], env=["PATH=/bin", "HOME=/custom", "FOO=a=b", "JUNK"],
                       workdir=str(tmp_path), user="alice")
    _become(spec, sc)
    assert ("set_identity", 1000, 1000, [1000, 10]) in sc.calls
    assert "capset" not in sc.names()
    # The image/--env values win over the defaults; malformed entries are dropped.
    assert exec_seen[0][1] == {"PATH": "/bin", "HOME": "/custom", "FOO": "a=b",
                               "HOSTNAME": "myhost"}


@pytest.mark.usefixtures("container_files")
def test_become_without_no_new_privs(tmp_path: Path, exec_seen: list[Any]) -> None:
    sc = RecordingSyscalls()
    _become(ProcessSpec(argv=["sh"], env=[], workdir=str(tmp_path), no_new_privs=False), sc)
    assert ("prctl", PR_SET_NO_NEW_PRIVS, 1) not in sc.calls
    assert exec_seen


@pytest.mark.usefixtures("container_files")
def test_become_unknown_user_is_125_before_any_privileged_call(exec_seen: list[Any]) -> None:
    sc = RecordingSyscalls()
    e = _become(ProcessSpec(argv=["sh"], env=[], user="mallory"), sc)
    assert e.code == 125
    assert str(e) == "unable to find user mallory: no matching entries in passwd file"
    assert sc.calls == []
    assert exec_seen == []


@pytest.mark.usefixtures("container_files")
def test_become_chdir_failure_is_125(tmp_path: Path, exec_seen: list[Any]) -> None:
    sc = RecordingSyscalls(fail={"chdir": errno.EACCES})
    e = _become(ProcessSpec(argv=["sh"], env=[], workdir=str(tmp_path)), sc)
    assert e.code == 125
    assert str(e) == f"chdir to cwd ({str(tmp_path)!r}): {os.strerror(errno.EACCES)}"
    assert exec_seen == []


@pytest.mark.usefixtures("container_files")
def test_become_with_a_real_missing_command_is_127(tmp_path: Path) -> None:
    sc = RecordingSyscalls()
    spec = ProcessSpec(argv=["nope"], env=[f"PATH={tmp_path}"], workdir=str(tmp_path))
    e = _become(spec, sc)
    assert (e.code, str(e)) == (127, 'exec: "nope": executable file not found in $PATH')


def test_unshare_flags_add_a_network_namespace_unless_host() -> None:
    base = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP
    plan = init.rootfs.RootfsPlan(target="/t", lower=["/l"], upper="/u", work="/w")
    spec = init.InitSpec(process=ProcessSpec(argv=["sh"], env=[]), rootfs=plan, hostname="h")
    assert spec.unshare_flags() == base | CLONE_NEWNET
    spec.network = "host"
    assert spec.unshare_flags() == base


# --- launcher.exit_code_of with real children ---


def test_exit_code_of_a_normal_exit() -> None:
    assert _in_child(lambda: os._exit(3)) == 3


def test_exit_code_of_zero() -> None:
    assert _in_child(lambda: os._exit(0)) == 0


def test_exit_code_of_sigkill_is_137() -> None:
    assert _in_child(lambda: os.kill(os.getpid(), signal.SIGKILL)) == 137


def test_exit_code_of_sigterm_is_143() -> None:
    assert _in_child(lambda: os.kill(os.getpid(), signal.SIGTERM)) == 143


# --- LogWriter + relay with real pipes ---


def _log_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def _stream(lines: list[dict[str, Any]], name: str) -> bytes:
    return b"".join(x["log"].encode("utf-8", "surrogateescape")
                    for x in lines if x["stream"] == name)


def test_relay_logs_both_streams_tagged_and_echoes_them(tmp_path: Path) -> None:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    echo_out = os.open(tmp_path / "echo.out", os.O_WRONLY | os.O_CREAT, 0o600)
    echo_err = os.open(tmp_path / "echo.err", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(out_w, b"hello stdout\n")
    os.write(err_w, b"oops stderr\n")
    os.write(out_w, b"more\n")
    os.close(out_w)
    os.close(err_w)
    log = LogWriter(str(tmp_path / "ctr-json.log"))
    relay({out_r: ("stdout", echo_out), err_r: ("stderr", echo_err)}, log)
    log.close()
    os.close(echo_out)
    os.close(echo_err)

    lines = _log_lines(tmp_path / "ctr-json.log")
    assert {x["stream"] for x in lines} == {"stdout", "stderr"}
    assert all(set(x) == {"log", "stream", "time"} and isinstance(x["time"], float)
               for x in lines)
    assert _stream(lines, "stdout") == b"hello stdout\nmore\n"
    assert _stream(lines, "stderr") == b"oops stderr\n"
    assert (tmp_path / "echo.out").read_bytes() == b"hello stdout\nmore\n"
    assert (tmp_path / "echo.err").read_bytes() == b"oops stderr\n"
    # relay closed both read ends at EOF.
    for fd in (out_r, err_r):
        with pytest.raises(OSError):
            os.fstat(fd)


def test_relay_without_echo_only_logs(tmp_path: Path) -> None:
    r, w = os.pipe()
    os.write(w, b"quiet")
    os.close(w)
    log = LogWriter(str(tmp_path / "log"))
    relay({r: ("stdout", None)}, log)
    log.close()
    assert _stream(_log_lines(tmp_path / "log"), "stdout") == b"quiet"


def test_non_utf8_bytes_round_trip_through_the_log(tmp_path: Path) -> None:
    payload = b"bin\xff\xfe\x80 caf\xc3\xa9 \xc3\n\x00end"
    r, w = os.pipe()
    os.write(w, payload)
    os.close(w)
    log = LogWriter(str(tmp_path / "log"))
    relay({r: ("stderr", None)}, log)
    log.close()
    raw = (tmp_path / "log").read_bytes()
    assert raw.count(b"\n") == len(_log_lines(tmp_path / "log"))  # one JSON object a line
    assert _stream(_log_lines(tmp_path / "log"), "stderr") == payload


def test_log_writer_appends(tmp_path: Path) -> None:
    path = tmp_path / "log"
    for text in (b"first", b"second"):
        log = LogWriter(str(path))
        log.write("stdout", text)
        log.close()
    assert [x["log"] for x in _log_lines(path)] == ["first", "second"]


def test_relay_keeps_logging_after_the_echo_target_goes_away(tmp_path: Path) -> None:
    data = os.urandom(200_000)
    r, w = os.pipe()
    echo_r, echo_w = os.pipe()
    os.close(echo_r)  # the terminal went away: writes to echo_w fail with EPIPE

    def produce() -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(w, view):]
        os.close(w)

    writer = threading.Thread(target=produce)
    writer.start()
    log = LogWriter(str(tmp_path / "log"))
    try:
        relay({r: ("stdout", echo_w)}, log)
    except BaseException:
        os.close(r)  # unblock the writer before reporting
        raise
    finally:
        writer.join()
        log.close()
        os.close(echo_w)
    assert _stream(_log_lines(tmp_path / "log"), "stdout") == data
