"""Memory a guest touched and freed: it stays resident in QEMU's guest-RAM mapping unless
the guest reports free pages (virtio-balloon free-page-reporting), and then it goes back.
Two real TCG boots of busybox (bench/workloads/reclaim.py), ~20 s each."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.integration.test_vm_run import VmCli, nothing_left, vm  # noqa: F401 - fixtures

pytestmark = pytest.mark.root


def test_freed_guest_memory_goes_back_only_with_free_page_reporting(
        vm: VmCli, nothing_left: None) -> None:  # noqa: F811
    from bench.progress import Unit
    from bench.workloads import reclaim
    from runtime.api import Runtime

    session = SimpleNamespace(rt=Runtime(vm.root))
    got = {}
    for variant in reclaim.VARIANTS:
        rec = reclaim.run_reclaim(session, "busybox",  # type: ignore[arg-type]
                                  Unit("footprint", variant, "vm", 0, 1))
        assert rec.ok, rec.error
        got[variant] = rec.metrics
        m = rec.metrics
        # the touch shows in the guest-RAM mapping: at least 3/4 of the 192 MiB written
        assert m["guest_ram_touched_mib"] - m["guest_ram_idle_mib"] > 0.75 * reclaim.TOUCH_MIB, m
        assert m["guest_ram_idle_mib"] < 0.5 * m["allocated_mib"], m  # QEMU maps RAM lazily
    assert got["footprint.reclaim"]["returned_fraction"] < 0.1, got
    assert got["footprint.reclaim_fpr"]["returned_fraction"] > 0.5, got
