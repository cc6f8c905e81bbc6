"""Orchestration workloads: they drive the targets rather than parse one command's output.

    startup    launch-to-exit of /bin/true (container: Python API and CLI; runc; VM), and
               launch-to-first-output of `echo` (container API, runc; a VM's boot)
    footprint  host memory charged for one idle instance, sampled, against its allocation
    density    idle instances started one by one: start time and memory of each
    limits     --cpus 0.5 and --memory 64m: the CPU share measured, and what an overrun does
    net        iperf3 and qperf between the host and the instance
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.model import ParseError, RunRecord
from bench.parsers import parse_stress_ng_metrics
from bench.schedule import interleave
from bench.targets import Job, RuncTarget
from runtime.limits import Limits
from runtime.spec import ContainerSpec

if TYPE_CHECKING:
    from bench.harness import Harness

ISOBENCH = str(Path(sys.executable).with_name("isobench"))
BUSYBOX = "busybox"
BUSY_LOOP = 'timeout {s} sh -c "while :; do :; done"; true'
# Anonymous memory, twice the limit, held: the OOM killer's business, and nothing left
# behind on any target when the process dies (unlike a file on a tmpfs).
MEMORY_HOG = "stress-ng --vm 1 --vm-bytes {mib}M --vm-keep --timeout 4s -v --metrics-brief 2>&1"
VM_SMALLEST_BYTES = 256 << 20   # the VM driver's minimum: the Debian kernel needs that much
FIRST_OUTPUT = ["echo", "isobench"]
VM_READY_TIMEOUT_S = 300        # a TCG boot is ~20 s alone, slower beside idle guests


def run(name: str, h: Harness, done: set[tuple[str, str, str, int]]) -> None:
    handler = {"startup": startup, "footprint": footprint, "density": density,
               "limits": limits, "net": net, "evidence": evidence}.get(name)
    if handler is None:
        raise ValueError(f"no scenario for workload {name}")
    handler(h, done)


def _plan(h: Harness, variants: list[str], reps: int,
          targets: list[str] | None = None) -> list[tuple[str, str, int]]:
    return interleave(targets or list(h.targets), variants, reps, h.seed)


def _timed(h: Harness, workload: str, variant: str, target: str, rep: int,
           metric: str, job: Job) -> RunRecord:
    rec = h.run_job(workload, variant, target, rep, job, None)
    if rec.ok:
        rec.metrics = {metric: rec.wall_s * 1000}
    return rec


# ---- startup ----
def startup(h: Harness, done: set) -> None:
    reps = h.profile.startup_runs
    # Each is a ~20 s TCG boot here: two in the quick profile (its 15 minutes also hold the
    # VM's net, density and CPU-cap boots), the profile's VM repetitions where more.
    vm_reps = min(reps, max(2, h.profile.vm_repeat))
    for variant, target, rep in _plan(h, ["startup.true"], reps):
        if ("startup", variant, target, rep) in done or (target == "vm" and rep >= vm_reps):
            continue
        h.progress(f"startup on {target} rep {rep + 1}/{reps}")
        if target == "container":
            rec = _container_api_start(h, rep)
        elif target == "vm":
            # `echo`, not `true`: the same one exec in a 20 s boot, and its line on the
            # channel times the boot to first output in the same run.
            rec = _timed(h, "startup", variant, target, rep, "launch_to_exit_ms",
                         Job(BUSYBOX, FIRST_OUTPUT, sample_hz=0))
            first = (rec.extra.get("timings") or {}).get("first_output_s")
            if rec.ok and first is not None:
                rec.metrics["boot_to_first_output_ms"] = first * 1000
                rec.extra["command"] = " ".join(FIRST_OUTPUT)
        else:
            rec = _timed(h, "startup", variant, target, rep, "launch_to_exit_ms",
                         Job(BUSYBOX, ["true"], sample_hz=0))
        h.record(rec)
    if "container" in h.targets:
        for rep in range(reps):
            if ("startup", "startup.cli", "container", rep) not in done:
                h.record(_container_cli_start(h, rep))
    first_output_targets = [t for t in ("container", "runc") if t in h.targets]
    plan = _plan(h, ["startup.first_output"], reps, first_output_targets) \
        if first_output_targets else []
    for variant, target, rep in plan:
        if ("startup", variant, target, rep) in done:
            continue
        h.progress(f"startup to first output on {target} rep {rep + 1}/{reps}")
        if target == "container":
            h.record(_container_api_first_output(h, rep))
        else:
            rec = h.run_job("startup", variant, target, rep, Job(BUSYBOX, FIRST_OUTPUT,
                                                                  sample_hz=0), None)
            first = rec.extra.get("first_output_s")
            if rec.ok and first is None:
                rec.ok, rec.error = False, "no output seen"
            if rec.ok:
                rec.metrics = {"launch_to_first_output_ms": first * 1000,
                               "launch_to_exit_ms": rec.wall_s * 1000}
                rec.extra["path"] = "runc run, first byte on its stdout pipe"
            h.record(rec)


def _container_api_start(h: Harness, rep: int) -> RunRecord:
    rec = RunRecord("startup", "startup.true", "container", rep, ok=False, started_at=time.time())
    t0 = time.perf_counter()
    try:
        result = h.rt.run(ContainerSpec(BUSYBOX, ["true"], network="none", auto_remove=True))
    except Exception as e:  # noqa: BLE001
        rec.error = str(e)
        return rec
    rec.wall_s = time.perf_counter() - t0
    rec.exit_code, rec.ok = result.exit_code, result.exit_code == 0
    rec.metrics = {"launch_to_exit_ms": rec.wall_s * 1000}
    rec.extra = {"path": "python API, fully isolated, --network none"}
    return rec


def _container_api_first_output(h: Harness, rep: int) -> RunRecord:
    rec = RunRecord("startup", "startup.first_output", "container", rep, ok=False,
                    started_at=time.time())
    try:
        with StdoutTimer() as timer:
            t0 = time.perf_counter()
            result = h.rt.run(ContainerSpec(BUSYBOX, FIRST_OUTPUT, network="none",
                                            auto_remove=True))
            rec.wall_s = time.perf_counter() - t0
    except Exception as e:  # noqa: BLE001
        rec.error = str(e)
        return rec
    rec.exit_code = result.exit_code
    if result.exit_code != 0 or timer.first is None:
        rec.error = f"exit code {result.exit_code}, output {bytes(timer.data)[:200]!r}"
        return rec
    rec.ok = True
    rec.metrics = {"launch_to_first_output_ms": (timer.first - t0) * 1000,
                   "launch_to_exit_ms": rec.wall_s * 1000}
    rec.extra = {"path": "python API, attached, fully isolated, --network none; first byte "
                         "of the monitor's relay on our stdout (a pipe)"}
    return rec


class StdoutTimer:
    """fd 1 on a pipe for the duration: an attached container's monitor (a child that
    inherits fd 1) relays the command's stdout there, and a thread notes when its first
    byte arrives. The harness itself writes to stderr only."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.data = bytearray()

    def __enter__(self) -> StdoutTimer:
        sys.stdout.flush()
        self._r, w = os.pipe()
        self._saved = os.dup(1)
        os.dup2(w, 1)
        os.close(w)
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()
        return self

    def _drain(self) -> None:
        try:
            while data := os.read(self._r, 65536):
                if self.first is None:
                    self.first = time.perf_counter()
                self.data += data[:4096 - len(self.data)]
        finally:
            os.close(self._r)

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()
        os.dup2(self._saved, 1)  # our last copy of the write end goes: EOF once the
        os.close(self._saved)    # monitor (gone by now) has closed its own
        self._thread.join(10)


