"""What more than one of the workloads that drive the targets themselves uses: the images
and the CLI they start, and the smallest VM."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from runtime.api import Runtime

ISOBENCH = str(Path(sys.executable).with_name("isobench"))
BUSYBOX = "busybox"
VM_SMALLEST_BYTES = 256 << 20   # the VM driver's minimum: the Debian kernel needs that much



def cli_env(rt: Runtime) -> dict[str, str]:
    """The environment an `isobench` child needs to see the session's runtime root."""
    return {**os.environ, "ISOBENCH_ROOT": str(rt.root)}
