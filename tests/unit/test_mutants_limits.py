"""runtime/limits.py: each limit's edges and messages pinned exactly (what `make mutate`
found the other tests let change)."""

from __future__ import annotations

import os
import stat

import pytest

from runtime import limits as limits_mod
from runtime.limits import DeviceRate, Limits, parse_cpus, parse_device_rate


class _BlockStat:
    st_mode = stat.S_IFBLK | 0o660
    st_rdev = os.makedev(8, 16)


@pytest.fixture
def block_device(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """os.stat answers every path as block device 8:16; the paths asked are recorded."""
    seen: list[str] = []

    def fake_stat(path: str) -> _BlockStat:
        seen.append(path)
        return _BlockStat()

    monkeypatch.setattr(limits_mod.os, "stat", fake_stat)
    return seen


def test_a_host_without_a_cpu_count_allows_one_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits_mod.os, "cpu_count", lambda: None)
    assert parse_cpus("1") == 1.0
    with pytest.raises(ValueError) as caught:
        parse_cpus("1.5")
    assert str(caught.value) == ("range of CPUs is from 0.01 to 1.00, as there are only 1 "
                                 "CPUs available")


def test_bad_integers_name_the_flag_and_its_rule() -> None:
    with pytest.raises(ValueError) as caught:
        Limits.from_flags(pids_limit="lots")
    assert str(caught.value) == "invalid pids limit: 'lots' (must be a positive integer)"
    with pytest.raises(ValueError) as caught:
        Limits.from_flags(cpu_shares="x")
    assert str(caught.value) == "invalid cpu shares: 'x' (must be between 2 and 262144)"


def test_a_device_path_may_hold_colons(block_device: list[str]) -> None:
    path = "/dev/disk/by-path/pci-0000:00:1f.2-ata-1"
    assert parse_device_rate(f"{path}:1mb") == DeviceRate(8, 16, 1 << 20, path)
    assert block_device == [path]


def test_a_rate_of_one_byte_per_second_is_a_rate(block_device: list[str]) -> None:
    assert parse_device_rate("/dev/sdb:1").bytes_per_sec == 1


def test_device_rates_from_flags_are_parsed_in_order(block_device: list[str]) -> None:
    got = Limits.from_flags(device_read_bps=["/dev/sda:1k", "/dev/sdb:2k"],
                            device_write_bps=["/dev/sdc:3k"])
    assert got.device_read_bps == (DeviceRate(8, 16, 1024, "/dev/sda"),
                                   DeviceRate(8, 16, 2048, "/dev/sdb"))
    assert got.device_write_bps == (DeviceRate(8, 16, 3072, "/dev/sdc"),)
    assert block_device == ["/dev/sda", "/dev/sdb", "/dev/sdc"]


def test_the_cpu_period_round_trips_through_a_dict() -> None:
    limits = Limits(cpu_quota_us=25000, cpu_period_us=50000)
    assert limits.to_dict() == {"memory_bytes": None, "cpu_quota_us": 25000,
                                "cpu_period_us": 50000, "cpu_shares": None, "pids_max": None,
                                "device_read_bps": [], "device_write_bps": []}
    assert Limits.from_dict(limits.to_dict()) == limits
    assert Limits.from_dict({}).cpu_period_us == 100000
