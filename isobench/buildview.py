"""How `isobench build` (and a bench session's image builds) show their steps, as BuildKit
does: `plain` writes `#N [i/n] RUN ...`, each output line as `#N <seconds> <line>` and
`#N DONE 1.2s`; `tty` keeps a live view of the steps and the running one's last lines;
`quiet` shows nothing. `auto` is tty when stderr is a terminal, else plain."""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from runtime.image.progress import BuildProgress, Silent

MODES = ("auto", "plain", "tty", "quiet")
TAIL_LINES = 6  # of a running step's output, in the tty view (BuildKit shows 6)


def resolve(mode: str, stream: TextIO) -> str:
    """`auto` made concrete: tty on a terminal (and not TERM=dumb), plain otherwise."""
    if mode != "auto":
        return mode
    return "tty" if Console(file=stream).is_terminal and not Console(
        file=stream).is_dumb_terminal else "plain"


class PlainBuild:
    """BuildKit's `--progress plain`, one line at a time to `say` (ANSI-free)."""

    captures_output = True

    def __init__(self, say: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.say = say
        self.clock = clock
        self.started: dict[int, float] = {}
        self.last = 0  # the #N of the last step: the image export comes after

    def step(self, index: int, total: int, text: str, cached: bool) -> None:
        self.started[index] = self.clock()
        self.last = max(self.last, index)
        self.say(f"#{index} [{index}/{total}] {text}")
        if cached:
            self.say(f"#{index} CACHED")
            self.say("")

    def output(self, index: int, line: str) -> None:
        self.say(f"#{index} {self.clock() - self.started.get(index, self.clock()):.3f} {line}")

    def done(self, index: int, seconds: float, cached: bool) -> None:
        if not cached:
            self.say(f"#{index} DONE {seconds:.1f}s")
            self.say("")

    def failed(self, index: int, message: str) -> None:
        self.say(f"#{index} ERROR: {message}")
        self.say("")

    def wrote(self, image_id: str, tag: str | None) -> None:
        n = self.last + 1
        self.say(f"#{n} exporting to image")
        self.say(f"#{n} writing image {image_id} done")
        if tag:
            self.say(f"#{n} naming to {tag} done")
        self.say(f"#{n} DONE 0.0s")


@dataclass
class Step:
    index: int
    total: int
    text: str
    started: float
    cached: bool = False
    seconds: float | None = None      # set when it ended
    error: str = ""
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))


class BuildState:
    """What a live view draws: every step so far and the running one's last lines."""

    captures_output = True

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.began = clock()
        self.steps: dict[int, Step] = {}
        self.image: list[str] = []   # the export's lines, once written
        self.lock = threading.Lock()  # RUN output arrives on the builder's reader thread

    def step(self, index: int, total: int, text: str, cached: bool) -> None:
        with self.lock:
            self.steps[index] = Step(index, total, text, self.clock(), cached,
                                     0.0 if cached else None)

    def output(self, index: int, line: str) -> None:
        with self.lock:
            if index in self.steps:
                self.steps[index].tail.append(line)

    def done(self, index: int, seconds: float, cached: bool) -> None:
        with self.lock:
            self.steps[index].seconds = seconds

    def failed(self, index: int, message: str) -> None:
        with self.lock:
            step = self.steps[index]
            step.error, step.seconds = message, self.clock() - step.started

    def wrote(self, image_id: str, tag: str | None) -> None:
        self.image = [f"writing image {image_id}"] + ([f"naming to {tag}"] if tag else [])

    def lines(self, width: int) -> list[Text]:
        """BuildKit's tty view: a header, ` => [i/n] TEXT   1.2s` a step, and the running
        step's last output lines as ` => => # line`."""
        with self.lock:
            steps = sorted(self.steps.values(), key=lambda s: s.index)
            total = steps[-1].total if steps else 0
            ended = sum(s.seconds is not None for s in steps)
            out = [Text(f"[+] Building {self.clock() - self.began:.1f}s ({ended}/{total})",
                        style="bold" if ended == total and total else "")]
            for s in steps:
                seconds = s.seconds if s.seconds is not None else self.clock() - s.started
                tag = "CACHED " if s.cached else ("ERROR " if s.error else "")
                style = "red" if s.error else ("blue" if s.seconds is not None else "")
                out.append(row(f" => [{s.index}/{s.total}] {s.text}", f"{tag}{seconds:.1f}s",
                               width, style))
                if s.seconds is None or s.error:
                    for line in s.tail:
                        shown = f" => => # {line}"
                        out.append(Text(shown[:width], style="dim"))
            out += [Text(f" => {line}"[:width], style="blue") for line in self.image]
            return out


def row(left: str, right: str, width: int, style: str = "") -> Text:
    """`left` cut to fit and `right` flush with the right edge, on one line."""
    room = max(width - len(right) - 1, 10)
    if len(left) > room:
        left = left[:room - 1] + "…"
    return Text(left.ljust(room) + " " + right, style=style)


class TtyBuild(BuildState):
    """BuildKit's `--progress tty`: a live view redrawn in place on stderr."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self.console = console or Console(stderr=True, highlight=False)
        self.live = Live(console=self.console, auto_refresh=True, refresh_per_second=8,
                         get_renderable=self._render, transient=False)

    def _render(self) -> Group:
        return Group(*self.lines(self.console.width))

    def __enter__(self) -> TtyBuild:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()


def build_progress(mode: str, stream: TextIO | None = None) -> BuildProgress:
    """The renderer for `--progress MODE` (enter a TtyBuild's context to draw it)."""
    stream = stream or sys.stderr
    mode = resolve(mode, stream)
    if mode == "quiet":
        return Silent()
    if mode == "tty":
        return TtyBuild(Console(file=stream, highlight=False))
    return PlainBuild(lambda line: print(line, file=stream, flush=True))