def _container_cli_start(h: Harness, rep: int) -> RunRecord:
    rec = RunRecord("startup", "startup.cli", "container", rep, ok=False, started_at=time.time())
    env = {**os.environ, "ISOBENCH_ROOT": str(h.rt.root)}
    t0 = time.perf_counter()
    proc = subprocess.run([ISOBENCH, "run", "--rm", "--network", "none", BUSYBOX, "true"],
                          env=env, capture_output=True, text=True)
    rec.wall_s = time.perf_counter() - t0
    rec.exit_code, rec.ok = proc.returncode, proc.returncode == 0
    rec.metrics = {"launch_to_exit_ms": rec.wall_s * 1000} if rec.ok else {}
    rec.error = proc.stderr.strip()[-500:] if not rec.ok else ""
    return rec


# ---- footprint ----
def footprint(h: Harness, done: set) -> None:
    seconds = h.profile.footprint_seconds
    for target in h.targets:
        if ("footprint", "footprint.idle", target, 0) in done:
            continue
        h.progress(f"footprint of an idle instance on {target} ({seconds}s)")
        job = Job("isobench-bench", ["sleep", str(seconds)], sample_hz=4,
                  memory_bytes=512 << 20 if target == "vm" else None)
        rec = h.run_job("footprint", "footprint.idle", target, 0, job, None)
        if rec.ok:
            rec.metrics = _memory_metrics(rec)
        h.record(rec)


