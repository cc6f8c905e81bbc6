"""The typed steps evaluation produces: one frozen dataclass per kind of instruction.

Each carries `line`, `keyword` and `text`, the instruction after substitution, written so
that two steps with different effects never have the same text (the builder keys its
cache on it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True)
class Step:
    """One instruction of the stage, substituted. `text` is its cache-key/display form."""

    line: int = field(default=0, kw_only=True)
    text: str = field(default="", kw_only=True)
    keyword: str = field(default="", kw_only=True)
    KEYWORD: ClassVar[str] = ""

    def __init_subclass__(cls, instruction: str = "", **kwargs: object) -> None:
        # `class UserStep(Step, instruction="USER")`: the default `keyword`, declared once.
        super().__init_subclass__(**kwargs)
        if instruction:
            cls.KEYWORD = instruction

    def __post_init__(self) -> None:
        if not self.keyword:
            object.__setattr__(self, "keyword", self._default_keyword())

    def _default_keyword(self) -> str:
        return self.KEYWORD


@dataclass(frozen=True)
class FromStep(Step, instruction="FROM"):
    image: str
    stage_name: str | None = None


@dataclass(frozen=True)
class CommandStep(Step):
    """RUN, CMD, ENTRYPOINT: `argv` exec form as written, shell form as SHELL + [command]."""

    argv: list[str]
    shell_form: bool = False


@dataclass(frozen=True)
class RunStep(CommandStep, instruction="RUN"):
    shell_form: bool = True


@dataclass(frozen=True)
class CopyStep(Step):
    """COPY or ADD (`is_add`); `chown`/`chmod` None when not given."""

    sources: list[str]
    dest: str
    chown: str | None = None
    chmod: str | None = None
    is_add: bool = False

    def _default_keyword(self) -> str:
        return "ADD" if self.is_add else "COPY"


@dataclass(frozen=True)
class PairsStep(Step):
    """ENV and LABEL (and MAINTAINER, as a label): `(key, value)` pairs, substituted."""

    pairs: list[tuple[str, str]]


@dataclass(frozen=True)
class EnvStep(PairsStep, instruction="ENV"):
    """The pairs join the environment of the steps after it, and of the image."""


@dataclass(frozen=True)
class ArgStep(Step, instruction="ARG"):
    """An ARG in the stage: `value` as resolved (--build-arg, default, global) or None."""

    name: str
    value: str | None = None


@dataclass(frozen=True)
class WorkdirStep(Step, instruction="WORKDIR"):
    """`path` is absolute: a relative WORKDIR is resolved against the previous one."""

    path: str


@dataclass(frozen=True)
class UserStep(Step, instruction="USER"):
    user: str


@dataclass(frozen=True)
class CmdStep(CommandStep, instruction="CMD"):
    """The image's default command (its arguments when there is an ENTRYPOINT)."""


@dataclass(frozen=True)
class EntrypointStep(CommandStep, instruction="ENTRYPOINT"):
    """Docker: an ENTRYPOINT also clears a CMD inherited from the base image."""


@dataclass(frozen=True)
class ExposeStep(Step, instruction="EXPOSE"):
    """`ports` normalized, `80` -> `80/tcp`, ranges expanded, duplicates dropped."""

    ports: list[str]


@dataclass(frozen=True)
class LabelStep(PairsStep, instruction="LABEL"):
    """The pairs join the image's labels."""


@dataclass(frozen=True)
class VolumeStep(Step, instruction="VOLUME"):
    paths: list[str]


@dataclass(frozen=True)
class ShellStep(Step, instruction="SHELL"):
    argv: list[str]


@dataclass(frozen=True)
class StopSignalStep(Step, instruction="STOPSIGNAL"):
    signal: str


@dataclass(frozen=True)
class NoopStep(Step):
    """HEALTHCHECK and ONBUILD: checked and recorded, without effect on the image."""

    keyword: str = ""
