"""footprint: host memory charged for one idle instance (its cgroup's memory; for a VM also
QEMU's RSS and PSS and its guest-RAM mapping's resident size), sampled over time, against the
memory it was given; and, on the VM, whether memory the guest touched and freed goes back to
the host (bench/workloads/reclaim.py)."""

from __future__ import annotations

from dataclasses import replace

from bench.model import RunRecord, Session, Variant, Workload, image_tag
from bench.progress import Unit
from bench.targets import Job
from bench.targets.base import is_vm
from bench.workloads import reclaim
from bench.workloads.common import repeated
from results.metrics import named

VM_MEMORY_BYTES = 512 << 20
IDLE = Variant("footprint.idle", metrics=named(
    "memory_mean_mib", "memory_max_mib", "qemu_rss_mib", "qemu_pss_mib", "monitor_rss_mib",
    "monitor_pss_mib", "allocated_mib", "guest_ram_mib"))
RECLAIM_METRICS = named("guest_ram_idle_mib", "guest_ram_touched_mib", "guest_ram_freed_mib",
                        "returned_fraction", "allocated_mib", "touched_mib")
RECLAIM = tuple(Variant(name, metrics=RECLAIM_METRICS) for name in reclaim.VARIANTS)


class Footprint(Workload):
    def units(self, session: Session) -> list[Unit]:
        label = f"({session.profile.footprint_seconds}s idle)"
        return [replace(u, label=label) for u in repeated(session, "footprint", [IDLE.name])] + \
            repeated(session, "footprint", list(reclaim.VARIANTS), targets=["vm"])

    def run_unit(self, session: Session, unit: Unit) -> None:
        if unit.variant in reclaim.VARIANTS:
            session.record(reclaim.run_reclaim(session, image_tag(self.image), unit))
            return
        seconds = session.profile.footprint_seconds
        job = Job(image_tag(self.image), ["sleep", str(seconds)], sample_hz=4,
                  memory_bytes=VM_MEMORY_BYTES if is_vm(unit.target) else None,
                  process_memory=True)
        rec = session.run_job("footprint", unit.variant, unit.target, unit.rep, job, None)
        if rec.ok:
            rec.metrics = _memory_metrics(rec)
        session.record(rec)


def _memory_metrics(rec: RunRecord) -> dict[str, float]:
    """The instance's memory over the run, from its samples and (a VM) QEMU's own figures."""
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
    if qemu.get("guest_ram_rss"):
        out["guest_ram_mib"] = qemu["guest_ram_rss"] / 2**20
    # the host process answering for a container, outside its cgroup: isobench's monitor,
    # runc's foreground process (the targets read it once the instance idles)
    monitor = rec.extra.get("monitor_memory") or {}
    if monitor.get("rss"):
        out["monitor_rss_mib"] = monitor["rss"] / 2**20
    if monitor.get("pss"):
        out["monitor_pss_mib"] = monitor["pss"] / 2**20
    if rec.extra.get("memory_bytes"):
        out["allocated_mib"] = rec.extra["memory_bytes"] / 2**20
    return out



WORKLOAD = Footprint(
    "footprint", "bench", (IDLE, *RECLAIM),
    "host-side memory charged for one idle instance (its cgroup's memory; for a VM also QEMU's "
    "RSS and PSS and its guest-RAM mapping's resident size) against the memory it was given, "
    "sampled over time; on the VM, a guest that touches and frees 192 MiB, with and without "
    "free page reporting, and how much of it went back to the host.")