def _memory_metrics(rec: RunRecord) -> dict[str, float]:
    acc = rec.accounting
    fields = acc.get("sample_fields") or []
    samples = acc.get("samples") or []
    values: list[float] = []
    if fields and "memory_current" in fields:
        i = fields.index("memory_current")
        values = [s[i] for s in samples if s[i] is not None]
    elif samples and isinstance(samples[0], dict):  # the VM driver's samples
        values = [s["cgroup_memory"] for s in samples if s.get("cgroup_memory") is not None]
    out: dict[str, float] = {}
    if values:
        out["memory_mean_mib"] = sum(values) / len(values) / 2**20
        out["memory_max_mib"] = max(values) / 2**20
    qemu = rec.extra.get("qemu_memory") or {}
    if qemu.get("rss"):
        out["qemu_rss_mib"] = qemu["rss"] / 2**20
    if qemu.get("pss"):
        out["qemu_pss_mib"] = qemu["pss"] / 2**20
    if rec.extra.get("memory_bytes"):
        out["allocated_mib"] = rec.extra["memory_bytes"] / 2**20
    return out


# ---- density ----
def density(h: Harness, done: set) -> None:
    if "container" in h.targets and ("density", "density.idle", "container", 0) not in done:
        h.progress(f"density: {h.profile.density_containers} idle containers")
        h.record(_container_density(h, h.profile.density_containers))
    if "vm" in h.targets and h.profile.density_vms and \
            ("density", "density.idle", "vm", 0) not in done:
        h.progress(f"density: {h.profile.density_vms} idle VMs of "
                   f"{VM_SMALLEST_BYTES >> 20} MiB")
        h.record(_vm_density(h, h.profile.density_vms))


def _container_density(h: Harness, count: int) -> RunRecord:
    from runtime.cgroups import open_cgroup

    rec = RunRecord("density", "density.idle", "container", 0, ok=False, started_at=time.time())
    started: list[str] = []
    per_instance: list[dict[str, Any]] = []
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            result = h.rt.run(ContainerSpec(BUSYBOX, ["sleep", "600"], network="none"),
                              detach=True)
            start_ms = (time.perf_counter() - t0) * 1000
            started.append(result.container.id)
            time.sleep(0.2)
            mem = open_cgroup(result.container.cgroup).stats().memory_current or 0
            per_instance.append({"start_ms": start_ms, "memory_bytes": mem})
        rec.ok = True
        rec.metrics = {"instances": float(len(started)),
                       "start_ms_mean": sum(p["start_ms"] for p in per_instance) / count,
                       "memory_per_instance_mib":
                           sum(p["memory_bytes"] for p in per_instance) / count / 2**20}
        rec.extra = {"per_instance": per_instance}
    except Exception as e:  # noqa: BLE001
        rec.error = str(e)
    finally:
        for cid in started:
            h.rt.remove(cid, force=True)
    return rec


