"""reports/claims.py: every rule's verdict pinned whole (verdict, numbers, figure, basis,
conditions, lecture) on one hand-made document per branch, including each threshold's edge,
where `make mutate` found the other tests let a mutant through.

The expected verdicts are data, written out once and not computed by the test:
fixtures/verdicts/claims.json, each checked by hand against the rule in claims.py's
docstring (which branch decides, which condition applies, which numbers the report shows).
Compared as JSON (tuples read as lists), the form the report stores them in.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tests.unit.test_mutants_claims as this
from reports import claims
from reports.claims import Verdict
from tests.unit.test_report_claims import (
    CONTAINER_NS,
    HOST_NS,
    TCG,
    build_run,
    footprint,
    kernel_run,
    limits_runs,
    namespaces_run,
    startup,
    vm_footprint,
)
from tests.unit.test_report_claims_either_way import (
    GUEST_BOOT,
    HOST_BOOT,
    OWN_NS,
    app,
    booted,
    felter,
    guest_ram_footprint,
    isolation,
    reclaimed,
    verified,
)
from tests.unit.test_report_support import MIB, doc, host_samples, run

KVM = {**doc()["machine"], "acceleration": {"mode": "kvm", "reason": ""}}
MEM_OK = {"exit_code": 137, "given_mib": 64, "oom_kills": 1, "oom_restarts": 0, "peak_mib": 64}
MEM_LEAK = {"exit_code": 0, "given_mib": 64, "oom_kills": 0, "oom_restarts": 0, "peak_mib": 128}


def _with(r: dict[str, Any], *path: str, value: Any = None, drop: bool = False) -> dict[str, Any]:
    """`r` with one nested key set to `value` (or dropped)."""
    r = copy.deepcopy(r)
    here = r
    for key in path[:-1]:
        here = here[key]
    if drop:
        here.pop(path[-1])
    else:
        here[path[-1]] = value
    return r


def _vol(metrics: dict[str, float]) -> dict[str, Any]:
    return run("evidence", "evidence.volume", "container", metrics, extra={"volume": "isobench-v"})


def _kvm_vm(mib: list[float], allocated_mib: float = 1000.0) -> dict[str, Any]:
    return _with(vm_footprint(mib, allocated_mib=allocated_mib), "extra", "accel", value="kvm")


def _cpu_from_accounting() -> dict[str, Any]:
    return run(
        "limits",
        "limits.cpu_half",
        "container",
        {},
        wall_s=2.0,
        accounting={"start": None, "end": {"cpu_total_ns": 1.0e9}},
    )


VM_LIMITS = run(
    "limits",
    "limits.memory_64m",
    "vm",
    {"exit_code": 0, "given_mib": 256, "peak_mib": 100},
    exit_code=0,
)
DENSITY = run("density", "density.idle", "container", {"memory_per_instance_mib": 3.5})
LAYERS = ["sha256:a", "nocolon", 7, "sha256:b"]


# Runs each rule must not read: the same workload under another variant or target, and the
# same variant under another workload, each carrying numbers that would change the verdict.
_GARBAGE_EXTRA = {
    "ns_inodes_container": {"pid": 1, "net": 1, "mnt": 1},
    "ns_inodes_host": {"pid": 1, "net": 1, "mnt": 1},
    "pid_in_container": 9,
    "chroot": {"sees_host_pids": False, "sees_host_net": True},
    "image": {"id": "decoy"},
    "container": {},
    "volume": "decoy",
    "release": "0.0-decoy",
    "boot_id": "decoy",
    "pid_inside": 99,
    "rootfs_busybox_sha256": "decoy",
    "memory_bytes": 4 * MIB,
}
_GARBAGE_METRICS = {
    "survived": 0.0,
    "reached_by_name": 0.0,
    "down_removed_all": 0.0,
    "cold_s": 5.0,
    "cached_s": 6.0,
    "same_as_host": 0.0,
    "memory_per_instance_mib": 99.0,
    "cpu_share": 0.95,
    "exit_code": 0.0,
    "given_mib": 64.0,
    "peak_mib": 640.0,
}
DECOYS = [
    run(
        w,
        v,
        t,
        _GARBAGE_METRICS,
        extra=_GARBAGE_EXTRA,
        exit_code=0,
        accounting=host_samples([1, 1]),
    )
    for w, v, t in [
        ("evidence", "evidence.decoy", "container"),
        ("evidence", "evidence.namespaces", "runc"),
        ("evidence", "evidence.build", "runc"),
        ("evidence", "evidence.volume", "runc"),
        ("decoy", "evidence.namespaces", "container"),
        ("decoy", "evidence.build", "container"),
        ("decoy", "evidence.volume", "container"),
        ("decoy", "evidence.kernel", "container"),
        ("footprint", "footprint.decoy", "vm"),
        ("footprint", "footprint.decoy", "container"),
        ("footprint", "footprint.idle", "runc"),
        ("decoy", "footprint.idle", "vm"),
        ("decoy", "footprint.idle", "container"),
        ("density", "density.decoy", "container"),
        ("density", "density.idle", "runc"),
        ("decoy", "density.idle", "container"),
        ("limits", "limits.decoy", "container"),
        ("decoy", "limits.cpu_half", "container"),
        ("decoy", "limits.memory_64m", "container"),
        ("evidence", "evidence.network", "runc"),
        ("decoy", "evidence.network", "container"),
        ("evidence", "evidence.compose", "native"),
        ("decoy", "evidence.compose", "container"),
        ("decoy", "evidence.runc", "runc"),
    ]
]


SCENARIOS: dict[str, Callable[[], Verdict]] = {
    "ip_none": lambda: claims.isolated_process(doc()),
    "ip_ok": lambda: claims.isolated_process(doc(namespaces_run())),
    "ip_pid2": lambda: claims.isolated_process(
        doc(namespaces_run(pid_in_container=2, pid1_command=None, hostname_differs=False))
    ),
    "ip_shared": lambda: claims.isolated_process(
        doc(
            namespaces_run(
                ns_inodes_container={**CONTAINER_NS, "net": 13, "pid": 14},
                pid_in_container=2,
                pid1_command="init",
            )
        )
    ),
    "ip_samepid": lambda: claims.isolated_process(doc(namespaces_run(pid_in_container=4242))),
    "ip_missing": lambda: claims.isolated_process(
        doc(
            namespaces_run(
                ns_inodes_container={
                    k: v for k, v in CONTAINER_NS.items() if k not in ("mnt", "net")
                }
            )
        )
    ),
    "ip_nopid": lambda: claims.isolated_process(doc(namespaces_run(pid_in_container="1"))),
    "ip_pid3": lambda: claims.isolated_process(doc(namespaces_run(pid_in_container=3))),
    "ip_nocg": lambda: claims.isolated_process(doc(namespaces_run(cgroup=""))),
    "ip_nohost": lambda: claims.isolated_process(doc(namespaces_run(pid_on_host=None))),
    "ch_none": lambda: claims.chroot_no_isolation(doc(namespaces_run(chroot=None))),
    "ch_yes": lambda: claims.chroot_no_isolation(
        doc(
            namespaces_run(
                chroot={"sees_host_pids": True, "sees_host_net": True, "host_interfaces": ["eth0"]}
            )
        )
    ),
    "ch_no": lambda: claims.chroot_no_isolation(
        doc(namespaces_run(chroot={"sees_host_pids": False, "sees_host_net": False}))
    ),
    "ch_mixed": lambda: claims.chroot_no_isolation(
        doc(namespaces_run(chroot={"sees_host_pids": True, "sees_host_net": 1}))
    ),
    "cg_none": lambda: claims.cgroups_limit(doc()),
    "cg_ok": lambda: claims.cgroups_limit(doc(*limits_runs(0.6, MEM_OK))),
    "cg_runc": lambda: claims.cgroups_limit(
        doc(*limits_runs(0.4, MEM_OK, target="runc"), *limits_runs(0.3, MEM_OK))
    ),
    "cg_over": lambda: claims.cgroups_limit(
        doc(
            *limits_runs(0.61, MEM_OK, target="runc"),
            *limits_runs(0.5, MEM_LEAK, exit_code=0),
            *limits_runs(0.9, MEM_OK, target="native"),
        )
    ),
    "cg_vm_derived": lambda: claims.cgroups_limit(
        doc(_cpu_from_accounting(), limits_runs(None, MEM_OK)[1], VM_LIMITS, machine=KVM)
    ),
    "cg_vm_only": lambda: claims.cgroups_limit(doc(VM_LIMITS, machine=TCG)),
    "cg_unclear": lambda: claims.cgroups_limit(
        doc(*limits_runs(0.5, {"exit_code": 1, "given_mib": 64, "peak_mib": 70}, exit_code=1))
    ),
    "sk_none": lambda: claims.shared_kernel(
        doc(kernel_run("native", "6.18.1"), kernel_run("vm", "6.1"))
    ),
    "sk_vm": lambda: claims.shared_kernel(
        doc(
            kernel_run("container", "6.18.1"),
            kernel_run("runc", "6.18.1"),
            kernel_run("vm", "6.1"),
            machine=TCG,
        )
    ),
    "sk_novm": lambda: claims.shared_kernel(doc(kernel_run("runc", "6.18.1"))),
    "sk_vmsame": lambda: claims.shared_kernel(
        doc(kernel_run("container", "6.18.1"), kernel_run("vm", "6.18.1"))
    ),
    "sk_differ": lambda: claims.shared_kernel(
        doc(kernel_run("container", "5.10"), kernel_run("runc", "5.4"))
    ),
    "sk_machine": lambda: claims.shared_kernel(
        doc(
            run("evidence", "evidence.kernel", "container", {}, extra={"release": "6.2"}),
            machine={**doc()["machine"], "kernel": "6.2"},
        )
    ),
    "vm_none": lambda: claims.vm_holds_memory(doc()),
    "vm_holds": lambda: claims.vm_holds_memory(doc(vm_footprint([470, 461, 480]), machine=TCG)),
    "vm_lazy": lambda: claims.vm_holds_memory(
        doc(vm_footprint([100, 255, 120], allocated_mib=512))
    ),
    "vm_partial": lambda: claims.vm_holds_memory(
        doc(vm_footprint([100, 256, 300], allocated_mib=512, ready_s=0.5), machine=KVM)
    ),
    "vm_noalloc": lambda: claims.vm_holds_memory(
        doc(
            _with(
                _with(vm_footprint([400]), "extra", "memory_bytes", drop=True), "metrics", value={}
            )
        )
    ),
    "vm_nosamples": lambda: claims.vm_holds_memory(
        doc(_with(vm_footprint([400]), "accounting", value={}))
    ),
    "vm_rss_exit": lambda: claims.vm_holds_memory(
        doc(
            _with(
                _with(vm_footprint([400]), "accounting", value={}),
                "extra",
                "qemu_memory",
                value={"rss": 500 * MIB},
            )
        )
    ),
    "vm_holds_edge": lambda: claims.vm_holds_memory(doc(_kvm_vm([900, 900, 950]))),
    "vm_lazy_edge": lambda: claims.vm_holds_memory(doc(_kvm_vm([400, 500, 450]))),
    "sf_none": lambda: claims.start_faster(doc()),
    "sf_faster": lambda: claims.start_faster(
        doc(*startup("container", [10, 11, 12, 10, 11]), *startup("vm", [100, 110, 120, 105, 115]))
    ),
    "sf_slower": lambda: claims.start_faster(
        doc(
            *startup("container", [200, 210, 220]),
            *startup("vm", [100, 110, 120, 105]),
            machine=KVM,
        )
    ),
    "sf_overlap": lambda: claims.start_faster(
        doc(*startup("container", [10, 100]), *startup("vm", [50, 60]))
    ),
    "sf_novm": lambda: claims.start_faster(doc(*startup("container", [10, 11]))),
    "sf_nocontainer": lambda: claims.start_faster(doc(*startup("vm", [10, 11]))),
    "sf_touch": lambda: claims.start_faster(
        doc(*startup("container", [10] * 5), *startup("vm", [10] * 5))
    ),
    "sf_zero": lambda: claims.start_faster(
        doc(*startup("container", [0] * 5), *startup("vm", [10] * 5))
    ),
    # three VM boots carry no CI: the ranges decide (every VM run above every container run)
    "sf_faster_range": lambda: claims.start_faster(
        doc(*startup("container", [10, 11, 12, 10, 11]), *startup("vm", [100, 110, 120]))
    ),
    "sf_range_overlap": lambda: claims.start_faster(
        doc(*startup("container", [10, 11, 12, 10, 60]), *startup("vm", [50, 100, 110]))
    ),
    "wl_none": lambda: claims.weigh_less(doc()),
    "wl_lighter": lambda: claims.weigh_less(
        doc(footprint("container", [100, 100]), footprint("vm", [150, 150]), DENSITY)
    ),
    "wl_heavier": lambda: claims.weigh_less(
        doc(footprint("container", [150, 150]), footprint("vm", [150, 150]))
    ),
    "wl_close": lambda: claims.weigh_less(
        doc(footprint("container", [100, 100]), footprint("vm", [149, 149]))
    ),
    "wl_novm": lambda: claims.weigh_less(doc(footprint("container", [100, 100]))),
    "wl_nocontainer": lambda: claims.weigh_less(doc(footprint("vm", [100, 100]))),
    "wl_zero": lambda: claims.weigh_less(
        doc(footprint("container", [0, 0]), footprint("vm", [100, 100]))
    ),
    "bt_none": lambda: claims.build_trace(doc()),
    "bt_ok": lambda: claims.build_trace(doc(build_run(), namespaces_run())),
    "bt_newid": lambda: claims.build_trace(
        doc(
            _with(
                _with(build_run(), "extra", "image", "same_id_when_cached", value=False),
                "extra",
                "image",
                "layers",
                value=LAYERS,
            )
        )
    ),
    "bt_shared": lambda: claims.build_trace(doc(build_run(same_ns_as_host=True), namespaces_run())),
    "bt_pid_only": lambda: claims.build_trace(
        doc(
            _with(
                build_run(),
                "extra",
                "container",
                "namespaces",
                value={**CONTAINER_NS, "pid": HOST_NS["pid"]},
            ),
            namespaces_run(),
        )
    ),
    "bt_incomplete": lambda: claims.build_trace(
        doc(_with(build_run(), "extra", "container", "cgroup", drop=True))
    ),
    "lc_none": lambda: claims.layer_cache(doc()),
    "lc_fast": lambda: claims.layer_cache(doc(build_run(cold_s=0.2, cached_s=0.1))),
    "lc_partial_slow": lambda: claims.layer_cache(doc(build_run(cold_s=0.2, cached_s=0.11))),
    "lc_partial_hits": lambda: claims.layer_cache(
        doc(build_run(cold_s=0.2, cached_s=0.01, hits=[True, True, False, True]))
    ),
    "lc_nohits": lambda: claims.layer_cache(doc(build_run(cold_s=0.2, cached_s=0.01, hits=False))),
    "lc_noslower": lambda: claims.layer_cache(doc(build_run(cold_s=0.2, cached_s=0.2))),
    "lc_zero_cached": lambda: claims.layer_cache(doc(build_run(cold_s=0.2, cached_s=0.0))),
    "lc_only_from": lambda: claims.layer_cache(
        doc(
            _with(
                build_run(),
                "extra",
                "cached_steps",
                value=[{"text": " from busybox", "cached": False}],
            )
        )
    ),
    "lc_no_cached": lambda: claims.layer_cache(
        doc(_with(build_run(), "metrics", "cached_s", drop=True))
    ),
    "vo_none": lambda: claims.volumes_outlive(doc()),
    "vo_kept": lambda: claims.volumes_outlive(
        doc(_vol({"survived": 1.0, "container_layer_survived": 0.0}))
    ),
    "vo_kept_nolayer": lambda: claims.volumes_outlive(doc(_vol({"survived": 1.0}))),
    "vo_lost": lambda: claims.volumes_outlive(
        doc(_vol({"survived": 0.0, "container_layer_survived": 0.0}))
    ),
    "vo_layer": lambda: claims.volumes_outlive(
        doc(_vol({"survived": 1.0, "container_layer_survived": 1.0}))
    ),
    "vo_incomplete": lambda: claims.volumes_outlive(doc(_vol({"container_layer_survived": 0.0}))),
    "ip_shared_mnt": lambda: claims.isolated_process(
        doc(namespaces_run(ns_inodes_container={**CONTAINER_NS, "mnt": HOST_NS["mnt"]}))
    ),
    "cg_cpu_only": lambda: claims.cgroups_limit(doc(limits_runs(0.9, MEM_OK)[0])),
    "cg_runc_after_cpu_only": lambda: claims.cgroups_limit(
        doc(limits_runs(0.5, MEM_OK)[0], *limits_runs(0.5, MEM_OK, target="runc"))
    ),
    "sk_metric_wins": lambda: claims.shared_kernel(
        doc(
            run(
                "evidence",
                "evidence.kernel",
                "container",
                {"same_as_host": 1.0},
                extra={"release": "6.2-custom"},
            ),
            machine={**doc()["machine"], "kernel": "6.2"},
        )
    ),
    "sk_bare": lambda: claims.shared_kernel(
        {
            "runs": [
                {
                    "workload": "evidence",
                    "variant": "evidence.kernel",
                    "target": "container",
                    "ok": True,
                    "metrics": {"same_as_host": 1.0},
                }
            ]
        }
    ),
    "wl_vm_idle": lambda: claims.weigh_less(
        doc(footprint("container", [100, 100]), vm_footprint([400, 150, 160], ready_s=0.25))
    ),
    "wl_no_samples": lambda: claims.weigh_less(
        doc(_with(footprint("container", [100]), "accounting", value={}), footprint("vm", [150]))
    ),
    "sk_boot": lambda: claims.shared_kernel(
        doc(booted("container", HOST_BOOT), booted("runc", HOST_BOOT), booted("vm", GUEST_BOOT),
            machine=TCG)
    ),
    "sk_boot_vm_host": lambda: claims.shared_kernel(
        doc(booted("container", HOST_BOOT), booted("vm", HOST_BOOT, release="6.1"))
    ),
    "sk_boot_differ": lambda: claims.shared_kernel(
        doc(booted("container", GUEST_BOOT), booted("runc", HOST_BOOT))
    ),
    "bt_verified": lambda: claims.build_trace(doc(verified(), namespaces_run())),
    "bt_digest": lambda: claims.build_trace(doc(verified(rehashed=0))),
    "bt_digest_edge": lambda: claims.build_trace(doc(verified(rehashed=2, stacked=None))),
    "bt_root": lambda: claims.build_trace(doc(verified(stacked=False))),
    "rb_none": lambda: claims.runc_bundle(doc()),
    "rb_ok": lambda: claims.runc_bundle(doc(isolation("runc"), isolation("container", pid=2))),
    "rb_pid2_edge": lambda: claims.runc_bundle(doc(isolation("runc", pid=2))),
    "rb_pid3": lambda: claims.runc_bundle(doc(isolation("runc", pid=3))),
    "rb_shared": lambda: claims.runc_bundle(
        doc(isolation("runc", ns={**OWN_NS, "pid": HOST_NS["pid"], "uts": HOST_NS["uts"]}))
    ),
    "rb_rootfs": lambda: claims.runc_bundle(
        doc(isolation("runc"), isolation("container", sha="other"))
    ),
    "rb_incomplete": lambda: claims.runc_bundle(
        doc(_with(isolation("runc"), "extra", "pid_inside", drop=True))
    ),
    "nj_none": lambda: claims.networks_join(doc()),
    "nj_ok": lambda: claims.networks_join(
        doc(app("evidence.network", reached_by_name=1.0, published_port_answered=1.0))
    ),
    "nj_both_failed": lambda: claims.networks_join(
        doc(app("evidence.network", reached_by_name=0.0, published_port_answered=0.0))
    ),
    "wl_monitor": lambda: claims.weigh_less(
        doc(_with(footprint("container", [1.0, 1.0]), "metrics", "monitor_pss_mib", value=12.0),
            vm_footprint([15.0, 15.0, 15.0]))
    ),
    "nj_incomplete": lambda: claims.networks_join(
        doc(app("evidence.network", reached_by_name=1.0))
    ),
    "nj_nothing": lambda: claims.networks_join(doc(app("evidence.network"))),
    "rb_container_shared": lambda: claims.runc_bundle(
        doc(isolation("runc"), isolation("container", ns={**OWN_NS, "mnt": HOST_NS["mnt"]}))
    ),
    "sk_boot_no_host_id": lambda: claims.shared_kernel(
        doc(_with(booted("container", HOST_BOOT), "extra", "host_boot_id", drop=True))
    ),
    "ca_none": lambda: claims.compose_app(doc()),
    "ca_ok": lambda: claims.compose_app(
        doc(app("evidence.compose", reached_by_name=1.0, published_port_answered=1.0,
                down_removed_all=1.0))
    ),
    "ca_left": lambda: claims.compose_app(
        doc(app("evidence.compose", reached_by_name=1.0, published_port_answered=1.0,
                down_removed_all=0.0))
    ),
    # the touch-then-free phase: exactly RETURN_FRACTION back with reporting refutes
    "vm_returns_edge": lambda: claims.vm_holds_memory(
        doc(guest_ram_footprint([500, 500], [500, 500]),
            reclaimed("footprint.reclaim_fpr", 0.5), machine=TCG)),
    "vm_guest_ram_kept": lambda: claims.vm_holds_memory(
        doc(guest_ram_footprint([500, 500], [470, 480]), reclaimed("footprint.reclaim", 0.09),
            reclaimed("footprint.reclaim_fpr", 0.49), machine=TCG)),
    "vm_reclaim_only": lambda: claims.vm_holds_memory(doc(reclaimed("footprint.reclaim", 0.0))),
    "nc_none": lambda: claims.network_cost(doc()),
    "nc_agrees": lambda: claims.network_cost(felter((30.0, 25.0), (20.0, 40.0), (1.0, 300.0))),
    # exactly 5 % lower throughput is not yet slower: the margin is strict
    "nc_margin_edge": lambda: claims.network_cost(
        felter((40.0, 20.0), (38.0, 20.0), (1.0, 300.0), reps=1)),
    "nc_tap_faster": lambda: claims.network_cost(
        felter((30.0, 25.0), (20.0, 40.0), (20.0, 30.0), reps=3)),
}

EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures" / "verdicts" / "claims.json").read_text()
)


def test_every_scenario_has_its_pinned_verdict() -> None:
    assert list(SCENARIOS) == list(EXPECTED)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_verdict_is_pinned_whole(name: str) -> None:
    verdict = json.loads(json.dumps(dataclasses.asdict(SCENARIOS[name]())))
    assert verdict == EXPECTED[name]


def test_every_claim_has_a_pinned_no_evidence_verdict() -> None:
    pinned = {e["claim"] for e in EXPECTED.values() if e["basis"][0] == "no_evidence"}
    assert pinned == {c.__name__ for c in claims.CLAIMS}


def test_condition_codes_list_the_codes_in_order() -> None:
    v = SCENARIOS["cg_vm_derived"]()
    assert v.condition_codes == ["derived_cpu_share", "vm_guest_kernel", "kvm"]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_runs_of_other_workloads_variants_and_targets_change_nothing(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = doc
    monkeypatch.setattr(this, "doc", lambda *runs, **kw: real(*runs, *DECOYS, **kw))
    verdict = json.loads(json.dumps(dataclasses.asdict(SCENARIOS[name]())))
    assert verdict == EXPECTED[name]


def test_start_faster_compares_the_medians_cis_where_they_exist_not_the_ranges() -> None:
    # 10 runs a side: an outlier each makes the ranges overlap ([10, 60] and [5, 58]), the
    # medians' CIs do not; only below MIN_CI_N runs does the rule fall back to the ranges
    container = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 60.0]
    vm = [5.0, 50.0, 51.0, 52.0, 53.0, 54.0, 55.0, 56.0, 57.0, 58.0]
    v = claims.start_faster(doc(*startup("container", container), *startup("vm", vm),
                                machine=KVM))
    assert (v.verdict, v.numbers["intervals"]) == (claims.SUPPORTED, "ci")
    mirror = claims.start_faster(doc(*startup("container", vm), *startup("vm", container),
                                     machine=KVM))
    assert (mirror.verdict, mirror.numbers["intervals"]) == (claims.REFUTED, "ci")
