"""reports/claims.py: the rules that can now come out either way (issue 15) — the kernel told
apart by its boot_id, the build trace checked against what it claims, and the verdicts for
lecture claims 7 (runc), 11 (networks) and 12 (compose). Each rule on hand-made documents in
every direction: supported, refuted and inconclusive."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reports import claims
from reports.claims import INCONCLUSIVE, REFUTED, SUPPORTED
from tests.unit.test_report_claims import HOST_NS, TCG, build_run, namespaces_run
from tests.unit.test_report_support import MIB, doc, run

HOST_BOOT = "2f99053d-3c7c-4ba5-9c74-57894384568c"
GUEST_BOOT = "7da4ef1b-2aef-45ad-8d26-17ce4c410867"


def booted(target: str, boot_id: str, release: str = "6.18.1") -> dict[str, Any]:
    """evidence.kernel as bench/workloads/evidence.py now records it."""
    return run("evidence", "evidence.kernel", target, {"same_as_host": float(boot_id == HOST_BOOT)},
               extra={"release": release, "host_release": "6.18.1", "boot_id": boot_id,
                      "host_boot_id": HOST_BOOT, "accel": "tcg" if target == "vm" else None})


# -- rule 4 by boot_id --------------------------------------------------------------------------

def test_shared_kernel_by_boot_id_supported_even_when_the_vm_has_the_hosts_release() -> None:
    """The release alone could not tell a VM booting the host's kernel build apart; its
    boot_id can, so the contrast is complete with no condition but the accelerator's."""
    v = claims.shared_kernel(doc(booted("native", HOST_BOOT), booted("container", HOST_BOOT),
                                 booted("runc", HOST_BOOT), booted("vm", GUEST_BOOT),
                                 machine=TCG))
    assert v.verdict == SUPPORTED
    assert v.condition_codes == ["tcg"]
    assert v.numbers["boot_ids"] == {"native": HOST_BOOT, "container": HOST_BOOT,
                                     "runc": HOST_BOOT, "vm": GUEST_BOOT}
    assert v.numbers["host_boot_id"] == HOST_BOOT


def test_shared_kernel_refuted_when_a_container_has_another_boot_id() -> None:
    v = claims.shared_kernel(doc(booted("container", HOST_BOOT), booted("runc", GUEST_BOOT)))
    assert v.verdict == REFUTED
    assert v.basis == ("container_kernel_differs",
                       {"targets": "runc", "release": "6.18.1", "host": "6.18.1"})


def test_shared_kernel_refuted_when_the_vm_shows_the_hosts_boot_id() -> None:
    """A "VM" on the host's kernel is no VM: the claim's second half fails."""
    v = claims.shared_kernel(doc(booted("container", HOST_BOOT), booted("vm", HOST_BOOT)))
    assert v.verdict == REFUTED
    assert v.basis == ("vm_shares_kernel", {"boot_id": HOST_BOOT})


def test_shared_kernel_from_releases_only_says_so() -> None:
    old = run("evidence", "evidence.kernel", "container", {"same_as_host": 1.0},
              extra={"release": "6.18.1", "host_release": "6.18.1"})
    v = claims.shared_kernel(doc(old))
    assert v.verdict == SUPPORTED
    assert v.condition_codes == ["no_vm", "release_only"]
    assert "boot_ids" not in v.numbers


def test_shared_kernel_without_container_targets_is_inconclusive() -> None:
    v = claims.shared_kernel(doc(booted("native", HOST_BOOT), booted("vm", GUEST_BOOT)))
    assert v.verdict == INCONCLUSIVE and v.basis[0] == "no_evidence"


# -- rule 8: the trace checked against what it claims -------------------------------------------

def verified(rehashed: int | None = 2, stacked: bool | None = True) -> dict[str, Any]:
    r = build_run()
    if rehashed is not None:
        r["extra"]["image"]["layers_rehashed_equal"] = rehashed
    if stacked is not None:
        r["extra"]["container"]["root_is_image_layers"] = stacked
    return r


def test_build_trace_verified_is_supported_without_conditions() -> None:
    v = claims.build_trace(doc(verified(), namespaces_run()))
    assert v.verdict == SUPPORTED and v.conditions == []
    assert (v.numbers["layers_rehashed_equal"], v.numbers["root_is_image_layers"]) == (2, True)


def test_build_trace_refuted_when_a_digest_does_not_match_its_files() -> None:
    v = claims.build_trace(doc(verified(rehashed=1), namespaces_run()))
    assert v.verdict == REFUTED
    assert v.basis == ("digest_mismatch", {"equal": 1, "layers": 2})


def test_build_trace_refuted_when_the_root_is_not_the_images_layers() -> None:
    v = claims.build_trace(doc(verified(stacked=False), namespaces_run()))
    assert v.verdict == REFUTED and v.basis == ("root_not_layers", {})