def _vm_density(h: Harness, count: int) -> RunRecord:
    """Idle guests started one by one through the driver (each after the one before printed
    its first line), measured while all before it still run, then all destroyed."""
    from bench.vmtarget import BackgroundVm, vm_driver
    from vm import host
    from vm.driver import VmRequest

    rec = RunRecord("density", "density.idle", "vm", 0, ok=False, started_at=time.time())
    t0 = time.perf_counter()
    vms: list[BackgroundVm] = []
    per_instance: list[dict[str, Any]] = []
    try:
        for _ in range(count):
            req = VmRequest(image=BUSYBOX, command=["sh", "-c", "echo up; exec sleep 3600"],
                            memory_bytes=VM_SMALLEST_BYTES, vcpus=1,
                            timeout=VM_READY_TIMEOUT_S + 600)
            vm = BackgroundVm(vm_driver(h.rt), req).start()
            vms.append(vm)
            start_s = vm.wait_output(VM_READY_TIMEOUT_S)
            time.sleep(0.5)  # settled, as a container is given 0.2 s
            assert vm.running is not None  # it printed: QEMU runs
            qemu = host.process_memory(vm.running.qemu_pid)
            per_instance.append({"start_ms": start_s * 1000,
                                 "memory_bytes": vm.running.cgroup.stats().memory_current or 0,
                                 "qemu_rss_bytes": qemu.get("rss"),
                                 "qemu_pss_bytes": qemu.get("pss"),
                                 "accel": vm.running.accel})
        n = len(per_instance)
        rec.metrics = {"instances": float(n),
                       "start_ms_mean": sum(p["start_ms"] for p in per_instance) / n,
                       "memory_per_instance_mib":
                           sum(p["memory_bytes"] for p in per_instance) / n / 2**20,
                       "allocated_mib": VM_SMALLEST_BYTES / 2**20}
        for key in ("rss", "pss"):  # per instance, as footprint's qemu_rss_mib of one
            got = [p[f"qemu_{key}_bytes"] for p in per_instance if p[f"qemu_{key}_bytes"]]
            if len(got) == n:
                rec.metrics[f"qemu_{key}_mib"] = sum(got) / n / 2**20
        rec.ok = True
        rec.extra = {"per_instance": per_instance, "memory_bytes": VM_SMALLEST_BYTES,
                     "note": "start_ms: launch to the guest command's first line (a boot); "
                             "memory_bytes: QEMU's cgroup (misses the ~25 MB QEMU loaded "
                             "before it joined); QEMU's RSS/PSS are the complete figure"}
    except Exception as e:  # noqa: BLE001
        rec.error = f"{type(e).__name__}: {e}"
    finally:
        for vm in vms:
            vm.req.stop.set()  # type: ignore[union-attr] - all at once, then wait for each
        for vm in vms:
            vm.stop()
        rec.wall_s = time.perf_counter() - t0  # all of it: boots, measuring, teardown
        cleanup = [str(vm.error) for vm in vms if vm.error is not None]
        if cleanup:
            rec.ok, rec.error = False, (rec.error + "; " if rec.error else "") + \
                "; ".join(cleanup)
    return rec


# ---- limits ----
def limits(h: Harness, done: set) -> None:
    seconds = 3
    cpu = Limits(cpu_quota_us=50_000)
    for target in h.targets:
        if ("limits", "limits.cpu_half", target, 0) not in done:
            h.progress(f"limits: --cpus 0.5 on {target}")
            job = Job(BUSYBOX, ["sh", "-c", BUSY_LOOP.format(s=seconds)], limits=cpu)
            rec = h.run_job("limits", "limits.cpu_half", target, 0, job, None)
            if target == "vm":
                share = vm_busy_share(rec.accounting.get("samples") or [],
                                      rec.extra.get("timings") or {})
            else:
                used = (rec.accounting.get("delta") or {}).get("cpu_total_ns")
                share = used / (seconds * 1e9) if used else None
            if rec.ok and share is not None:
                rec.metrics = {"cpu_share": share}
            elif rec.ok:
                rec.ok, rec.error = False, "no CPU accounting to derive the share from"
            h.record(rec)
    for target in h.targets:
        if ("limits", "limits.memory_64m", target, 0) in done:
            continue
        size = VM_SMALLEST_BYTES if target == "vm" else 64 << 20
        h.progress(f"limits: {size >> 20} MiB of memory, twice that allocated, on {target}")
        hog = MEMORY_HOG.format(mib=2 * size >> 20)
        job = Job("isobench-bench", ["sh", "-c", hog], limits=Limits(memory_bytes=size),
                  memory_bytes=size if target == "vm" else None)
        rec = h.run_job("limits", "limits.memory_64m", target, 0, job, _oom_restarts,
                         quiet=True)
        # An overrun is the point: record what happened rather than failing the run.
        if rec.exit_code is not None:
            end = rec.accounting.get("end") or {}
            restarts = rec.metrics.get("oom_restarts", _oom_restarts(rec.output)["oom_restarts"])
            rec.ok, rec.error = True, ""
            rec.metrics = {"exit_code": float(rec.exit_code), "given_mib": size / 2**20,
                           "oom_kills": float(end.get("oom_kills") or 0),
                           "oom_restarts": restarts,
                           "peak_mib": float(end.get("memory_peak") or 0) / 2**20}
        h.record(rec)


