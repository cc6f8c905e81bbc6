"""Capabilities and no_new_privs (runtime.security), against RecordingSyscalls."""

from __future__ import annotations

import pytest

from runtime import security
from runtime.security import (
    CAPABILITIES,
    DEFAULT_CAPABILITIES,
    capability_mask,
    drop_bounding_set,
    set_capabilities,
    set_no_new_privs,
)
from runtime.syscalls import (
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAPBSET_DROP,
    PR_SET_NO_NEW_PRIVS,
    RecordingSyscalls,
)

DOCKER_CAPEFF = 0xA80425FB  # CapEff in /proc/PID/status of a default `docker run` as root


def test_default_mask_is_what_docker_shows_in_capeff() -> None:
    assert capability_mask(DEFAULT_CAPABILITIES) == DOCKER_CAPEFF


def test_default_set_has_fourteen_distinct_known_capabilities() -> None:
    assert len(set(DEFAULT_CAPABILITIES)) == 14
    assert all(name in CAPABILITIES for name in DEFAULT_CAPABILITIES)
    assert bin(DOCKER_CAPEFF).count("1") == 14


def test_capability_numbers_are_the_kernels() -> None:
    assert CAPABILITIES["SYS_ADMIN"] == 21
    assert CAPABILITIES["NET_ADMIN"] == 12
    assert CAPABILITIES["SETFCAP"] == 31
    assert CAPABILITIES["CHECKPOINT_RESTORE"] == 40
    assert sorted(CAPABILITIES.values()) == list(range(41))


@pytest.mark.parametrize("name", ["NET_ADMIN", "net_admin", "CAP_NET_ADMIN", "cap_net_admin"])
def test_mask_accepts_any_case_and_cap_prefix(name: str) -> None:
    assert capability_mask([name]) == 1 << 12


def test_empty_mask_is_zero() -> None:
    assert capability_mask([]) == 0


def test_unknown_capability_is_rejected() -> None:
    with pytest.raises(KeyError):
        capability_mask(["NOT_A_CAP"])


def test_drop_bounding_set_drops_exactly_what_is_not_kept_then_clears_ambient() -> None:
    sc = RecordingSyscalls()
    mask = capability_mask(DEFAULT_CAPABILITIES)
    drop_bounding_set(sc, mask, last_cap=40)
    drops = [c[2] for c in sc.calls if c[:2] == ("prctl", PR_CAPBSET_DROP)]
    assert len(drops) == 41 - 14
    assert drops == [cap for cap in range(41) if not mask & (1 << cap)]
    assert CAPABILITIES["SYS_ADMIN"] in drops
    assert CAPABILITIES["CHOWN"] not in drops
    assert sc.calls[-1] == ("prctl", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    assert len(sc.calls) == len(drops) + 1


def test_drop_bounding_set_stops_at_the_kernels_last_cap() -> None:
    sc = RecordingSyscalls()
    drop_bounding_set(sc, 0, last_cap=37)
    drops = [c[2] for c in sc.calls if c[:2] == ("prctl", PR_CAPBSET_DROP)]
    assert drops == list(range(38))


def test_keeping_everything_drops_nothing_but_still_clears_ambient() -> None:
    sc = RecordingSyscalls()
    drop_bounding_set(sc, (1 << 41) - 1, last_cap=40)
    assert sc.calls == [("prctl", PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)]


def test_set_capabilities_keeps_mask_effective_and_permitted_and_nothing_inheritable() -> None:
    sc = RecordingSyscalls()
    set_capabilities(sc, DOCKER_CAPEFF)
    assert sc.calls == [("capset", DOCKER_CAPEFF, DOCKER_CAPEFF, 0)]


def test_set_no_new_privs() -> None:
    sc = RecordingSyscalls()
    set_no_new_privs(sc)
    assert sc.calls == [("prctl", PR_SET_NO_NEW_PRIVS, 1)]


def test_last_capability_reads_the_kernel() -> None:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            expected = int(f.read())
    except OSError:
        expected = 40
    assert security.last_capability() == expected
