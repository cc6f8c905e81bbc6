"""Docker-style resource flag parsing (runtime.limits), no root needed."""

from __future__ import annotations

import json
import os
import stat

import pytest

from runtime import limits as limits_mod
from runtime.limits import (
    DeviceRate,
    Limits,
    cpus_to_quota,
    parse_bytes,
    parse_cpu_shares,
    parse_cpus,
    parse_device_rate,
    parse_memory,
    parse_pids_limit,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("1024", 1024),
        ("512b", 512),
        ("1k", 1024),
        ("1K", 1024),
        ("256m", 256 << 20),
        ("10mb", 10 << 20),
        ("10MB", 10 << 20),
        ("1.5g", 3 << 29),
        ("2G", 2 << 30),
        ("1t", 1 << 40),
        ("1tb", 1 << 40),
        (" 64m ", 64 << 20),
    ],
)
def test_parse_bytes_accepts_docker_units(text: str, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["12q", "", "m", "-1m", "1.2.3g", "10 mbb", "1kib", "abc"])
def test_parse_bytes_rejects_with_one_line(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_bytes(text)
    assert str(info.value) == f"invalid size: {text!r}"


def test_parse_memory_enforces_docker_minimum() -> None:
    assert parse_memory("6m") == 6 << 20
    with pytest.raises(ValueError, match="minimum memory limit allowed is 6MB"):
        parse_memory("4m")


def test_parse_cpus_range_uses_host_cpu_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits_mod.os, "cpu_count", lambda: 2)
    assert parse_cpus("0.5") == 0.5
    assert parse_cpus("2") == 2.0
    assert parse_cpus("0.01") == 0.01
    for bad in ("0", "2.5", "-1", "0.001"):
        with pytest.raises(ValueError) as info:
            parse_cpus(bad)
        assert str(info.value) == (
            "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
        )
    with pytest.raises(ValueError, match="invalid cpus: 'half'"):
        parse_cpus("half")


def test_cpus_to_quota() -> None:
    assert cpus_to_quota(0.5) == 50000
    assert cpus_to_quota(1.5) == 150000
    assert cpus_to_quota(0.01) == 1000
    assert cpus_to_quota(0.25, period_us=200000) == 50000


def test_parse_pids_limit() -> None:
    assert parse_pids_limit("1") == 1
    assert parse_pids_limit("100") == 100
    for bad in ("0", "-1"):
        with pytest.raises(ValueError) as info:
            parse_pids_limit(bad)
        assert str(info.value) == f"invalid pids limit: {bad} (must be a positive integer)"
    with pytest.raises(ValueError, match="invalid pids limit: 'many'"):
        parse_pids_limit("many")


def test_parse_cpu_shares() -> None:
    assert parse_cpu_shares("2") == 2
    assert parse_cpu_shares("1024") == 1024
    assert parse_cpu_shares("262144") == 262144
    for bad in ("1", "0", "262145"):
        with pytest.raises(ValueError, match=r"invalid cpu shares: -?\d+ \(must be between 2"):
            parse_cpu_shares(bad)


class _StatStub:
    def __init__(self, mode: int, rdev: int) -> None:
        self.st_mode = mode
        self.st_rdev = rdev


def test_parse_device_rate_reads_major_minor(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def fake_stat(path: str) -> _StatStub:
        seen.append(path)
        return _StatStub(stat.S_IFBLK | 0o660, os.makedev(8, 16))

    monkeypatch.setattr(limits_mod.os, "stat", fake_stat)
    rate = parse_device_rate("/dev/sdb:10mb")
    assert rate == DeviceRate(major=8, minor=16, bytes_per_sec=10 << 20, path="/dev/sdb")
    assert seen == ["/dev/sdb"]


def test_parse_device_rate_rejects_char_device() -> None:
    with pytest.raises(ValueError) as info:
        parse_device_rate("/dev/null:1mb")
    assert (
        str(info.value) == "invalid device rate: '/dev/null:1mb' (/dev/null is not a block device)"
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("/dev/sda", "expected PATH:RATE"),
        ("/dev/sda:", "expected PATH:RATE"),
        (":10mb", "expected PATH:RATE"),
        ("/dev/sda:10q", "bad rate '10q'"),
        ("/dev/sda:0", "rate must be positive"),
        ("/dev/no-such-disk:1mb", "/dev/no-such-disk: No such file or directory"),
    ],
)
def test_parse_device_rate_errors(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_device_rate(text)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"invalid device rate: {text!r}")
    assert fragment in message


def test_limits_defaults() -> None:
    assert Limits().cpu_period_us == 100000


def test_limits_dict_round_trip_is_json() -> None:
    limits = Limits(
        memory_bytes=256 << 20,
        cpu_quota_us=50000,
        cpu_shares=512,
        pids_max=64,
        device_read_bps=(DeviceRate(8, 0, 10 << 20, "/dev/sda"),),
        device_write_bps=(DeviceRate(8, 16, 1 << 20, "/dev/sdb"), DeviceRate(8, 0, 5, "/dev/sda")),
    )
    data = json.loads(json.dumps(limits.to_dict()))
    assert data["device_read_bps"] == [
        {"path": "/dev/sda", "major": 8, "minor": 0, "bytes_per_sec": 10 << 20}
    ]
    assert Limits.from_dict(data) == limits
    assert Limits.from_dict({}) == Limits()


def test_limits_from_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits_mod.os, "cpu_count", lambda: 2)
    limits = Limits.from_flags(memory="256m", cpus="0.5", cpu_shares="512", pids_limit="10")
    assert limits == Limits(memory_bytes=256 << 20, cpu_quota_us=50000, cpu_shares=512, pids_max=10)
    assert Limits.from_flags() == Limits()
    with pytest.raises(ValueError, match="invalid pids limit: 0"):
        Limits.from_flags(pids_limit="0")


def test_limits_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Limits().pids_max = 3  # type: ignore[misc]
