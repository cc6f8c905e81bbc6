"""How long and how often a session measures: the quick, full and tiny profiles."""

from __future__ import annotations

from dataclasses import dataclass


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
    sample_hz: float = 10.0

    def repetitions(self, target: str, wanted: int) -> int:
        """How many of `wanted` repetitions `target` gets."""
        return min(wanted, self.vm_repeat) if target == "vm" else wanted


# quick: 14 min 55 s here with 2 density VMs (2 cores, TCG, 13 boots of ~20 s): one VM
# fewer keeps it inside the 15 minutes `make bench` promises.
PROFILES = {
    "quick": Profile("quick", repeat=3, warmup=1, seconds=2, startup_runs=5,
                     footprint_seconds=8, density_containers=8, density_vms=1, vm_repeat=1),
    "full": Profile("full", repeat=10, warmup=2, seconds=10, startup_runs=30,
                    footprint_seconds=30, density_containers=40, density_vms=4, vm_repeat=5),
    # for the tests: everything once, as short as the tools allow
    "tiny": Profile("tiny", repeat=1, warmup=0, seconds=1, startup_runs=1,
                    footprint_seconds=2, density_containers=2, density_vms=1, vm_repeat=1),
}
