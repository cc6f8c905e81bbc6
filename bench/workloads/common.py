"""What more than one of the workloads that drive the targets themselves uses: the images
and the CLI they start, and the smallest VM."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.model import Session
from bench.progress import Unit
from runtime.api import Runtime

ISOBENCH = str(Path(sys.executable).with_name("isobench"))
BUSYBOX = "busybox"
# The density and limits VMs: the Debian initrd's minimum (vm.driver), kept when the fast
# path's went lower so their figures stay comparable with earlier sessions'.
VM_SMALLEST_BYTES = 256 << 20


def repeated(session: Session, workload: str, variants: Sequence[str],
             targets: Sequence[str] | None = None) -> list[Unit]:
    """The units of a workload that drives the targets itself: the profile's orchestration
    repetitions (the VM's capped as for every workload), in rounds shuffled like the
    scheduled runs', without what --resume finds recorded."""
    profile = session.profile
    wanted = profile.orchestration_repeat
    chosen = [t for t in (targets or session.targets) if t in session.targets]
    if not chosen:
        return []
    return [Unit(workload, variant, target, rep, profile.repetitions(target, wanted))
            for variant, target, rep in session.plan(list(variants), wanted, chosen)
            if rep < profile.repetitions(target, wanted)
            and (workload, variant, target, rep) not in session.done]


def cli_env(rt: Runtime) -> dict[str, str]:
    """The environment an `isobench` child needs to see the session's runtime root. It runs
    its verb itself even where `isobench daemon` serves that root: startup.cli times the
    CLI's own start, whatever else runs on the machine."""
    return {**os.environ, "ISOBENCH_ROOT": str(rt.root), "ISOBENCH_DAEMON": "0"}