def test_build_trace_recorded_before_the_check_is_supported_with_a_condition() -> None:
    v = claims.build_trace(doc(verified(rehashed=None, stacked=None), namespaces_run()))
    assert v.verdict == SUPPORTED and v.condition_codes == ["trace_not_verified"]


# -- rule 11: runc runs a bundle (claim 7) ------------------------------------------------------

SHA = "3d9f2889d6782537624a4e1a10e68a2ddd53e0ee8bac02676f27308f42ec6bf6"
OWN_NS = {"pid": 101, "net": 102, "mnt": 103, "uts": 104}
HOST = {n: HOST_NS[n] for n in OWN_NS}


def isolation(target: str, pid: int = 1, ns: dict[str, int] | None = None,
              sha: str = SHA) -> dict[str, Any]:
    inodes = dict(ns or OWN_NS)
    return run("evidence", "evidence.runc", target,
               {"namespaces_differing": float(sum(inodes[n] != HOST[n] for n in HOST))},
               extra={"pid_inside": pid, "ns_inodes": inodes, "ns_inodes_host": dict(HOST),
                      "rootfs_busybox_sha256": sha})


def test_runc_bundle_supported_when_both_isolate_the_same_rootfs() -> None:
    v = claims.runc_bundle(doc(isolation("runc"), isolation("container", pid=2)))
    assert v.verdict == SUPPORTED
    assert v.basis == ("same_bundle_isolated", {"pid": 1, "pid_container": 2})
    assert v.numbers["runc"] == {"pid_inside": 1, "namespaces_differing": 4.0,
                                 "rootfs_busybox_sha256": SHA}
    assert v.lecture == (7,)


@pytest.mark.parametrize("target", ["runc", "container"])
def test_runc_bundle_refuted_when_a_runtime_shares_the_hosts_network(target: str) -> None:
    runs = {"runc": isolation("runc"), "container": isolation("container")}
    runs[target] = isolation(target, ns={**OWN_NS, "net": HOST["net"]})
    v = claims.runc_bundle(doc(*runs.values()))
    assert v.verdict == REFUTED
    assert v.basis == ("runtime_not_isolated", {"target": target, "names": "net"})


def test_runc_bundle_refuted_when_runcs_process_is_not_pid_1_or_2() -> None:
    v = claims.runc_bundle(doc(isolation("runc", pid=3), isolation("container")))
    assert v.verdict == REFUTED and v.basis == ("pid_not_small", {"pid": 3})


def test_runc_bundle_inconclusive_when_the_rootfs_differs() -> None:
    v = claims.runc_bundle(doc(isolation("runc"), isolation("container", sha="0" * 64)))
    assert v.verdict == INCONCLUSIVE and v.basis == ("different_rootfs", {})


def test_runc_bundle_runc_alone_is_supported_with_the_missing_container_noted() -> None:
    v = claims.runc_bundle(doc(isolation("runc")))
    assert v.verdict == SUPPORTED
    assert v.basis == ("runc_isolated", {"pid": 1}) and v.condition_codes == ["no_container"]


def test_runc_bundle_without_a_runc_run_is_inconclusive() -> None:
    v = claims.runc_bundle(doc(isolation("container")))
    assert v.verdict == INCONCLUSIVE and v.basis[0] == "no_evidence"


# -- rules 12 and 13: networks (claim 11) and compose (claim 12) --------------------------------

NETWORK = ("reached_by_name", "published_port_answered")
COMPOSE = (*NETWORK, "down_removed_all")


def app(variant: str, **metrics: float) -> dict[str, Any]:
    return run("evidence", variant, "container", dict(metrics))


@pytest.mark.parametrize(("rule", "variant", "checks"), [
    (claims.networks_join, "evidence.network", NETWORK),
    (claims.compose_app, "evidence.compose", COMPOSE),
])
def test_app_rules_in_every_direction(rule: Any, variant: str, checks: tuple[str, ...]) -> None:
    every = {c: 1.0 for c in checks}
    v = rule(doc(app(variant, **every)))
    assert v.verdict == SUPPORTED and v.basis == ("checks_passed", {"passed": ", ".join(checks)})
    for failing in checks:
        v = rule(doc(app(variant, **{**every, failing: 0.0})))
        assert v.verdict == REFUTED and v.basis == ("checks_failed", {"failed": failing})
        partial = copy.deepcopy(every)
        del partial[failing]
        v = rule(doc(app(variant, **partial)))
        assert v.verdict == INCONCLUSIVE and v.basis == ("incomplete", {"what": failing})
    # a failure outweighs a missing check
    v = rule(doc(app(variant, **{checks[0]: 0.0})))
    assert v.verdict == REFUTED
    assert rule(doc()).basis == ("no_evidence", {"what": variant})


