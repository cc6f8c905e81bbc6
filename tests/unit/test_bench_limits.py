"""limits.memory_64m: a run fails unless the limit held (an OOM kill and a peak within the
limit plus a margin), and a reading a target did not give is None, never 0; runc's memory
limit as the OCI config.json gives it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bench.model import RunRecord
from bench.targets import Job, oci
from bench.workloads import limits
from runtime.limits import Limits

MIB = 2**20


class OneRun:
    """A session whose one run ends as given."""

    def __init__(self, exit_code: int | None, end: dict[str, Any] | None,
                 output: str = "") -> None:
        self.exit_code, self.end, self.output = exit_code, end, output
        self.jobs: list[Job] = []

    def run_job(self, workload: str, variant: str, target: str, rep: int, job: Job,
                parse: Any, quiet: bool = False, threads: int | None = None) -> RunRecord:
        self.jobs.append(job)
        return RunRecord(workload, variant, target, rep, ok=False, exit_code=self.exit_code,
                         error="" if self.exit_code == 0 else "exit", output=self.output,
                         accounting={"end": self.end})


def overrun(target: str, exit_code: int | None, end: dict[str, Any] | None,
            output: str = "") -> RunRecord:
    size = 256 * MIB if target == "vm" else 64 * MIB
    return limits._memory_overrun(OneRun(exit_code, end, output), "isobench-bench",  # type: ignore[arg-type]
                                  target, size, 0)


@pytest.mark.parametrize("target", ["native", "container", "runc"])
def test_an_unenforced_limit_fails_the_run(target: str) -> None:
    # the hog got its 128 MiB: exit 0, no OOM kill, a peak twice the limit
    rec = overrun(target, 0, {"oom_kills": 0, "memory_peak": 128 * MIB})
    assert rec.ok is False
    assert rec.error == (f"the 64 MiB memory limit did not hold on {target}: no OOM kill "
                         "(oom_kills 0, exit 0); peak 128.0 MiB above 64 MiB + a 16 MiB margin")
    assert rec.metrics == {"exit_code": 0.0, "given_mib": 64.0, "oom_kills": 0.0,
                           "oom_restarts": 0.0, "peak_mib": 128.0}


def test_an_oom_kill_and_a_peak_at_the_limit_is_a_held_limit() -> None:
    rec = overrun("container", 2, {"oom_kills": 3, "memory_peak": 64 * MIB})
    assert (rec.ok, rec.error) == (True, "")
    assert rec.metrics["oom_kills"] == 3.0 and rec.metrics["peak_mib"] == 64.0


def test_exit_137_counts_as_the_kill_when_the_count_is_not_read() -> None:
    rec = overrun("runc", 137, {"memory_peak": 70 * MIB})
    assert (rec.ok, rec.error) == (True, "")
    assert rec.metrics["oom_kills"] is None  # not read: None, not 0.0
    assert rec.metrics["peak_mib"] == 70.0


def test_a_kill_with_a_peak_beyond_the_margin_fails() -> None:
    rec = overrun("native", 137, {"oom_kills": 1, "memory_peak": 81 * MIB})
    assert rec.ok is False
    assert rec.error.endswith("peak 81.0 MiB above 64 MiB + a 16 MiB margin")
    assert overrun("native", 137, {"oom_kills": 1, "memory_peak": 80 * MIB}).ok


def test_missing_readings_are_none_and_fail_the_run() -> None:
    rec = overrun("container", 0, {})
    assert rec.metrics["oom_kills"] is None and rec.metrics["peak_mib"] is None
    assert rec.ok is False
    assert rec.error == ("the 64 MiB memory limit did not hold on container: no OOM kill "
                         "(no oom_kill reading, exit 0); no peak memory reading")
    assert overrun("runc", 137, None).metrics["peak_mib"] is None


def test_in_a_vm_the_guests_oom_killer_counts_and_qemu_gets_its_margin() -> None:
    seen = "stress-ng: debug: [9] vm: assuming killed by OOM killer, restarting again\n" * 4
    # QEMU's cgroup counts no kill (the guest's kernel did it); stress-ng saw four
    rec = overrun("vm", 0, {"oom_kills": 0, "memory_peak": 400 * MIB}, seen)
    assert (rec.ok, rec.error) == (True, "")
    assert rec.metrics["oom_restarts"] == 4.0 and rec.metrics["given_mib"] == 256.0
    too_big = overrun("vm", 0, {"oom_kills": 0, "memory_peak": 520 * MIB}, seen)
    assert too_big.error == ("the 256 MiB memory limit did not hold on vm: peak 520.0 MiB "
                             "above 256 MiB + a 192 MiB margin")
    # outside a VM, what stress-ng saw is no proof: the host cgroup must have counted it
    assert not overrun("container", 0, {"oom_kills": 0, "memory_peak": 60 * MIB}, seen).ok


def test_a_run_that_did_not_run_stays_as_the_target_left_it() -> None:
    rec = overrun("runc", None, None)
    assert rec.ok is False and rec.metrics == {} and rec.error == "exit"


def test_the_job_asks_twice_the_limit_under_that_limit() -> None:
    session = OneRun(137, {"oom_kills": 1, "memory_peak": MIB})
    limits._memory_overrun(session, "img", "container", 64 * MIB, 0)  # type: ignore[arg-type]
    job = session.jobs[0]
    assert job.limits == Limits(memory_bytes=64 * MIB) and job.memory_bytes is None
    assert "--vm 4 --vm-bytes 128M" in job.argv[-1]  # 4 workers of 32 MiB: see MEMORY_HOG


# ---- runc: the limit in config.json ---------------------------------------------------------

def test_oci_resources_of_a_memory_limit() -> None:
    # memory and memory+swap both at the limit: no swap to escape to, as `docker run -m`
    assert oci._oci_resources(Limits(memory_bytes=64 * MIB)) == {
        "memory": {"limit": 67108864, "swap": 67108864}}
    assert oci._oci_resources(Limits(cpu_quota_us=50_000, pids_max=10)) == {
        "cpu": {"quota": 50_000, "period": 100_000}, "pids": {"limit": 10}}
    assert oci._oci_resources(Limits()) == {}


def test_runc_config_json_carries_the_jobs_memory_limit(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Any) -> None:
    spec = {"process": {"env": ["PATH=/bin"]}, "mounts": [],
            "linux": {"namespaces": [{"type": "network"}]}}
    monkeypatch.setattr(oci, "_runc_spec", lambda: spec)
    image = SimpleNamespace(config=SimpleNamespace(Env=["A=1"], WorkingDir="/w"))
    target = oci.RuncTarget(SimpleNamespace(image=lambda ref: image))  # type: ignore[arg-type]
    job = Job("isobench-bench", ["sh", "-c", "hog"], limits=Limits(memory_bytes=64 * MIB))
    config = target._config(job, tmp_path / "rootfs", "isobench-x", None)
    assert config["linux"]["resources"] == {"memory": {"limit": 64 * MIB, "swap": 64 * MIB}}
    assert config["linux"]["cgroupsPath"] == "/isobench-x/ctr"
    assert config["process"]["args"] == ["sh", "-c", "hog"]
    unlimited = target._config(Job("isobench-bench", ["true"]), tmp_path, "isobench-x", None)
    assert "resources" not in unlimited["linux"]
    assert spec["linux"] == {"namespaces": [{"type": "network"}]}  # the cached default kept


def test_runc_kills_are_read_in_runcs_own_cgroup_while_it_exists(tmp_path: Any) -> None:
    # cgroup v1: oom_kill counts only where the kill happened (runc's `ctr` cgroup, which
    # holds the limit), and runc removes that cgroup before our end reading
    (tmp_path / "ctr").mkdir()
    control = tmp_path / "ctr" / "memory.oom_control"
    kills = oci.ChildOomKills(SimpleNamespace(paths=lambda: {"memory": str(tmp_path)}))
    read = kills.watching(lambda: "stats")
    assert read() == "stats" and kills.seen is None  # runc has not made it yet
    control.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    read()
    control.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 5\n")
    read()
    control.unlink()  # runc exited and removed it
    read()
    end = {"oom_kills": 0, "memory_peak": 60 * MIB}
    kills.into(end)
    assert end == {"oom_kills": 5, "memory_peak": 60 * MIB}


def test_on_cgroup_v2_our_own_count_stands() -> None:
    # v2's memory.events counts the kills of every cgroup below: nothing to add
    kills = oci.ChildOomKills(SimpleNamespace(paths=lambda: {"unified": "/nonexistent"}))
    kills.watching(lambda: None)()
    end = {"oom_kills": None}
    kills.into(end)
    assert kills.file is None and end == {"oom_kills": None}


@pytest.mark.parametrize("default", [[{"type": "network"}],
                                     [{"type": "network"}, {"type": "cgroup"}]])
def test_runc_config_names_the_cgroup_namespace_once(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Any, default: list) -> None:
    # `runc spec` lists a cgroup namespace itself on a pure cgroup v2 host (the lane's runc
    # 1.1.5), and runc refuses a spec that names one twice: "duplicated ns"
    spec = {"process": {"env": []}, "mounts": [], "linux": {"namespaces": default}}
    monkeypatch.setattr(oci, "_runc_spec", lambda: spec)
    image = SimpleNamespace(config=SimpleNamespace(Env=[], WorkingDir=""))
    target = oci.RuncTarget(SimpleNamespace(image=lambda ref: image))  # type: ignore[arg-type]
    config = target._config(Job("isobench-bench", ["true"]), tmp_path, "isobench-x", None)
    types = [ns["type"] for ns in config["linux"]["namespaces"]]
    assert types.count("cgroup") == 1 and "network" in types, types