def vm_busy_share(samples: list[dict[str, Any]], timings: dict[str, float | None]
                  ) -> float | None:
    """The CPU share QEMU's cgroup was charged while the guest's command ran: between the
    first sample after the command was sent (the guest said ready) and capped (when the
    driver capped it then), and the last one before it exited, so the boot is left out.
    Sample times count from the resume; the timings from the request."""
    resumed, ready, exited = (timings.get(k) for k in ("resumed_s", "ready_s", "exit_s"))
    if resumed is None or ready is None or exited is None:
        return None
    start = max(ready, timings.get("capped_s") or ready)
    window = [s for s in samples if s.get("cgroup_cpu_ns") is not None
              and start <= resumed + s["t"] <= exited]
    if len(window) < 2 or window[-1]["t"] <= window[0]["t"]:
        return None
    first, last = window[0], window[-1]
    return (last["cgroup_cpu_ns"] - first["cgroup_cpu_ns"]) / ((last["t"] - first["t"]) * 1e9)


def _oom_restarts(output: str) -> dict[str, float]:
    """What stress-ng saw of the OOM killer (inside a VM, the guest's own)."""
    try:
        return {"oom_restarts": parse_stress_ng_metrics(output, "vm").get("oom_restarts", 0.0)}
    except ParseError:
        return {"oom_restarts": float(output.count("killed by OOM killer"))}


# ---- net ----
# (variant, target, placement): the container both on the bridge and on the host's network
# stack, runc on the same bridge, the VM behind QEMU's user-mode networking; each compared
# with the same native loopback figures (recorded under every variant).
NET_PLACEMENTS = (("net.bridge", "container", "container-bridge"),
                  ("net.hostnet", "container", "container-host"),
                  ("net.bridge", "runc", "runc-bridge"),
                  ("net.usernet", "vm", "vm-usernet"))
SERVER_START_S = 60.0  # a client retries this long while a server is still starting


def net(h: Harness, done: set) -> None:
    from bench.harness import repetitions

    variants = list(dict.fromkeys(v for v, t, _ in NET_PLACEMENTS if t in h.targets)) \
        or ["net.bridge", "net.hostnet"]
    for rep in range(h.profile.repeat):
        runs = [("native", "native", variants)] + [
            (t, p, [v]) for v, t, p in NET_PLACEMENTS
            if t in h.targets and rep < repetitions(h.profile, t, h.profile.repeat)]
        for target, kind, wanted in runs:
            todo = [v for v in wanted if ("net", v, target, rep) not in done]
            if target not in h.targets or not todo:
                continue
            h.progress(f"net: {kind} rep {rep + 1}")
            rec = _net_run(h, target, kind, rep)
            for variant in todo:
                h.record(RunRecord(**{**rec.__dict__, "variant": variant}))


