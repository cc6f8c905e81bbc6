"""`isobench bench` end to end on a tiny profile: every workload, the non-VM targets, the
results document validated against its schema, Ctrl-C and --resume, and `compare`; then the
orchestration workloads on every target, the VM and crun included."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import signal
import statistics
import time
from pathlib import Path

import pytest

from bench.profiles import PROFILES
from reports import claims
from results import document
from tests.integration.conftest import Cli
from tests.vmhost import require_vm

pytestmark = pytest.mark.root

TARGETS = "native,container,runc"
ALL_WORKLOADS = "cpu,memory,disk,net,startup,footprint,density,limits,evidence"


def tiny_session(cli: Cli, out: Path, targets: str, workloads: str,
                 seed: int) -> tuple[dict, str]:
    """A complete tiny-profile session, its results valid against the schema; and its
    stderr."""
    proc = cli("bench", "--profile", "tiny", "--targets", targets, "--workloads", workloads,
               "--out", str(out), "--seed", str(seed), timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = document.load(out / "results.json")
    document.validate(doc)
    assert doc["session"]["complete"] is True
    return doc, proc.stderr


def test_tiny_profile_end_to_end_then_compare(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "session"
    before = cli.census()
    doc, stderr = tiny_session(cli, out, TARGETS, ALL_WORKLOADS, seed=7)
    check_plain_progress(stderr, doc)
    assert doc["machine"]["cgroup_mode"] in ("v1", "v2", "hybrid")
    failed = [(r["variant"], r["target"], r["error"]) for r in doc["runs"] if not r["ok"]]
    assert failed == []
    ran = {(r["workload"], r["target"]) for r in doc["runs"]}
    for workload in ALL_WORKLOADS.split(","):
        assert any(w == workload for w, _ in ran), workload
    for target in TARGETS.split(","):
        assert ("cpu", target) in ran and ("startup", target) in ran
    cell = doc["summary"]["cpu"]["cpu.single"]["events_per_s"]
    # the ratio is the container's median over native's, as the runs give them
    values = {t: [r["metrics"]["events_per_s"] for r in doc["runs"]
                  if r["variant"] == "cpu.single" and r["target"] == t
                  and not r["contended"]] for t in ("native", "container")}
    assert cell["container"]["ratio_to_native"] == pytest.approx(
        statistics.median(values["container"]) / statistics.median(values["native"]))
    assert 0.5 < cell["container"]["ratio_to_native"] < 2.0
    # every command run was accounted by its cgroup: CPU time seen on each target
    for r in doc["runs"]:
        if r["workload"] == "cpu":
            assert r["accounting"]["delta"]["cpu_total_ns"] > 1e8, (r["target"], r["accounting"])
        if r["workload"] == "cpu" and r["target"] == "container":
            # the guard asks for CPU over the command's own span (exec to exit), inside a
            # window that also holds the start and teardown, and counts the monitor apart
            seen = r["contention"]
            assert 0.9 < seen["command_s"] < seen["wall_s"], seen
            assert seen["launcher_cores"] > 0, seen
    limits = {r["target"]: r["metrics"] for r in doc["runs"] if r["variant"] == "limits.cpu_half"}
    for target, metrics in limits.items():
        assert 0.35 < metrics["cpu_share"] < 0.65, (target, metrics)
    for target in TARGETS.split(","):
        check_memory_limit_held(one(doc, "limits.memory_64m", target))
    check_first_output(doc, ("container", "runc"))
    runc_net = one(doc, "net.bridge", "runc")
    assert runc_net["metrics"]["iperf3_gbit_s"] > 0 and runc_net["metrics"]["tcp_lat_us"] > 0
    # the lecture's claims the evidence checks directly hold on the real runtime: each rule
    # could refute them (tests/unit/test_report_claims_either_way.py drives every direction)
    verdicts = {v.claim: v for v in claims.evaluate(doc)}
    for claim in ("isolated_process", "chroot_no_isolation", "shared_kernel", "build_trace",
                  "layer_cache", "volumes_outlive", "runc_bundle", "networks_join",
                  "compose_app"):
        assert verdicts[claim].verdict == claims.SUPPORTED, (claim, verdicts[claim].basis)
    trace = verdicts["build_trace"].numbers
    assert trace["root_is_image_layers"] is True and trace["layers_rehashed_equal"] == \
        trace["layers"] >= 3, trace
    assert one(doc, "evidence.compose", "container")["extra"]["left_after_down"] == []
    # every figure's run carries its setup: the disk each target wrote to, its network
    for r in doc["runs"]:
        if r["workload"] in ("cpu", "memory", "disk", "startup", "net", "limits"):
            assert {"tools", "network", "timer", "limits"} <= set(r["extra"]["setup"]), r
    disks = {t: one(doc, "disk.seqwrite", t)["extra"]["setup"]["disk"] for t in
             ("native", "container", "runc")}
    assert disks["native"].startswith("a host directory") and \
        disks["container"].startswith("a volume") and "bind-mounted" in disks["runc"], disks
    assert one(doc, "limits.memory_64m", "container")["extra"]["setup"]["limits"] == \
        "memory 64 MiB"
    check_process_memory(doc)
    # every instance torn down: mounts, cgroups (runc's in every hierarchy), veths, netns...
    assert cli.census() - before == type(before)(0, 0, 0, 0)


def check_process_memory(doc: dict) -> None:
    """What a container costs outside its cgroup (issue 18): density reports each
    container's monitor, footprint the monitor and runc's own foreground process (it has no
    monitor), a live process's RSS at least its PSS; native has no such process."""
    dens = one(doc, "density.idle", "container")
    for p in dens["extra"]["per_instance"]:
        assert p["monitor_rss_bytes"] >= p["monitor_pss_bytes"] > 1 << 20, p
        assert p["monitor_pss_all_bytes"] > 1 << 20, p
    m = dens["metrics"]
    assert m["monitor_rss_mib"] >= m["monitor_pss_mib"] > 1, m
    for target in ("container", "runc"):
        fp = one(doc, "footprint.idle", target)
        assert fp["metrics"]["monitor_rss_mib"] >= fp["metrics"]["monitor_pss_mib"] > 1, (
            target, fp["metrics"], fp["extra"])
    assert "no monitor" in one(doc, "footprint.idle", "runc")["extra"]["monitor_note"]
    assert "monitor_pss_mib" not in one(doc, "footprint.idle", "native")["metrics"]


