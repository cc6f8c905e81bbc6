"""An image's layers applied bottom-up into one plain tree, as overlayfs would show them.

Layers in the store are overlayfs lower dirs: a whiteout is a character device 0:0 that
hides the path below it, and a directory with trusted.overlay.opaque=y hides everything the
layers below put in it. The result holds neither: it is the merged view, ready for
`mkfs.ext4 -d`.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

from runtime.image.layers import OPAQUE_XATTR

OVERLAY_XATTR_PREFIX = "trusted.overlay."


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _remove(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _clear_dir(path: str) -> None:
    for name in os.listdir(path):
        _remove(os.path.join(path, name))


def _copy_xattrs(src: str, dst: str) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        if name.startswith(OVERLAY_XATTR_PREFIX):
            continue  # overlayfs bookkeeping, not content
        try:
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False),
                        follow_symlinks=False)
        except OSError:
            pass  # e.g. security.* the target filesystem refuses: the content still matters more


def _copy_meta(src: str, dst: str, st: os.stat_result) -> None:
    os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))  # after chown: chown clears setuid bits
    _copy_xattrs(src, dst)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_entry(src: str, dst: str, st: os.stat_result, links: dict[tuple[int, int], str]) -> None:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            os.link(links[key], dst)  # a hard link inside the layer stays one
            return
        shutil.copyfile(src, dst, follow_symlinks=False)
        links[key] = dst
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
        os.mknod(dst, mode, st.st_rdev)
    else:
        return  # sockets are not content
    _copy_meta(src, dst, st)


def apply_layer(layer: Path, dest: Path) -> None:
    """Apply one layer onto `dest` with overlayfs' rules."""
    links: dict[tuple[int, int], str] = {}
    dirs: list[tuple[str, str, os.stat_result]] = []
    for dirpath, dirnames, filenames in os.walk(layer):
        rel = os.path.relpath(dirpath, layer)
        target_dir = os.path.normpath(os.path.join(dest, rel))
        # os.walk lists a symlink to a directory among dirnames: lstat decides, not walk.
        for name in sorted(dirnames + filenames):
            src, dst = os.path.join(dirpath, name), os.path.join(target_dir, name)
            st = os.lstat(src)
            if stat.S_ISDIR(st.st_mode):
                if os.path.lexists(dst) and not stat.S_ISDIR(os.lstat(dst).st_mode):
                    os.unlink(dst)  # a file or symlink below replaced by a directory
                if not os.path.lexists(dst):
                    os.mkdir(dst, 0o700)
                elif is_opaque(src):
                    _clear_dir(dst)
                dirs.append((src, dst, st))
                continue
            _remove(dst)
            if not is_whiteout(st):
                _copy_entry(src, dst, st, links)
    root_st = os.lstat(layer)
    dirs.append((str(layer), str(dest), root_st))
    # Directory metadata last and deepest first: filling a directory changes its mtime.
    for src, dst, st in reversed(dirs):
        _copy_meta(src, dst, st)


def flatten(layers: Iterable[Path], dest: Path) -> None:
    """`layers` bottom first, as Image.layers lists them; `dest` must exist (and be empty)."""
    for layer in layers:
        apply_layer(layer, dest)
