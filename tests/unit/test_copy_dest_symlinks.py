"""COPY's destination follows the image's own symlinks inside its root, as Docker's does
(moby#18501: COPY used to replace a linked directory with a real one; buildah resolves the
destination the same way). The image is its layers, topmost first, as overlayfs stacks them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.image.copy import resolve_dest


def layers(tmp_path: Path, n: int) -> list[Path]:
    out = []
    for i in range(n):
        d = tmp_path / f"layer{i}"
        d.mkdir()
        out.append(d)
    return out  # index 0 is the topmost


def test_a_linked_directory_in_the_path_is_followed(tmp_path: Path) -> None:
    top, base = layers(tmp_path, 2)
    (base / "usr" / "lib").mkdir(parents=True)
    os.symlink("usr/lib", base / "lib")  # Debian 12's merged /usr
    assert resolve_dest([top, base], "/lib/modules", follow_last=False) == "/usr/lib/modules"
    assert resolve_dest([top, base], "/lib/modules/", follow_last=True) == "/usr/lib/modules"


def test_absolute_and_relative_targets_and_chains(tmp_path: Path) -> None:
    (root,) = layers(tmp_path, 1)
    (root / "real" / "deep").mkdir(parents=True)
    os.symlink("/real", root / "abs")
    os.symlink("abs/deep", root / "chain")
    assert resolve_dest([root], "/abs/f", follow_last=False) == "/real/f"
    assert resolve_dest([root], "/chain/f", follow_last=False) == "/real/deep/f"


def test_links_never_lead_out_of_the_root(tmp_path: Path) -> None:
    (root,) = layers(tmp_path, 1)
    os.symlink("../../../../etc", root / "up")
    os.symlink("/../../tmp", root / "absup")
    assert resolve_dest([root], "/up/x", follow_last=False) == "/etc/x"
    assert resolve_dest([root], "/absup/x", follow_last=False) == "/tmp/x"


def test_a_files_own_name_is_kept_a_directory_to_copy_into_is_followed(tmp_path: Path) -> None:
    (root,) = layers(tmp_path, 1)
    (root / "data").mkdir()
    os.symlink("/data", root / "link")
    assert resolve_dest([root], "/link", follow_last=False) == "/link"  # replaces the link
    assert resolve_dest([root], "/link", follow_last=True) == "/data"


@pytest.mark.skipif(os.geteuid() != 0,
                    reason="needs root: mknod of a whiteout, trusted.* xattrs")
def test_a_whiteout_or_an_opaque_directory_hides_a_lower_link(tmp_path: Path) -> None:
    top, base = layers(tmp_path, 2)
    (base / "usr" / "lib").mkdir(parents=True)
    os.symlink("usr/lib", base / "lib")
    os.mknod(top / "lib", 0o600 | 0o020000, os.makedev(0, 0))  # overlayfs whiteout
    assert resolve_dest([top, base], "/lib/m", follow_last=False) == "/lib/m"
    (tmp_path / "b").mkdir()
    top2, base2 = layers(tmp_path / "b", 2)
    (base2 / "etc" / "x").mkdir(parents=True)
    os.symlink("/usr", base2 / "etc" / "x" / "l")
    (top2 / "etc" / "x").mkdir(parents=True)
    os.setxattr(top2 / "etc" / "x", "trusted.overlay.opaque", b"y")
    assert resolve_dest([top2, base2], "/etc/x/l/f", follow_last=False) == "/etc/x/l/f"
    assert resolve_dest([base2], "/etc/x/l/f", follow_last=False) == "/usr/f"


def test_a_link_loop_is_refused(tmp_path: Path) -> None:
    (root,) = layers(tmp_path, 1)
    os.symlink("b", root / "a")
    os.symlink("a", root / "b")
    with pytest.raises(OSError) as e:
        resolve_dest([root], "/a/x", follow_last=False)
    assert e.value.errno == 40
