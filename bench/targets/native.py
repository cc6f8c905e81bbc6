"""The `native` target, the baseline: a host process in a fresh cgroup of its own, chrooted
nowhere, namespaced in nothing; the host's own tools."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

from bench import leases
from bench.collectors import Sampler, cgroup_reader, sample_reader
from bench.targets.base import TIMEOUT_EXIT, Job, Outcome, Target
from runtime.cgroups import open_cgroup

# The host process joins its cgroup itself, before exec, so it is accounted from its first
# instruction; a shell is the smallest thing that can do that without a preexec_fn (unsafe
# with the sampler's thread running).
_JOIN_AND_EXEC = 'for p in $ISOBENCH_PROCS; do echo $$ > "$p"; done; exec "$@"'


class NativeTarget(Target):
    name = "native"

    def unavailable(self) -> str | None:
        return self.cgroup_problem()

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
