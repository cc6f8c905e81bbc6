"""A VM on isobench's bridge network, as a real deployment plugs one in: a tap device on the
bridge, virtio-net, an address on the bridge's subnet; the host reaches the guest at that
address. The tap, the bridge and its rules go with the run, and `isobench gc` removes a dead
run's tap while it keeps a live one's. The census (iso_root) counts taps, bridges and rules."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import ISOBENCH
from tests.integration.test_vm_run import VmCli, nothing_left, vm  # noqa: F401 - fixtures

pytestmark = pytest.mark.root

BRIDGE = "isobench0"


def bridge_ports() -> list[str]:
    try:
        return sorted(os.listdir(f"/sys/class/net/{BRIDGE}/brif"))
    except FileNotFoundError:
        return []


def talk_to_guest(proc: subprocess.Popen[str]) -> tuple[list[str], bytes]:
    """The bridge's ports while the guest runs, and what its server sent to the host."""
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    ids = [proc.stdout.readline().strip(), proc.stdout.readline().strip()]
    assert address, "no address from the guest"
    assert ipaddress.ip_address(address) in ipaddress.ip_network("10.88.0.0/16")
    assert ids == ["0x1af4", "0x0001"]  # the virtio vendor; virtio device type 1: network
    ports = bridge_ports()
    assert len(ports) == 1 and ports[0].startswith("ibtap"), ports
    assert Path(f"/sys/class/net/{ports[0]}/tun_flags").exists()  # a tap, not a veth
    got = b""
    deadline = time.monotonic() + 60
    while not got and time.monotonic() < deadline:
        try:  # nc in the guest may not listen yet: refused at once, unlike slirp
            with socket.create_connection((address, 5201), timeout=30) as conn:
                got = conn.recv(100)
        except OSError:
            time.sleep(0.2)
    return ports, got


def test_the_host_reaches_the_guest_at_its_bridge_address(vm: VmCli,  # noqa: F811
                                                          nothing_left: None) -> None:  # noqa: F811
    script = ("ifconfig eth0 | sed -n 's/.*inet addr:\\([0-9.]*\\).*/\\1/p'; "
              "cat /sys/class/net/eth0/device/vendor /sys/class/net/eth0/device/device; "
              "echo hello-over-the-tap | nc -l -p 5201")
    proc = vm.popen("vm", "run", "--accel", "tcg", "--network", "bridge", "busybox", "sh", "-c",
                    script)
    try:
        ports, got = talk_to_guest(proc)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # a failed check: Ctrl-C, the driver's own way out
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=120)
    assert got == b"hello-over-the-tap\n"
    assert proc.returncode == 0, err
    assert not Path(f"/sys/class/net/{ports[0]}").exists()
    assert not Path(f"/sys/class/net/{BRIDGE}").exists()  # its last member went


def test_gc_removes_a_dead_runs_tap_and_keeps_a_live_ones(vm: VmCli,  # noqa: F811
                                                          nothing_left: None) -> None:  # noqa: F811
    from runtime.containers import process_start_time
    from runtime.network import NetworkStore, tap_name

    store = NetworkStore(vm.root)
    store.get("bridge")
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid now names a process that no longer exists
    owners = {"dead0000beef0000": f"{gone.pid} 1", "11fe0000beef0000":
              f"{os.getpid()} {process_start_time(os.getpid())}"}
    for run_id, owner in owners.items():
        run_dir = vm.root / "vm" / "runs" / run_id
        run_dir.mkdir(parents=True)
        (run_dir / "owner").write_text(owner + "\n")
        store.attach_tap("bridge", run_id, f"isobench-{run_id}")
    dead, live = (tap_name(r) for r in owners)
    assert bridge_ports() == sorted([dead, live])
    try:
        out = subprocess.run([ISOBENCH, "gc"], env=vm.env, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr
        assert "removed 1 taps" in out.stdout.splitlines(), out.stdout
        assert "removed 1 vm runs" in out.stdout.splitlines(), out.stdout
        assert bridge_ports() == [live]
        assert list(store.get("bridge").endpoints) == ["11fe0000beef0000"]
    finally:
        store.detach("bridge", "11fe0000beef0000")
        for run_id in owners:
            subprocess.run(["rm", "-rf", str(vm.root / "vm" / "runs" / run_id)], check=True)
    assert bridge_ports() == []
