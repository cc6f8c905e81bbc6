"""density: idle instances started one by one up to the profile's budget, each measured
while those before it still run: the start time and memory of each."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from bench.collectors import monitor_memory
from bench.model import RunRecord, Session, Variant, Workload
from bench.progress import Unit
from bench.targets.vm import BackgroundVm, vm_driver
from bench.workloads.common import BUSYBOX, VM_SMALLEST_BYTES, repeated
from results.metrics import named
from runtime.cgroups import open_cgroup
from runtime.spec import ContainerSpec

VM_READY_TIMEOUT_S = 300        # a TCG boot is ~20 s alone, slower beside idle guests
IDLE = Variant("density.idle", metrics=named(
    "instances", "start_ms_mean", "memory_per_instance_mib", "allocated_mib", "qemu_rss_mib",
    "qemu_pss_mib", "monitor_rss_mib", "monitor_pss_mib"))
# What a container costs outside its cgroup: isobench's monitor (Docker's containerd-shim,
# CRI-O's conmon), a host process per running container. runc run in the foreground has no
# monitor (the caller waits on it), so the runc target has none to count.
MONITOR_NOTE = ("monitor_rss/pss: isobench's per-container monitor process, outside the "
                "container's cgroup (so not in memory_bytes); measured while all the "
                "containers before it still ran")


class Density(Workload):
    def units(self, session: Session) -> list[Unit]:
        profile = session.profile
        targets = ["container"] + (["vm"] if profile.density_vms else [])
        labels = {"container": f"({profile.density_containers} idle containers)",
                  "vm": f"({profile.density_vms} idle VMs of {VM_SMALLEST_BYTES >> 20} MiB)"}
        return [replace(u, label=labels[u.target])
                for u in repeated(session, "density", [IDLE.name], targets)]

    def run_unit(self, session: Session, unit: Unit) -> None:
        profile = session.profile
        if unit.target == "container":
            session.record(_container_density(session, profile.density_containers, unit.rep))
        else:
            session.record(_vm_density(session, profile.density_vms, unit.rep))


def _container_density(session: Session, count: int, rep: int) -> RunRecord:
    rt = session.rt
    rec = RunRecord("density", "density.idle", "container", rep, ok=False,
                    started_at=time.time())
    started: list[str] = []
    per_instance: list[dict[str, Any]] = []
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            result = rt.run(ContainerSpec(BUSYBOX, ["sleep", "600"], network="none"),
                            detach=True)
            start_ms = (time.perf_counter() - t0) * 1000
            started.append(result.container.id)
            time.sleep(0.2)
            mem = open_cgroup(result.container.cgroup).stats().memory_current
            monitor = monitor_memory(rt, result.container.id) or {}
            per_instance.append({"start_ms": start_ms, "memory_bytes": mem,
                                 "monitor_rss_bytes": monitor.get("rss"),
                                 "monitor_pss_bytes": monitor.get("pss")})
        # PSS again once all run: pages the monitors share are then split among all of them
        final = [monitor_memory(rt, cid) or {} for cid in started]
        for p, m in zip(per_instance, final, strict=True):
            p["monitor_pss_all_bytes"] = m.get("pss")
        rec.ok = True
        rec.metrics = {"instances": float(len(started)),
                       "start_ms_mean": sum(p["start_ms"] for p in per_instance) / count,
                       "memory_per_instance_mib": _mean_mib(per_instance, "memory_bytes")}
        rss = _mean_mib(per_instance, "monitor_rss_bytes")
        pss = _mean_mib(per_instance, "monitor_pss_all_bytes")
        if rss is not None and pss is not None:
            rec.metrics.update({"monitor_rss_mib": rss, "monitor_pss_mib": pss})
        rec.extra = {"per_instance": per_instance, "note": MONITOR_NOTE}
    except Exception as e:  # noqa: BLE001
        rec.error = str(e)
    finally:
        for cid in started:
            rt.remove(cid, force=True)
    return rec


def _mean_mib(per_instance: list[dict[str, Any]], key: str) -> float | None:
    """The mean of one reading over the instances, MiB; None when any instance lacks it
    (a missing reading is not a zero)."""
    values = [p[key] for p in per_instance]
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values) / 2**20


def _vm_density(session: Session, count: int, rep: int) -> RunRecord:
    """Idle guests started one by one through the driver (each after the one before printed
    its first line), measured while all before it still run, then all destroyed."""
    # Imported here, not at the top: libvirt-python is optional (bench/targets/vm.py), and
    # this runs only when the vm target is available.
    from vm import host
    from vm.driver import VmRequest

    rec = RunRecord("density", "density.idle", "vm", rep, ok=False, started_at=time.time())
    t0 = time.perf_counter()
    vms: list[BackgroundVm] = []
    per_instance: list[dict[str, Any]] = []
    try:
        for _ in range(count):
            req = VmRequest(image=BUSYBOX, command=["sh", "-c", "echo up; exec sleep 3600"],
                            memory_bytes=VM_SMALLEST_BYTES, vcpus=1,
                            timeout=VM_READY_TIMEOUT_S + 600)
            vm = BackgroundVm(vm_driver(session.rt), req).start()
            vms.append(vm)
            start_s = vm.wait_output(VM_READY_TIMEOUT_S)
            time.sleep(0.5)  # settled, as a container is given 0.2 s
            assert vm.running is not None  # it printed: QEMU runs
            qemu = host.process_memory(vm.running.qemu_pid)
            per_instance.append({"start_ms": start_s * 1000,
                                 "memory_bytes": vm.running.cgroup.stats().memory_current,
                                 "qemu_rss_bytes": qemu.get("rss"),
                                 "qemu_pss_bytes": qemu.get("pss"),
                                 "accel": vm.running.accel})
        n = len(per_instance)
        rec.metrics = {"instances": float(n),
                       "start_ms_mean": sum(p["start_ms"] for p in per_instance) / n,
                       "memory_per_instance_mib": _mean_mib(per_instance, "memory_bytes"),
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



WORKLOAD = Density(
    "density", "bench", (IDLE,),
    "idle instances started one by one up to the profile's budget: the start time and memory "
    "of each.")