def _net_run(h: Harness, target: str, kind: str, rep: int) -> RunRecord:
    from bench import netperf

    rec = RunRecord("net", "", target, rep, ok=False, started_at=time.time())
    placement: Any
    if kind == "runc-bridge":
        runc = h.targets[target]
        assert isinstance(runc, RuncTarget)
        placement = netperf.RuncPlacement(runc, image="isobench-bench")
    elif kind == "vm-usernet":
        placement = netperf.VmPlacement(h.rt, image="isobench-bench")
    else:
        env = {**os.environ, "ISOBENCH_ROOT": str(h.rt.root)}
        placement = netperf.Placement(kind, env, image="isobench-bench")
    t0 = time.perf_counter()
    try:
        placement.start()
        ports, seconds = placement.ports, h.profile.seconds
        rec.metrics = {
            "iperf3_gbit_s": netperf.retry(lambda: netperf.iperf3_gbits(
                placement.addresses["iperf3"], seconds, ports["iperf3"]), SERVER_START_S,
                alive=placement.alive),
            "tcp_lat_us": netperf.retry(lambda: netperf.qperf_latency_us(
                placement.addresses["qperf"], seconds, ports["qperf"], ports["qperf_data"]),
                SERVER_START_S, alive=placement.alive)}
        rec.ok = True
    except (SystemExit, Exception) as e:  # noqa: BLE001
        rec.error = str(e)
    finally:
        try:
            placement.stop()
        except Exception as e:  # noqa: BLE001 - a failed teardown fails the run, loudly
            rec.ok, rec.error = False, f"{rec.error}; teardown: {e}".lstrip("; ")
    rec.wall_s = time.perf_counter() - t0
    rec.extra = {"placement": kind, **placement.extra}
    if rec.error:
        h.progress(f"  failed: {rec.error}")
    return rec


# ---- evidence for the lecture's claims ----
def evidence(h: Harness, done: set) -> None:
    steps = [("evidence.kernel", _kernel), ("evidence.namespaces", _namespaces),
             ("evidence.build", _build_trace), ("evidence.volume", _volume_round_trip)]
    for variant, collect in steps:
        targets = list(h.targets) if variant == "evidence.kernel" else ["container"]
        for target in targets:
            if target not in h.targets or ("evidence", variant, target, 0) in done:
                continue
            h.progress(f"evidence: {variant} on {target}")
            rec = RunRecord("evidence", variant, target, 0, ok=False, started_at=time.time())
            try:
                collect(h, target, rec)
                rec.ok = True
            except Exception as e:  # noqa: BLE001 - evidence missing is reported, not fatal
                rec.error = f"{type(e).__name__}: {e}"
            h.record(rec)


def _kernel(h: Harness, target: str, rec: RunRecord) -> None:
    out = h.targets[target].run(Job(BUSYBOX, ["uname", "-r"], sample_hz=0))
    release = out.stdout.strip()
    rec.extra = {"release": release, "host_release": os.uname().release,
                 "accel": out.extra.get("accel")}
    rec.metrics = {"same_as_host": float(release == os.uname().release)}


def _namespaces(h: Harness, target: str, rec: RunRecord) -> None:
    rt = h.rt
    c = rt.run(ContainerSpec(BUSYBOX, ["sleep", "60"]), detach=True).container
    try:
        inside = _exec_output(h, c.id, "cat /proc/1/comm; hostname; ls /sys/class/net")
        info = rt.inspect(c.id)
        # The host's view of the same process: its pid here, and in its own namespace.
        with open(f"/proc/{info['State']['Pid']}/status") as f:
            nspid = next(line.split()[1:] for line in f if line.startswith("NSpid:"))
    finally:
        rt.remove(c.id, force=True)
    lines = inside.split()
    host_ns = {n: os.stat(f"/proc/self/ns/{n}").st_ino for n in info["Namespaces"]}
    rec.extra = {"pid_in_container": int(nspid[-1]), "pid1_command": lines[0] if lines else "",
                 "hostname_differs": len(lines) > 1 and lines[1] != os.uname().nodename,
                 "host_pids": [int(p) for p in nspid],
                 "net_interfaces": lines[2:], "ns_inodes_container": info["Namespaces"],
                 "ns_inodes_host": host_ns, "pid_on_host": info["State"]["Pid"],
                 "cgroup": info["Cgroup"]["Name"], "chroot": _chroot_view(h)}
    rec.metrics = {"namespaces_differing": float(sum(
        info["Namespaces"][n] != host_ns[n] for n in info["Namespaces"]))}


def _exec_output(h: Harness, cid: str, script: str) -> str:
    env = {**os.environ, "ISOBENCH_ROOT": str(h.rt.root)}
    proc = subprocess.run([ISOBENCH, "exec", cid, "sh", "-c", script], env=env,
                          capture_output=True, text=True, timeout=60)
    return proc.stdout


