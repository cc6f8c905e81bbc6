"""How long and how often a session measures: the quick, full and tiny profiles."""

from __future__ import annotations

from dataclasses import dataclass

from bench.targets.base import is_vm


@dataclass(frozen=True)
class Profile:
    name: str
    repeat: int
    warmup: int
    seconds: int          # duration of each timed tool run
    startup_runs: int
    footprint_seconds: int
    density_containers: int
    density_vms: int
    vm_repeat: int          # a TCG boot takes ~20 s here: the VM gets fewer repetitions
    orchestration_repeat: int = 1   # footprint, density, limits, evidence: each minutes long
    sample_hz: float = 10.0

    def repetitions(self, target: str, wanted: int, shared: bool = False) -> int:
        """How many of `wanted` repetitions `target` gets; `shared`: they share one boot
        (cpu, memory, disk), so the VM gets them all."""
        return min(wanted, self.vm_repeat) if is_vm(target) and not shared else wanted


# quick: the fewest repetitions whose figures can carry a CI (results.stats.MIN_CI_N = 5).
# The VM's cpu, memory and disk cells get them all too, from one boot each (after the guest's
# own warm-up); what boots once per repetition (startup and the other workloads that drive
# the targets themselves) gets vm_repeat: each is a TCG boot of seconds.
PROFILES = {
    "quick": Profile("quick", repeat=5, warmup=1, seconds=2, startup_runs=5,
                     footprint_seconds=8, density_containers=8, density_vms=1, vm_repeat=3,
                     orchestration_repeat=3),
    "full": Profile("full", repeat=10, warmup=2, seconds=10, startup_runs=30,
                    footprint_seconds=30, density_containers=40, density_vms=4, vm_repeat=5,
                    orchestration_repeat=5),
    # for the tests: everything once, as short as the tools allow
    "tiny": Profile("tiny", repeat=1, warmup=0, seconds=1, startup_runs=1,
                    footprint_seconds=2, density_containers=2, density_vms=1, vm_repeat=1),
}
