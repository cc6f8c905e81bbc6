"""The progress seam: every unit a session runs is counted up front exactly once (the real
schedule and the real workloads' unit lists, a fake harness underneath), and the renderers'
plain lines are exact and free of ANSI escapes (CI logs)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from bench import workloads
from bench.harness import Harness
from bench.model import RunRecord, Session, Workload
from bench.profiles import PROFILES
from bench.progress import Unit
from bench.targets import Job, Outcome, Target
from isobench.buildview import BuildState, PlainBuild, build_progress
from isobench.sessionview import PlainSession, session_progress
from results import document
from runtime.image.progress import BuildProgress, Silent

MACHINE: dict[str, Any] = {
    "cpu_model": "Test CPU", "cores": 2, "memory_bytes": 8 * 2**30, "kernel": "6.1.0-test",
    "distribution": "Debian GNU/Linux 12 (bookworm)", "cgroup_mode": "hybrid",
    "acceleration": {"mode": None, "reason": "no vm target"}, "versions": {"python": "3.11"},
}
ANSI = re.compile("\x1b\\[")


class Fake(Target):
    """A target that runs nothing and succeeds at once."""

    def __init__(self, name: str) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self.name = name
        self.jobs: list[Job] = []

    def run(self, job: Job) -> Outcome:
        self.jobs.append(job)
        return Outcome(0, "", "", 0.01)


class Events:
    """A SessionProgress that remembers every event."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.log: list[tuple[str, Any]] = []

    def planned(self, total: int) -> None:
        self.total = total

    def started(self, unit: Unit) -> None:
        self.log.append(("started", unit))

    def finished(self, unit: Unit, ok: bool) -> None:
        self.log.append(("finished", unit))

    def step(self, message: str) -> None:
        self.log.append(("step", message))

    def build(self) -> BuildProgress:
        return Silent()

    def close(self) -> None:
        self.log.append(("close", None))


@pytest.fixture
def fake_units(monkeypatch: pytest.MonkeyPatch) -> list[Unit]:
    """Every workload's own units run as one fake record per variant they record: what the
    count is about, without the runtime."""
    ran: list[Unit] = []

    def run_unit(self: Workload, session: Session, unit: Unit) -> None:
        ran.append(unit)
        for variant in unit.records or (unit.variant,):
            session.record(RunRecord(unit.workload, variant, unit.target, unit.rep, ok=True))

    for w in workloads.WORKLOADS.values():
        monkeypatch.setattr(type(w), "run_unit", run_unit)
    return ran


def session(tmp_path: Path, events: Events, profile: str = "quick",
            doc: dict[str, Any] | None = None,
            targets: tuple[str, ...] = ("native", "container", "runc", "vm")) -> Harness:
    doc = doc or document.new_document(profile=profile, argv=[], repeat=1, seed=0,
                                      machine=MACHINE)
    h = Harness(None, {t: Fake(t) for t in targets},  # type: ignore[arg-type]
                list(workloads.WORKLOADS.values()), PROFILES[profile], tmp_path, doc=doc,
                seed=3, progress=events)
    h.build_images = lambda: None  # type: ignore[method-assign]
    return h


@pytest.mark.parametrize("profile", ["quick", "tiny"])
def test_every_unit_of_a_real_schedule_is_counted_once(tmp_path: Path, profile: str,
                                                       fake_units: list[Unit]) -> None:
    events = Events()
    h = session(tmp_path, events, profile)
    doc = h.run()
    started = [u for kind, u in events.log if kind == "started"]
    finished = [u for kind, u in events.log if kind == "finished"]
    assert events.total == len(started) == len(finished) > 0
    assert started == finished and len(set(started)) == len(started)
    assert events.log[-1] == ("close", None)
    # every workload and every target reports, the VM's and the self-driven ones' included
    assert {u.workload for u in started} == set(workloads.WORKLOADS)
    assert {u.target for u in started} == {"native", "container", "runc", "vm"}
    declared = {v.name for w in workloads.WORKLOADS.values() for v in w.variants}
    assert {v for u in started for v in u.records or (u.variant,)} == declared
    # every record the session wrote belongs to exactly one unit that was counted
    measured = [(u.workload, v, u.target, u.rep) for u in started if u.rep >= 0
                for v in u.records or (u.variant,)]
    assert sorted(measured) == sorted(document.run_key(r) for r in doc["runs"])
    warmups = [u for u in started if u.rep < 0]
    assert len(warmups) == PROFILES[profile].warmup * 3 * len(workloads.all_variants())


def test_a_resumed_session_counts_only_what_is_left(tmp_path: Path,
                                                    fake_units: list[Unit]) -> None:
    first = session(tmp_path, Events(), "tiny").run()
    kept = [r for r in first["runs"] if r["workload"] in ("cpu", "startup", "net")]
    doc = {**first, "runs": kept}
    events = Events()
    session(tmp_path, events, "tiny", doc=doc).run()
    started = [u for kind, u in events.log if kind == "started"]
    assert events.total == len(started)
    assert {u.workload for u in started} == set(workloads.WORKLOADS) - {"cpu", "startup", "net"}


