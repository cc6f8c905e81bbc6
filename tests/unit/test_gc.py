"""`isobench gc`'s decisions: which records are dead, which are in use, what a dry run
counts; records are real files in a temporary state root, liveness is this process's."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

import pytest

from isobench.commands.gc import _vm_counts
from runtime.api import Runtime
from runtime.containers import Container, ContainerConfig, process_start_time
from runtime.gc import Collector, Verdict, verdict
from runtime.network import bridge_unused
from vm.gc import run_is_dead


def record(status: str = "running", auto_remove: bool = False, pending: bool = False,
           cid: str = "a" * 64, monitor: int = 0) -> Container:
    c = Container(id=cid, name=f"n{cid[:4]}", created=1.0,
                  config=ContainerConfig(image="busybox", image_id=None, argv=["true"], env=[],
                                         auto_remove=auto_remove),
                  cgroup=f"isobench-unit-gc/{cid}")
    c.state.status, c.state.start_pending = status, pending
    if monitor:
        c.state.monitor_pid, c.state.monitor_start = monitor, process_start_time(monitor)
    return c


@pytest.mark.parametrize("rec, held, monitor_alive, expected", [
    (record(), True, False, Verdict.KEEP),                      # a run -d whose monitor holds it
    (record(), False, True, Verdict.KEEP),                      # monitor alive (older record)
    (record(auto_remove=True), False, False, Verdict.REMOVE),   # --rm, monitor died
    (record(), False, False, Verdict.MARK_DEAD),                # kept for ps -a / logs / rm
    (record("restarting"), False, False, Verdict.MARK_DEAD),    # died between two runs
    (record("restarting"), True, False, Verdict.KEEP),          # its monitor waits to restart
    (record("created", pending=True), False, False, Verdict.REMOVE),  # start killed
    (record("created", pending=True), True, False, Verdict.KEEP),     # start under way
    (record("created"), False, False, Verdict.KEEP),            # created, nobody starts it
    (record("exited"), False, False, Verdict.KEEP),             # finished cleanly
    (record("dead"), False, False, Verdict.KEEP),               # torn down already
    (None, False, False, Verdict.REMOVE),                       # create killed before record
    (None, True, False, Verdict.KEEP),                          # create under way
])
def test_verdict(rec: Container | None, held: bool, monitor_alive: bool,
                 expected: Verdict) -> None:
    assert verdict(rec, held, monitor_alive) is expected


def test_bridge_in_use_is_kept() -> None:
    assert bridge_unused(0, [])
    assert not bridge_unused(1, [])              # an endpoint of this root is recorded on it
    assert not bridge_unused(0, ["vethabcd1234"])  # another root's container is plugged in
    assert not bridge_unused(0, None)            # no such bridge


def test_vm_run_dir_decision() -> None:
    assert not run_is_dead(True, False, 1e6)     # its domain still runs
    assert run_is_dead(False, False, 0.0)        # owner dead: at once, no grace period
    assert not run_is_dead(False, True, 1e6)     # owner alive: still defining its domain
    assert not run_is_dead(False, None, 5.0)     # no owner file, young: maybe being made
    assert run_is_dead(False, None, 1e6)


def test_vm_counts_per_kind() -> None:
    counts = _vm_counts(["domain isobench-1", "vm run 1", "vm run 2", "vm disk x.raw",
                         "microvm microvm-1 (QEMU pid 7)"])
    assert counts == {"domains": 1, "microvms": 1, "vm runs": 2, "vm disks": 1}


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def rt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.setenv("ISOBENCH_CGROUP_PARENT", "isobench-unit-gc-absent")
    return Runtime(tmp_path)


def put(rt: Runtime, c: Container, with_dirs: bool = True) -> None:
    rt.containers.path(c.id).mkdir(parents=True)
    if with_dirs:
        for sub in ("upper", "work", "rootfs"):
            (rt.containers.path(c.id) / sub).mkdir()
    rt.containers.reserve_name(c.name, c.id)
    rt.containers.save(c, create=True)


def ids(n: int) -> list[str]:
    return [f"{i:x}" * 64 for i in range(1, n + 1)]


def scenario(rt: Runtime) -> dict[str, str]:
    """One record of each kind; returns role -> id. The held lock lives as long as `rt`."""
    gone = dead_pid()
    cid = dict(zip(["rm_dead", "kept_dead", "pending", "held", "alive", "created", "exited",
                    "half"], ids(8), strict=True))
    r = record(auto_remove=True, cid=cid["rm_dead"])
    r.state.monitor_pid, r.state.monitor_start = gone, 12345
    put(rt, r)
    put(rt, record(cid=cid["kept_dead"]))
    put(rt, record("created", pending=True, cid=cid["pending"]))
    put(rt, record(cid=cid["held"]))
    rt._held["held"] = rt.containers.hold(cid["held"])  # type: ignore[assignment]
    put(rt, record(cid=cid["alive"], monitor=os.getpid()))
    put(rt, record("created", cid=cid["created"]))
    put(rt, record("exited", cid=cid["exited"]))
    rt.containers.path(cid["half"]).mkdir(parents=True)  # a create killed after its mkdir
    (rt.containers.path(cid["half"]) / "upper").mkdir()
    rt.containers.reserve_name("half", cid["half"])
    os.symlink("f" * 64, rt.containers.names_dir / "dangling")
    return cid


def test_collect_removes_the_dead_and_keeps_the_rest(rt: Runtime) -> None:
    cid = scenario(rt)
    removed = Collector(rt).run(parents=False)
    assert removed.counts["containers"] == 4  # rm_dead, kept_dead (marked), pending, half
    assert removed.counts["overlay dirs"] == 3 + 3 + 1
    assert removed.counts["names"] == 4       # of the 3 removed records, and a dangling one
    left = {c.id: c for c in rt.containers.list()}
    assert set(left) == {cid[k] for k in ("kept_dead", "held", "alive", "created", "exited")}
    assert left[cid["kept_dead"]].state.status == "dead"
    assert left[cid["held"]].state.status == "running"
    assert left[cid["alive"]].state.status == "running"
    assert not rt.containers.path(cid["half"]).exists()
    assert sorted(p.name for p in rt.containers.names_dir.iterdir()) == sorted(
        left[i].name for i in left)
    again = Collector(rt).run(parents=False)
    assert not any(again.counts.values())


def test_dry_run_counts_the_same_and_changes_nothing(rt: Runtime) -> None:
    scenario(rt)
    snapshot = sorted(str(p) for p in rt.root.rglob("*"))
    dry = Collector(rt, dry_run=True).run(parents=False)
    assert sorted(str(p) for p in rt.root.rglob("*")) == snapshot
    assert dry.lines()[0].startswith("would remove")
    assert dry.counts == Collector(rt).run(parents=False).counts


def test_corrupt_record_is_reported_and_left(rt: Runtime) -> None:
    cid = "c" * 64
    rt.containers.path(cid).mkdir(parents=True)
    (rt.containers.path(cid) / "config.json").write_text("{not json")
    removed = Collector(rt).run(parents=False)
    assert removed.counts["containers"] == 0 and rt.containers.path(cid).exists()
    assert any("unreadable" in line for line in removed.lines())


def test_a_killed_removal_is_finished_and_a_live_one_left_to_its_owner(rt: Runtime) -> None:
    """`ContainerStore.remove` renames a record to `.removed-<id>` before deleting it: gc
    deletes one whose remover died (lock free) and leaves one whose remover still holds its
    lock (it is deleting it now: counting it would report a removal gc did not do)."""
    killed, live = ids(2)
    for cid in (killed, live):
        put(rt, record(cid=cid))
        os.rename(rt.containers.path(cid), rt.containers.dir / f".removed-{cid}")
    fd = os.open(rt.containers.dir / f".removed-{live}" / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        removed = Collector(rt).run(parents=False)
        assert removed.counts["containers"] == 1
        assert [p.name for p in rt.containers.removed_leftovers()] == [f".removed-{live}"]
    finally:
        os.close(fd)
