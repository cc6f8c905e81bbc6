"""Resolve Docker's `--user name|uid[:group|gid]` against the container's own files."""

from __future__ import annotations

from dataclasses import dataclass


class UserError(ValueError):
    pass


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


def _entries(text: str) -> list[list[str]]:
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve(user: str, passwd: str, group: str) -> Identity:
    """Like runc's user.GetExecUser: numeric ids need no entry, names must exist."""
    name, _, grp = (user or "0").partition(":")
    users = _entries(passwd)
    groups = _entries(group)
    entry = next((e for e in users if len(e) >= 7 and (e[0] == name or e[2] == name)), None)
    if entry is not None:
        uid, gid, home = int(entry[2]), int(entry[3]), entry[5]
    elif name.isdigit():
        uid, gid, home = int(name), 0, "/"  # runc's default exec user: gid 0, home /
    else:
        raise UserError(f"unable to find user {name}: no matching entries in passwd file")
    if grp:
        gentry = next((g for g in groups if len(g) >= 3 and (g[0] == grp or g[2] == grp)), None)
        if gentry is not None:
            gid = int(gentry[2])
        elif grp.isdigit():
            gid = int(grp)
        else:
            raise UserError(f"unable to find group {grp}: no matching entries in group file")
    user_name = entry[0] if entry else None
    # As runc: supplementary groups only in the implicit form (`--user 1000:1000` drops them).
    extra = () if grp else tuple(sorted({int(g[2]) for g in groups if len(g) >= 4 and user_name
                                         and user_name in g[3].split(",")} - {gid}))
    return Identity(uid, gid, (gid, *extra), home or "/")
