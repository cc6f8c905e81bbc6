"""What the VM driver costs (issue 5's "Measure"), as a script:

1. boot-to-first-output: the same guest (image, kernel, initrd, devices, command) started
   through libvirt and as a plain qemu-system-x86_64 command, and (--microvm) on QEMU's
   microvm machine (vm/microvm.py), runs interleaved; medians and the ratio libvirt / raw
   (the goal: <= 1.2); for each boot mode (vm/guest.py BOOT_MODES:
   debian = the packaged bzImage and Debian initrd, initrd = the bzImage and isobench's
   initrd, fast = the extracted vmlinux and isobench's initrd);
2. the host memory an idle guest holds (QEMU's RSS and PSS, the cgroup's memory) for each
   --memory size, sampled every second while the guest sleeps: the lecture claims a VM holds
   everything it was given.

    python -m bench.tools.vmboot [--runs 10] [--modes debian,initrd,fast] [--idle 30]
                                 [--sizes 512m,2g] [--microvm] [--machines pc,microvm]
                                 [--out FILE]

Every result records the acceleration; under TCG the numbers are emulation's, and say so.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from results import stats
from runtime.fsutil import write_json
from runtime.limits import parse_bytes
from vm import guest
from vm.driver import DOMAIN_PREFIX, RunFiles, VmDriver, VmRequest, socket_dir
from vm.microvm import MicrovmDriver
from vm.rawqemu import qemu_argv
from vm.session import GuestSession

BOOT_COMMAND = ["echo", "first-output"]
RUN_TIMEOUT_S = 600.0


def libvirt_boot(drv: VmDriver, req: VmRequest) -> dict[str, Any]:
    """Seconds from launching (the disk cache ready) to the command's first byte on the host."""
    result = drv.run(req)
    t = result.timings
    if result.exit_code != 0 or t["first_output_s"] is None or t["disk_ready_s"] is None:
        raise RuntimeError(f"libvirt run failed: exit {result.exit_code}")
    return {"first_output_s": t["first_output_s"] - t["disk_ready_s"],
            "ready_s": (t["ready_s"] or 0) - t["disk_ready_s"], "accel": result.accel}


def raw_boot(drv: VmDriver, req: VmRequest) -> dict[str, Any]:
    """The same guest under qemu-system-x86_64 alone: same overlay, channel, init and spec."""
    run_id = uuid.uuid4().hex[:16]
    name = f"{DOMAIN_PREFIX}raw-{run_id}"
    plan = drv.prepare(req, name)
    assert plan.disk is not None
    run_dir = drv.vm_root / "runs" / run_id
    sock_path = socket_dir() / f"{run_id}.sock"
    run_dir.mkdir(parents=True)
    sock_path.parent.mkdir(parents=True, exist_ok=True)
    proc: subprocess.Popen[bytes] | None = None
    try:
        start = time.monotonic()
        overlay = run_dir / "root.qcow2"
        guest.create_overlay(plan.disk.path, overlay)
        dom = drv.domain(plan, RunFiles(run_dir, sock_path, overlay, None))
        proc = subprocess.Popen(qemu_argv(dom), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        chan = _connect(sock_path, proc)  # QEMU waits (wait=on) until we are there
        with chan:
            session = GuestSession(chan, plan.spec)
            deadline = start + RUN_TIMEOUT_S
            while not session.finished and time.monotonic() < deadline:
                session.step(1.0)
            if session.exit_code != 0 or session.first_output_at is None:
                raise RuntimeError(f"raw QEMU run failed: {session.failure or session.exit_code}")
            session.ack()
            session.wait_eof(10.0)
        assert session.ready_at is not None
        return {"first_output_s": session.first_output_at - start,
                "ready_s": session.ready_at - start}
    finally:
        if proc is not None:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(run_dir, ignore_errors=True)
        sock_path.unlink(missing_ok=True)


def _connect(path: Path, proc: subprocess.Popen[bytes]) -> socket.socket:
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"qemu-system-x86_64 exited {proc.returncode}: {err.strip()}")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.002)


