"""The `native` target, the baseline: a host process in a fresh cgroup of its own, namespaced
in nothing, chrooted into the job's image: its layers merged read-only by overlayfs, mounted
in the host's mount namespace under the state root for the run and unmounted after. So it
runs the same binaries as every other target (not the host's PATH), and the only difference
from the container is the isolation.

Inside the root: a fresh procfs at /proc, the host's /dev and /sys bound read-only (device
nodes still read and write), and a fresh host directory bound on /tmp (in every image, and
read-only otherwise): the command's scratch area, a host directory as before."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import leases
from bench.collectors import Sampler, cgroup_reader, sample_reader
from bench.targets.base import TIMEOUT_EXIT, Job, Outcome, Target, reaped_on_error
from runtime.cgroups import open_cgroup
from runtime.image import config as image_config
from runtime.image.store import DEFAULT_PATH
from runtime.syscalls import (
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REMOUNT,
    REAL,
)

# The host process joins its cgroup itself, before exec, so it is accounted from its first
# instruction; a shell is the smallest thing that can do that without a preexec_fn (unsafe
# with the sampler's thread running). It then execs the host's chroot(8), which execs the
# image's command.
_JOIN_AND_EXEC = 'for p in $ISOBENCH_PROCS; do echo $$ > "$p"; done; exec "$@"'
NATIVE_SCRATCH = "/tmp"  # in every image (busybox's and Debian's); a host directory here
# chroot(8) leaves the command in "/", read-only here: it starts in the one writable
# directory instead (stress-ng refuses a working directory it cannot write), through the
# image's own sh.
_IN_SCRATCH = f'cd {NATIVE_SCRATCH} && exec "$@"'
CHROOT = "/usr/sbin/chroot"  # coreutils: on every Debian host


class NativeTarget(Target):
    name = "native"

    def unavailable(self) -> str | None:
        if not os.access(CHROOT, os.X_OK):
            return f"{CHROOT} is missing (coreutils)"
        return self.cgroup_problem()

    def run(self, job: Job) -> Outcome:
        with leases.lease(self.rt) as lease:
            return self._run(job, lease)

    def _run(self, job: Job, lease: leases.Lease) -> Outcome:
        cg = open_cgroup(self._cgroup_name("native"))
        run_dir = self.rt.root / "native" / "runs" / secrets.token_hex(6)
        scratch = self.rt.root / "scratch" / run_dir.name
        lease.note(cgroup=cg.name, mount=str(run_dir / "rootfs"),
                   dirs=[str(scratch), str(run_dir)])
        cg.create()
        try:
            if job.limits:
                cg.set_limits(job.limits)
            with self._root(job.image, run_dir, scratch) as rootfs:
                env = {**self._env(job.image),
                       "ISOBENCH_PROCS": " ".join(cg.procs_paths())}
                argv = ["/bin/sh", "-c", _JOIN_AND_EXEC, "sh", CHROOT, str(rootfs),
                        "/bin/sh", "-c", _IN_SCRATCH, "sh", *job.command(NATIVE_SCRATCH)]
                t0 = time.perf_counter()
                with Sampler(cgroup_reader(cg), job.sample_hz, sample_reader(cg)) as sampler:
                    proc = subprocess.Popen(argv, env=env,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True)
                    with reaped_on_error(proc):
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

    def _env(self, image_ref: str) -> dict[str, str]:
        """The image's environment (PATH above all: chroot looks the command up in it), as a
        container gets it; the host's own is not passed in."""
        image = self.rt.image(image_ref)
        merged = image_config.merge_env([f"PATH={DEFAULT_PATH}"], image.config.Env or [])
        return dict(e.split("=", 1) for e in merged if "=" in e)

    @contextmanager
    def _root(self, image_ref: str, run_dir: Path, scratch: Path) -> Iterator[Path]:
        """The image's layers merged read-only at run_dir/rootfs, with /proc, /dev, /sys and
        the scratch directory on /tmp; all unmounted (and the directories removed) on the
        way out, whatever happened inside."""
        image = self.rt.image(image_ref)
        lower = self.rt.images.lower_dirs(image)
        rootfs = run_dir / "rootfs"
        rootfs.mkdir(parents=True)
        scratch.mkdir(parents=True)
        mounted: list[str] = []
        try:
            if len(lower) > 1:  # overlayfs without an upper dir is read-only
                REAL.mount("overlay", str(rootfs), "overlay", MS_RDONLY,
                           f"lowerdir={':'.join(lower)}")
                mounted.append(str(rootfs))
            else:  # one layer: overlayfs wants two lowers without an upper; bind it read-only
                _bind(lower[0], rootfs, readonly=True)
                mounted.append(str(rootfs))
            for inside, mount in (("proc", None), ("dev", "/dev"), ("sys", "/sys"),
                                  ("tmp", str(scratch))):
                where = rootfs / inside
                if not where.is_dir():
                    if inside == "tmp":
                        raise RuntimeError(f"image {image_ref} has no /tmp to put the "
                                           "native run's scratch directory on")
                    continue  # a minimal image without it: its tools do without
                if mount is None:
                    REAL.mount("proc", str(where), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                               None)
                else:
                    _bind(mount, where, readonly=inside != "tmp")
                mounted.append(str(where))
            yield rootfs
        finally:
            for path in reversed(mounted):
                REAL.umount2(path, MNT_DETACH)
            # only once nothing is mounted below it: never a bound /dev's nodes
            if not _mounts_under(run_dir):
                shutil.rmtree(run_dir, ignore_errors=True)
            shutil.rmtree(scratch, ignore_errors=True)


def _bind(source: str, target: Path, readonly: bool) -> None:
    REAL.mount(source, str(target), None, MS_BIND, None)
    if readonly:  # a bind is made read-write and only then remounted read-only
        REAL.mount(None, str(target), None, MS_REMOUNT | MS_BIND | MS_RDONLY, None)


def _mounts_under(path: Path) -> bool:
    prefix = str(path).rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4].startswith(prefix) for line in f)