def test_the_plain_session_lines_are_exact_with_a_counter_and_an_eta() -> None:
    lines: list[str] = []
    clock = iter([100.0, 130.0, 160.0]).__next__
    view = PlainSession(lines.append, wall=lambda: 1796281262.0, clock=clock)
    view.planned(3)
    view.started(Unit("cpu", "cpu.all", "container", 2, 5))
    view.step("booting a VM for cpu.all")
    view.started(Unit("cpu", "cpu.all", "vm", -1, 1))
    view.finished(Unit("cpu", "cpu.all", "vm", -1, 1), ok=False)
    view.started(Unit("density", "density.idle", "container", 0, 3, label="(8 idle)"))
    assert lines == [
        "2026-12-03T07:01:02Z session: 3 units of work",
        "2026-12-03T07:01:02Z [1/3] cpu.all container rep 3/5",
        "2026-12-03T07:01:02Z booting a VM for cpu.all",
        "2026-12-03T07:01:02Z [2/3] warm-up cpu.all vm  ETA 1m00s",
        "2026-12-03T07:01:02Z [2/3] warm-up cpu.all vm: failed",
        "2026-12-03T07:01:02Z [3/3] density.idle (8 idle) container rep 1/3  ETA 30s",
    ]


def test_a_non_terminal_gets_plain_lines_without_escapes(tmp_path: Path,
                                                         fake_units: list[Unit]) -> None:
    out = io.StringIO()
    view = session_progress(out)
    assert isinstance(view, PlainSession)
    session(tmp_path, view, "tiny", targets=("native", "container")).run()  # type: ignore[arg-type]
    text = out.getvalue()
    assert not ANSI.search(text)
    counters = re.findall(r"^\S+Z \[(\d+)/(\d+)\] (?!.*: failed$)", text, re.M)
    total = int(counters[-1][1])
    assert [int(i) for i, _ in counters] == list(range(1, total + 1))
    assert all(int(n) == total for _, n in counters)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ session: \d+ units of work",
                        text.splitlines()[0])


def test_the_plain_build_is_buildkit_shaped() -> None:
    lines: list[str] = []
    view = PlainBuild(lines.append, clock=iter([10.0, 20.0, 20.25, 30.0, 40.0]).__next__)
    view.step(1, 3, "FROM busybox", False)
    view.done(1, 0.01, False)
    view.step(2, 3, "RUN echo hi", False)
    view.output(2, "hi")
    view.done(2, 1.25, False)
    view.step(3, 3, "COPY a /a", True)
    view.done(3, 0.0, True)
    view.wrote("sha256:ab", "app:1")
    assert lines == ["#1 [1/3] FROM busybox", "#1 DONE 0.0s", "",
                     "#2 [2/3] RUN echo hi", "#2 0.250 hi", "#2 DONE 1.2s", "",
                     "#3 [3/3] COPY a /a", "#3 CACHED", "",
                     "#4 exporting to image", "#4 writing image sha256:ab done",
                     "#4 naming to app:1 done", "#4 DONE 0.0s"]
    failing = PlainBuild(lines.append, clock=lambda: 0.0)
    failing.step(2, 2, "RUN false", False)
    failing.failed(2, "exit code: 1")
    assert lines[-2:] == ["#2 ERROR: exit code: 1", ""]


def test_the_tty_build_view_shows_the_running_steps_last_lines() -> None:
    now = [0.0]
    state = BuildState(clock=lambda: now[0])
    state.step(1, 2, "FROM debian:bookworm", False)
    state.done(1, 0.5, False)
    now[0] = 1.0
    state.step(2, 2, "RUN apt-get install -y sysbench", False)
    for i in range(10):
        state.output(2, f"line {i}")
    now[0] = 3.5
    shown = [t.plain for t in state.lines(60)]
    assert shown[0] == "[+] Building 3.5s (1/2)"
    assert shown[1].startswith(" => [1/2] FROM debian:bookworm") and shown[1].endswith(" 0.5s")
    assert shown[2].endswith(" 2.5s") and len(shown[2]) == 60
    assert shown[3:] == [f" => => # line {i}" for i in range(4, 10)]  # the last six
    state.done(2, 2.6, False)
    state.wrote("sha256:ab", "app:1")
    shown = [t.plain for t in state.lines(60)]
    assert shown[0] == "[+] Building 3.5s (2/2)" and shown[2].endswith(" 2.6s")
    # a finished step's output folds away, as BuildKit's
    assert shown[3:] == [" => writing image sha256:ab", " => naming to app:1"]


def test_auto_is_plain_off_a_terminal() -> None:
    assert isinstance(build_progress("auto", io.StringIO()), PlainBuild)
    assert isinstance(build_progress("quiet", io.StringIO()), Silent)


def test_a_sessions_image_build_shows_as_timestamped_buildkit_lines() -> None:
    lines: list[str] = []
    build = PlainSession(lines.append, wall=lambda: 1796281262.0).build()
    assert build.captures_output  # a RUN's output comes to the view, not to our stdout
    build.step(2, 2, "RUN apt-get update", False)
    build.output(2, "Get:1 http://deb.debian.org/debian bookworm InRelease")
    build.done(2, 61.0, False)
    assert [line.split(" ", 1)[1] for line in lines] == [
        "#2 [2/2] RUN apt-get update", lines[1].split(" ", 1)[1], "#2 DONE 61.0s"]
    assert re.fullmatch(r"2026-12-03T07:01:02Z #2 \d+\.\d{3} Get:1 http://\S+ bookworm "
                        "InRelease", lines[1])
