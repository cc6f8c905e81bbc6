"""The `runc` and `crun` targets: the image as an OCI bundle, its layers under a per-run
overlay (as containerd's snapshotter gives runc), a config.json per run from `runc spec`'s
default, run by `runc run` or `crun run`. crun is listed either way, so a session says why
it did not run where it cannot."""

from __future__ import annotations

import copy
import functools
import json
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench import leases
from bench.collectors import MemoryProbe, Sampler, cgroup_reader, sample_reader
from bench.targets.base import (
    LAYER_SCRATCH,
    SCRATCH,
    TIMEOUT_EXIT,
    Job,
    Outcome,
    Target,
    reaped_on_error,
)
from bench.timers import communicate_timed
from runtime import cgroups
from runtime.cgroups.base import remove_tree
from runtime.limits import Limits
from runtime.syscalls import MNT_DETACH, REAL

CGROUP_ROOT = Path("/sys/fs/cgroup")
# runc has no monitor (no shim) when run in the foreground: the `runc run` process itself
# waits for the container, relays its output and signals, and is what isobench's monitor
# is compared with.
RUNC_MONITOR_NOTE = ("runc run in the foreground has no monitor: monitor_memory is the "
                     "waiting `runc run` process itself, outside the container's cgroup")
T = TypeVar("T")


