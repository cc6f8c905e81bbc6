"""Rules 1, 2, 4 and 11 (reports/claims.py): what isolates a container — namespaces, not
chroot; the host's own kernel; runc isolating the same bundle."""

from __future__ import annotations

from typing import Any

from reports import data
from reports.claims_common import accel_conditions, no_evidence, one_run
from reports.claims_verdict import INCONCLUSIVE, REFUTED, SUPPORTED, Doc, Note, Verdict
from reports.data import CONTAINER_TARGETS

PID_INSIDE_MAX = 2
RUNC_NAMESPACES = ("pid", "net", "mnt", "uts")


# -- 1 ------------------------------------------------------------------------------------------

def isolated_process(doc: Doc) -> Verdict:
    """Rule 1 (reports/claims.py): namespaces make a container an isolated process."""
    claim, figure, lecture = "isolated_process", "namespaces", (2, 4)
    run = one_run(doc, "evidence", "evidence.namespaces", "container")
    if run is None:
        return no_evidence(claim, figure, lecture, "evidence.namespaces")
    extra = run.get("extra") or {}
    inside = extra.get("ns_inodes_container") or {}
    host = extra.get("ns_inodes_host") or {}
    compared = sorted(set(inside) & set(host))
    differing = [n for n in compared if inside[n] != host[n]]
    shared = [n for n in ("pid", "net", "mnt") if n in compared and inside[n] == host[n]]
    pid_in, pid_host = extra.get("pid_in_container"), extra.get("pid_on_host")
    numbers = {"pid_in_container": pid_in, "pid_on_host": pid_host,
               "pid1_command": extra.get("pid1_command"),
               "hostname_differs": extra.get("hostname_differs"),
               "net_interfaces": extra.get("net_interfaces"),
               "namespaces_differing": differing, "namespaces_compared": compared,
               "cgroup": extra.get("cgroup")}
    conditions: list[Note] = []
    if pid_in == 2:
        conditions.append(("pid1_init", {"command": extra.get("pid1_command") or "?"}))
    if extra.get("hostname_differs") is False:
        conditions.append(("same_hostname", {}))
    if shared:
        return Verdict(claim, REFUTED, numbers, figure,
                       ("shares_namespaces", {"names": ", ".join(shared)}), conditions, lecture)
    if pid_in is not None and pid_in == pid_host:
        return Verdict(claim, REFUTED, numbers, figure, ("same_pid", {"pid": pid_in}),
                       conditions, lecture)
    missing = [n for n in ("pid", "net", "mnt") if n not in compared]
    if missing or not isinstance(pid_in, int):
        return Verdict(claim, INCONCLUSIVE, numbers, figure,
                       ("incomplete", {"what": ", ".join(missing) or "pid_in_container"}),
                       conditions, lecture)
    if pid_in > PID_INSIDE_MAX:
        return Verdict(claim, INCONCLUSIVE, numbers, figure,
                       ("pid_not_small", {"pid": pid_in}), conditions, lecture)
    if not pid_host or not extra.get("cgroup"):
        return Verdict(claim, INCONCLUSIVE, numbers, figure,
                       ("incomplete", {"what": "pid_on_host, cgroup"}), conditions, lecture)
    return Verdict(claim, SUPPORTED, numbers, figure,
                   ("isolated", {"pid": pid_in, "pid_host": pid_host,
                                 "n": len(differing), "of": len(compared)}),
                   conditions, lecture)


# -- 2 ------------------------------------------------------------------------------------------

def chroot_no_isolation(doc: Doc) -> Verdict:
    """Rule 2: a chroot'ed process still sees the host's processes and network."""
    claim, figure, lecture = "chroot_no_isolation", "chroot", (3,)
    run = one_run(doc, "evidence", "evidence.namespaces", "container")
    view = ((run or {}).get("extra") or {}).get("chroot")
    if not isinstance(view, dict):
        return no_evidence(claim, figure, lecture, "evidence.namespaces (chroot)")
    pids, net = view.get("sees_host_pids"), view.get("sees_host_net")
    numbers = {"sees_host_pids": pids, "sees_host_net": net,
               "host_interfaces": view.get("host_interfaces")}
    if pids is True and net is True:
        return Verdict(claim, SUPPORTED, numbers, figure, ("chroot_sees_host", {}), [], lecture)
    if pids is False and net is False:
        return Verdict(claim, REFUTED, numbers, figure, ("chroot_isolated", {}), [], lecture)
    return Verdict(claim, INCONCLUSIVE, numbers, figure, ("chroot_mixed", {}), [], lecture)


# -- 4 ------------------------------------------------------------------------------------------

