"""Container hardening against the real kernel: seccomp, capabilities, devices, --privileged.

Everything dangerous here (reboot, settimeofday, module loading) only ever runs inside a
container, and is chosen to be harmless even if the hardening were broken: the clock is "set"
to the time it already is, the module is 100 zero bytes the kernel would reject, and reboot(2)
from a child PID namespace can only end that namespace.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from pathlib import Path

import pytest

from tests.integration.conftest import Cli, Leftovers

pytestmark = pytest.mark.root

DOCKER_CAPEFF = "00000000a80425fb"
EPERM_TEXT = "Operation not permitted"


def run(cli: Cli, *args: str, script: str):  # noqa: ANN201
    return cli("run", "--rm", "--network", "none", *args, "busybox", "sh", "-c", script)


def status_field(stdout: str, name: str) -> str:
    for line in stdout.splitlines():
        if line.startswith(f"{name}:"):
            return line.split()[1]
    raise AssertionError(f"{name} not in {stdout!r}")


def own_bounding_set() -> str:
    with open("/proc/self/status") as f:
        return status_field(f.read(), "CapBnd")


def openable_host_device() -> tuple[str, str, int, int]:
    """A host device node outside the standard set that the host itself can open, so that a
    refusal inside the container is the container's doing (path, kind, major, minor)."""
    for path in ("/dev/loop0", "/dev/loop-control", "/dev/kmsg", "/dev/zram0"):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        st = os.fstat(fd)
        os.close(fd)
        kind = "b" if stat.S_ISBLK(st.st_mode) else "c"
        return path, kind, os.major(st.st_rdev), os.minor(st.st_rdev)
    pytest.skip("no non-standard host device node that the host can open (loop0, kmsg...)")


def test_default_container_has_seccomp_docker_caps_and_no_new_privs(cli: Cli) -> None:
    out = run(cli, script="cat /proc/self/status").stdout
    assert status_field(out, "Seccomp") == "2"  # SECCOMP_MODE_FILTER
    assert status_field(out, "CapEff") == DOCKER_CAPEFF
    assert status_field(out, "NoNewPrivs") == "1"


# What a default container must not be able to do, each with the error the kernel gives.
REFUSED = {
    "mount": ("mount -t tmpfs x /tmp", "permission denied"),
    "unshare-mount-ns": ("unshare -m true", EPERM_TEXT),
    "unshare-net-ns": ("unshare -n true", EPERM_TEXT),
    "insmod": ("head -c 100 /dev/zero > /tmp/x.ko && insmod /tmp/x.ko", EPERM_TEXT),
    "reboot": ("reboot -f", EPERM_TEXT),
    "settimeofday": ('date -s "@$(date +%s)"', EPERM_TEXT),
    "proc-sys-write": ("v=$(cat /proc/sys/vm/overcommit_memory) && "
                       "echo $v > /proc/sys/vm/overcommit_memory", "Read-only file system"),
}


@pytest.mark.parametrize("what", sorted(REFUSED))
def test_default_container_refuses(cli: Cli, what: str) -> None:
    script, error = REFUSED[what]
    wall_before = time.time()
    proc = run(cli, script=f"{script}; echo rc=$?")
    assert error in proc.stderr, (what, proc.stdout, proc.stderr)
    if what != "settimeofday":  # busybox date reports the failure but exits 0
        assert "rc=0" not in proc.stdout, (what, proc.stdout, proc.stderr)
    # The host is still up and its clock was not moved.
    assert abs(time.time() - wall_before) < 30
    assert Path("/proc/1/status").exists()


def test_reboot_leaves_the_host_and_runtime_working(cli: Cli) -> None:
    before = cli.census()
    assert run(cli, script="reboot -f; poweroff -f; halt -f; echo still-here").stdout.strip() \
        == "still-here"
    assert run(cli, script="echo up").stdout == "up\n"
    assert cli.census() - before == Leftovers(0, 0, 0, 0)


def test_no_kernel_memory_can_be_read(cli: Cli) -> None:
    # Masked with /dev/null where the host has it; absent here otherwise: never any byte.
    proc = run(cli, script="head -c 16 /proc/kcore 2>/dev/null | wc -c")
    assert proc.stdout.strip() == "0"


def test_seccomp_itself_blocks_what_capabilities_would_allow(cli: Cli) -> None:
    """unshare(CLONE_NEWUSER) needs no capability: only the profile refuses it."""
    try:
        userns = int(Path("/proc/sys/user/max_user_namespaces").read_text())
    except OSError:
        userns = 0
    if userns == 0:
        pytest.skip("the host kernel has user namespaces disabled (max_user_namespaces = 0)")
    refused = run(cli, script="unshare -U true; echo rc=$?")
    assert EPERM_TEXT in refused.stderr and "rc=0" not in refused.stdout
    allowed = run(cli, "--security-opt", "seccomp=unconfined",
                  script="grep Seccomp: /proc/self/status; unshare -U true; echo rc=$?")
    assert allowed.stdout.split() == ["Seccomp:", "0", "rc=0"], allowed.stderr