def test_every_claim_of_the_lecture_has_a_rule() -> None:
    """LECTURE-CLAIMS.md lists twelve claims; each is some rule's lecture reference."""
    covered = {n for rule in claims.CLAIMS for n in rule(doc()).lecture}
    assert covered == set(range(2, 13)) | {1}


# -- rule 7: the container's weight includes its monitor ----------------------------------------

def with_monitor(pss_mib: float) -> dict[str, Any]:
    from tests.unit.test_report_claims import footprint

    r = footprint("container", [1.0, 1.0])
    r["metrics"]["monitor_pss_mib"] = pss_mib
    return r


def test_weigh_less_counts_the_monitor_and_that_can_change_the_verdict() -> None:
    from tests.unit.test_report_claims import vm_footprint

    vm = vm_footprint([15.0, 15.0, 15.0])
    light = claims.weigh_less(doc(with_monitor(2.0), vm))
    assert light.verdict == SUPPORTED and light.numbers["container_mib"] == 3.0
    assert (light.numbers["container_cgroup_mib"], light.numbers["container_monitor_pss_mib"]) \
        == (1.0, 2.0)
    # the same cgroup with a 12 MiB monitor is no longer 1.5x lighter than the VM
    heavy_monitor = claims.weigh_less(doc(with_monitor(12.0), vm))
    assert heavy_monitor.verdict == INCONCLUSIVE and heavy_monitor.basis[0] == "close"
    # and a monitor as heavy as the VM refutes it
    assert claims.weigh_less(doc(with_monitor(14.0), vm)).verdict == REFUTED


def test_weigh_less_without_the_monitor_says_so() -> None:
    from tests.unit.test_report_claims import footprint, vm_footprint

    v = claims.weigh_less(doc(footprint("container", [1.0, 1.0]), vm_footprint([15.0, 15.0])))
    assert v.verdict == SUPPORTED and "monitor_not_counted" in v.condition_codes
    assert v.numbers["container_mib"] == v.numbers["container_cgroup_mib"] == 1.0


# -- rule 14: the network path's cost (Felter et al.'s comparison) ------------------------------

def net(variant: str, target: str, gbit: float, lat: float, placement: str | None = None,
        rep: int = 0) -> dict[str, Any]:
    extra = {"placement": placement} if placement else {}
    if target == "vm":
        extra["accel"] = "tcg"
    return run("net", variant, target, {"iperf3_gbit_s": gbit, "tcp_lat_us": lat}, extra=extra,
               rep=rep)


def felter(host: tuple[float, float], bridge: tuple[float, float], tap: tuple[float, float],
           reps: int = 5) -> dict[str, Any]:
    """Five repetitions of each path, each (Gbit/s, µs); slirp and loopback beside them."""
    runs = []
    for rep in range(reps):
        runs += [net("net.hostnet", "container", *host, "container-host", rep),
                 net("net.bridge", "container", *bridge, "container-bridge", rep),
                 net("net.bridge", "vm", *tap, "vm-tap", rep),
                 net("net.usernet", "vm", 0.1, 900.0, "vm-usernet", rep),
                 net("net.bridge", "native", 40.0, 20.0, None, rep)]
    return doc(*runs, machine=TCG)


def test_network_cost_supported_in_felters_direction() -> None:
    v = claims.network_cost(felter(host=(30.0, 25.0), bridge=(20.0, 40.0), tap=(1.0, 300.0)))
    assert v.verdict == SUPPORTED and v.basis[0] == "net_agrees"
    assert v.numbers["container_bridge_vs_container_host"] == "agrees"
    assert v.numbers["vm_tap_vs_container_bridge_gbit_ratio"] == pytest.approx(0.05)
    assert v.numbers["paths"]["vm_slirp"] == {"n": 5, "gbit_s": 0.1, "lat_us": 900.0}
    assert v.numbers["paths"]["native"]["n"] == 5
    assert v.condition_codes == ["tcg"]


def test_network_cost_refuted_when_the_bridge_beats_the_host_network() -> None:
    v = claims.network_cost(felter(host=(20.0, 40.0), bridge=(30.0, 25.0), tap=(1.0, 300.0)))
    assert v.verdict == REFUTED and v.basis[0] == "net_contradicts"
    assert v.numbers["container_bridge_vs_container_host"] == "contradicts"
    assert v.numbers["vm_tap_vs_container_bridge"] == "agrees"


def test_network_cost_refuted_when_the_vms_tap_beats_the_containers_bridge() -> None:
    v = claims.network_cost(felter(host=(30.0, 25.0), bridge=(20.0, 40.0), tap=(25.0, 30.0)))
    assert v.verdict == REFUTED
    assert v.numbers["vm_tap_vs_container_bridge"] == "contradicts"


