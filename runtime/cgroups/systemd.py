"""The systemd cgroup driver: where systemd is PID 1 it owns the cgroup tree, and a cgroup
made beside its units (/sys/fs/cgroup/isobench) may be migrated or killed by it. So, as
runc's systemd driver and Docker do, isobench's parent cgroup is a transient unit with
Delegate=yes: systemd leaves everything below it to us.

The unit is a scope (`systemd-run --scope -p Delegate=yes`) whose one process, a `sleep
infinity` anchor, keeps it alive between isobench commands; the anchor is moved into a leaf
of its own so the scope's cgroup may delegate controllers (the no-internal-processes rule).
Commands go through `Systemctl`, a seam for the unit tests; the real thing needs a host
booted with systemd (the lane's second pass).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runtime.cgroups.base import CgroupError, make_dir, write_text

if TYPE_CHECKING:  # `isobench run` imports this module: subprocess only when systemd is used
    import subprocess

SYSTEMD_RUN_DIR = "/run/systemd/system"  # sd_booted(3): systemd is PID 1
ANCHOR_LEAF = "anchor"
START_TIMEOUT_S = 10.0
_UNIT_CHARS = re.compile(r"[^A-Za-z0-9:_.\-]")


def booted(run_dir: str = SYSTEMD_RUN_DIR) -> bool:
    return os.path.isdir(run_dir)


def unit_name(parent: str) -> str:
    """ISOBENCH_CGROUP_PARENT -> its scope's name: "isobench" -> "isobench.scope"."""
    return _UNIT_CHARS.sub("_", parent.strip("/").replace("/", "-")) + ".scope"


def run_text(argv: list[str]) -> subprocess.CompletedProcess[str]:
    import subprocess

    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def spawn(argv: list[str]) -> int:
    """Start the anchor detached (its own session: it outlives this command)."""
    import subprocess

    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True).pid


@dataclass
class SystemdScope:
    """A delegated transient scope: `parent()` is its cgroup, relative to the cgroup2 mount."""

    unit: str
    mount: str = "/sys/fs/cgroup"
    run: Callable[[list[str]], subprocess.CompletedProcess[str]] = field(default=run_text)
    start: Callable[[list[str]], int] = field(default=spawn)
    timeout_s: float = START_TIMEOUT_S

    def start_argv(self) -> list[str]:
        return ["systemd-run", "--scope", "--quiet", f"--unit={self.unit}",
                "--description=isobench cgroups (delegated)", "-p", "Delegate=yes",
                "--", "sleep", "infinity"]

    def show(self) -> tuple[str, str]:
        """(ActiveState, ControlGroup) as systemctl reports them."""
        out = self.run(["systemctl", "show", "-p", "ActiveState", "-p", "ControlGroup",
                        self.unit])
        props = dict(line.partition("=")[::2] for line in out.stdout.splitlines())
        return props.get("ActiveState", ""), props.get("ControlGroup", "")

    def parent(self) -> str:
        """The scope's cgroup, started first where it is not running."""
        state, cgroup = self.show()
        if state != "active" or not cgroup:
            anchor = self.start(self.start_argv())
            cgroup = self._wait_active()
            self._move_anchor(cgroup, anchor)
        return cgroup.strip("/")

    def _wait_active(self) -> str:
        deadline = time.monotonic() + self.timeout_s
        while True:
            state, cgroup = self.show()
            if state == "active" and cgroup:
                return cgroup
            if time.monotonic() >= deadline:
                raise CgroupError(f"systemd driver: {self.unit} did not become active within "
                                  f"{self.timeout_s:g} s (state {state or 'unknown'!r}); "
                                  "set ISOBENCH_CGROUP_DRIVER=cgroupfs to bypass systemd")
            time.sleep(0.05)

    def _move_anchor(self, cgroup: str, pid: int) -> None:
        leaf = os.path.join(self.mount, cgroup.strip("/"), ANCHOR_LEAF)
        make_dir(leaf)
        write_text(os.path.join(leaf, "cgroup.procs"), str(pid))

    def stop_if_idle(self, dry_run: bool = False) -> bool:
        """`isobench gc`'s last step: stop the scope (and its anchor) once no cgroup but the
        anchor's is left under it; never starts one."""
        state, cgroup = self.show()
        if state != "active" or not cgroup:
            return False
        path = os.path.join(self.mount, cgroup.strip("/"))
        try:
            if any(e.is_dir() and e.name != ANCHOR_LEAF for e in os.scandir(path)):
                return False
        except OSError:
            return False
        if not dry_run:
            self.run(["systemctl", "stop", self.unit])
        return True