def test_privileged_can_mount_and_unshare_and_sees_the_host_devices(cli: Cli) -> None:
    before = cli.census()
    path, _kind, _major, _minor = openable_host_device()
    proc = run(cli, "--privileged", script=(
        "grep -E '^(Seccomp|CapEff):' /proc/self/status; "
        "mount -t tmpfs x /tmp && echo mounted; unshare -m -n true && echo unshared; "
        f"head -c 1 {path} >/dev/null && echo device-ok; "
        "grep ' /sys ' /proc/mounts; "
        "v=$(cat /proc/sys/vm/overcommit_memory) && echo $v > /proc/sys/vm/overcommit_memory "
        "&& echo procsys-rw"))
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["CapEff:", own_bounding_set()]
    assert lines[1].split() == ["Seccomp:", "0"]
    assert lines[2:5] == ["mounted", "unshared", "device-ok"], proc.stderr
    assert lines[5].split()[3].startswith("rw"), lines[5]
    assert lines[6] == "procsys-rw"
    assert cli.census() - before == Leftovers(0, 0, 0, 0)


@pytest.mark.parametrize("flags, seccomp, works", [
    (["--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined"], "0", True),
    (["--cap-add", "cap_sys_admin"], "2", True),  # the profile follows the capabilities
    (["--security-opt", "seccomp=unconfined"], "0", False),  # the capability is still missing
])
def test_mount_needs_sys_admin_and_a_profile_that_allows_it(cli: Cli, flags: list[str],
                                                            seccomp: str, works: bool) -> None:
    proc = run(cli, *flags, script="grep -E '^(Seccomp|CapEff):' /proc/self/status; "
               "mount -t tmpfs x /tmp; echo mount=$?; grep -c ' /tmp tmpfs' /proc/mounts")
    # the container ran with the flags applied (a rejected flag is exit 125 and no output)
    assert proc.returncode == (0 if works else 1), proc.stderr
    assert status_field(proc.stdout, "Seccomp") == seccomp, proc.stdout
    sys_admin = 1 << 21
    assert bool(int(status_field(proc.stdout, "CapEff"), 16) & sys_admin) is works
    lines = proc.stdout.splitlines()
    if works:
        assert lines[2:] == ["mount=0", "1"], proc.stderr
    else:  # refused by the kernel for want of CAP_SYS_ADMIN, not by a filter (EPERM either way)
        assert lines[2] != "mount=0" and lines[3] == "0", proc.stdout
        assert "permission denied" in proc.stderr.lower() \
            or EPERM_TEXT in proc.stderr, proc.stderr


def test_cap_drop_all_makes_chown_fail(cli: Cli) -> None:
    proc = run(cli, "--cap-drop", "ALL",
               script="grep CapEff /proc/self/status; chown 1 /tmp; echo rc=$?")
    assert status_field(proc.stdout, "CapEff") == "0000000000000000"
    assert EPERM_TEXT in proc.stderr and "rc=1" in proc.stdout


def test_cap_add_and_drop_change_exactly_those_bits(cli: Cli) -> None:
    proc = run(cli, "--cap-drop", "CHOWN", "--cap-add", "NET_ADMIN",
               script="grep CapEff /proc/self/status")
    expected = (int(DOCKER_CAPEFF, 16) & ~(1 << 0)) | (1 << 12)
    assert int(status_field(proc.stdout, "CapEff"), 16) == expected


def test_mknod_is_allowed_but_opening_a_non_standard_device_is_not(cli: Cli) -> None:
    """Docker keeps CAP_MKNOD; the devices cgroup is what makes the node useless. With every
    capability and no seccomp the open is still refused: the cgroup alone does it."""
    _path, kind, major, minor = openable_host_device()
    script = (f"mknod /tmp/node {kind} {major} {minor} && echo made; "
              "head -c 1 /tmp/node > /dev/null; echo rc=$?; head -c 1 /dev/null; echo null-ok")
    for flags in ([], ["--cap-add", "ALL", "--security-opt", "seccomp=unconfined"]):
        proc = run(cli, *flags, script=script)
        assert proc.stdout.split() == ["made", "rc=1", "null-ok"], (flags, proc.stderr)
        assert EPERM_TEXT in proc.stderr


