"""`--user` resolution against the container's own /etc/passwd and /etc/group (runtime.users)."""

from __future__ import annotations

import pytest

from runtime.users import Identity, UserError, resolve

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
# a comment line is skipped
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:100:Bob::/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""

GROUP = """\
root:x:0:
daemon:x:1:
users:x:100:
alice:x:1000:
wheel:x:10:alice,bob
audio:x:29:alice
video:x:44:bob
staff:x:50:carol
nogroup:x:65534:
"""


def test_empty_user_is_root() -> None:
    assert resolve("", PASSWD, GROUP) == Identity(uid=0, gid=0, groups=(0,), home="/root")


def test_root_by_name_and_by_uid_agree() -> None:
    assert resolve("root", PASSWD, GROUP) == resolve("0", PASSWD, GROUP)


def test_empty_files_still_give_root() -> None:
    assert resolve("", "", "") == Identity(0, 0, (0,), "/")


def test_by_name_takes_uid_gid_home_and_supplementary_groups() -> None:
    ident = resolve("alice", PASSWD, GROUP)
    assert ident == Identity(uid=1000, gid=1000, groups=(1000, 10, 29), home="/home/alice")


def test_by_uid_finds_the_passwd_entry() -> None:
    ident = resolve("1000", PASSWD, GROUP)
    assert (ident.uid, ident.gid, ident.home) == (1000, 1000, "/home/alice")
    assert ident.groups == (1000, 10, 29)


def test_empty_home_falls_back_to_root_dir() -> None:
    ident = resolve("bob", PASSWD, GROUP)
    assert ident == Identity(uid=1001, gid=100, groups=(100, 10, 44), home="/")


def test_uid_colon_gid() -> None:
    ident = resolve("1000:29", PASSWD, GROUP)
    assert (ident.uid, ident.gid, ident.home) == (1000, 29, "/home/alice")
    assert ident.groups[0] == 29
    assert ident.groups.count(29) == 1  # the primary group is not repeated


def test_name_colon_group_name() -> None:
    ident = resolve("alice:wheel", PASSWD, GROUP)
    assert (ident.uid, ident.gid) == (1000, 10)
    assert ident.groups[0] == 10


def test_numeric_gid_not_in_group_file_is_used_as_is() -> None:
    ident = resolve("alice:4242", PASSWD, GROUP)
    assert (ident.uid, ident.gid) == (1000, 4242)
    assert ident.groups[0] == 4242


def test_numeric_uid_not_in_passwd_gets_gid_0_and_home_slash() -> None:
    assert resolve("4321", PASSWD, GROUP) == Identity(uid=4321, gid=0, groups=(0,), home="/")


def test_numeric_uid_and_gid_neither_in_files() -> None:
    assert resolve("4321:8765", PASSWD, GROUP) == Identity(4321, 8765, (8765,), "/")


def test_unknown_numeric_uid_has_no_supplementary_groups() -> None:
    # "carol" is a member of staff but has no passwd entry; uid 5000 is nobody's.
    assert resolve("5000", PASSWD, GROUP).groups == (0,)


def test_unknown_user_name_raises_dockers_message() -> None:
    with pytest.raises(UserError) as info:
        resolve("mallory", PASSWD, GROUP)
    assert str(info.value) == "unable to find user mallory: no matching entries in passwd file"


def test_unknown_group_name_raises_dockers_message() -> None:
    with pytest.raises(UserError) as info:
        resolve("alice:nosuchgroup", PASSWD, GROUP)
    assert str(info.value) == (
        "unable to find group nosuchgroup: no matching entries in group file"
    )


def test_user_error_is_a_value_error() -> None:
    assert issubclass(UserError, ValueError)


def test_short_or_comment_lines_do_not_match() -> None:
    passwd = "#mallory:x:7:7::/:/bin/sh\nmallory:x\n"
    with pytest.raises(UserError):
        resolve("mallory", passwd, "")
