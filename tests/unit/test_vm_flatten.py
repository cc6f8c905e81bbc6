"""Layers flattened with overlayfs' rules, on temp dirs (whiteouts and opaque dirs need the
privileges overlayfs itself needs: those cases skip, with the reason, without them)."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.image.layers import OPAQUE_XATTR
from tests.vmhost import require_vm
from vm.flatten import flatten, is_whiteout


def _probe(make: Callable[[Path], None]) -> str | None:
    """Why `make` cannot be done in a scratch dir here (None: it can), decided once, before
    any test: a test's own failure to do it is then a failure, never a skip."""
    with tempfile.TemporaryDirectory() as scratch:
        try:
            make(Path(scratch) / "probe")
        except OSError as e:
            return e.strerror
    return None


def _mknod_whiteout(path: Path) -> None:
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))


def _mkdir_opaque(path: Path) -> None:
    path.mkdir()
    os.setxattr(path, "trusted.overlay.opaque", b"y")  # overlayfs' name, not the product's


NO_WHITEOUT = _probe(_mknod_whiteout)
NO_OPAQUE = _probe(_mkdir_opaque)


def whiteout(path: Path) -> None:
    if NO_WHITEOUT:
        require_vm(f"creating a whiteout (char device 0:0) needs CAP_MKNOD: {NO_WHITEOUT}")
    _mknod_whiteout(path)


def opaque(path: Path) -> None:
    if NO_OPAQUE:
        require_vm(f"setting trusted.overlay.opaque needs CAP_SYS_ADMIN and xattr support: "
                   f"{NO_OPAQUE}")
    os.setxattr(path, OPAQUE_XATTR, b"y")


def tree(root: Path) -> dict[str, str]:
    """path -> 'dir' | 'link:target' | file contents."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            rel = str(full.relative_to(root))
            if full.is_symlink():
                out[rel] = f"link:{os.readlink(full)}"
            elif full.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = full.read_text()
    return out


def layer(base: Path, name: str, files: dict[str, str]) -> Path:
    root = base / name
    root.mkdir()
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content == "dir":
            path.mkdir(exist_ok=True)
        elif content.startswith("link:"):
            path.symlink_to(content[5:])
        else:
            path.write_text(content)
    return root


def test_upper_layers_win_and_add(tmp_path: Path) -> None:
    low = layer(tmp_path, "l1", {"etc/a": "1", "etc/b": "1", "usr/bin/sh": "sh",
                                 "bin": "link:usr/bin"})
    up = layer(tmp_path, "l2", {"etc/a": "2", "etc/c": "2", "usr/bin/ls": "link:sh"})
    out = tmp_path / "out"
    out.mkdir()
    flatten([low, up], out)
    # A symlink to a directory (merged /usr's /bin) stays a symlink.
    assert tree(out) == {"etc": "dir", "usr": "dir", "usr/bin": "dir", "etc/a": "2",
                         "etc/b": "1", "etc/c": "2", "usr/bin/sh": "sh", "usr/bin/ls": "link:sh",
                         "bin": "link:usr/bin"}


def test_type_changes_between_layers(tmp_path: Path) -> None:
    low = layer(tmp_path, "l1", {"x/inner": "1", "y": "file", "z": "link:y"})
    up = layer(tmp_path, "l2", {"x": "now a file", "y/inner": "now a dir", "z": "dir"})
    out = tmp_path / "out"
    out.mkdir()
    flatten([low, up], out)
    assert tree(out) == {"x": "now a file", "y": "dir", "y/inner": "now a dir", "z": "dir"}


def test_whiteouts_hide_files_and_directories(tmp_path: Path) -> None:
    low = layer(tmp_path, "l1", {"etc/keep": "k", "etc/gone": "g", "var/cache/x": "x"})
    up = layer(tmp_path, "l2", {"etc": "dir", "var": "dir"})
    whiteout(up / "etc/gone")
    whiteout(up / "var/cache")
    out = tmp_path / "out"
    out.mkdir()
    flatten([low, up], out)
    assert tree(out) == {"etc": "dir", "etc/keep": "k", "var": "dir"}
    assert not any(is_whiteout(os.lstat(p)) for p in out.rglob("*"))


def test_opaque_directory_hides_lower_content(tmp_path: Path) -> None:
    low = layer(tmp_path, "l1", {"app/old": "o", "app/sub/deep": "d", "other": "x"})
    up = layer(tmp_path, "l2", {"app/new": "n"})
    opaque(up / "app")
    out = tmp_path / "out"
    out.mkdir()
    flatten([low, up], out)
    assert tree(out) == {"app": "dir", "app/new": "n", "other": "x"}
    with pytest.raises(OSError):
        os.getxattr(out / "app", OPAQUE_XATTR)  # overlay bookkeeping does not leak out


def test_a_later_layer_can_bring_back_a_whited_out_path(tmp_path: Path) -> None:
    l1 = layer(tmp_path, "l1", {"f": "v1"})
    l2 = layer(tmp_path, "l2", {})
    whiteout(l2 / "f")
    l3 = layer(tmp_path, "l3", {"f": "v3"})
    out = tmp_path / "out"
    out.mkdir()
    flatten([l1, l2, l3], out)
    assert tree(out) == {"f": "v3"}


def test_metadata_and_hard_links_are_kept(tmp_path: Path) -> None:
    low = layer(tmp_path, "l1", {"bin/tool": "#!/bin/sh\n", "d/f": "x"})
    os.chmod(low / "bin/tool", 0o4755)
    os.link(low / "bin/tool", low / "bin/alias")
    os.chmod(low / "d", 0o710)
    os.utime(low / "d/f", ns=(1_000_000_000, 1_000_000_000))
    out = tmp_path / "out"
    out.mkdir()
    flatten([low], out)
    st = os.stat(out / "bin/tool")
    assert stat.S_IMODE(st.st_mode) == 0o4755
    assert st.st_ino == os.stat(out / "bin/alias").st_ino  # still one file, two names
    assert stat.S_IMODE(os.stat(out / "d").st_mode) == 0o710
    assert os.stat(out / "d/f").st_mtime_ns == 1_000_000_000