def shared_kernel(doc: Doc) -> Verdict:
    """Rule 4: containers run on the host's kernel (its boot_id); a VM on its own."""
    claim, figure, lecture = "shared_kernel", "kernel", (6,)
    found = {r["target"]: r for r in data.runs(doc, "evidence", "evidence.kernel")}
    extras = {t: r.get("extra") or {} for t, r in found.items()}
    releases = {t: e.get("release") for t, e in extras.items()}
    host = next((e["host_release"] for e in extras.values() if e.get("host_release")), None) \
        or doc.get("machine", {}).get("kernel")
    numbers: dict[str, Any] = {"host_release": host, "releases": releases}
    boot_ids = {t: e["boot_id"] for t, e in extras.items() if e.get("boot_id")}
    if boot_ids:
        numbers["boot_ids"] = boot_ids
        numbers["host_boot_id"] = next((e["host_boot_id"] for e in extras.values()
                                        if e.get("host_boot_id")), None)
    containers = [t for t in CONTAINER_TARGETS if t in found]
    if not containers:
        return no_evidence(claim, figure, lecture, "evidence.kernel")

    def same(target: str) -> bool:
        metric = (found[target].get("metrics") or {}).get("same_as_host")
        return bool(metric) if metric is not None else releases[target] == host

    conditions: list[Note] = []
    differ = [t for t in containers if not same(t)]
    if differ:
        return Verdict(claim, REFUTED, numbers, figure,
                       ("container_kernel_differs", {"targets": ", ".join(differ),
                                                     "release": releases[differ[0]],
                                                     "host": host}), conditions, lecture)
    if "vm" not in found:
        conditions.append(("no_vm", {}))
    elif same("vm") and "vm" in boot_ids:
        # one boot_id is one booted kernel: a VM showing the host's runs on the host's kernel
        return Verdict(claim, REFUTED, numbers, figure,
                       ("vm_shares_kernel", {"boot_id": boot_ids["vm"]}), conditions, lecture)
    elif same("vm"):
        conditions.append(("vm_same_release", {"release": releases["vm"]}))
    else:
        conditions += accel_conditions(doc)
    if not all(t in boot_ids for t in containers):
        conditions.append(("release_only", {}))
    return Verdict(claim, SUPPORTED, numbers, figure,
                   ("same_kernel", {"targets": ", ".join(containers), "host": host,
                                    "vm": releases.get("vm") or "-"}), conditions, lecture)


# -- 11 -----------------------------------------------------------------------------------------

def runc_bundle(doc: Doc) -> Verdict:
    """Rule 11: runc runs the image's bundle and isolates it as isobench's container does."""
    claim, figure, lecture = "runc_bundle", "runc", (7,)
    found = {r["target"]: r for r in data.runs(doc, "evidence", "evidence.runc")}
    if "runc" not in found:
        return no_evidence(claim, figure, lecture, "evidence.runc on runc")
    extras = {t: r.get("extra") or {} for t, r in found.items()}
    numbers = {t: {"pid_inside": e.get("pid_inside"),
                   "namespaces_differing": (found[t].get("metrics") or {})
                   .get("namespaces_differing"),
                   "rootfs_busybox_sha256": e.get("rootfs_busybox_sha256")}
               for t, e in extras.items()}
    shared = {t: [n for n in RUNC_NAMESPACES
                  if (e.get("ns_inodes") or {}).get(n) is not None
                  and (e.get("ns_inodes") or {}).get(n) == (e.get("ns_inodes_host") or {}).get(n)]
              for t, e in extras.items()}
    for t in ("runc", "container"):
        if shared.get(t):
            return Verdict(claim, REFUTED, numbers, figure,
                           ("runtime_not_isolated", {"target": t,
                                                     "names": ", ".join(shared[t])}), [], lecture)
    runc = numbers["runc"]
    if runc["pid_inside"] is None or runc["namespaces_differing"] is None:
        return Verdict(claim, INCONCLUSIVE, numbers, figure,
                       ("incomplete", {"what": "pid_inside, namespaces"}), [], lecture)
    if runc["pid_inside"] > PID_INSIDE_MAX:
        return Verdict(claim, REFUTED, numbers, figure,
                       ("pid_not_small", {"pid": runc["pid_inside"]}), [], lecture)
    if "container" not in numbers:
        return Verdict(claim, SUPPORTED, numbers, figure,
                       ("runc_isolated", {"pid": runc["pid_inside"]}),
                       [("no_container", {})], lecture)
    if runc["rootfs_busybox_sha256"] != numbers["container"]["rootfs_busybox_sha256"]:
        return Verdict(claim, INCONCLUSIVE, numbers, figure, ("different_rootfs", {}), [],
                       lecture)
    return Verdict(claim, SUPPORTED, numbers, figure,
                   ("same_bundle_isolated", {"pid": runc["pid_inside"],
                                             "pid_container": numbers["container"]["pid_inside"]}),
                   [], lecture)
