"""The report keeps working with the harness's newer records: crun listed as skipped, net
on runc and in a VM, first output timed, VM density, the VM's CPU share under a cap."""

from __future__ import annotations

import re
from pathlib import Path

from results import document
from tests.unit.test_report_render import html_of
from tests.unit.test_report_support import doc, run

MIB = 2**20


def session() -> dict:
    net = {"iperf3_gbit_s": 20.0, "tcp_lat_us": 15.0}
    d = doc(
        run("net", "net.bridge", "native", net),
        run("net", "net.usernet", "native", net),
        run("net", "net.bridge", "runc", {"iperf3_gbit_s": 15.0, "tcp_lat_us": 25.0},
            extra={"placement": "runc-bridge", "network": "runc in a named netns"}),
        run("net", "net.usernet", "vm", {"iperf3_gbit_s": 0.5, "tcp_lat_us": 230.0},
            extra={"placement": "vm-usernet",
                   "network": "user-mode networking (slirp), TCG emulation"}),
        run("startup", "startup.true", "vm", {"launch_to_exit_ms": 20300.0,
                                              "boot_to_first_output_ms": 18600.0}),
        *(run("startup", "startup.first_output", t, {"launch_to_first_output_ms": 40.0,
                                                     "launch_to_exit_ms": 45.0})
          for t in ("container", "runc")),
        run("density", "density.idle", "vm",
            {"instances": 2.0, "start_ms_mean": 19700.0, "memory_per_instance_mib": 367.0,
             "allocated_mib": 256.0, "qemu_rss_mib": 438.0, "qemu_pss_mib": 421.0},
            extra={"per_instance": [{"start_ms": 20300.0, "memory_bytes": 387 * MIB,
                                     "qemu_rss_bytes": 459 * MIB, "qemu_pss_bytes": 453 * MIB},
                                    {"start_ms": 19100.0, "memory_bytes": 382 * MIB,
                                     "qemu_rss_bytes": 458 * MIB, "qemu_pss_bytes": 430 * MIB}],
                   "memory_bytes": 256 * MIB}),
        run("limits", "limits.cpu_half", "vm", {"cpu_share": 0.498},
            extra={"cpu_cap": {"quota_us": 50_000, "period_us": 100_000}}),
    )
    d["targets"]["crun"] = {"available": False, "reason": "crun not installed"}
    document.recompute_summary(d)
    document.validate(d)
    return d


def test_report_renders_the_newer_records_and_a_skipped_crun(tmp_path: Path) -> None:
    html = html_of(session(), tmp_path)
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>", "", html, flags=re.S))
    text = " ".join(text.split())
    assert "crun not installed" in text
    assert "net.usernet" in text and "startup.first_output" in text
    assert re.search(r"VM 2 19 700 367", text), "the VM's density row"
    assert "0.498" in text  # the VM's share under --cpus 0.5
