"""An image's config plus the caller's overrides -> the process to start, by Docker's rules.

One set of rules for the runtime's containers (`Runtime.create`) and the VM driver's guests
(`VmDriver.plan`), so `isobench run` and `isobench vm run` start the same command:

- argv is ENTRYPOINT + CMD. A command given replaces CMD and keeps ENTRYPOINT; an entrypoint
  given (`--entrypoint`, `[]` for none) replaces ENTRYPOINT and drops CMD, so only the given
  command follows it. Nothing left at all: "No command specified".
- env is the image's ENV, then the caller's; a later entry of a name wins, in the place of
  the first.
- the working directory is the caller's, else the image's WORKDIR, else "/".
- the user is the caller's (`""` included), else the image's USER; `""` means root.

Defaults the process finds at exec (PATH, HOSTNAME, HOME) are its starter's business: the
container's init and the guest's differ in where they put them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from runtime.errors import InvalidArgument
from runtime.image.store import ImageConfig


class Overrides(Protocol):
    """What `docker run` may override of an image's config: its flags and its CMD."""

    @property
    def command(self) -> list[str] | None: ...
    @property
    def entrypoint(self) -> list[str] | None: ...
    @property
    def env(self) -> list[str]: ...
    @property
    def workdir(self) -> str | None: ...
    @property
    def user(self) -> str | None: ...


@dataclass(frozen=True)
class Process:
    """The process an image and the caller's overrides make."""

    argv: list[str]
    env: list[str]
    workdir: str
    user: str


def merge_env(base: list[str], extra: list[str]) -> list[str]:
    """Later entries win, in the place of the first (Docker's rule for image ENV and -e)."""
    merged: dict[str, str] = {}
    for item in [*base, *extra]:
        merged[item.partition("=")[0]] = item
    return list(merged.values())


def resolve(config: ImageConfig | None, given: Overrides) -> Process:
    """`config` is None for a container on a bare root filesystem (--rootfs): no image."""
    entry = given.entrypoint if given.entrypoint is not None else \
        (config.Entrypoint if config else None)
    image_cmd = config.Cmd if config and given.entrypoint is None else None
    argv = [*(entry or []), *(given.command or image_cmd or [])]
    if not argv:
        raise InvalidArgument("No command specified")
    return Process(
        argv=argv,
        env=merge_env(config.Env if config else [], list(given.env or [])),
        workdir=given.workdir or (config.WorkingDir if config else "") or "/",
        user=given.user if given.user is not None else (config.User if config else ""),
    )