@pytest.mark.parametrize("bridge", [(29.0, 25.5), (35.0, 45.0)], ids=["within_margin", "mixed"])
def test_network_cost_inconclusive_within_the_margin_or_mixed(bridge: tuple[float, float]
                                                              ) -> None:
    v = claims.network_cost(felter(host=(30.0, 25.0), bridge=bridge, tap=(1.0, 300.0)))
    assert v.verdict == INCONCLUSIVE and v.basis[0] == "net_even"
    assert v.numbers["container_bridge_vs_container_host"] == "even"


def test_network_cost_needs_the_vms_tap_and_ignores_a_slirp_bridge_record() -> None:
    d = felter(host=(30.0, 25.0), bridge=(20.0, 40.0), tap=(1.0, 300.0))
    d["runs"] = [r for r in d["runs"] if (r["extra"].get("placement") != "vm-tap")]
    d["runs"].append(net("net.bridge", "vm", 0.1, 900.0, "vm-usernet"))  # not a tap
    v = claims.network_cost(d)
    assert v.verdict == INCONCLUSIVE and v.basis == ("incomplete", {"what": "vm_tap"})
    assert claims.network_cost(doc()).basis == ("no_evidence", {"what": "net"})


def test_network_cost_with_few_runs_says_so() -> None:
    v = claims.network_cost(felter(host=(30.0, 25.0), bridge=(20.0, 40.0), tap=(1.0, 300.0),
                                   reps=2))
    assert v.verdict == SUPPORTED and v.condition_codes == ["tcg", "few_runs"]


# -- rule 5 by the guest-RAM mapping, with the touch-then-free phase -----------------------------

def guest_ram_footprint(cgroup_mib: list[float], guest_mib: list[float]) -> dict[str, Any]:
    """footprint.idle on a TCG VM whose samples carry QEMU's guest-RAM mapping's Rss."""
    from tests.unit.test_report_claims import vm_footprint

    r = vm_footprint(cgroup_mib)
    for sample, mib in zip(r["accounting"]["samples"], guest_mib, strict=True):
        sample["qemu"]["guest_ram_rss"] = int(mib * MIB)
    return r


def reclaimed(variant: str, fraction: float) -> dict[str, Any]:
    return run("footprint", variant, "vm", {"returned_fraction": fraction,
                                            "guest_ram_idle_mib": 60.0}, extra={"accel": "tcg"})


def test_vm_memory_reads_the_guest_ram_mapping_not_qemus_whole_cgroup() -> None:
    """The cgroup (TCG's translation cache in it) says "holds", guest RAM alone says "lazy":
    the rule follows guest RAM, and no tcg_cache condition is due."""
    r = guest_ram_footprint([480, 490, 500], [60, 62, 64])
    v = claims.vm_holds_memory(doc(r, machine=TCG))
    assert v.verdict == REFUTED and v.basis[0] == "vm_lazy"
    assert v.numbers["series"] == "guest_ram" and v.numbers["max_mib"] == 64
    assert "tcg_cache" not in v.condition_codes


def test_vm_memory_refuted_when_freed_memory_goes_back_with_reporting() -> None:
    r = guest_ram_footprint([500, 500, 500], [500, 505, 510])
    v = claims.vm_holds_memory(doc(r, reclaimed("footprint.reclaim", 0.01),
                                   reclaimed("footprint.reclaim_fpr", 0.9), machine=TCG))
    assert v.verdict == REFUTED and v.basis == ("vm_returns", {"fraction": 0.9})
    assert v.numbers["returned"] == 0.01 and v.numbers["returned_fpr_n"] == 1


def test_vm_memory_supported_when_nothing_goes_back_even_with_reporting() -> None:
    r = guest_ram_footprint([500, 500, 500], [500, 505, 510])
    v = claims.vm_holds_memory(doc(r, reclaimed("footprint.reclaim", 0.02),
                                   reclaimed("footprint.reclaim_fpr", 0.05), machine=TCG))
    assert v.verdict == SUPPORTED and v.basis[0] == "vm_holds"
    assert v.condition_codes == ["tcg", "freed_kept"]
    # without the reporting run, the verdict says what it did not measure
    alone = claims.vm_holds_memory(doc(r, machine=TCG))
    assert alone.verdict == SUPPORTED and alone.condition_codes == ["tcg", "reclaim_not_measured"]


def test_vm_memory_inconclusive_between_or_with_only_the_reclaim_phase() -> None:
    partial = guest_ram_footprint([500, 500, 500], [300, 350, 400])
    v = claims.vm_holds_memory(doc(partial, reclaimed("footprint.reclaim_fpr", 0.3)))
    assert v.verdict == INCONCLUSIVE and v.basis[0] == "vm_partial"
    only = claims.vm_holds_memory(doc(reclaimed("footprint.reclaim_fpr", 0.3)))
    assert only.verdict == INCONCLUSIVE
    assert only.basis == ("incomplete", {"what": "footprint.idle"})