class RuncTarget(Target):
    """The image as an OCI bundle: its layers under a per-run overlay (as containerd's
    snapshotter gives runc), a config.json per run."""

    name = "runc"
    binary = "runc"

    def unavailable(self) -> str | None:
        if shutil.which(self.binary) is None:
            return f"{self.binary} is not installed (apt-get install {self.binary})"
        return self.cgroup_problem()

    def _mount_rootfs(self, image_ref: str, run_dir: Path) -> Path:
        image = self.rt.image(image_ref)
        rootfs, upper, work = run_dir / "rootfs", run_dir / "upper", run_dir / "work"
        for d in (rootfs, upper, work):
            d.mkdir()
        options = (f"lowerdir={':'.join(self.rt.images.lower_dirs(image))},"
                   f"upperdir={upper},workdir={work}")
        REAL.mount("overlay", str(rootfs), "overlay", 0, options)
        return rootfs

    def _config(self, job: Job, rootfs: Path, cgroup: str, scratch: Path | None,
                netns: str | None = None) -> dict:
        image = self.rt.image(job.image)
        spec = copy.deepcopy(_runc_spec())
        proc = spec["process"]
        proc["terminal"] = False
        # a "layer" job writes inside the root: the bundle's overlay upper (no bind)
        proc["args"] = job.command(LAYER_SCRATCH if job.scratch == "layer" else SCRATCH)
        proc["env"] = image.config.Env or proc["env"]
        proc["cwd"] = image.config.WorkingDir or "/"
        spec["root"] = {"path": str(rootfs), "readonly": False}
        spec["hostname"] = "runc"
        linux = spec["linux"]
        # `runc spec` itself lists a cgroup namespace on a pure cgroup v2 host, and runc
        # refuses a spec naming one twice ("duplicated ns", seen in the cgroup v2 lane)
        if not any(ns["type"] == "cgroup" for ns in linux["namespaces"]):
            linux["namespaces"].append({"type": "cgroup"})
        if netns is not None:
            # Join a network namespace made beforehand (a veth on isobench's bridge in it)
            # instead of a fresh, empty one.
            for ns in linux["namespaces"]:
                if ns["type"] == "network":
                    ns["path"] = netns
        linux["cgroupsPath"] = f"/{cgroup}/ctr"
        spec["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                               "options": ["nosuid", "nodev", "mode=1777"]})
        if scratch is not None:
            spec["mounts"].append({"destination": SCRATCH, "type": "bind",
                                   "source": str(scratch), "options": ["rbind", "rw"]})
        if job.limits:
            linux["resources"] = _oci_resources(job.limits)
        return spec

    @contextmanager
    def _instance(self, job: Job, netns: str | None = None) -> Iterator[RuncRun]:
        """The bundle, overlay and cgroup of one run; everything is removed on the way out,
        whatever happened inside (and by `isobench gc` after a crash: see bench/leases.py)."""
        with leases.lease(self.rt) as lease:
            with self._resources(job, lease, netns) as run:
                yield run

    @contextmanager
    def _resources(self, job: Job, lease: leases.Lease, netns: str | None) -> Iterator[RuncRun]:
        run_dir = self.rt.root / self.binary / "runs" / secrets.token_hex(6)
        cg_name = self._cgroup_name(self.binary)
        cg = cgroups.open_cgroup(cg_name)  # runc's own cgroup nests inside: counters add up here
        scratch = run_dir / "scratch" if job.wants_scratch and job.scratch != "layer" else None
        cid = run_dir.name
        state = run_dir / "state"
        lease.note(cgroup=cg_name, mount=str(run_dir / "rootfs"), dirs=[str(run_dir)],
                   runc={"binary": self.binary, "state": str(state), "id": cid})
        run_dir.mkdir(parents=True)
        rootfs: Path | None = None
        try:
            rootfs = self._mount_rootfs(job.image, run_dir)
            cg.create()
            if scratch:
                scratch.mkdir()
            (run_dir / "config.json").write_text(json.dumps(self._config(job, rootfs, cg_name,
                                                                         scratch, netns)))
            yield RuncRun(self.binary, cid, state, run_dir, cg)
        finally:
            subprocess.run([self.binary, "--root", str(state), "delete", "--force", cid],
                           capture_output=True)
            cg.destroy()
            # runc also makes the path in hierarchies we do not manage (name=systemd, the
            # unified mount of a hybrid host) and leaves our level of it there.
            for leftover in CGROUP_ROOT.glob(f"*/{cg_name}"):
                remove_tree(str(leftover))
            if rootfs is not None:
                REAL.umount2(str(rootfs), MNT_DETACH)
            shutil.rmtree(run_dir, ignore_errors=True)

    def run(self, job: Job) -> Outcome:
        with self._instance(job) as inst:
            t0 = time.perf_counter()
            kills = ChildOomKills(inst.cgroup)
            with Sampler(kills.watching(cgroup_reader(inst.cgroup)), job.sample_hz,
                         kills.watching(sample_reader(inst.cgroup))) as sampler:
                proc = subprocess.Popen(inst.argv(), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                probe = MemoryProbe(lambda: proc.pid).start() if job.process_memory else None
                with reaped_on_error(proc):
                    out, err, first, timed_out = communicate_timed(proc, job.timeout,
                                                                   inst.kill)
                code = TIMEOUT_EXIT if timed_out else proc.returncode
                wall = time.perf_counter() - t0
                accounting = sampler.finish()
            kills.into(accounting.end)
            extra: dict[str, Any] = {} if first is None else {"first_output_s": first - t0}
            if probe is not None:  # `runc run` waits in the foreground: no monitor of its own
                extra["monitor_memory"] = probe.finish()
                extra["monitor_note"] = RUNC_MONITOR_NOTE
            return Outcome(code, out, err, wall, accounting.to_dict(), extra)

    @contextmanager
    def serve(self, job: Job, netns: str | None = None) -> Iterator[subprocess.Popen[bytes]]:
        """A server left running while the caller measures it; killed on the way out."""
        with self._instance(job, netns) as inst:
            proc = subprocess.Popen(inst.argv(), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                yield proc
            finally:
                inst.kill()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


class CrunTarget(RuncTarget):
    """The same bundle under crun. Listed everywhere, so a session says why it did not run:
    crun refuses a hybrid cgroup layout (v1 controllers beside the unified tree)."""

    name = "crun"
    binary = "crun"

    def unavailable(self) -> str | None:
        if shutil.which(self.binary) is None:
            return "crun not installed"
        try:
            mode = cgroups.detect_mode()
        except (cgroups.CgroupError, OSError) as e:
            return f"cgroup layout unknown: {e}"
        if mode == "hybrid":
            return "crun refuses hybrid cgroups (v1 controllers beside the unified tree)"
        return self.cgroup_problem()


@dataclass
class RuncRun:
    """One prepared bundle: the command that runs it and the way to kill it."""

    binary: str
    cid: str
    state: Path
    bundle: Path
    cgroup: Any

    def argv(self) -> list[str]:
        return [self.binary, "--root", str(self.state), "run", "--bundle", str(self.bundle),
                self.cid]

    def kill(self) -> None:
        subprocess.run([self.binary, "--root", str(self.state), "kill", self.cid, "KILL"],
                       capture_output=True)


class ChildOomKills:
    """The OOM kills in runc's own cgroup (`ctr`, inside ours), which holds the job's limits.

    cgroup v1 counts a kill only in the memory cgroup where it happened (memory.oom_control's
    oom_kill is not hierarchical; v2's memory.events is), and runc removes its cgroup as it
    exits, before our end reading: so on v1 the count is read with every sample while the
    job runs, and the last one kept. (A kill in the last sample period before the exit is
    missed; an overrun kills again and again, or ends the job with 137.)"""

    def __init__(self, cg: Any) -> None:
        paths = cg.paths()
        self.file = (f"{paths['memory']}/ctr/memory.oom_control"
                     if "memory" in paths and "unified" not in paths else None)
        self.seen: int | None = None

    def poll(self) -> None:
        if self.file is None:
            return
        try:
            with open(self.file) as f:
                text = f.read()
        except OSError:
            return  # not made yet, or gone
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                self.seen = max(self.seen or 0, int(value))

    def watching(self, read: Callable[[], T]) -> Callable[[], T]:
        def both() -> T:
            self.poll()
            return read()
        return both

    def into(self, end: dict[str, Any] | None) -> None:
        """Our cgroup's end reading, with runc's cgroup's kills where only it counted them."""
        if end is not None and self.seen is not None:
            end["oom_kills"] = max(end.get("oom_kills") or 0, self.seen)


@functools.cache
def _runc_spec() -> dict[str, Any]:
    """`runc spec`'s default config (written to a temp dir: it refuses to overwrite)."""
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["runc", "spec"], cwd=d, check=True, capture_output=True)
        return json.loads((Path(d) / "config.json").read_text())


def _oci_resources(limits: Limits) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if limits.memory_bytes is not None:
        res["memory"] = {"limit": limits.memory_bytes, "swap": limits.memory_bytes}
    if limits.cpu_quota_us is not None or limits.cpu_shares is not None:
        res["cpu"] = {k: v for k, v in (("quota", limits.cpu_quota_us),
                                        ("period", limits.cpu_period_us),
                                        ("shares", limits.cpu_shares)) if v is not None}
    if limits.pids_max is not None:
        res["pids"] = {"limit": limits.pids_max}
    return res