def _chroot_view(h: Harness) -> dict[str, Any]:
    """chroot alone (1979): the same root change, no namespace. The host's processes and
    interfaces stay visible, and nothing limits it."""
    layer = h.rt.images.lower_dirs(h.rt.image(BUSYBOX))[-1]  # read-only use only
    script = f"kill -0 {os.getpid()} && echo sees-host-pid; ip -o link | wc -l"
    proc = subprocess.run(["chroot", layer, "/bin/sh", "-c", script], capture_output=True,
                          text=True, timeout=30)
    host_links = len(subprocess.run(["ip", "-o", "link"], capture_output=True,
                                    text=True).stdout.splitlines())
    words = proc.stdout.split()
    return {"sees_host_pids": "sees-host-pid" in words,
            "sees_host_net": bool(words) and words[-1].isdigit() and int(words[-1]) == host_links,
            "host_interfaces": host_links}


def _build_trace(h: Harness, target: str, rec: RunRecord) -> None:
    import secrets
    import shutil
    import tempfile

    from runtime.image.builder import Builder

    ctx = Path(tempfile.mkdtemp(prefix="isobench-evidence-"))
    tag = f"isobench-evidence-{secrets.token_hex(4)}"
    try:
        (ctx / "app.txt").write_text(f"built for the trace {secrets.token_hex(8)}\n")
        (ctx / "Dockerfile").write_text(
            "FROM busybox\nENV GREETING=hello\nWORKDIR /app\nCOPY app.txt ./\n"
            'RUN echo "$GREETING" > built.txt\nCMD ["cat", "app.txt", "built.txt"]\n')
        builder = Builder(h.rt, out=lambda _line: None)
        t0 = time.perf_counter()
        cold = builder.build(ctx, tag=tag)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cached = builder.build(ctx, tag=tag)
        cached_s = time.perf_counter() - t0
        c = h.rt.run(ContainerSpec(tag, ["sleep", "30"], network="none"), detach=True).container
        try:
            info = h.rt.inspect(c.id)
        finally:
            h.rt.remove(c.id, force=True)
        h.rt.remove_image(tag, force=True)
    finally:
        shutil.rmtree(ctx, ignore_errors=True)

    def steps(result: Any) -> list[dict[str, Any]]:
        return [{"text": s.text, "cached": s.cached, "seconds": s.seconds, "layer": s.layer}
                for s in result.steps]

    rec.metrics = {"cold_s": cold_s, "cached_s": cached_s,
                   "cached_steps": float(sum(s.cached for s in cached.steps))}
    rec.extra = {"dockerfile": (ctx / "Dockerfile").name, "cold_steps": steps(cold),
                 "cached_steps": steps(cached),
                 "image": {"id": cold.image.id, "layers": cold.image.layers,
                           "same_id_when_cached": cached.image.id == cold.image.id},
                 "container": {"id": info["Id"], "pid": info["State"]["Pid"],
                               "namespaces": info["Namespaces"],
                               "cgroup": info["Cgroup"]["Name"]}}


def _volume_round_trip(h: Harness, target: str, rec: RunRecord) -> None:
    import secrets

    rt = h.rt
    volume = f"isobench-evidence-{secrets.token_hex(4)}"
    token = secrets.token_hex(8)
    try:
        script = f"echo {token} > /data/kept; echo {token} > /lost"
        rt.run(ContainerSpec(BUSYBOX, ["sh", "-c", script], network="none",
                             volumes=[f"{volume}:/data"], auto_remove=True))
        reader = rt.run(ContainerSpec(BUSYBOX, ["sleep", "30"], network="none",
                                      volumes=[f"{volume}:/data"]), detach=True).container
        try:
            seen = _exec_output(h, reader.id, "cat /data/kept; cat /lost 2>/dev/null || true")
        finally:
            rt.remove(reader.id, force=True)
    finally:
        rt.remove_volume(volume)
    rec.metrics = {"survived": float(token in seen.splitlines()[:1]),
                   "container_layer_survived": float(seen.count(token) > 1)}
    rec.extra = {"volume": volume, "read_back": seen.strip()}
