"""Rate rules resolved to whole disks, against a temp-dir sysfs laid out as the kernel lays
out /sys/dev/block (symlinks into /sys/devices; partitions inside their disk's directory;
dm devices with slaves/). A real partition on a real kernel: test_cgroup_blockdev_live.py."""

from __future__ import annotations

import os
from pathlib import Path

from runtime.cgroups.blockdev import on_whole_disks, whole_disks
from runtime.limits import DeviceRate


def disk(sysfs: Path, path: str, dev: str, partition: bool = False) -> Path:
    node = sysfs / "devices" / path
    node.mkdir(parents=True)
    (node / "dev").write_text(dev + "\n")
    if partition:
        (node / "partition").write_text("2\n")
    (sysfs / "dev" / "block").mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(node, sysfs / "dev" / "block"), sysfs / "dev" / "block" / dev)
    return node


def host(tmp_path: Path) -> str:
    """sda (8:0) with sda2 (8:2); nvme0n1 (259:0) with p1 (259:1); dm-0 (253:0) an LVM
    volume over sda2 and nvme0n1p1; dm-1 (253:1) a crypt over dm-0."""
    sda = disk(tmp_path, "pci/ata1/block/sda", "8:0")
    disk(tmp_path, "pci/ata1/block/sda/sda2", "8:2", partition=True)
    disk(tmp_path, "pci/nvme/block/nvme0n1", "259:0")
    p1 = disk(tmp_path, "pci/nvme/block/nvme0n1/nvme0n1p1", "259:1", partition=True)
    dm0 = disk(tmp_path, "virtual/block/dm-0", "253:0")
    (dm0 / "slaves").mkdir()
    os.symlink(sda / "sda2", dm0 / "slaves" / "sda2")
    os.symlink(p1, dm0 / "slaves" / "nvme0n1p1")
    dm1 = disk(tmp_path, "virtual/block/dm-1", "253:1")
    (dm1 / "slaves").mkdir()
    os.symlink(dm0, dm1 / "slaves" / "dm-0")
    return str(tmp_path / "dev" / "block")


def test_a_whole_disk_is_itself(tmp_path: Path) -> None:
    assert whole_disks(8, 0, host(tmp_path)) == [(8, 0)]


def test_a_partition_is_its_disk(tmp_path: Path) -> None:
    sysfs = host(tmp_path)
    assert whole_disks(8, 2, sysfs) == [(8, 0)]
    assert whole_disks(259, 1, sysfs) == [(259, 0)]


def test_a_dm_volume_is_every_disk_under_it(tmp_path: Path) -> None:
    sysfs = host(tmp_path)
    assert whole_disks(253, 0, sysfs) == [(259, 0), (8, 0)]
    assert whole_disks(253, 1, sysfs) == [(259, 0), (8, 0)]  # crypt over LVM over partitions


def test_a_device_sysfs_does_not_know_is_left_to_the_kernel(tmp_path: Path) -> None:
    assert whole_disks(9, 9, host(tmp_path)) == [(9, 9)]


def test_rates_move_to_disks_first_rule_wins(tmp_path: Path) -> None:
    sysfs = host(tmp_path)
    rates = (DeviceRate(8, 2, 1000, "/dev/sda2"), DeviceRate(253, 0, 2000, "/dev/vg/lv"))
    assert on_whole_disks(rates, sysfs) == (
        DeviceRate(8, 0, 1000, "/dev/sda2"), DeviceRate(259, 0, 2000, "/dev/vg/lv"))
