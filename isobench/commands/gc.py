"""`isobench gc`: remove what killed isobench processes left in this ISOBENCH_ROOT —
a dead bench's native/runc instances (bench/leases.py), containers' processes, cgroups,
overlay dirs, netns, veths, unused bridges, then dead VM runs' domains, microVMs' QEMU
processes, run directories and disks. Running containers and VM runs are not touched."""

from __future__ import annotations

import argparse
from collections import Counter

from bench import leases
from runtime import gc as runtime_gc
from runtime.api import Runtime

VM_KINDS = ("domain", "microvm", "vm run", "vm disk")


def _vm_counts(lines: list[str]) -> dict[str, int]:
    """vm.gc.collect's one line per item -> a count per kind."""
    counts = Counter({kind: 0 for kind in VM_KINDS})
    for line in lines:
        kind = next((k for k in VM_KINDS if line.startswith(f"{k} ")), line)
        counts[kind] += 1
    return {f"{k}s" if k in VM_KINDS else k: n for k, n in counts.items()}


def cmd_gc(args: argparse.Namespace) -> int:
    rt = Runtime()
    in_use, bench_counts = leases.collect(rt, dry_run=args.dry_run)
    try:
        from vm import gc as vm_gc
    except ImportError as e:  # libvirt's bindings absent: no VM can have run here
        vm_gc, vm_note = None, f"vm: not checked ({e})"
    else:
        in_use |= vm_gc.live_runs(rt.root)  # a live VM's tap is its run's endpoint
    collector = runtime_gc.Collector(rt, dry_run=args.dry_run)
    removed = collector.run(parents=False, keep=frozenset(in_use))
    for kind, n in bench_counts.items():
        removed.add(kind, n)
    if vm_gc is None:
        removed.notes.append(vm_note)
    else:
        leftovers = vm_gc.collect(rt.images, rt.root, rt.cgroups, dry_run=args.dry_run)
        for kind, n in _vm_counts(leftovers).items():
            removed.add(kind, n)
    collector.cgroup_parents()  # last: the VM runs' cgroups were under them too
    for line in removed.lines():
        print(line)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gc", help="remove what killed isobench processes left behind")
    p.add_argument("-n", "--dry-run", action="store_true",
                   help="list what would be removed, remove nothing")
    p.set_defaults(handler=cmd_gc)