def summarize(values: list[float]) -> dict[str, float]:
    """n, median, quartiles (results.stats: the inclusive method), min and max."""
    s = stats.summarize(values)
    return {"n": s.n, "median": s.median, "q1": s.q1, "q3": s.q3, "min": s.min, "max": s.max}


def microvm_boot(drv: VmDriver, req: VmRequest) -> dict[str, Any]:
    """The microVM, timed as libvirt_boot times the VM (the driver's own milestones)."""
    return libvirt_boot(MicrovmDriver(drv.images, drv.root, drv.cgroups), req)


def boot_comparison(drv: VmDriver, image: str, accel: str, runs: int,
                    memory: int, modes: list[str] | None = None,
                    microvm: bool = False) -> dict[str, Any]:
    """Per boot mode: libvirt and raw QEMU (and the microVM), `runs` each. Every round runs
    each mode once, the order rotated each round, so a load change on the host hits every
    cell alike."""
    modes = modes or ["fast"]
    reqs = {m: VmRequest(image=image, command=BOOT_COMMAND, accel=accel, memory_bytes=memory,
                         timeout=RUN_TIMEOUT_S, boot=m) for m in modes}
    files: dict[str, Any] = {}
    for mode, req in reqs.items():  # disk, init, initrd and vmlinux made outside timing
        plan = drv.prepare(req, f"{DOMAIN_PREFIX}warmup")
        files[mode] = {"kernel": plan.kernel.kernel, "initrd": plan.kernel.initrd,
                       "notes": list(plan.kernel.notes)}
    order = [("libvirt", libvirt_boot), ("raw_qemu", raw_boot)]
    if microvm:
        order.append(("microvm", microvm_boot))
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {
        m: {label: [] for label, _ in order} for m in modes}
    loads = [_loadavg()]
    for i in range(runs):
        for mode in modes:
            # Rotate which goes first, so none always runs on a just-warmed host.
            for label, fn in order[i % len(order):] + order[:i % len(order)]:
                sample = fn(drv, reqs[mode])
                samples[mode][label].append(sample)
                print(f"  run {i + 1}/{runs} {mode:6s} {label:8s} first output after "
                      f"{sample['first_output_s']:.2f} s", file=sys.stderr, flush=True)
        loads.append(_loadavg())
    out: dict[str, Any] = {"accel": samples[modes[0]]["libvirt"][0]["accel"], "modes": {},
                           "loadavg_1m": summarize(loads)}
    for mode in modes:
        lv_s = summarize([s["first_output_s"] for s in samples[mode]["libvirt"]])
        raw_s = summarize([s["first_output_s"] for s in samples[mode]["raw_qemu"]])
        out["modes"][mode] = {"libvirt": lv_s, "raw_qemu": raw_s, "files": files[mode],
                              "ratio": lv_s["median"] / raw_s["median"], "raw": samples[mode]}
        if microvm:
            micro = summarize([s["first_output_s"] for s in samples[mode]["microvm"]])
            out["modes"][mode].update(microvm=micro,
                                      microvm_over_libvirt=micro["median"] / lv_s["median"])
    return out


