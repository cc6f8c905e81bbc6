"""Which device nodes a container may use: runc's default allow-list, as data.

A container may mknod any node (Docker keeps CAP_MKNOD) but only read or write the standard
ones, so a hand-made /dev/sda stays unusable. v1 writes these rules to devices.allow; v2 has no
devices files and needs a BPF program attached to the cgroup (runtime.cgroups.device_bpf).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceRule:
    kind: str            # "c" (char), "b" (block) or "a" (both)
    major: int | None    # None: any ("*")
    minor: int | None
    access: str          # some of "r", "w", "m" (mknod)

    def v1_line(self) -> str:
        """The devices.allow syntax: 'c 1:3 rwm', 'b *:* m', 'a'."""
        if self.kind == "a":
            return "a"
        major = "*" if self.major is None else str(self.major)
        minor = "*" if self.minor is None else str(self.minor)
        return f"{self.kind} {major}:{minor} {self.access}"


DEFAULT_DEVICE_RULES: tuple[DeviceRule, ...] = (
    DeviceRule("c", None, None, "m"),   # mknod of anything (its use is what is limited)
    DeviceRule("b", None, None, "m"),
    DeviceRule("c", 1, 3, "rwm"),       # null
    DeviceRule("c", 1, 5, "rwm"),       # zero
    DeviceRule("c", 1, 7, "rwm"),       # full
    DeviceRule("c", 1, 8, "rwm"),       # random
    DeviceRule("c", 1, 9, "rwm"),       # urandom
    DeviceRule("c", 5, 0, "rwm"),       # tty
    DeviceRule("c", 5, 1, "rwm"),       # console
    DeviceRule("c", 5, 2, "rwm"),       # ptmx
    DeviceRule("c", 136, None, "rwm"),  # pts/*
)

ALLOW_ALL = (DeviceRule("a", None, None, "rwm"),)


def permits(rules: tuple[DeviceRule, ...], kind: str, major: int, minor: int,
            access: str) -> bool:
    """Whether `rules` allow `access` (one or more of r, w, m) on a node (a reference model,
    the semantics both the kernel's v1 list and the v2 BPF program implement)."""
    for r in rules:
        if r.kind not in ("a", kind):
            continue
        if r.major is not None and r.major != major:
            continue
        if r.minor is not None and r.minor != minor:
            continue
        if all(a in r.access for a in access):
            return True
    return False
