"""Block device rules need whole disks: io.max and blkio.throttle.* refuse a partition
(EINVAL), and a device-mapper volume (LVM, dm-crypt) only sees I/O its disks see.

A rule given for /dev/sda2 applies to sda; one for an LVM volume to each disk under it,
found as sysfs shows them: /sys/dev/block/MAJ:MIN/partition marks a partition (its parent
directory is the disk), slaves/ lists what a dm or md device sits on.
"""

from __future__ import annotations

import os

from runtime.limits import DeviceRate

SYS_DEV_BLOCK = "/sys/dev/block"
MAX_DEPTH = 8  # dm over md over partitions is 3; a loop in sysfs should not hang us


def _dev(node: str) -> tuple[int, int] | None:
    try:
        with open(os.path.join(node, "dev")) as f:
            major, minor = f.read().strip().split(":")
        return int(major), int(minor)
    except (OSError, ValueError):
        return None


def whole_disks(major: int, minor: int, sys_dev_block: str = SYS_DEV_BLOCK,
                depth: int = 0) -> list[tuple[int, int]]:
    """The disks I/O to MAJ:MIN lands on; the device itself when sysfs does not know it
    (the kernel then says what it thinks of it)."""
    node = os.path.realpath(os.path.join(sys_dev_block, f"{major}:{minor}"))
    if depth >= MAX_DEPTH or not os.path.isdir(node):
        return [(major, minor)]
    if os.path.exists(os.path.join(node, "partition")):
        parent = _dev(os.path.dirname(node))
        if parent is not None:
            return whole_disks(*parent, sys_dev_block, depth + 1)
    slaves = os.path.join(node, "slaves")
    below = sorted(os.listdir(slaves)) if os.path.isdir(slaves) else []
    found: list[tuple[int, int]] = []
    for name in below:
        dev = _dev(os.path.realpath(os.path.join(slaves, name)))
        if dev is not None:
            found += [d for d in whole_disks(*dev, sys_dev_block, depth + 1) if d not in found]
    return found or [(major, minor)]


def on_whole_disks(rates: tuple[DeviceRate, ...],
                   sys_dev_block: str = SYS_DEV_BLOCK) -> tuple[DeviceRate, ...]:
    """Each rule moved to the disks under its device; two rules landing on one disk keep the
    first (the order the user gave them)."""
    out: dict[tuple[int, int], DeviceRate] = {}
    for r in rates:
        for major, minor in whole_disks(r.major, r.minor, sys_dev_block):
            out.setdefault((major, minor), DeviceRate(major, minor, r.bytes_per_sec, r.path))
    return tuple(out.values())