def _loadavg() -> float:
    """The host's 1-minute load average: these figures come from a shared 2-core machine."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def idle_memory(drv: VmDriver, image: str, accel: str, memory: int,
                seconds: float, mode: str = "fast") -> dict[str, Any]:
    req = VmRequest(image=image, command=["sleep", str(int(seconds))], accel=accel,
                    memory_bytes=memory, sample_interval=1.0, timeout=RUN_TIMEOUT_S, boot=mode)
    result = drv.run(req)
    ready = (result.timings["ready_s"] or 0) - (result.timings["resumed_s"] or 0)
    idle = [s for s in result.samples if s["t"] >= ready + 1.0]  # the guest is up and asleep

    def series(key: str) -> list[int]:
        return [v for v in (_get(s, key) for s in idle) if v]

    out: dict[str, Any] = {"memory_bytes": memory, "accel": result.accel, "mode": mode,
                           "machine": "microvm" if isinstance(drv, MicrovmDriver) else "pc",
                           "samples": len(idle), "raw": idle}
    for key in ("qemu.rss", "qemu.pss", "cgroup_memory"):
        values = series(key)
        if values:
            out[key] = {"median": stats.median(values), "max": max(values),
                        "fraction_of_given": stats.median(values) / memory}
    return out


def _get(sample: dict[str, Any], key: str) -> int | None:
    value: Any = sample
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tools.vmboot", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", default="busybox")
    p.add_argument("--accel", default="auto", choices=("auto", "kvm", "tcg"))
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--memory", default="512m", help="guest memory for the boot comparison")
    p.add_argument("--modes", default="debian,initrd,fast",
                   help="boot modes to compare (vm/guest.py BOOT_MODES)")
    p.add_argument("--idle-modes", default="fast", help="boot modes for the idle test")
    p.add_argument("--idle", type=float, default=30.0, help="seconds each idle guest sleeps")
    p.add_argument("--sizes", default="512m,2g", help="guest memory sizes for the idle test")
    p.add_argument("--microvm", action="store_true",
                   help="also boot the microVM in the comparison")
    p.add_argument("--machines", default="pc",
                   help="machines for the idle test: pc (libvirt), microvm, or both")
    p.add_argument("--skip-boot", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--out", type=Path, help="write every raw value as JSON here")
    args = p.parse_args(argv)
    drv = VmDriver()
    report: dict[str, Any] = {"schema": "isobench.tools.vmboot/1", "image": args.image,
                              "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if not args.skip_boot:
        print(f"boot to first output, {args.runs} runs each, interleaved:", file=sys.stderr)
        boot = boot_comparison(drv, args.image, args.accel, args.runs, parse_bytes(args.memory),
                               args.modes.split(","), args.microvm)
        report["boot"] = boot
    if not args.skip_memory:
        report["idle_memory"] = []
        drivers = {"pc": drv, "microvm": MicrovmDriver(drv.images, drv.root, drv.cgroups)}
        for mode in args.idle_modes.split(","):
            for size in args.sizes.split(","):
                for machine in args.machines.split(","):
                    print(f"idle guest ({mode}, {machine}) with {size} for {args.idle:g} s:",
                          file=sys.stderr)
                    report["idle_memory"].append(idle_memory(
                        drivers[machine], args.image, args.accel, parse_bytes(size),
                        args.idle, mode))
    print_report(report)
    if args.out:
        write_json(args.out, report)
    return 0


def print_report(report: dict[str, Any]) -> None:
    mib = 1 << 20
    accel = report.get("boot", {}).get("accel") or (report.get("idle_memory") or [{}])[0].get(
        "accel", "?")
    print(f"acceleration: {accel.upper()}"
          + (" (emulation: every guest instruction is translated in software; these are not "
             "KVM figures)" if accel == "tcg" else ""))
    if "boot" in report:
        load = report["boot"]["loadavg_1m"]
        print(f"host load (1-minute average, per round): median {load['median']:.2f}, "
              f"{load['min']:.2f}-{load['max']:.2f}")
        for mode, b in report["boot"]["modes"].items():
            print(f"{mode}: {'; '.join(b['files']['notes'])}")
            for label in ("libvirt", "raw_qemu", "microvm"):
                if label not in b:
                    continue
                s = b[label]
                print(f"  boot to first output via {label:8s}: median {s['median']:.2f} s "
                      f"(IQR {s['q1']:.2f}-{s['q3']:.2f}, min {s['min']:.2f}, "
                      f"max {s['max']:.2f}, n={s['n']})")
            print(f"  ratio libvirt / raw QEMU (medians): {b['ratio']:.3f}")
            if "microvm" in b:
                print(f"  ratio microVM / libvirt (medians): {b['microvm_over_libvirt']:.3f}")
    for m in report.get("idle_memory", []):
        parts = [f"{key} median {m[key]['median'] / mib:.0f} MiB "
                 f"({100 * m[key]['fraction_of_given']:.0f}% of given), max "
                 f"{m[key]['max'] / mib:.0f} MiB" for key in ("qemu.rss", "qemu.pss",
                                                            "cgroup_memory") if key in m]
        print(f"idle guest ({m['mode']}, {m.get('machine', 'pc')}) given "
              f"{m['memory_bytes'] / mib:.0f} MiB "
              f"({m['samples']} samples): "
              + "; ".join(parts))
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())

