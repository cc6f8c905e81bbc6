"""reports/claims.py: every claim's rule, on hand-made documents, in each direction."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reports import claims
from reports.claims import INCONCLUSIVE, REFUTED, SUPPORTED
from tests.unit.test_report_support import MIB, doc, fixture, host_samples, run, vm_samples

TCG = {**doc()["machine"], "acceleration": {"mode": "tcg", "reason": "KVM unusable"}}
HOST_NS = {"cgroup": 10, "ipc": 11, "mnt": 12, "net": 13, "pid": 14, "user": 15, "uts": 16}
CONTAINER_NS = {"cgroup": 20, "ipc": 21, "mnt": 22, "net": 23, "pid": 24, "user": 15, "uts": 26}


def namespaces_run(**overrides: Any) -> dict[str, Any]:
    extra = {"pid_in_container": 1, "pid1_command": "sleep", "hostname_differs": True,
             "net_interfaces": ["eth0", "lo"], "ns_inodes_container": dict(CONTAINER_NS),
             "ns_inodes_host": dict(HOST_NS), "pid_on_host": 4242,
             "cgroup": "isobench/abc", "chroot": {"sees_host_pids": True,
                                                 "sees_host_net": True}}
    extra.update(overrides)
    return run("evidence", "evidence.namespaces", "container", {"namespaces_differing": 6},
               extra=extra)


def test_no_evidence_is_inconclusive_for_every_claim() -> None:
    verdicts = claims.evaluate(doc())
    assert len(verdicts) == len(claims.CLAIMS) == 14
    for v in verdicts:
        assert v.verdict == INCONCLUSIVE, v.claim
        assert v.basis[0] == "no_evidence", v.claim


# -- 1: isolated process ------------------------------------------------------------------------

def test_isolated_process_supported() -> None:
    v = claims.isolated_process(doc(namespaces_run()))
    assert v.verdict == SUPPORTED
    assert v.numbers["pid_in_container"] == 1 and v.numbers["pid_on_host"] == 4242
    assert set(v.numbers["namespaces_differing"]) == {"cgroup", "ipc", "mnt", "net", "pid",
                                                      "uts"}
    assert v.figure == "namespaces"


def test_isolated_process_pid_2_under_an_init_is_supported_with_the_condition() -> None:
    v = claims.isolated_process(doc(namespaces_run(pid_in_container=2,
                                                   pid1_command="isobench-init")))
    assert v.verdict == SUPPORTED
    assert "pid1_init" in v.condition_codes


def test_isolated_process_refuted_when_a_namespace_is_shared() -> None:
    shared = dict(CONTAINER_NS, net=HOST_NS["net"])
    v = claims.isolated_process(doc(namespaces_run(ns_inodes_container=shared)))
    assert v.verdict == REFUTED
    assert v.basis == ("shares_namespaces", {"names": "net"})


def test_isolated_process_refuted_when_the_pid_is_the_hosts() -> None:
    v = claims.isolated_process(doc(namespaces_run(pid_in_container=4242)))
    assert v.verdict == REFUTED and v.basis[0] == "same_pid"


def test_isolated_process_inconclusive_on_a_large_pid() -> None:
    v = claims.isolated_process(doc(namespaces_run(pid_in_container=37)))
    assert v.verdict == INCONCLUSIVE and v.basis[0] == "pid_not_small"


# -- 2: chroot ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("pids", "net", "verdict"), [
    (True, True, SUPPORTED), (False, False, REFUTED), (True, False, INCONCLUSIVE)])
def test_chroot(pids: bool, net: bool, verdict: str) -> None:
    d = doc(namespaces_run(chroot={"sees_host_pids": pids, "sees_host_net": net}))
    assert claims.chroot_no_isolation(d).verdict == verdict


def test_chroot_not_measured() -> None:
    d = doc(namespaces_run(chroot=None))
    v = claims.chroot_no_isolation(d)
    assert v.verdict == INCONCLUSIVE and v.basis[0] == "no_evidence"


# -- 3: cgroups ---------------------------------------------------------------------------------

def limits_runs(share: float | None, memory: dict[str, Any], target: str = "container",
                exit_code: int = 137) -> list[dict[str, Any]]:
    cpu = run("limits", "limits.cpu_half", target,
              {"cpu_share": share} if share is not None else {})
    mem = run("limits", "limits.memory_64m", target, memory, exit_code=exit_code)
    return [cpu, mem]


def test_cgroups_supported() -> None:
    d = doc(*limits_runs(0.51, {"exit_code": 137, "given_mib": 64, "oom_kills": 1,
                                "oom_restarts": 0, "peak_mib": 64}))
    v = claims.cgroups_limit(d)
    assert v.verdict == SUPPORTED
    assert v.numbers["cpu_share"] == {"container": 0.51}
    assert v.numbers["memory"]["container"]["enforced"] is True


def test_cgroups_refuted_when_the_quota_does_not_hold() -> None:
    d = doc(*limits_runs(0.98, {"exit_code": 137, "given_mib": 64, "oom_kills": 1,
                                "peak_mib": 64}))
    v = claims.cgroups_limit(d)
    assert v.verdict == REFUTED and v.basis == ("limit_exceeded", {"targets": "container"})


def test_cgroups_refuted_when_the_memory_hog_gets_its_memory() -> None:
    d = doc(*limits_runs(0.5, {"exit_code": 0, "given_mib": 64, "oom_kills": 0,
                               "oom_restarts": 0, "peak_mib": 128}, exit_code=0))
    assert claims.cgroups_limit(d).verdict == REFUTED


def test_cgroups_inconclusive_when_the_share_is_too_low() -> None:
    d = doc(*limits_runs(0.2, {"exit_code": 137, "given_mib": 64, "oom_kills": 1,
                               "peak_mib": 64}))
    v = claims.cgroups_limit(d)
    assert v.verdict == INCONCLUSIVE and v.basis[0] == "limits_unclear"


def test_cgroups_cpu_share_derived_from_accounting_when_the_metric_is_missing() -> None:
    cpu, mem = limits_runs(None, {"exit_code": 137, "given_mib": 64, "killed": 1})
    cpu["wall_s"] = 3.0
    cpu["accounting"] = {"start": None, "end": {"cpu_total_ns": 1.53e9}, "delta": {}}
    v = claims.cgroups_limit(doc(cpu, mem))
    assert v.verdict == SUPPORTED
    assert v.numbers["cpu_share"]["container"] == pytest.approx(0.51)
    assert ("derived_cpu_share", {"target": "container"}) in v.conditions


def test_cgroups_vm_run_adds_the_guest_kernel_condition() -> None:
    vm = run("limits", "limits.memory_64m", "vm", {"exit_code": 0, "given_mib": 256,
                                                   "oom_restarts": 3},
             extra={"accel": "tcg"})
    d = doc(*limits_runs(0.5, {"exit_code": 137, "given_mib": 64, "oom_kills": 1}), vm)
    v = claims.cgroups_limit(d)
    assert v.verdict == SUPPORTED
    assert "vm_guest_kernel" in v.condition_codes and "tcg" in v.condition_codes


# -- 4: shared kernel ---------------------------------------------------------------------------

def kernel_run(target: str, release: str, host: str = "6.18.1") -> dict[str, Any]:
    return run("evidence", "evidence.kernel", target, {"same_as_host": float(release == host)},
               extra={"release": release, "host_release": host,
                      "accel": "tcg" if target == "vm" else None})


def test_shared_kernel_supported_with_the_vm_contrast() -> None:
    d = doc(kernel_run("native", "6.18.1"), kernel_run("container", "6.18.1"),
            kernel_run("runc", "6.18.1"), kernel_run("vm", "6.1.0-56-amd64"))
    v = claims.shared_kernel(d)
    assert v.verdict == SUPPORTED
    assert v.numbers["releases"]["vm"] == "6.1.0-56-amd64"
    # recorded before the boot_id: a release names a kernel build, not a running kernel
    assert v.condition_codes == ["tcg", "release_only"]


def test_shared_kernel_supported_without_a_vm_says_so() -> None:
    v = claims.shared_kernel(doc(kernel_run("container", "6.18.1")))
    assert v.verdict == SUPPORTED and "no_vm" in v.condition_codes


def test_shared_kernel_refuted_when_a_container_reports_another_kernel() -> None:
    v = claims.shared_kernel(doc(kernel_run("container", "5.10.0"), kernel_run("runc", "6.18.1")))
    assert v.verdict == REFUTED
    assert v.basis[1]["targets"] == "container"


def test_shared_kernel_vm_with_the_hosts_release_is_a_condition() -> None:
    v = claims.shared_kernel(doc(kernel_run("container", "6.18.1"), kernel_run("vm", "6.18.1")))
    assert v.verdict == SUPPORTED and "vm_same_release" in v.condition_codes


# -- 5: a VM holds all its memory ---------------------------------------------------------------

def vm_footprint(mib: list[float], allocated_mib: float = 512,
                 ready_s: float | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"memory_bytes": int(allocated_mib * MIB), "accel": "tcg"}
    if ready_s is not None:
        extra["timings"] = {"resumed_s": 1.0, "ready_s": 1.0 + ready_s}
    return run("footprint", "footprint.idle", "vm", {"allocated_mib": allocated_mib},
               extra=extra, accounting=vm_samples(mib))


def test_vm_holds_memory_supported() -> None:
    v = claims.vm_holds_memory(doc(vm_footprint([480, 490, 500, 505, 510])))
    assert v.verdict == SUPPORTED
    assert v.numbers["median_fraction"] == pytest.approx(500 / 512)
    assert v.numbers["series"] == "cgroup"
    assert "tcg" in v.condition_codes and "tcg_cache" in v.condition_codes


def test_vm_holds_memory_refuted_by_lazy_allocation() -> None:
    v = claims.vm_holds_memory(doc(vm_footprint([40, 90, 120, 150, 160])))
    assert v.verdict == REFUTED and v.basis[0] == "vm_lazy"
    assert v.numbers["max_fraction"] == pytest.approx(160 / 512)


def test_vm_holds_memory_inconclusive_in_between() -> None:
    v = claims.vm_holds_memory(doc(vm_footprint([300, 350, 380, 390])))
    assert v.verdict == INCONCLUSIVE and v.basis[0] == "vm_partial"


def test_vm_holds_memory_leaves_the_boot_out() -> None:
    # boot (t < 1.0 s after resume): climbing; idle afterwards: 500 MiB of 512
    mib = [50, 150, 300, 400, 500, 500, 500, 500]
    v = claims.vm_holds_memory(doc(vm_footprint(mib, ready_s=1.0)))
    assert v.verdict == SUPPORTED
    assert v.numbers["samples"] == 4
    assert ("idle_phase", {"since": 1.0}) in v.conditions


def test_vm_holds_memory_without_an_allocation_is_inconclusive() -> None:
    r = vm_footprint([500, 500])
    r["extra"].pop("memory_bytes")
    r["metrics"] = {}
    v = claims.vm_holds_memory(doc(r))
    assert v.verdict == INCONCLUSIVE and v.basis[0] == "incomplete"


def test_vm_holds_memory_on_the_real_tcg_session() -> None:
    # the idle guest held ~392 MiB of 512 (three samples after its boot): neither "holds it
    # all" (>= 90 %) nor "lazy" (<= 50 %)
    v = claims.vm_holds_memory(fixture("tcg_all_targets"))
    assert v.verdict == INCONCLUSIVE and v.basis[0] == "vm_partial"
    assert v.numbers["allocated_mib"] == 512 and v.numbers["samples"] == 3
    assert v.numbers["median_mib"] == pytest.approx(392.168, abs=1e-3)
    assert v.numbers["median_fraction"] == pytest.approx(392.16796875 / 512)
    assert v.condition_codes == ["tcg", "idle_phase", "tcg_cache"]


# -- 6: start-up --------------------------------------------------------------------------------

def startup(target: str, values: list[float]) -> list[dict[str, Any]]:
    return [run("startup", "startup.true", target, {"launch_to_exit_ms": v}, rep=i)
            for i, v in enumerate(values)]


def test_start_faster_supported() -> None:
    d = doc(*startup("container", [40, 42, 41, 39, 43]),
            *startup("vm", [4000, 4100, 3900, 4050, 3950]), machine=TCG)
    v = claims.start_faster(d)
    assert v.verdict == SUPPORTED
    assert v.numbers["vm_over_container"] == pytest.approx(4000 / 41)
    assert v.condition_codes == ["tcg"]


def test_start_faster_refuted() -> None:
    d = doc(*startup("container", [900, 950, 1000, 980, 940]), *startup("vm", [100, 90, 95, 99,
                                                                              97]))
    assert claims.start_faster(d).verdict == REFUTED


def test_start_faster_inconclusive_when_the_cis_overlap() -> None:
    d = doc(*startup("container", [10, 100, 50, 60, 20]), *startup("vm", [40, 70, 55, 30, 90]))
    v = claims.start_faster(d)
    assert v.verdict == INCONCLUSIVE and v.basis[0] == "overlap"


def test_start_faster_without_a_vm_is_inconclusive_and_says_why() -> None:
    v = claims.start_faster(doc(*startup("container", [40, 41])))
    assert v.verdict == INCONCLUSIVE and "no_vm" in v.condition_codes


def test_start_faster_few_runs_condition() -> None:
    v = claims.start_faster(doc(*startup("container", [40]), *startup("vm", [4000])))
    assert v.verdict == SUPPORTED and ("few_runs", {"n": 1}) in v.conditions


# -- 7: weight ----------------------------------------------------------------------------------

def footprint(target: str, mib: list[float]) -> dict[str, Any]:
    if target == "vm":
        return vm_footprint(mib)
    return run("footprint", "footprint.idle", target, {"memory_mean_mib": sum(mib) / len(mib)},
               accounting=host_samples(mib))


def test_weigh_less_supported() -> None:
    v = claims.weigh_less(doc(footprint("container", [0.5, 0.5]), footprint("vm", [400, 420])))
    assert v.verdict == SUPPORTED
    assert v.numbers["vm_over_container"] == pytest.approx(410 / 0.5)


def test_weigh_less_refuted() -> None:
    v = claims.weigh_less(doc(footprint("container", [300, 300]), footprint("vm", [200, 200])))
    assert v.verdict == REFUTED


def test_weigh_less_inconclusive_when_close() -> None:
    v = claims.weigh_less(doc(footprint("container", [100, 100]), footprint("vm", [120, 120])))
    assert v.verdict == INCONCLUSIVE and v.basis[0] == "close"


# -- 8, 9: build --------------------------------------------------------------------------------

def build_run(cold_s: float = 0.2, cached_s: float = 0.01, hits: bool | list[bool] = True,
              same_ns_as_host: bool = False) -> dict[str, Any]:
    texts = ["FROM busybox", "ENV A=1", "COPY a ./", 'RUN echo hi > b', 'CMD ["cat", "b"]']
    flags = hits if isinstance(hits, list) else [hits] * (len(texts) - 1)
    cold = [{"text": x, "cached": False, "seconds": 0.04, "layer": None} for x in texts]
    cached = [{"text": texts[0], "cached": False, "seconds": 0.0, "layer": None}] + [
        {"text": x, "cached": f, "seconds": 0.002, "layer": None}
        for x, f in zip(texts[1:], flags, strict=True)]
    namespaces = dict(HOST_NS) if same_ns_as_host else dict(CONTAINER_NS)
    return run("evidence", "evidence.build", "container",
               {"cold_s": cold_s, "cached_s": cached_s, "cached_steps": float(sum(flags))},
               extra={"dockerfile": "Dockerfile", "cold_steps": cold, "cached_steps": cached,
                      "image": {"id": "sha256:img", "layers": ["sha256:a", "sha256:b"],
                                "same_id_when_cached": True},
                      "container": {"id": "c1", "pid": 777, "namespaces": namespaces,
                                    "cgroup": "isobench/c1"}})


def test_layer_cache_supported() -> None:
    v = claims.layer_cache(doc(build_run()))
    assert v.verdict == SUPPORTED
    assert v.numbers["cache_hits"] == v.numbers["steps"] == 4
    assert v.numbers["cached_over_cold"] == pytest.approx(0.05)


def test_layer_cache_refuted_without_cache_hits() -> None:
    v = claims.layer_cache(doc(build_run(cached_s=0.19, hits=False)))
    assert v.verdict == REFUTED and v.basis[0] == "no_cache_gain"


def test_layer_cache_refuted_when_the_rebuild_is_no_faster() -> None:
    assert claims.layer_cache(doc(build_run(cold_s=0.2, cached_s=0.25))).verdict == REFUTED


def test_layer_cache_inconclusive_on_partial_hits() -> None:
    v = claims.layer_cache(doc(build_run(hits=[True, True, False, False])))
    assert v.verdict == INCONCLUSIVE and v.basis[0] == "cache_partial"


def test_build_trace_supported() -> None:
    v = claims.build_trace(doc(build_run()))
    assert v.verdict == SUPPORTED
    assert v.numbers["layers"] == 2 and v.numbers["container_pid"] == 777


def test_build_trace_refuted_when_the_container_is_not_isolated() -> None:
    v = claims.build_trace(doc(build_run(same_ns_as_host=True), namespaces_run()))
    assert v.verdict == REFUTED


def test_build_trace_inconclusive_when_incomplete() -> None:
    r = build_run()
    r["extra"]["image"]["layers"] = []
    assert claims.build_trace(doc(r)).verdict == INCONCLUSIVE


# -- 10: volumes --------------------------------------------------------------------------------

@pytest.mark.parametrize(("survived", "layer", "verdict", "basis"), [
    (1.0, 0.0, SUPPORTED, "volume_kept"), (0.0, 0.0, REFUTED, "volume_lost"),
    (1.0, 1.0, REFUTED, "layer_kept")])
def test_volumes(survived: float, layer: float, verdict: str, basis: str) -> None:
    r = run("evidence", "evidence.volume", "container",
            {"survived": survived, "container_layer_survived": layer})
    v = claims.volumes_outlive(doc(r))
    assert (v.verdict, v.basis[0]) == (verdict, basis)


def test_volumes_failed_run_is_no_evidence() -> None:
    r = run("evidence", "evidence.volume", "container", ok=False, error="boom")
    assert claims.volumes_outlive(doc(r)).basis[0] == "no_evidence"


# -- the real sessions --------------------------------------------------------------------------

def test_real_tcg_session_verdicts() -> None:
    d = fixture("tcg_all_targets")
    by_claim = {v.claim: v for v in claims.evaluate(d)}
    assert by_claim["shared_kernel"].verdict == SUPPORTED
    assert by_claim["start_faster"].verdict == SUPPORTED
    assert by_claim["weigh_less"].verdict == SUPPORTED
    assert by_claim["layer_cache"].verdict == SUPPORTED
    assert by_claim["volumes_outlive"].verdict == SUPPORTED
    assert by_claim["isolated_process"].verdict == SUPPORTED
    for name in ("shared_kernel", "start_faster", "weigh_less", "vm_holds_memory"):
        assert "tcg" in by_claim[name].condition_codes, name


def test_real_evidence_session_with_pid_2() -> None:
    d = fixture("evidence_no_vm")
    v = claims.isolated_process(d)
    assert v.verdict == SUPPORTED and "pid1_init" in v.condition_codes


def test_claims_do_not_modify_the_document() -> None:
    d = fixture("tcg_all_targets")
    before = copy.deepcopy(d)
    claims.evaluate(d)
    assert d == before
