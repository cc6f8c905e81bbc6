"""limits: --cpus 0.5 and --memory 64m on every target: the CPU share a busy process gets
(host cgroup accounting), and what overrunning the memory does (an OOM kill, or the guest's
own OOM killer in a VM given the same size)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bench.model import ParseError, RunRecord, Session, Variant, Workload, image_tag
from bench.parsers import parse_stress_ng_metrics
from bench.progress import Unit
from bench.targets import Job
from bench.targets.base import is_vm
from bench.workloads.common import BUSYBOX, VM_SMALLEST_BYTES, repeated
from results.metrics import named
from runtime.limits import Limits

BUSY_LOOP = 'timeout {s} sh -c "while :; do :; done"; true'
BUSY_SECONDS = 3
CPU_HALF = Limits(cpu_quota_us=50_000)
# Anonymous memory, twice the limit, held: the OOM killer's business, and nothing left
# behind on any target when the process dies (unlike a file on a tmpfs). In four workers
# (stress-ng divides --vm-bytes among them): a guest's kernel (overcommit heuristic, no
# swap) refuses one mapping larger than its RAM outright, so one 512 MiB worker in a 256 MiB
# VM never touched a page and no OOM killer ever acted; four of 128 MiB each are allowed,
# and killed.
MEMORY_HOG = "stress-ng --vm 4 --vm-bytes {mib}M --vm-keep --timeout 4s -v --metrics-brief 2>&1"
# How far the peak may pass the limit and the limit still count as held, in MiB. Below the
# overrun (the hog asks twice the limit), so a limit not enforced is still caught.
# Containers, native, runc: the peak is read where each target accounts (runc: our cgroup
# around runc's limited one), which also holds the page cache of the image files read on the
# way in (sh, stress-ng and its libraries: a few MiB) and the kernel's per-CPU charge stock
# (64 pages a CPU); 16 MiB covers both on any machine of up to a few dozen CPUs.
# VM: the limit is the guest's RAM, while QEMU's cgroup also holds QEMU itself (binary,
# libraries, TCG's translation buffer under emulation) and the host's page cache of the
# guest's kernel, initrd and disk: 192 MiB, still below the 256 MiB a guest would overrun by.
PEAK_MARGIN_MIB = {"vm": 192.0, "microvm": 192.0}
DEFAULT_PEAK_MARGIN_MIB = 16.0
VARIANTS = (
    Variant("limits.cpu_half", metrics=named("cpu_share")),
    Variant("limits.memory_64m", metrics=named(
        "exit_code", "given_mib", "oom_kills", "oom_restarts", "peak_mib")),
)


class LimitsWorkload(Workload):
    def units(self, session: Session) -> list[Unit]:
        return [replace(u, label="(--cpus 0.5)" if u.variant == "limits.cpu_half" else
                        f"({_memory_size(u.target) >> 20} MiB, twice that allocated)")
                for u in repeated(session, "limits", [v.name for v in VARIANTS])]

    def run_unit(self, session: Session, unit: Unit) -> None:
        if unit.variant == "limits.cpu_half":
            session.record(_cpu_half(session, unit.target, unit.rep))
            return
        session.record(_memory_overrun(session, image_tag(self.image), unit.target,
                                       _memory_size(unit.target), unit.rep))


def _memory_size(target: str) -> int:
    return VM_SMALLEST_BYTES if is_vm(target) else 64 << 20


def _cpu_half(session: Session, target: str, rep: int) -> RunRecord:
    job = Job(BUSYBOX, ["sh", "-c", BUSY_LOOP.format(s=BUSY_SECONDS)], limits=CPU_HALF)
    rec = session.run_job("limits", "limits.cpu_half", target, rep, job, None)
    if is_vm(target):
        share = vm_busy_share(rec.accounting.get("samples") or [],
                              rec.extra.get("timings") or {})
    else:
        used = (rec.accounting.get("delta") or {}).get("cpu_total_ns")
        share = used / (BUSY_SECONDS * 1e9) if used else None
    if rec.ok and share is not None:
        rec.metrics = {"cpu_share": share}
    elif rec.ok:
        rec.ok, rec.error = False, "no CPU accounting to derive the share from"
    return rec


def _memory_overrun(session: Session, image: str, target: str, size: int,
                    rep: int) -> RunRecord:
    hog = MEMORY_HOG.format(mib=2 * size >> 20)
    job = Job(image, ["sh", "-c", hog], limits=Limits(memory_bytes=size),
              memory_bytes=size if is_vm(target) else None)
    rec = session.run_job("limits", "limits.memory_64m", target, rep, job, _oom_restarts,
                          quiet=True)
    # An overrun is the point: a non-zero exit is expected; the run fails when the limit did
    # not hold, or when that cannot be told. A reading the target did not give is None.
    if rec.exit_code is not None:
        end = rec.accounting.get("end") or {}
        restarts = rec.metrics.get("oom_restarts", _oom_restarts(rec.output)["oom_restarts"])
        kills, peak = end.get("oom_kills"), end.get("memory_peak")
        rec.metrics = {"exit_code": float(rec.exit_code), "given_mib": size / 2**20,
                       "oom_kills": None if kills is None else float(kills),
                       "oom_restarts": restarts,
                       "peak_mib": None if peak is None else float(peak) / 2**20}
        problem = memory_limit_problem(target, rec.metrics)
        rec.ok, rec.error = problem is None, problem or ""
    return rec


def memory_limit_problem(target: str, m: dict[str, float | None]) -> str | None:
    """Why a limits.memory_64m run shows no held limit, or None when it held: the OOM
    killer acted (the cgroup's oom_kill count, or exit 137; in a VM the guest's own, which
    stress-ng saw) and the peak stayed within the limit plus PEAK_MARGIN_MIB."""
    given = m["given_mib"] or 0.0
    kills, code, restarts, peak = m["oom_kills"], m["exit_code"], m["oom_restarts"], m["peak_mib"]
    acted = code == 137 or bool(kills) or (is_vm(target) and bool(restarts))
    problems = []
    if not acted:
        seen = "no oom_kill reading" if kills is None else f"oom_kills {kills:g}"
        problems.append(f"no OOM kill ({seen}, exit {code:g})" if code is not None
                        else f"no OOM kill ({seen})")
    margin = PEAK_MARGIN_MIB.get(target, DEFAULT_PEAK_MARGIN_MIB)
    if peak is None:
        problems.append("no peak memory reading")
    elif peak > given + margin:
        problems.append(f"peak {peak:.1f} MiB above {given:g} MiB + a {margin:g} MiB margin")
    if not problems:
        return None
    return f"the {given:g} MiB memory limit did not hold on {target}: " + "; ".join(problems)


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


WORKLOAD = LimitsWorkload(
    "limits", "bench", VARIANTS,
    "--cpus 0.5 and --memory 64m: the CPU share a busy process gets (host cgroup accounting; "
    "stress-ng's own view via parse_stress_ng_metrics) and what overrunning the memory does "
    "(OOM kill, or the guest's own OOM killer in a VM given the same size).")
