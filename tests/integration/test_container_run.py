"""`isobench run` against the real kernel: isolation, limits, exit codes, no leftovers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path

import pytest

from runtime import relay as runtime_relay
from runtime.cgroups.base import parse_flat_keyed
from runtime.cgroups.detect import detect_mode as cgroup_mode
from tests.integration.conftest import CGROUP_ROOT, Cli, Leftovers

pytestmark = pytest.mark.root


def inspect(cli: Cli, ref: str) -> dict:
    return json.loads(cli("inspect", ref, check=True).stdout)[0]


def test_pid_1_is_the_command_and_host_processes_are_invisible(cli: Cli) -> None:
    out = cli("run", "--rm", "busybox", "sh", "-c",
              "echo $$; cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'",
              check=True).stdout.splitlines()
    assert out[0] == "1"
    assert out[1].startswith("sh -c")
    # sh, ls and grep at most: nothing of the host's hundreds of processes
    assert int(out[2]) <= 4


def test_own_hostname_and_only_loopback(cli: Cli) -> None:
    out = cli("run", "--rm", "--network", "none", "busybox", "sh", "-c",
              "hostname; ls /sys/class/net; ip -o link", check=True).stdout.splitlines()
    assert out[0] != socket.gethostname()
    assert len(out[0]) == 12
    assert out[1] == "lo"
    assert "UP" in out[2] and len(out) == 3
    named = cli("run", "--rm", "--hostname", "box1", "busybox", "hostname", check=True)
    assert named.stdout.strip() == "box1"


def test_namespaces_differ_from_the_host_and_mounts_stay_inside(cli: Cli) -> None:
    cid = cli("run", "-d", "busybox", "sleep", "30", check=True).stdout.strip()
    info = inspect(cli, cid)
    for name in ("pid", "mnt", "uts", "ipc", "net", "cgroup"):
        assert info["Namespaces"][name] != os.stat(f"/proc/self/ns/{name}").st_ino, name
    inside = cli("exec", cid, "cat", "/proc/self/mountinfo", check=True).stdout
    assert " / / " in inside and "overlay" in inside
    with open("/proc/self/mountinfo") as f:
        host = f.read()
    # The container's overlay, /proc, /dev... exist only in its own mount namespace.
    assert cid not in host and str(cli.root) not in host


def test_memory_limit_ooms_with_137_and_inspect_says_so(cli: Cli) -> None:
    proc = cli("run", "--name", "oom", "--memory", "32m", "busybox",
               "dd", "if=/dev/zero", "of=/dev/shm/fill", "bs=1M", "count=64")
    assert proc.returncode == 137, proc.stderr
    state = inspect(cli, "oom")["State"]
    assert state["OOMKilled"] is True and state["ExitCode"] == 137


def container_cpu(cli: Cli, name: str) -> tuple[int, dict[str, int]]:
    """CPU ns used and cpu.stat of the running container `name`, read from its cgroup
    (v1: cpuacct and cpu controllers; v2: the unified cpu.stat where inspect says it is,
    under the systemd driver's scope too)."""
    if cgroup_mode() == "v2":
        unified = inspect(cli, name)["Cgroup"]["Paths"]["unified"]
        stat = parse_flat_keyed(Path(unified, "cpu.stat").read_text())
        return stat["usage_usec"] * 1000, stat
    [stat_file] = [*CGROUP_ROOT.glob(f"cpu/{cli.cgroup_parent}/*/cpu.stat"),
                   *CGROUP_ROOT.glob(f"cpu,cpuacct/{cli.cgroup_parent}/*/cpu.stat")]
    [usage] = [*CGROUP_ROOT.glob(f"cpuacct/{cli.cgroup_parent}/*/cpuacct.usage"),
               *CGROUP_ROOT.glob(f"cpu,cpuacct/{cli.cgroup_parent}/*/cpuacct.usage")]
    return int(usage.read_text()), parse_flat_keyed(stat_file.read_text())


def test_cpus_half_gives_half_a_core(cli: Cli) -> None:
    """Judged by ratios within the run, not by how much CPU a loaded host had to give: every
    period the quota throttled used its whole 50 ms, and no period used more."""
    quota_ns, period_ns = 50_000_000, 100_000_000
    cli("run", "-d", "--name", "busy", "--cpus", "0.5", "busybox", "sh", "-c",
        'timeout 3 sh -c "while :; do :; done"; echo done; exec sleep 600', check=True)
    try:
        deadline = time.monotonic() + 60
        while "done" not in cli("logs", "busy").stdout:
            assert time.monotonic() < deadline, "the busy loop never ended"
            time.sleep(0.2)
        used, cpu = container_cpu(cli, "busy")
    finally:
        cli("rm", "-f", "busy", check=True)
    periods, throttled = cpu["nr_periods"], cpu["nr_throttled"]
    assert throttled >= 1 and periods * period_ns >= 2.5e9, cpu  # it ran ~3 s, and bumped
    assert 0.9 * throttled * quota_ns <= used <= (periods + 1) * quota_ns, (used, cpu)


def test_pids_limit_makes_the_eleventh_process_fail(cli: Cli) -> None:
    script = "i=0; while [ $i -lt 20 ]; do sleep 5 & i=$((i+1)); echo forked $i; done"
    proc = cli("run", "--rm", "--pids-limit", "10", "busybox", "sh", "-c", script)
    # PID 1 and nine children are the ten processes allowed; the next fork fails (and ash
    # gives up with exit 2).
    assert "can't fork" in proc.stderr
    assert proc.stdout.split("\n")[-2] == "forked 9"
    assert proc.returncode == 2


@pytest.mark.parametrize("command, code", [
    (["true"], 0), (["sh", "-c", "exit 3"], 3), (["no-such-binary"], 127),
    (["sh", "-c", "sleep 10 & kill -9 $!; wait $!"], 137),
])
def test_exit_codes_propagate(cli: Cli, command: list[str], code: int) -> None:
    assert cli("run", "--rm", "busybox", *command).returncode == code


def test_sigkill_from_outside_gives_137(cli: Cli) -> None:
    proc = cli.popen("run", "--name", "victim", "busybox", "sleep", "30")
    _wait_running(cli, "victim")
    assert cli("kill", "victim").returncode == 0
    assert proc.wait(timeout=10) == 137
    assert inspect(cli, "victim")["State"]["ExitCode"] == 137


def test_sigterm_is_forwarded_to_pid_1(cli: Cli) -> None:
    proc = cli.popen("run", "--name", "trap", "busybox", "sh", "-c",
                     'trap "echo got-term; exit 42" TERM; while :; do sleep 0.1; done')
    _wait_running(cli, "trap")
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 42
    assert "got-term" in out


def test_env_workdir_user(cli: Cli) -> None:
    out = cli("run", "--rm", "-e", "A=1", "-e", "B=two words", "-w", "/srv/app", "-u", "nobody",
              "busybox", "sh", "-c", 'echo "$A|$B|$(pwd)|$(id -u)|$HOME"', check=True).stdout
    assert out.strip() == "1|two words|/srv/app|65534|/home"


def test_output_is_relayed_and_kept_for_logs(cli: Cli) -> None:
    proc = cli("run", "--name", "talk", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert proc.stdout == "out\n" and proc.stderr == "err\n"
    logs = cli("logs", "talk", check=True)
    assert logs.stdout == "out\n" and logs.stderr == "err\n"


MASKED = ("/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sysrq-trigger")


def test_hardening_caps_no_new_privs_masked_proc_readonly_sys(cli: Cli) -> None:
    script = ("grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; "
              "for p in " + " ".join(MASKED) + "; do "
              "  if [ -e $p ]; then echo $p=$(stat -c %t:%T $p)=$(wc -c < $p); "
              "  else echo $p=absent; fi; done; "
              "touch /sys/x 2>/dev/null || echo sys-ro; "
              "echo 1 > /proc/sys/kernel/panic 2>/dev/null || echo procsys-ro")
    out = cli("run", "--rm", "busybox", "sh", "-c", script).stdout.split()
    status = dict(zip(out[0:6:2], out[1:6:2], strict=True))
    assert status == {"CapEff:": "00000000a80425fb", "CapBnd:": "00000000a80425fb",
                      "NoNewPrivs:": "1"}
    masked = dict(line.split("=", 1) for line in out[6:10])
    for path in MASKED:
        # Where the host kernel has the file, the container sees /dev/null (char 1:3) there.
        expected = "1:3=0" if os.path.exists(path) else "absent"
        assert masked[path] == expected, path
    assert any(os.path.exists(p) for p in MASKED), "host has none of the masked files"
    assert out[10:] == ["sys-ro", "procsys-ro"]


def test_rootfs_directory(cli: Cli, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy2("/bin/busybox", rootfs / "bin/busybox")
    (rootfs / "bin/sh").symlink_to("busybox")
    (rootfs / "bin/cat").symlink_to("busybox")
    out = cli("run", "--rm", "--rootfs", str(rootfs), "/bin/sh", "-c",
              "echo $$; echo hi > /f; cat /f", check=True).stdout
    assert out.split() == ["1", "hi"]
    assert not (rootfs / "f").exists()  # writes land in the container's layer, not the dir


def test_lifecycle_detach_ps_exec_stop_rm(cli: Cli) -> None:
    before = cli.census()
    cid = cli("run", "-d", "--name", "web", "--memory", "64m", "--pids-limit", "20",
              "busybox", "sleep", "300", check=True).stdout.strip()
    assert len(cid) == 64
    ps = cli("ps", check=True).stdout
    assert cid[:12] in ps and "web" in ps and "Up " in ps
    info = inspect(cli, "web")
    assert info["State"]["Running"] and info["State"]["Pid"] > 0
    assert info["HostConfig"]["Limits"]["memory_bytes"] == 64 << 20
    paths = info["Cgroup"]["Paths"]
    # v1: the memory hierarchy's memory.limit_in_bytes; pure v2 (the lane): memory.max
    mem_dir, limit_file = ((paths["memory"], "memory.limit_in_bytes") if "memory" in paths
                           else (paths["unified"], "memory.max"))
    with open(os.path.join(mem_dir, limit_file)) as f:
        assert int(f.read()) == 64 << 20
    with open(os.path.join(mem_dir, "cgroup.procs")) as f:
        assert int(f.read().split()[0]) == info["State"]["Pid"]
    # exec joins the container's namespaces and cgroup
    out = cli("exec", "web", "sh", "-c",
              "hostname; readlink /proc/self/ns/net; cat /proc/1/cmdline",
              check=True).stdout.splitlines()
    assert out[0] == cid[:12]
    assert out[1] == f"net:[{info['Namespaces']['net']}]"
    assert out[2].startswith("sleep")
    exec_proc = cli.popen("exec", "web", "sleep", "3")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(os.path.join(mem_dir, "cgroup.procs")) as f:
            if len(f.read().split()) == 2:
                break
        time.sleep(0.05)
    else:
        pytest.fail("the exec'd process never joined the container's cgroup")
    exec_proc.kill()
    exec_proc.wait()
    assert cli("exec", "web", "sh", "-c", "exit 5").returncode == 5
    # rm of a running container is refused without -f
    refused = cli("rm", "web")
    assert refused.returncode == 1 and "cannot remove a running container" in refused.stderr
    t0 = time.monotonic()
    assert cli("stop", "-t", "1", "web").returncode == 0
    assert time.monotonic() - t0 >= 1.0  # sleep as PID 1 ignores SIGTERM: killed after -t
    state = inspect(cli, "web")["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 137
    assert "Exited (137)" in cli("ps", "-a", check=True).stdout
    assert cid[:12] not in cli("ps", check=True).stdout
    assert cli("rm", "web", check=True).stdout.strip() == "web"
    left = cli.census() - before
    assert left == Leftovers(0, 0, 0, 0), left


def test_rm_force_kills_and_removes(cli: Cli) -> None:
    before = cli.census()
    cli("run", "-d", "--name", "doomed", "busybox", "sleep", "300", check=True)
    assert cli("rm", "-f", "doomed").returncode == 0
    assert cli("inspect", "doomed").returncode == 1
    assert cli.census() - before == Leftovers(0, 0, 0, 0)


def test_a_running_containers_monitor_is_the_small_relay(cli: Cli) -> None:
    """Once the command runs, a detached container's monitor with nothing else to do is
    runtime/relay.py in a bare interpreter (it was a fork of the CLI: 11.3 MiB of its own,
    measured), still holds the record's lock, logs, and tears down with the full runtime
    after the exit."""
    import psutil

    cid = cli("run", "-d", "--name", "small", "busybox", "sh", "-c",
              "echo started; sleep 30", check=True).stdout.strip()
    _wait_running(cli, "small")
    state = inspect(cli, cid)["State"]
    monitor = psutil.Process(psutil.Process(state["Pid"]).ppid())
    assert monitor.cmdline()[1:4] == ["-I", "-S", str(Path(runtime_relay.__file__))]
    assert monitor.memory_full_info().uss < 5 * 2**20  # its own pages: the 5 MiB goal
    lock = str(cli.root / "containers" / cid / ".lock")
    assert lock in [f.path for f in monitor.open_files()]
    gc = cli("gc", "--dry-run", check=True).stdout
    assert "would remove 0 containers" in gc, gc
    deadline = time.monotonic() + 10
    while b"started" not in (cli.root / "containers" / cid / "log.json").read_bytes():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert cli("kill", "small").returncode == 0  # waits for the monitor's end
    after = inspect(cli, "small")
    assert after["State"]["ExitCode"] == 137 and after["State"]["Status"] == "exited"
    assert after["Stats"]  # torn down, recorded
    try:  # gone, or a zombie init has yet to reap (runtime's is_alive says gone as well)
        assert monitor.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        pass
    assert not [p for p in (CGROUP_ROOT).glob(f"*/{cli.cgroup_parent}/{cid}")]
    assert cli("logs", "small", check=True).stdout == "started\n"


def test_a_failed_teardown_keeps_the_exit_and_rm_f_finishes_it(cli: Cli) -> None:
    """The monitor's teardown fails for real: a mount on a child of the container's cgroup
    makes the kernel refuse its rmdir (EBUSY). As Docker does, the exit is still recorded
    (wait gives it, State.Error says what failed) and `rm -f` clears what is left. Before,
    the record was left "running" with no code: `wait` answered none at once."""
    import subprocess

    cli("run", "--rm", "busybox", "true", check=True)  # the image, made once
    before = cli.census()
    cid = cli("run", "-d", "--name", "stuck", "--network", "none", "busybox", "sh", "-c",
              "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 3", check=True).stdout.strip()
    _wait_running(cli, "stuck")
    from runtime.api import Runtime
    from runtime.cgroups import open_cgroup

    # where the record says (the systemd driver's scope lies outside the test's parent)
    mine = sorted(open_cgroup(Runtime(cli.root).get(cid).cgroup).paths().values())
    pin = Path(mine[0]) / "pinned"
    pin.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "pin", str(pin)], check=True)
    try:
        cli("exec", "stuck", "touch", "/tmp/go", check=True)
        assert cli("wait", "stuck", check=True).stdout == "3\n"
        state = inspect(cli, "stuck")["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 3)
        assert state["Error"].startswith("teardown: cannot remove cgroup"), state["Error"]
        assert pin.is_dir()  # what the failed teardown left, for rm -f
    finally:
        subprocess.run(["umount", str(pin)], check=True)
    assert cli("rm", "-f", "stuck").returncode == 0
    assert cli.census() - before == Leftovers(0, 0, 0, 0)


def test_run_rm_returns_at_the_exit_and_the_removal_follows(cli: Cli) -> None:
    """`run --rm` is back once the exit is known; the monitor tears down after it, the
    container "removing" meanwhile: `rm` says the removal is in progress, the name stays
    reserved (a `run --name` of it waits), `wait --condition removed` waits for the end."""
    from runtime.api import Runtime
    from runtime.errors import Conflict, NotFound

    cli("run", "--rm", "busybox", "true", check=True)  # the image, made once
    before = cli.census()
    rt = Runtime(cli.root)
    proc = cli("run", "--rm", "--name", "gone", "busybox", "sh", "-c", "echo bye; exit 6")
    assert (proc.returncode, proc.stdout) == (6, "bye\n")
    c = rt.get("gone")  # the teardown (an exec of the runtime, the bridge's) is under way
    assert c.state.status == "removing"
    with pytest.raises(Conflict, match="removal of container gone is already in progress"):
        rt.remove("gone", force=True)
    assert rt.wait("gone", condition="removed") == 6
    with pytest.raises(NotFound):
        rt.get("gone")
    assert cli.census() - before == Leftovers(0, 0, 0, 0)
    # The verb, on a detached one (its small monitor writes the code beside the log).
    cli("run", "-d", "--rm", "--name", "later", "--network", "none", "busybox", "sh", "-c",
        "sleep 1; exit 4", check=True)
    assert cli("wait", "--condition", "removed", "later", check=True).stdout == "4\n"
    assert cli("inspect", "later").returncode == 1
    for code in ("1", "2"):  # the second waits for the first's removal to take the name
        assert cli("run", "--rm", "--name", "again", "--network", "none", "busybox", "sh",
                   "-c", f"exit {code}").returncode == int(code)
    assert cli.census() - before == Leftovers(0, 0, 0, 0)


def test_run_rm_leaves_nothing(cli: Cli) -> None:
    cli("run", "--rm", "busybox", "true", check=True)  # the image is made once, outside the count
    before = cli.census()
    for command in (["true"], ["sh", "-c", "exit 9"], ["nope"]):
        cli("run", "--rm", "--memory", "64m", "--cpus", "1", "busybox", *command)
    assert cli.census() - before == Leftovers(0, 0, 0, 0)


def _wait_running(cli: Cli, name: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = cli("inspect", name)
        if proc.returncode == 0 and json.loads(proc.stdout)[0]["State"]["Running"]:
            return
        time.sleep(0.05)
    pytest.fail(f"{name} never started")


def test_command_starts_inside_its_cgroup(cli: Cli) -> None:
    # The cgroup namespace is unshared after joining the cgroup, so every hierarchy's root
    # inside is the container's own cgroup: "/" everywhere means it joined before exec.
    out = cli("run", "--rm", "busybox", "cat", "/proc/self/cgroup", check=True).stdout
    if cgroup_mode() == "v2":  # one hierarchy, the container's cgroup its root
        assert out == "0::/\n", out
        return
    controllers = [line.split(":")[1] for line in out.splitlines()]
    assert {"memory", "cpu", "pids", "blkio"} <= set(controllers)
    assert all(line.endswith(":/") for line in out.splitlines())


def _block_device(path: Path) -> str:
    """The whole disk `path` lives on: the container's layer is written there."""
    st = os.stat(path)
    dev = os.major(st.st_dev), os.minor(st.st_dev)
    for name in os.listdir("/sys/block"):
        with open(f"/sys/block/{name}/dev") as f:
            if tuple(map(int, f.read().split(":"))) == dev:
                return f"/dev/{name}"
    pytest.skip(f"{path} is not on a whole block device")


def dd_seconds(stdout: str) -> float:
    """The seconds between the two /proc/uptime readings around dd in the container."""
    before, after = (float(line.split()[0]) for line in stdout.splitlines()[-2:])
    return after - before


def test_device_write_bps_throttles_direct_io(cli: Cli) -> None:
    """Timed around dd inside each container: no CLI start-up, no first-use image build."""
    device = _block_device(cli.root)  # the state root: the container's upper dir
    write = ("cat /proc/uptime; dd if=/dev/zero of=/data bs=1M count=2 oflag=direct; "
             "cat /proc/uptime")
    free = dd_seconds(cli("run", "--rm", "busybox", "sh", "-c", write, check=True).stdout)
    throttled = dd_seconds(cli("run", "--rm", "--device-write-bps", f"{device}:1mb",
                               "busybox", "sh", "-c", write, check=True).stdout)
    # 2 MiB at 1 MiB/s: at least a second more than unthrottled (the first MiB may burst).
    assert throttled >= free + 0.9, (free, throttled)