def test_devices_cgroup_holds_only_the_standard_nodes(cli: Cli) -> None:
    name = "devices-probe"
    cli("run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "30", check=True)
    try:
        info = json.loads(cli("inspect", name, check=True).stdout)[0]
        devices = info["Cgroup"]["Paths"].get("devices")
        if devices is None:
            pytest.skip("no v1 devices hierarchy on this host (cgroup v2: see README)")
        allowed = set(Path(devices, "devices.list").read_text().split("\n")) - {""}
        assert "a *:* rwm" not in allowed
        assert {"c 1:3 rwm", "c 1:9 rwm", "c 5:2 rwm", "c 136:* rwm", "c *:* m",
                "b *:* m"} <= allowed
        assert len(allowed) == 11, allowed
    finally:
        cli("rm", "-f", name)


def test_exec_gets_the_containers_profile_and_capabilities(cli: Cli) -> None:
    name = "exec-probe"
    cli("run", "-d", "--name", name, "--network", "none", "--cap-drop", "ALL", "busybox",
        "sleep", "30", check=True)
    try:
        out = cli("exec", name, "cat", "/proc/self/status", check=True).stdout
        assert status_field(out, "Seccomp") == "2"
        assert status_field(out, "CapEff") == "0000000000000000"
    finally:
        cli("rm", "-f", name)


def test_inspect_shows_the_flags_as_docker(cli: Cli) -> None:
    cli("run", "--name", "flags", "--network", "none", "--cap-add",
        "NET_ADMIN", "--cap-drop", "MKNOD", "--security-opt", "seccomp=unconfined", "busybox",
        "true", check=True)
    host = json.loads(cli("inspect", "flags", check=True).stdout)[0]["HostConfig"]
    assert host["Privileged"] is False
    assert host["CapAdd"] == ["NET_ADMIN"]
    assert host["CapDrop"] == ["MKNOD"]
    assert host["SecurityOpt"] == ["seccomp=unconfined"]
    cli("run", "--name", "plain", "--network", "none", "busybox", "true", check=True)
    plain = json.loads(cli("inspect", "plain", check=True).stdout)[0]["HostConfig"]
    assert (plain["Privileged"], plain["CapAdd"], plain["CapDrop"], plain["SecurityOpt"]) == (
        False, None, None, None)


@pytest.mark.parametrize("flags, message", [
    (["--cap-add", "FOO"], 'invalid CapAdd: unknown capability: "FOO"'),
    (["--cap-drop", "CAP_NOPE"], 'invalid CapDrop: unknown capability: "CAP_NOPE"'),
    (["--security-opt", "seccomp=/no/such/profile.json"], "invalid --security-opt"),
    (["--security-opt", "apparmor=unconfined"], "invalid --security-opt"),
])
def test_bad_hardening_flags_are_one_line_and_125(cli: Cli, flags: list[str],
                                                  message: str) -> None:
    before = cli.census()
    proc = cli("run", "--rm", "--network", "none", *flags, "busybox", "true")
    assert proc.returncode == 125
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert cli.census() - before == Leftovers(0, 0, 0, 0)


def cgroup2_mount() -> str:
    """The host's cgroup2 hierarchy: /sys/fs/cgroup/unified on a hybrid host, or the root."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup2":
                return fields[4]
    pytest.skip("no cgroup2 hierarchy mounted on this host")


def test_v2_device_program_denies_non_standard_nodes_live(cli: Cli, tmp_path: Path) -> None:
    """The BPF device filter on the real cgroup2 hierarchy: a process of the cgroup opens
    /dev/null but not a host device outside the list, nor a node it made itself."""
    from runtime.cgroups import V2Cgroup
    from runtime.cgroups.devices import DEFAULT_DEVICE_RULES

    path, kind, major, minor = openable_host_device()
    cg = V2Cgroup(f"{cli.cgroup_parent}/devices-v2", cgroup2_mount())
    cg.make_levels()  # the filter needs no controller (hybrid hosts' /unified offers none)
    node = tmp_path / "node"
    try:
        assert cg.set_devices(DEFAULT_DEVICE_RULES) is True
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through the pipe
            try:
                os.close(r)
                cg.add_pid(0)
                results = []
                for target in ("/dev/null", path):
                    try:
                        os.close(os.open(target, os.O_RDONLY | os.O_NONBLOCK))
                        results.append("ok")
                    except OSError as e:
                        results.append(str(e.errno))
                mode = (stat.S_IFBLK if kind == "b" else stat.S_IFCHR) | 0o600
                os.mknod(node, mode, os.makedev(major, minor))
                try:
                    os.close(os.open(node, os.O_RDONLY | os.O_NONBLOCK))
                    results.append("ok")
                except OSError as e:
                    results.append(str(e.errno))
                os.write(w, " ".join(results).encode())
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            results = f.read().split()
        os.waitpid(pid, 0)
        assert results == ["ok", str(errno.EPERM), str(errno.EPERM)], results
    finally:
        cg.destroy()