def check_plain_progress(stderr: str, doc: dict) -> None:
    """Not a terminal: timestamped lines without escapes, counting every unit 1..N once,
    each a run the session recorded (every workload's, not only the scheduled ones)."""
    assert "\x1b" not in stderr
    units = re.findall(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[(\d+)/(\d+)\] (\S+) (?:\(.*\) )?"
                       r"(\S+) rep (\d+)/\d+(?:  ETA \S+)?$", stderr, re.M)
    counters = re.findall(r"^\S+Z \[(\d+)/(\d+)\] (?!.*: failed$)", stderr, re.M)
    total = int(counters[-1][1])
    assert [int(i) for i, _ in counters] == list(range(1, total + 1)), stderr[-3000:]
    assert len(units) == total  # the tiny profile warms nothing up: every unit is a run
    recorded = {(r["variant"], r["target"], r["repetition"]) for r in doc["runs"]}
    assert {(v, t, int(rep) - 1) for _, _, v, t, rep in units} <= recorded
    assert {v.split(".")[0] for _, _, v, _, _ in units} == set(ALL_WORKLOADS.split(","))
    assert len(doc["runs"]) >= total


def json_verdicts(out: str, verdict: str) -> list[tuple[str, str, str, str]]:
    """(workload, variant, metric, target) of each row of `compare --format json` with this
    verdict."""
    return [(r["workload"], r["variant"], r["metric"], r["target"])
            for r in json.loads(out)["rows"] if r["verdict"] == verdict]


