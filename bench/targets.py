"""Targets: where a workload's command runs, each accounted by a cgroup the same way.

    native     a host process in a fresh cgroup of its own (the baseline); the host's tools
    container  isobench's own runtime, the workload's image, --network none
    runc       the same image flattened into an OCI bundle, run by `runc run`
    crun       the same bundle run by `crun run`, where crun can run (listed either way)
    vm         the same image booted by libvirt/QEMU (KVM when proven to work, else TCG)

A command that mentions {scratch} gets a scratch area there: a host directory natively, a
volume on the host disk in a container and under runc, a virtio disk in the VM.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import secrets
import selectors
import shutil
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench import leases
from bench.collectors import Sampler, cgroup_reader, sample_reader
from runtime.api import Runtime
from runtime.cgroups import open_cgroup
from runtime.cgroups.base import remove_tree
from runtime.limits import Limits
from runtime.spec import ContainerSpec
from runtime.syscalls import MNT_DETACH, REAL

SCRATCH = "/scratch"
CGROUP_ROOT = Path("/sys/fs/cgroup")
TIMEOUT_EXIT = 124


@dataclass
class Job:
    image: str
    argv: list[str]                 # may contain "{scratch}"
    limits: Limits | None = None
    timeout: float = 900.0
    sample_hz: float = 10.0
    memory_bytes: int | None = None  # for a VM: the guest's RAM (defaults to the driver's)
    vcpus: int | None = None

    @property
    def wants_scratch(self) -> bool:
        return any("{scratch}" in a for a in self.argv)

    def command(self, scratch: str) -> list[str]:
        return [a.replace("{scratch}", scratch) for a in self.argv]


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str
    wall_s: float
    accounting: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class Target(ABC):
    name = ""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def unavailable(self) -> str | None:
        """None when this host can run the target, else why not."""
        return None

    @abstractmethod
    def run(self, job: Job) -> Outcome: ...

    def _cgroup_name(self, kind: str) -> str:
        # Under the runtime's parent (ISOBENCH_CGROUP_PARENT): one place to find them all.
        return f"{self.rt.cgroup_parent}/{kind}-{secrets.token_hex(6)}"


# The host process joins its cgroup itself, before exec, so it is accounted from its first
# instruction; a shell is the smallest thing that can do that without a preexec_fn (unsafe
# with the sampler's thread running).
_JOIN_AND_EXEC = 'for p in $ISOBENCH_PROCS; do echo $$ > "$p"; done; exec "$@"'


class NativeTarget(Target):
    name = "native"

    def run(self, job: Job) -> Outcome:
        with leases.lease(self.rt) as lease:
            return self._run(job, lease)

    def _run(self, job: Job, lease: leases.Lease) -> Outcome:
        cg = open_cgroup(self._cgroup_name("native"))
        scratch = Path(self.rt.root / "scratch" / secrets.token_hex(6))
        lease.note(cgroup=cg.name, dirs=[str(scratch)])
        cg.create()
        try:
            if job.limits:
                cg.set_limits(job.limits)
            if job.wants_scratch:
                scratch.mkdir(parents=True)
            env = {**os.environ, "ISOBENCH_PROCS": " ".join(cg.procs_paths())}
            argv = ["sh", "-c", _JOIN_AND_EXEC, "sh", *job.command(str(scratch))]
            t0 = time.perf_counter()
            with Sampler(cgroup_reader(cg), job.sample_hz, sample_reader(cg)) as sampler:
                proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
                try:
                    out, err = proc.communicate(timeout=job.timeout)
                    code = proc.returncode
                except subprocess.TimeoutExpired:
                    cg.kill()
                    out, err = proc.communicate()
                    code = TIMEOUT_EXIT
                wall = time.perf_counter() - t0
                accounting = sampler.finish()
            return Outcome(code if code >= 0 else 128 - code, out, err, wall,
                           accounting.to_dict())
        finally:
            cg.destroy()
            shutil.rmtree(scratch, ignore_errors=True)


class ContainerTarget(Target):
    name = "container"

    def run(self, job: Job) -> Outcome:
        volume = f"bench-scratch-{secrets.token_hex(6)}" if job.wants_scratch else None
        c = self.rt.create(ContainerSpec(job.image, job.command(SCRATCH), network="none",
                                         limits=job.limits or Limits(),
                                         volumes=[f"{volume}:{SCRATCH}"] if volume else []))
        try:
            t0 = time.perf_counter()
            cg = open_cgroup(c.cgroup)
            with Sampler(cgroup_reader(cg), job.sample_hz, sample_reader(cg)) as sampler:
                self.rt.start(c, attach=False)
                code = self.rt.wait(c.id, timeout=job.timeout)
                if code is None:
                    self.rt.kill(c.id)
                    code = TIMEOUT_EXIT
                wall = time.perf_counter() - t0
                record = self.rt.get(c.id)
                accounting = sampler.finish(record.state.stats)
            streams: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
            for stream, data in self.rt.logs(c.id):
                streams[stream].append(data)
            out, err = b"".join(streams["stdout"]), b"".join(streams["stderr"])
            extra = {"oom_killed": record.state.oom_killed}
            return Outcome(code, out.decode(errors="replace"), err.decode(errors="replace"),
                           wall, accounting.to_dict(), extra)
        finally:
            try:
                self.rt.remove(c.id, force=True, volumes=True)
            finally:
                if volume:
                    self.rt.volumes.remove(volume, users=[])


class RuncTarget(Target):
    """The image as an OCI bundle: its layers under a per-run overlay (as containerd's
    snapshotter gives runc), a config.json per run."""

    name = "runc"
    binary = "runc"

    def unavailable(self) -> str | None:
        if shutil.which(self.binary) is None:
            return f"{self.binary} is not installed (apt-get install {self.binary})"
        return None

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
        proc["args"] = job.command(SCRATCH)
        proc["env"] = image.config.Env or proc["env"]
        proc["cwd"] = image.config.WorkingDir or "/"
        spec["root"] = {"path": str(rootfs), "readonly": False}
        spec["hostname"] = "runc"
        linux = spec["linux"]
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
        cg = open_cgroup(cg_name)  # runc's own cgroup nests inside: counters add up here
        scratch = run_dir / "scratch" if job.wants_scratch else None
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
            with Sampler(cgroup_reader(inst.cgroup), job.sample_hz,
                         sample_reader(inst.cgroup)) as sampler:
                proc = subprocess.Popen(inst.argv(), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                out, err, first, timed_out = communicate_timed(proc, job.timeout, inst.kill)
                code = TIMEOUT_EXIT if timed_out else proc.returncode
                wall = time.perf_counter() - t0
                accounting = sampler.finish()
            extra = {} if first is None else {"first_output_s": first - t0}
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
        from runtime.cgroups import CgroupError, detect_mode

        try:
            mode = detect_mode()
        except (CgroupError, OSError) as e:
            return f"cgroup layout unknown: {e}"
        if mode == "hybrid":
            return "crun refuses hybrid cgroups (v1 controllers beside the unified tree)"
        return None


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


def communicate_timed(proc: subprocess.Popen[bytes], timeout: float,
                      kill: Callable[[], None]) -> tuple[str, str, float | None, bool]:
    """communicate() that also notes when stdout's first byte arrived (perf_counter):
    (stdout, stderr, first byte or None, timed out)."""
    streams: dict[IO[bytes], bytearray] = {}
    sel = selectors.DefaultSelector()
    for f in (proc.stdout, proc.stderr):
        if f is not None:
            streams[f] = bytearray()
            sel.register(f, selectors.EVENT_READ)
    first: float | None = None
    deadline = time.monotonic() + timeout
    timed_out = False
    with sel:
        while sel.get_map():
            left = None if timed_out else deadline - time.monotonic()
            if left is not None and left <= 0:
                kill()  # the pipes close when it is gone
                timed_out, left = True, None
            for key, _ in sel.select(left):
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                if first is None and key.fileobj is proc.stdout:
                    first = time.perf_counter()
                streams[key.fileobj] += data  # type: ignore[index]
    proc.wait()
    out = streams.get(proc.stdout, b"") if proc.stdout else b""  # type: ignore[call-overload]
    err = streams.get(proc.stderr, b"") if proc.stderr else b""  # type: ignore[call-overload]
    return (bytes(out).decode(errors="replace"), bytes(err).decode(errors="replace"), first,
            timed_out)


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


def all_targets(rt: Runtime) -> dict[str, Target]:
    from bench.vmtarget import VmTarget

    targets: list[Target] = [NativeTarget(rt), ContainerTarget(rt), RuncTarget(rt), CrunTarget(rt),
                             VmTarget(rt)]
    return {t.name: t for t in targets}
