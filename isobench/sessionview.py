"""How `isobench bench` shows a session: on a terminal a rich bar over every unit (warm-ups,
every workload on every target, VM boots inside them) with its ETA, the current step and a
running image build's last lines; otherwise timestamped lines a CI log keeps readable:
`2026-12-03T07:01:02Z [12/40] cpu.all container rep 3/5  ETA 4m10s`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from bench.progress import Unit
from isobench.buildview import BuildState, PlainBuild, row
from runtime.image.progress import BuildProgress


def stamp(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def eta(seconds: float) -> str:
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class PlainSession:
    """One timestamped line per unit and per step; an ETA from the mean unit so far."""

    def __init__(self, write: Callable[[str], None],
                 wall: Callable[[], float] = time.time,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.write, self.wall, self.clock = write, wall, clock
        self.total = self.index = 0
        self.began = 0.0

    def say(self, line: str) -> None:
        self.write(f"{stamp(self.wall())} {line}")

    def planned(self, total: int) -> None:
        self.total, self.began = total, self.clock()
        self.say(f"session: {total} units of work")

    def started(self, unit: Unit) -> None:
        self.index += 1
        done = self.index - 1
        left = (self.clock() - self.began) / done * (self.total - done) if done else None
        self.say(f"[{self.index}/{self.total}] {unit}"
                 + (f"  ETA {eta(left)}" if left is not None else ""))

    def finished(self, unit: Unit, ok: bool) -> None:
        if not ok:
            self.say(f"[{self.index}/{self.total}] {unit}: failed")

    def step(self, message: str) -> None:
        self.say(message.strip())

    def build(self) -> BuildProgress:
        # BuildKit's lines, timestamped; its blank separators would be a bare timestamp
        return PlainBuild(lambda line: self.say(line) if line else None)

    def close(self) -> None:
        pass


class _Bar(Progress):
    """rich's progress bar, with the current step and a build's last lines below it."""

    def __init__(self, view: RichSession, console: Console) -> None:
        self.view = view
        super().__init__(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                         MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                         TimeRemainingColumn(), console=console, refresh_per_second=4,
                         speed_estimate_period=24 * 3600)  # the ETA: the mean unit so far

    def get_renderables(self) -> list[RenderableType]:  # type: ignore[override]
        if not hasattr(self, "live"):  # rich draws once while it builds the Live
            return [self.make_tasks_table(self.tasks)]
        width = self.console.width
        extra: list[RenderableType] = []
        if self.view.current:
            extra.append(Text(f"  {self.view.current}"[:width], style="cyan"))
        if self.view.now:
            extra.append(Text(f"  {self.view.now}"[:width], style="dim"))
        if self.view.building is not None:
            extra += self.view.building.lines(width)[1:]
        return [Group(self.make_tasks_table(self.tasks), *extra)]


class RichSession:
    """The terminal's view: finished units and notable lines scroll above a live bar."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar = _Bar(self, console)
        self.task = self.bar.add_task("session", total=None)
        self.current = ""       # the unit running
        self.now = ""           # the step inside it
        self.index = 0
        self.unit_began = 0.0
        self.building: SessionBuild | None = None

    def planned(self, total: int) -> None:
        self.bar.update(self.task, total=total)
        self.bar.start()

    def started(self, unit: Unit) -> None:
        self.index += 1
        self.current, self.now, self.unit_began = str(unit), "", time.monotonic()
        self.bar.update(self.task, description=f"{unit.workload} on {unit.target}")

    def finished(self, unit: Unit, ok: bool) -> None:
        mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
        self.bar.console.print(f"{mark} {unit} [dim]{time.monotonic() - self.unit_began:.1f}s"
                               "[/dim]", highlight=False)
        self.bar.advance(self.task)
        self.current = self.now = ""

    def step(self, message: str) -> None:
        self.now = message.strip()
        if any(word in message for word in ("failed", "skipped", "flagged")):
            self.bar.console.print(f"[yellow]{self.now}[/yellow]", highlight=False)

    def build(self) -> BuildProgress:
        return SessionBuild(self)

    def close(self) -> None:
        self.bar.stop()


class SessionBuild(BuildState):
    """An image build inside the session's view: its steps under the bar while it runs,
    each step's end a line above."""

    def __init__(self, view: RichSession) -> None:
        super().__init__()
        self.view = view

    def step(self, index: int, total: int, text: str, cached: bool) -> None:
        super().step(index, total, text, cached)
        self.view.building = self
        if cached:
            self.say(f" => [{index}/{total}] {text}", "CACHED")

    def done(self, index: int, seconds: float, cached: bool) -> None:
        super().done(index, seconds, cached)
        if not cached:
            s = self.steps[index]
            self.say(f" => [{index}/{s.total}] {s.text}", f"{seconds:.1f}s")

    def say(self, left: str, right: str) -> None:
        console = self.view.bar.console
        console.print(row(left, right, console.width, "blue"))

    def wrote(self, image_id: str, tag: str | None) -> None:
        super().wrote(image_id, tag)
        self.view.building = None


def session_progress(stream: TextIO) -> PlainSession | RichSession:
    """A rich bar on a terminal, timestamped plain lines otherwise (no ANSI escapes)."""
    console = Console(file=stream, highlight=False)
    if console.is_terminal and not console.is_dumb_terminal:
        return RichSession(console)
    return PlainSession(lambda line: print(line, file=stream, flush=True))