def check_memory_limit_held(run: dict) -> None:
    """The hog, twice the limit, was killed by the OOM killer (the cgroup's count, exit 137,
    or in a VM the guest's own), and the peak stayed within the limit plus the workload's
    margin (bench.workloads.limits: 16 MiB, 192 MiB for a VM's QEMU)."""
    from bench.workloads.limits import DEFAULT_PEAK_MARGIN_MIB, PEAK_MARGIN_MIB

    target, m = run["target"], run["metrics"]
    assert run["ok"], (target, run["error"])
    assert m["given_mib"] == (256 if target == "vm" else 64), (target, m)
    acted = m["exit_code"] == 137 or (m["oom_kills"] or 0) > 0 or (
        target == "vm" and m["oom_restarts"] > 0)
    assert acted, (target, m)
    margin = PEAK_MARGIN_MIB.get(target, DEFAULT_PEAK_MARGIN_MIB)
    assert m["peak_mib"] is not None and 0 < m["peak_mib"] <= m["given_mib"] + margin, (
        target, m)


def compare_session(cli: Cli, out: Path, seed: int, *extra: str) -> dict:
    """Five repetitions of cpu on native and the container: enough for a CI a side.

    --keep-contended: the guard still re-runs a contended run twice, but one that stays
    contended (a busy neighbour on a shared test machine) keeps its place, so each cell keeps
    its five runs and the comparison is about the cap, not about who else was running."""
    proc = cli("bench", "--profile", "tiny", "--repeat", "5", "--targets", "native,container",
               "--workloads", "cpu", "--out", str(out), "--seed", str(seed),
               "--keep-contended", *extra, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return document.load(out / "results.json")


def test_compare_two_real_sessions_then_a_capped_container(cli: Cli, tmp_path: Path) -> None:
    """Two real sessions of the same work compare clean (exit 0); a third with the container
    capped at a quarter of a CPU (--cpus 0.25, far below cpu.single's one busy thread) is a
    regression of the container's throughput, exit 1, and of nothing on native; the capped
    container's work per CPU-second stays close (the cap is not a cost of isolation)."""
    base = compare_session(cli, tmp_path / "base", 11)
    compare_session(cli, tmp_path / "again", 12)
    capped = compare_session(cli, tmp_path / "capped", 13, "--cpus", "0.25")
    # the capped runs asked for what the cap allows: the guard did not call them contended
    # for it (a busy neighbour may still flag one, which the guard re-runs); a container
    # asks over its command's own span (exec to exit), native over its whole window
    for run in capped["runs"]:
        reading = run["contention"]
        container = run["target"] == "container"
        cores = 0.25 if container else (1 if run["variant"] == "cpu.single" else os.cpu_count())
        span = reading["command_s"] if container else reading["wall_s"]
        assert reading["asked_cpu_s"] == pytest.approx(cores * span), run
    # --keep-contended here too: compare leaves contended runs out unless told (whatever the
    # sessions kept), and a busy CI neighbour once left the base with n=2 of 5: insufficient
    proc = cli("compare", "--keep-contended", "--format", "json", str(tmp_path / "base"),
               str(tmp_path / "again"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json_verdicts(proc.stdout, "regressed") == []
    proc = cli("compare", "--keep-contended", "--format", "json", str(tmp_path / "base"),
               str(tmp_path / "capped"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    regressed = json_verdicts(proc.stdout, "regressed")
    assert ("cpu", "cpu.single", "events_per_s", "container") in regressed, proc.stdout
    assert not [row for row in regressed if row[3] == "native"], proc.stdout
    # the cap took three quarters of the throughput but not of the work per CPU-second (a
    # fifth of that: the instance's fixed start-up CPU in its cgroup, ~0.05 CPU-s, weighs
    # more in a 0.3 CPU-s budget, and each throttled period resumes cold; measured 0.79-0.8x
    # here). Work per CPU-second that tracked the throughput would read ~0.23.
    rows = {(r["variant"], r["metric"], r["target"]): r for r in json.loads(proc.stdout)["rows"]}
    assert rows[("cpu.single", "events_per_s", "container")]["ratio"] < 0.35, rows
    assert rows[("cpu.single", "events_per_cpu_s", "container")]["ratio"] > 0.7, rows
    # the table names the cell too
    proc = cli("compare", "--keep-contended", str(tmp_path / "base"), str(tmp_path / "capped"))
    assert proc.returncode == 1
    assert any(line.split()[:3] == ["cpu", "cpu.single", "events_per_s"] and "container" in line
               and "regressed" in line for line in proc.stdout.splitlines()), proc.stdout
    assert base["session"]["keep_contended"] is True


def test_ctrl_c_keeps_finished_runs_and_resume_completes(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    argv = ["bench", "--profile", "tiny", "--repeat", "3", "--targets", "native,container",
            "--workloads", "cpu", "--out", str(out), "--seed", "3"]
    before = cli.census()
    proc = cli.popen(*argv)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        path = out / "results.json"
        if path.exists() and len(json.loads(path.read_text())["runs"]) >= 2:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    cut = document.load(out / "results.json")
    assert cut["session"]["complete"] is False
    kept = len(cut["runs"])
    assert 2 <= kept < 12
    assert cli.census() - before == type(before)(0, 0, 0, 0)  # every instance torn down
    done = cli(*argv[:-4], "--resume", str(out), timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    final = document.load(out / "results.json")
    assert final["session"]["complete"] is True
    assert len(final["runs"]) == 12  # 2 variants x 2 targets x 3 repetitions, none twice
    assert {r["started_at"] for r in cut["runs"]} <= {r["started_at"] for r in final["runs"]}


def test_bad_bench_input(cli: Cli) -> None:
    proc = cli("bench", "--workloads", "cpu,bogus")
    assert proc.returncode == 125  # a CLI error, as Docker's
    assert proc.stderr.count("\n") == 1 and "unknown workload: bogus" in proc.stderr
    assert "valid: cpu" in proc.stderr
    proc = cli("bench", "--targets", "native,xen")
    assert proc.returncode == 125 and "unknown target: xen" in proc.stderr


ORCHESTRATION = "net,startup,density,limits,evidence"
ALL_TARGETS = "native,container,runc,crun,vm"


def runs_of(doc: dict, variant: str) -> list[dict]:
    return [r for r in doc["runs"] if r["variant"] == variant]


def one(doc: dict, variant: str, target: str) -> dict:
    found = [r for r in doc["runs"] if r["variant"] == variant and r["target"] == target]
    assert len(found) == 1, (variant, target, len(found))
    return found[0]


def check_first_output(doc: dict, targets: tuple[str, ...]) -> None:
    """The first byte of `echo` arrives after the launch and no later than the exit."""
    for target in targets:
        m = one(doc, "startup.first_output", target)["metrics"]
        assert 0 < m["launch_to_first_output_ms"] <= m["launch_to_exit_ms"] < 10_000, (target, m)


def test_orchestration_on_every_target_vm_and_crun_included(cli: Cli, tmp_path: Path) -> None:
    from bench.targets import VmTarget

    reason = VmTarget(None).unavailable()  # type: ignore[arg-type]
    if reason and shutil.which("libvirtd") is None:
        require_vm(f"no VM on this host: {reason}")
    from tests.integration.test_vm_run import vm_census

    out = tmp_path / "session"
    before, vm_before = cli.census(), vm_census(cli)
    doc, stderr = tiny_session(cli, out, ALL_TARGETS, ORCHESTRATION, seed=5)
    # crun: listed, skipped with its reason (absent here, or refusing a hybrid layout)
    crun = doc["targets"]["crun"]
    assert crun["available"] is False and crun["reason"], crun
    assert "crun" in stderr and not any(r["target"] == "crun" for r in doc["runs"])
    assert all(doc["targets"][t]["available"] for t in ("native", "container", "runc", "vm"))
    failed = [(r["variant"], r["target"], r["error"]) for r in doc["runs"] if not r["ok"]]
    assert failed == []

    # net: runc on isobench's bridge, the VM behind slirp, each against native
    runc = one(doc, "net.bridge", "runc")
    assert runc["extra"]["placement"] == "runc-bridge" and "netns" in runc["extra"]["network"]
    vm = one(doc, "net.usernet", "vm")
    assert vm["extra"]["network"].startswith("user-mode networking (slirp)")
    if vm["extra"]["accel"] == "tcg":
        assert vm["extra"]["network"].endswith("TCG emulation")
    for rec in (runc, vm, one(doc, "net.usernet", "native")):
        assert rec["metrics"]["iperf3_gbit_s"] > 0 and rec["metrics"]["tcp_lat_us"] > 0, rec
    # through slirp under emulation it cannot beat loopback
    assert vm["metrics"]["iperf3_gbit_s"] < one(doc, "net.usernet", "native")["metrics"][
        "iperf3_gbit_s"]
    # and the VM on isobench's bridge, as a container is: a tap, virtio-net, its own address
    tap = one(doc, "net.bridge", "vm")
    assert tap["extra"]["placement"] == "vm-tap"
    assert tap["extra"]["network"].startswith("a tap on isobench's bridge, virtio-net")
    assert ipaddress.ip_address(tap["extra"]["guest_address"]) in \
        ipaddress.ip_network("10.88.0.0/16")
    assert tap["extra"]["vhost_net"] is (tap["extra"]["accel"] == "kvm" and
                                         Path("/dev/vhost-net").exists())
    assert tap["metrics"]["iperf3_gbit_s"] > 0 and tap["metrics"]["tcp_lat_us"] > 0, tap
    if tap["extra"]["accel"] == "tcg":  # emulated virtio cannot beat loopback either
        assert tap["metrics"]["iperf3_gbit_s"] < one(doc, "net.bridge", "native")["metrics"][
            "iperf3_gbit_s"]

    # startup: first output no later than exit, for the API path and runc; the VM's boot
    # to its command's first line within the same run's launch to exit
    check_first_output(doc, ("container", "runc"))
    boot = one(doc, "startup.true", "vm")["metrics"]
    assert 1000 < boot["boot_to_first_output_ms"] <= boot["launch_to_exit_ms"], boot

    # density: as many idle VMs as the profile says, each measured while the others ran
    dens = one(doc, "density.idle", "vm")
    per_instance = dens["extra"]["per_instance"]
    assert dens["metrics"]["instances"] == len(per_instance) == PROFILES["tiny"].density_vms
    for p in per_instance:
        assert p["start_ms"] > 100 and p["memory_bytes"] > 16 << 20, p
        assert p["qemu_rss_bytes"] >= p["qemu_pss_bytes"] > 16 << 20, p
    assert dens["metrics"]["memory_per_instance_mib"] > 16
    assert dens["metrics"]["qemu_rss_mib"] >= dens["metrics"]["qemu_pss_mib"] > 16
    assert dens["metrics"]["allocated_mib"] == 256

    # limits: the VM given --cpus 0.5 as the containers are; the host charges QEMU about half
    # a CPU while the guest spins (TCG's own threads share the same quota)
    cpu = one(doc, "limits.cpu_half", "vm")
    assert cpu["extra"]["cpu_cap"]["quota_us"] == 50_000
    assert 0.3 < cpu["metrics"]["cpu_share"] < 0.6, cpu["metrics"]
    for target in ("native", "container", "runc"):
        share = one(doc, "limits.cpu_half", target)["metrics"]["cpu_share"]
        assert 0.35 < share < 0.65, (target, share)
    for target in ("native", "container", "runc", "vm"):
        check_memory_limit_held(one(doc, "limits.memory_64m", target))

    # the kernel told apart by its boot_id: the host's in native, container and runc; the
    # VM's own (which its release alone could not show when it boots the host's kernel build)
    host_boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    boot = {t: one(doc, "evidence.kernel", t)["extra"]["boot_id"] for t in
            ("native", "container", "runc", "vm")}
    assert [boot[t] for t in ("native", "container", "runc")] == [host_boot] * 3, boot
    assert boot["vm"] and boot["vm"] != host_boot, boot
    assert claims.shared_kernel(doc).verdict == claims.SUPPORTED

    # nothing left: no netns, veth, bridge, cgroup, mount; no domain, VM run dir or socket
    assert cli.census() - before == type(before)(0, 0, 0, 0)
    after = vm_census(cli)
    assert after.domains == [] and after.runs == 0 and after.sockets == vm_before.sockets
    assert after.libvirt_logs == vm_before.libvirt_logs


def test_runc_net_placement_leaves_nothing_when_its_servers_fail(cli: Cli) -> None:
    """busybox has no iperf3: runc exits at once, and the netns, veth, bridge, cgroups and
    overlay of the placement go with the failure."""
    from bench.targets import RuncTarget
    from bench.workloads import net
    from runtime.api import Runtime

    rt = Runtime(cli.root)  # the fixture set ISOBENCH_CGROUP_PARENT for this root
    rt.image("busybox")
    before = cli.census()
    placement = net.RuncPlacement(RuncTarget(rt), image="busybox")
    with pytest.raises(RuntimeError, match="exited with code"):
        placement.start()
    assert not placement.alive()
    placement.stop()  # again, as the harness does: nothing left to do, nothing raised
    assert cli.census() - before == type(before)(0, 0, 0, 0)
    assert not list((cli.root / "runc" / "runs").iterdir())


def test_vm_cells_take_their_repetitions_from_one_boot(cli: Cli, tmp_path: Path) -> None:
    """cpu and disk on the VM, three repetitions a cell: one boot each, every repetition on
    its own window inside it (its own output parsed, its own cgroup delta), the scratch disk
    made once and emptied between repetitions."""
    from bench.targets import VmTarget

    reason = VmTarget(None).unavailable()  # type: ignore[arg-type]
    if reason and shutil.which("libvirtd") is None:
        require_vm(f"no VM on this host: {reason}")
    from tests.integration.test_vm_run import vm_census

    out = tmp_path / "session"
    vm_before = vm_census(cli)
    proc = cli("bench", "--profile", "tiny", "--repeat", "3", "--targets", "vm",
               "--workloads", "cpu,disk", "--out", str(out), "--seed", "11",
               "--keep-contended", timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = document.load(out / "results.json")
    document.validate(doc)
    variants = ["cpu.single", "cpu.all", "disk.randread", "disk.randwrite", "disk.seqread",
                "disk.seqwrite"]
    for variant in variants:  # each cell's three asked for at once, in one boot
        assert f"{variant} on vm reps 1, 2, 3 in one boot" in proc.stderr, proc.stderr[-3000:]
    for variant in variants:
        runs = sorted((r for r in doc["runs"] if r["variant"] == variant),
                      key=lambda r: r["repetition"])
        assert [r["repetition"] for r in runs] == [0, 1, 2], variant
        assert all(r["ok"] for r in runs), [(r["error"], r["output"]) for r in runs]
        shared = [r["extra"]["shared_boot"] for r in runs]
        # a contended repetition ran again with the others contended, in a boot of their own
        for r, s in zip(runs, shared, strict=True):
            if r["contention"]["attempts"] == 1:
                assert r["reps_per_boot"] == s["reps"] == 3, (variant, r["reps_per_boot"])
            boot_mates = [x for x in shared if x["domain"] == s["domain"]]
            assert r["reps_per_boot"] >= len(boot_mates), (variant, r["reps_per_boot"])
        for domain in {s["domain"] for s in shared}:
            windows = [s["window_s"] for s in shared if s["domain"] == domain]
            edges = [x for w in windows for x in w]
            assert edges == sorted(edges) and len(set(edges)) == len(edges), windows
        cpu = [r["accounting"]["delta"]["cpu_total_ns"] for r in runs]
        assert all(c > 0 for c in cpu), (variant, cpu)
        for domain in {s["domain"] for s in shared}:  # never more than its boot's total
            same = [c for s, c in zip(shared, cpu, strict=True) if s["domain"] == domain]
            boot = next(s for s in shared if s["domain"] == domain)["boot_cgroup"]
            assert sum(same) <= boot["cpu_total_ns"], (variant, cpu)
        assert all(r["wall_s"] < s["boot_wall_s"] for r, s in zip(runs, shared, strict=True))
        metric = "events_per_s" if variant.startswith("cpu") else (
            "iops" if "rand" in variant else "mb_s")
        assert all(r["metrics"][metric] > 0 for r in runs), (variant, metric)
        assert doc["summary"][variant.split(".")[0]][variant][metric]["vm"]["n"] == 3
    # the scratch disk made (and zeroed) before the first mark, once per boot
    disk = runs_of(doc, "disk.randwrite")[0]["extra"]["setup"]["disk"]
    assert "ext4 made once per boot before the first mark" in disk and \
        "lazy_itable_init=0,lazy_journal_init=0" in disk, disk
    # a variant the VM cannot run as asked is skipped with its reason, never run otherwise
    for variant in ("disk.layer.randread", "disk.layer.randwrite"):
        assert f"{variant} on vm skipped: the VM has no container layer" in proc.stderr
        assert not runs_of(doc, variant)
        assert doc["workloads"]["disk"]["variants"][variant]["skipped"]["vm"].startswith(
            "the VM has no container layer")
    after = vm_census(cli)
    assert after.domains == [] and after.runs == 0 and after.sockets == vm_before.sockets


def test_disk_layer_variant_and_native_in_the_image(cli: Cli, tmp_path: Path) -> None:
    """disk.layer.*: the container's and runc's fio write inside their own root, whose file
    lies on overlayfs (read from inside by the kernel's statfs), while the volume variant's
    does not; the setup block says so, and native names its host directory as the
    equivalent. Native runs the image's very fio, chrooted into its read-only layers, and
    leaves no mount behind, a failed run included."""
    from bench import workloads
    from bench.targets import ContainerTarget, Job, NativeTarget, RuncTarget
    from runtime.api import Runtime

    before = cli.census()
    doc, _ = tiny_session(cli, tmp_path / "session", TARGETS, "disk", seed=15)
    for variant in ("disk.layer.randread", "disk.layer.randwrite"):
        runs = {r["target"]: r for r in doc["runs"] if r["variant"] == variant}
        assert set(runs) == {"native", "container", "runc"}, variant
        assert all(r["ok"] and r["metrics"]["iops"] > 0 for r in runs.values()), runs
        disks = {t: r["extra"]["setup"]["disk"] for t, r in runs.items()}
        assert disks["container"].startswith("overlay upper (") and \
            disks["runc"].startswith("overlay upper ("), disks
        assert "equivalent" in disks["native"], disks
    assert one(doc, "disk.randwrite", "container")["extra"]["setup"]["disk"].startswith(
        "a volume")
    # the same fio command, then the filesystem its file lay on, as seen from inside
    fio = workloads.variant("disk.layer.randwrite").argv(seconds=1, threads=1,
                                                         scratch="{scratch}")
    probe = ['"$@" >/dev/null && stat -f -c %T {scratch}/isobench-fio.dat', "sh", *fio]
    rt = Runtime(cli.root)
    for target in (ContainerTarget(rt), RuncTarget(rt)):
        seen = {}
        for scratch in ("layer", "volume"):
            outcome = target.run(Job("isobench-bench", ["sh", "-c", *probe], scratch=scratch,
                                     timeout=120))
            assert outcome.exit_code == 0, (target.name, outcome.stderr[-2000:])
            seen[scratch] = outcome.stdout.split()[-1]
        assert seen["layer"] == "overlayfs" != seen["volume"], (target.name, seen)
    # one binary everywhere: native runs the image's fio (chrooted into its layers, read-only)
    tools = {r["target"]: r["extra"]["setup"]["tool"] for r in doc["runs"]}
    assert tools["native"] == tools["container"] == tools["runc"], tools
    assert tools["native"]["path"] == "/usr/bin/fio" and \
        tools["native"]["version"].startswith("fio "), tools
    which = ["sh", "-c", "fio --version; stat -f -c %T /; touch /etc/x 2>/dev/null || echo ro; "
             "stat -f -c %T {scratch}"]
    native = NativeTarget(rt).run(Job("isobench-bench", which, scratch="volume"))
    inside = ContainerTarget(rt).run(Job("isobench-bench", which, scratch="volume"))
    assert native.exit_code == 0 == inside.exit_code, (native.stderr, inside.stderr)
    version, root_fs, ro, scratch_fs = native.stdout.split()
    assert version == inside.stdout.split()[0] and root_fs == "overlayfs" and ro == "ro", \
        native.stdout
    assert scratch_fs != "overlayfs", native.stdout  # a host directory, bound on /tmp
    assert NativeTarget(rt).run(Job("isobench-bench", ["no-such-tool"])).exit_code == 127
    assert cli.census() - before == type(before)(0, 0, 0, 0)  # no mount left, failed or not
    assert not list((cli.root / "native" / "runs").iterdir())
