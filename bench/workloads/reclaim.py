"""footprint.reclaim / footprint.reclaim_fpr: does a VM give back memory its guest freed?

The guest idles, touches TOUCH_MIB (a file written to its tmpfs /dev/shm: the guest kernel
takes those pages from its free memory), frees them (rm), and idles again, printing a line at
each step. Meanwhile the host samples the resident size of QEMU's guest-RAM mapping
(vm/host.py guest_ram_rss: not QEMU's whole RSS, which under TCG includes its translation
cache). The same boot twice: with the default virtio-balloon (reclaim), and with free page
reporting on (reclaim_fpr: the guest reports freed 2 MiB blocks, QEMU discards them).

returned_fraction = (touched - freed) / (touched - idle): 0 when what the guest freed stays
resident on the host, 1 when all of it went back.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bench.model import RunRecord, Session
from bench.progress import Unit
from bench.targets.vm import BackgroundVm, vm_driver

VM_MEMORY_BYTES = 512 << 20
TOUCH_MIB = 192          # /dev/shm is half the guest's RAM: 256 MiB of a 512 MiB guest
IDLE_S, HELD_S, SETTLE_S = 3, 3, 8   # free page reporting waits 2 s before it reports
SAMPLE_S = 0.25
VARIANTS = {"footprint.reclaim": False, "footprint.reclaim_fpr": True}
SCRIPT = (f"echo idle; sleep {IDLE_S}; "
          f"dd if=/dev/zero of=/dev/shm/touch bs=1M count={TOUCH_MIB} 2>/dev/null; "
          f"echo touched; sleep {HELD_S}; rm /dev/shm/touch; echo freed; sleep {SETTLE_S}; "
          "echo done")
MIB = 1 << 20


@dataclass
class Lines:
    """A stdout sink that notes when each of the guest's lines arrived."""

    at: dict[str, float] = field(default_factory=dict)
    event: threading.Event = field(default_factory=threading.Event)
    _buf: bytes = b""

    def write(self, data: bytes) -> int:
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            self.at.setdefault(line.decode(errors="replace").strip(), time.monotonic())
        self.event.set()
        return len(data)

    def flush(self) -> None:
        pass


def _within(samples: list[tuple[float, int]], start: float, end: float) -> list[int]:
    return [v for t, v in samples if start <= t < end]


def phases(samples: list[tuple[float, int]], at: dict[str, float]) -> dict[str, float]:
    """idle: the median before the touch; touched: the largest between "touched" and
    "freed"; freed: the median of the settled last half of the wait after "freed"."""
    idle = _within(samples, at["idle"], at["idle"] + IDLE_S)
    held = _within(samples, at["touched"], at["freed"])
    settle_from = at["freed"] + SETTLE_S / 2
    freed = _within(samples, settle_from, at.get("done", settle_from + SETTLE_S / 2))
    if not (idle and held and freed):
        raise RuntimeError(f"too few samples (idle {len(idle)}, touched {len(held)}, "
                           f"freed {len(freed)})")
    out = {"guest_ram_idle_mib": statistics.median(idle) / MIB,
           "guest_ram_touched_mib": max(held) / MIB,
           "guest_ram_freed_mib": statistics.median(freed) / MIB}
    grown = out["guest_ram_touched_mib"] - out["guest_ram_idle_mib"]
    out["returned_fraction"] = (out["guest_ram_touched_mib"] - out["guest_ram_freed_mib"]) / \
        grown if grown > 0 else 0.0
    return out


def run_reclaim(session: Session, image: str, unit: Unit) -> RunRecord:
    """One boot of the phases under `unit.variant`'s balloon."""
    from vm.driver import VmRequest  # needs libvirt: see bench/targets/vm.py
    from vm.host import guest_ram_rss

    fpr = VARIANTS[unit.variant]
    rec = RunRecord("footprint", unit.variant, "vm", unit.rep, ok=False, started_at=time.time())
    lines = Lines()
    req = VmRequest(image=image, command=["sh", "-c", SCRIPT], memory_bytes=VM_MEMORY_BYTES,
                    timeout=300, free_page_reporting=fpr)
    vm = BackgroundVm(vm_driver(session.rt), req)
    vm.output = lines  # type: ignore[assignment] - the driver only writes and flushes it
    samples: list[tuple[float, int]] = []
    t0 = time.perf_counter()
    vm.start()
    try:
        deadline = time.monotonic() + 300
        while "done" not in lines.at and not vm.finished and time.monotonic() < deadline:
            running = vm.running
            if running is not None:
                rss = guest_ram_rss(running.qemu_pid, VM_MEMORY_BYTES)
                if rss is not None:
                    samples.append((time.monotonic(), rss))
            time.sleep(SAMPLE_S)
        rec.metrics = phases(samples, lines.at)
        rec.metrics["allocated_mib"] = VM_MEMORY_BYTES / MIB
        rec.metrics["touched_mib"] = float(TOUCH_MIB)
        rec.ok = True
    except Exception as e:  # noqa: BLE001 - recorded, the session goes on
        rec.error = str(e)
    finally:
        vm.stop()
        if vm.error is not None and rec.ok:
            rec.ok, rec.error = False, f"teardown: {vm.error}"
    rec.wall_s = time.perf_counter() - t0
    start = samples[0][0] if samples else 0.0
    rec.extra = {"memory_bytes": VM_MEMORY_BYTES, "free_page_reporting": fpr,
                 "accel": vm.running.accel if vm.running else None,
                 "series": [[round(t - start, 3), v] for t, v in samples],
                 "phases_at": {k: round(v - start, 3) for k, v in lines.at.items()},
                 "setup": _setup(fpr)}
    return rec


def _setup(fpr: bool) -> dict[str, Any]:
    balloon = "virtio-balloon with free page reporting" if fpr else \
        "virtio-balloon, no free page reporting"
    return {"tools": "the image's busybox (dd to the guest's tmpfs, rm)", "network": "none",
            "timer": f"samples of QEMU's guest-RAM mapping (smaps Rss) every {SAMPLE_S:g} s",
            "limits": f"{VM_MEMORY_BYTES >> 20} MiB guest RAM; {balloon}"}
