"""`isobench vm run` against real libvirt and QEMU (TCG on these machines).

Each boot costs several seconds under TCG (~20-30 s with the Debian initrd), so the tests are
few and each checks several things of one boot. After every test: no domain, no per-run disk, socket
or cgroup, no libvirt log of ours (counted before and after).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import CGROUP_ROOT, ISOBENCH, Cli
from tests.vmhost import DOCTOR_NEEDED, parse_doctor, require_vm

pytestmark = pytest.mark.root

BOOT_TIMEOUT = 420  # one TCG boot is 20-30 s here; a loaded CI host may take several times that
RUN_DIR = Path(os.environ.get("ISOBENCH_RUN_DIR", "/run/isobench")) / "vm"


class VmCli(Cli):
    """The CLI, with a TCG boot's timeout."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.argv0 = [ISOBENCH]

    def __call__(self, *args: str, timeout: float = BOOT_TIMEOUT, check: bool = False,
                 input: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*self.argv0, *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise AssertionError(f"isobench {' '.join(args)} -> {proc.returncode}: {proc.stderr}")
        return proc

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([*self.argv0, *args], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


@dataclass
class VmLeftovers:
    domains: list[str]
    runs: int
    sockets: int
    cgroups: int
    libvirt_logs: int
    microvms: int = 0     # QEMU processes of this root's microVMs (no libvirt domain)


def microvm_qemus(root: Path) -> list[int]:
    """Pids of QEMU processes running a microVM of this state root (their disks are in it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.startswith(b"guest=isobench-microvm-") for a in argv) and \
                str(root).encode() in b" ".join(argv):
            found.append(int(entry.name))
    return found


def libvirt_domains(root: Path) -> list[str]:
    """Domains (running or only defined) whose isobench metadata names this state root."""
    import libvirt

    from vm.domain import Domain

    conn = libvirt.open("qemu:///system")
    try:
        found = []
        for dom in conn.listAllDomains(0):
            if dom.name().startswith("isobench-"):
                meta = Domain.from_xml(dom.XMLDesc(0)).metadata
                if meta.get("root") == str(root):
                    found.append(dom.name())
        return found
    finally:
        conn.close()


def vm_census(cli: Cli) -> VmLeftovers:
    runs = cli.root / "vm" / "runs"
    cgroups = 0
    for parent in CGROUP_ROOT.glob(f"*/{cli.cgroup_parent}"):
        cgroups += sum(1 for p in parent.iterdir() if p.is_dir())
    return VmLeftovers(
        domains=libvirt_domains(cli.root),
        runs=sum(1 for _ in runs.iterdir()) if runs.exists() else 0,
        sockets=sum(1 for _ in RUN_DIR.glob("*.sock")) if RUN_DIR.exists() else 0,
        cgroups=cgroups,
        libvirt_logs=sum(1 for _ in Path("/var/log/libvirt/qemu").glob("isobench-*")),
        microvms=len(microvm_qemus(cli.root)),
    )


_doctor: dict[str, dict] = {}
_doctor_broken: list[str] = []   # why doctor itself failed: every VM test fails with it


def start_daemons() -> None:
    """As `make daemons`: no systemd here, so start libvirt's daemons by hand when absent."""
    import shutil

    for daemon in ("virtlogd", "libvirtd"):
        running = subprocess.run(["pgrep", "-x", daemon], capture_output=True).returncode == 0
        if not running and shutil.which(daemon):
            subprocess.run([daemon, "-d"], check=False)
    deadline = time.monotonic() + 15
    while not Path("/run/libvirt/libvirt-sock").exists() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.fixture
def vm(iso_root: Path) -> VmCli:
    import shutil

    if shutil.which("qemu-system-x86_64") is None:
        require_vm("QEMU is not installed (make setup installs it)")
    cli = VmCli(iso_root)
    if not _doctor and not _doctor_broken:  # once per session: the initrd, the probes
        start_daemons()
        doctor = cli("doctor", "--json", timeout=600)
        try:
            _doctor.update(parse_doctor(doctor.returncode, doctor.stdout, doctor.stderr))
        except AssertionError as e:
            _doctor_broken.append(str(e))
    if _doctor_broken:
        pytest.fail(_doctor_broken[0], pytrace=False)
    for name in DOCTOR_NEEDED:
        if not _doctor.get(name, {}).get("ok"):
            require_vm(f"this host cannot run VMs: {name}: "
                       f"{_doctor.get(name, {}).get('detail')}")
    return cli


@pytest.fixture
def nothing_left(vm: VmCli):  # noqa: ANN201
    before = vm_census(vm)
    yield
    after = vm_census(vm)
    assert after.domains == [] and after.runs == 0 and after.cgroups == before.cgroups
    assert after.sockets <= before.sockets and after.libvirt_logs <= before.libvirt_logs
    assert after.microvms == 0


def kernel_release() -> str:
    from vm.guest import find_kernel

    return find_kernel().release


def test_echo_hello_with_accounting(vm: VmCli, nothing_left: None, tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    proc = vm("vm", "run", "--accel", "tcg", "--stats", str(stats), "busybox", "echo", "hello")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "hello\n", "")
    result = json.loads(stats.read_text())
    assert result["accel"] == "tcg" and "emulation" in result["accel_note"]
    # QEMU ran in our cgroup: the same counters a container's collectors read.
    live = result["cgroup_live"]
    assert result["cgroup_name"].startswith(f"{vm.cgroup_parent}/vm-")
    assert live["cpu_total_ns"] > 1e9 and live["memory_current"] > 64 << 20
    assert result["cgroup"]["cpu_total_ns"] >= live["cpu_total_ns"]
    # ... and libvirt's own view of the same run.
    dstats = result["domain_stats"]
    assert dstats["cpu.time"] > 0 and dstats["balloon.rss"] > 0
    assert dstats["block.count"] >= 1 and dstats["block.0.rd.bytes"] > 0
    assert result["qemu_memory"]["rss"] > 64 << 20
    assert result["timings"]["ready_s"] < result["timings"]["first_output_s"]
    # the fast path booted (issue 16), and doctor says which kernel and initrd it uses
    assert result["boot"]["mode"] == "fast" and result["boot"]["initrd"].endswith(".cpio")
    from vm.guest import boot_cache

    # extracted once for the host (the shared boot cache), not once per state root
    assert result["boot"]["kernel"].startswith(f"{boot_cache()}/vmlinux-"), result["boot"]
    assert str(vm.root) not in result["boot"]["kernel"] + result["boot"]["initrd"]
    detail = _doctor["guest kernel"]["detail"]
    assert "isobench initrd" in detail and "PVH" in detail, detail


# Each repetition counts itself in a file the boot keeps (a fresh boot would print "rep 1"
# every time), spins a while, and the second fails on purpose.
COUNTED = ("n=$(cat /tmp/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/count; "
           "i=0; while [ $i -lt 40000 ]; do i=$((i+1)); done; echo rep $n; "
           "[ $n = 2 ] && exit 3; exit 0")


def test_repetitions_share_one_boot_each_on_its_own_window(vm: VmCli,
                                                            nothing_left: None) -> None:
    from bench.contention import host_snapshot
    from runtime.cgroups import CgroupFactory
    from vm.driver import VmDriver, VmRequest

    driver = VmDriver(root=vm.root, cgroups=CgroupFactory(vm.cgroup_parent))
    req = VmRequest(image="busybox", command=["sh", "-c", COUNTED], accel="tcg", repeat=3,
                    memory_bytes=256 << 20, timeout=BOOT_TIMEOUT,
                    on_mark=lambda: {"host": host_snapshot(), "time": time.time()})
    result = driver.run(req)
    reps = result.reps
    assert [(r["index"], r["stdout"], r["exit_code"]) for r in reps] == [
        (0, "rep 1\n", 0), (1, "rep 2\n", 3), (2, "rep 3\n", 0)]
    assert result.stdout == b"rep 1\nrep 2\nrep 3\n" and result.exit_code == 0
    # distinct windows, one after the other, all inside the boot (ready .. exit)
    edges = [x for r in reps for x in (r["begin"]["t_s"], r["end"]["t_s"])]
    assert edges == sorted(edges) and len(set(edges)) == len(edges), edges
    guest = [x for r in reps for x in (r["begin"]["guest_s"], r["end"]["guest_s"])]
    assert guest == sorted(guest) and len(set(guest)) == len(guest), guest
    resumed = result.timings["resumed_s"]
    assert result.timings["ready_s"] <= resumed + edges[0]
    assert resumed + edges[-1] <= result.timings["exit_s"]
    stamps = [r[k]["caller"]["time"] for r in reps for k in ("begin", "end")]
    assert stamps == sorted(stamps)
    # each repetition's CPU from its own two readings of QEMU's cgroup; the boot costs more
    cpu = [r["end"]["cgroup"]["cpu_total_ns"] - r["begin"]["cgroup"]["cpu_total_ns"]
           for r in reps]
    assert all(c > 1e8 for c in cpu), cpu
    assert sum(cpu) < result.cgroup["cpu_total_ns"], (cpu, result.cgroup["cpu_total_ns"])


def test_debian_initrd_path_still_boots(vm: VmCli, nothing_left: None) -> None:
    """The fallback (the packaged bzImage and Debian initrd) is still a working boot."""
    proc = vm("vm", "run", "--accel", "tcg", "--boot", "debian", "busybox", "sh", "-c",
              "echo hi; uname -r")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"hi\n{kernel_release()}\n", "")


def test_image_env_workdir_user_exit_code_and_guest_kernel(vm: VmCli, nothing_left: None,
                                                            tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nENV GREETING=hi FROM_IMAGE=yes\n"
                                    "WORKDIR /srv/app\nCMD [\"false\"]\n")
    vm("build", "-t", "vm-env", str(ctx), check=True)
    script = ("echo $GREETING $FROM_IMAGE $EXTRA; pwd; uname -r; id -u; echo to-stderr >&2; "
              "exit 3")
    proc = vm("vm", "run", "--accel", "tcg", "-e", "EXTRA=from-cli", "-e", "GREETING=hello",
              "--user", "nobody", "vm-env", "sh", "-c", script)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.splitlines() == ["hello yes from-cli", "/srv/app", kernel_release(),
                                        "65534"]
    assert proc.stderr == "to-stderr\n"  # kernel messages never reach the command's streams


def test_command_not_found_is_127(vm: VmCli, nothing_left: None) -> None:
    proc = vm("vm", "run", "--accel", "tcg", "busybox", "no-such-command")
    assert proc.returncode == 127
    assert proc.stderr == ('isobench: exec: "no-such-command": executable file not found in '
                           "$PATH\n")
    assert proc.stdout == ""


def test_timeout_destroys_and_keeps_the_console(vm: VmCli, nothing_left: None) -> None:
    # 1 s: the fast boot reaches the command in ~3-5 s under TCG here, so 6 s was not enough
    proc = vm("vm", "run", "--accel", "tcg", "--timeout", "1", "busybox", "echo", "never")
    assert proc.returncode == 125 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("isobench: timed out after 1 s ")
    assert "before" in lines[0]  # where the boot stopped
    log = Path(lines[0].rsplit(" kept in ", 1)[1])
    assert log.is_file() and log.parent == vm.root / "vm" / "logs"
    assert "guest console" in log.read_text()


def test_ctrl_c_tears_everything_down(vm: VmCli, nothing_left: None) -> None:
    proc = vm.popen("vm", "run", "--accel", "tcg", "busybox", "sleep", "600")
    deadline = time.monotonic() + 120
    while not libvirt_domains(vm.root):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the domain never appeared"
        time.sleep(0.05)
    time.sleep(1.0)  # running, guest booting
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err


@pytest.mark.parametrize("machine", ["pc", "microvm"])
def test_scratch_disk_and_loopback_network(vm: VmCli, nothing_left: None, machine: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = ("cat /sys/block/vdb/size; echo $ISOBENCH_SCRATCH; "
              "echo hello-from-guest | nc -l -p 5201")
    proc = vm.popen("vm", "run", "--machine", machine, "--accel", "tcg", "--scratch", "64m",
                    "-p", f"{port}:5201", "busybox", "sh", "-c", script)
    assert proc.stdout is not None
    lines = [proc.stdout.readline(), proc.stdout.readline()]  # streamed as the guest prints
    assert lines == [f"{64 * 1024 * 1024 // 512}\n", "/dev/vdb\n"], proc.communicate()
    got = b""
    deadline = time.monotonic() + 60
    while not got and time.monotonic() < deadline:
        # One attempt at a time, held open: slirp accepts at once and retries the guest itself;
        # an abandoned attempt could still reach the guest's nc and take its one connection.
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
                got = conn.recv(100)
        except OSError:
            time.sleep(0.2)
    out, err = proc.communicate(timeout=120)
    assert got == b"hello-from-guest\n"
    assert proc.returncode == 0, err


def test_debian_sysbench_output_comes_back_whole(vm: VmCli, nothing_left: None,
                                                 tmp_path: Path) -> None:
    import shutil

    for tool in ("debootstrap", "sysbench"):
        if shutil.which(tool) is None:
            require_vm(f"{tool} is not installed (make setup installs it)")
    ctx = tmp_path / "sysbench"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM debian:bookworm\n"
        "RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends sysbench "
        "&& rm -rf /var/lib/apt/lists/*\n")
    build = vm("build", "-t", "deb-sysbench", str(ctx), timeout=900)
    assert build.returncode == 0, build.stderr[-2000:]
    proc = vm("vm", "run", "--accel", "tcg", "deb-sysbench", "sysbench", "cpu", "--time=2",
              "run")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("sysbench 1.0")
    # whole: line for line what sysbench prints on this host (numbers aside), its closing
    # blank line included, nothing after it
    native = subprocess.run(["sysbench", "cpu", "--time=1", "run"], capture_output=True,
                            text=True, check=True).stdout
    assert sysbench_skeleton(out) == sysbench_skeleton(native), out
    assert out.endswith("/0.00\n\n") and native.endswith("/0.00\n\n"), out[-200:]


def sysbench_skeleton(text: str) -> list[str]:
    """Each line with its numbers replaced by # and its spaces by one (columns are padded to
    the numbers' width), the version banner dropped."""
    return [" ".join(re.sub(r"\d+(\.\d+)?", "#", line).split())
            for line in text.splitlines()[1:]]


@pytest.mark.parametrize("argv, env, code, message", [
    (["--memory", "64m", "busybox", "true"], {}, 125, "too small"),
    (["no-such-image", "true"], {}, 125, "Unable to find image 'no-such-image:latest'"),
    (["--cpus", "1.5", "busybox", "true"], {}, 125, "whole number of vCPUs"),
    (["busybox", "true"], {"ISOBENCH_VM_KERNEL": "/nonexistent/vmlinuz-x"}, 125,
     "guest kernel /nonexistent/vmlinuz-x not found"),
    (["busybox", "true"], {"ISOBENCH_LIBVIRT_URI": "qemu:///system?socket=/nonexistent.sock"},
     125, "is libvirtd running? start it with"),
    (["--accel", "warp", "busybox", "true"], {}, 125, "invalid choice"),
    (["-p", "0.0.0.0:80:80", "busybox", "true"], {}, 125, "always loopback"),
])
def test_bad_input_is_one_line_and_leaves_nothing(vm: VmCli, nothing_left: None,
                                                  argv: list[str], env: dict[str, str],
                                                  code: int, message: str) -> None:
    saved = dict(vm.env)
    vm.env.update(env)
    try:
        proc = vm("vm", "run", "--accel", "tcg", *argv) if "--accel" not in argv else \
            vm("vm", "run", *argv)
    finally:
        vm.env = saved
    assert proc.returncode == code
    assert message in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr


def test_gc_removes_what_a_crashed_run_left(vm: VmCli, nothing_left: None) -> None:
    import libvirt

    from runtime.cgroups import CgroupFactory, open_cgroup
    from runtime.image.store import ImageStore
    from vm.domain import Domain, OsBoot
    from vm.gc import collect
    from vm.guest import find_kernel

    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid now names a process that no longer exists
    run_id = "dead0000beef0000"
    dom = Domain(name=f"isobench-{run_id}", memory_kib=256 << 10, os=OsBoot(find_kernel().kernel),
                 metadata={"id": run_id, "root": str(vm.root), "owner_pid": str(gone.pid)})
    conn = libvirt.open("qemu:///system")
    try:
        conn.defineXML(dom.to_xml())  # defined, never started: no boot needed
    finally:
        conn.close()
    run_dir = vm.root / "vm" / "runs" / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "root.qcow2").write_bytes(b"")
    os.utime(run_dir, (0, 0))
    open_cgroup(f"{vm.cgroup_parent}/vm-{run_id}").create()
    assert libvirt_domains(vm.root) == [f"isobench-{run_id}"]
    removed = collect(ImageStore(vm.root), vm.root, CgroupFactory(vm.cgroup_parent))
    assert f"domain isobench-{run_id}" in removed and f"vm run {run_id}" in removed
