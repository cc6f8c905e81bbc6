"""What more than one of the workloads that drive the targets themselves uses: the images
and the CLI they start, the smallest VM, and the metrics they share."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench.model import Metric
from runtime.api import Runtime

ISOBENCH = str(Path(sys.executable).with_name("isobench"))
BUSYBOX = "busybox"
VM_SMALLEST_BYTES = 256 << 20   # the VM driver's minimum: the Debian kernel needs that much

LAUNCH_TO_EXIT_MS = Metric("launch_to_exit_ms", "ms", "lower")
ALLOCATED_MIB = Metric("allocated_mib", "MiB", None)
QEMU_RSS_MIB = Metric("qemu_rss_mib", "MiB", "lower")
QEMU_PSS_MIB = Metric("qemu_pss_mib", "MiB", "lower")


def cli_env(rt: Runtime) -> dict[str, str]:
    """The environment an `isobench` child needs to see the session's runtime root."""
    return {**os.environ, "ISOBENCH_ROOT": str(rt.root)}
