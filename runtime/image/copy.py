"""COPY/ADD sources: what a step reads from the build context, its digest, and the copy.

A source is resolved inside the context (never outside it, also not through a symlink),
filtered by .dockerignore, and hashed with content, mode and ownership, so the cache key
changes exactly when what would be copied changes.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from runtime.image.layers import OPAQUE_XATTR


class CopyError(ValueError):
    """A source outside the context, missing, or excluded: the builder adds file and line."""


@dataclass(frozen=True)
class Source:
    """One thing a COPY reads: its path in the context and where under dest it lands."""

    rel: str            # path relative to the context root
    target: str         # path relative to the destination it is copied to ("" = dest itself)


def _is_glob(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def _inside(context: Path, rel: str) -> bool:
    real = os.path.realpath(context / rel)
    return real == str(context) or real.startswith(str(context) + os.sep)


def resolve_sources(context: Path, included: list[str], src: str) -> list[Source]:
    """The entries one source pattern selects, each with its place under the destination."""
    clean = os.path.normpath(src)
    if os.path.isabs(src) or clean == ".." or clean.startswith("../"):
        raise CopyError(f"forbidden path outside the build context: {src}")
    clean = "" if clean == "." else clean
    if _is_glob(clean):
        depth = clean.count("/") + 1
        tops = [p for p in included if p.count("/") + 1 == depth and fnmatch.fnmatch(p, clean)]
        if not tops:
            raise CopyError(f"no source files were specified matching {src}")
    else:
        if clean and clean not in included:
            raise CopyError(f"file not found in build context or excluded by .dockerignore: "
                            f"stat {src}: file does not exist")
        tops = [clean]
    found: list[Source] = []
    for top in tops:
        if top and not _inside(context, top):
            raise CopyError(f"forbidden path outside the build context: {src} ({top} links out)")
        full = context / top if top else context
        if full.is_dir():  # a directory's contents are copied, not the directory itself
            prefix = f"{top}/" if top else ""
            found += [Source(p, p[len(prefix):]) for p in included if p.startswith(prefix)]
        else:
            found.append(Source(top, ""))
    return found


def sources_digest(context: Path, sources: list[Source]) -> str:
    """sha256 over each entry's name, type, mode, owner, size, content or link target."""
    h = hashlib.sha256()
    for s in sources:
        path = context / s.rel
        st = os.lstat(path)
        h.update(f"{s.rel}\0{s.target}\0{st.st_mode:o}\0{st.st_uid}\0{st.st_gid}\0".encode())
        if stat.S_ISLNK(st.st_mode):
            h.update(os.readlink(path).encode())
        elif stat.S_ISREG(st.st_mode):
            h.update(f"{st.st_size}\0".encode())
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        h.update(b"\n")
    return h.hexdigest()


def _make_parents(root: Path, rel_dir: str, uid: int, gid: int) -> None:
    current = root
    for part in Path(rel_dir).parts:
        current = current / part
        if not current.exists():
            current.mkdir(mode=0o755)
            os.lchown(current, uid, gid)


def copy_into(context: Path, sources: list[Source], layer: Path, dest: str, dest_is_dir: bool,
              uid: int = 0, gid: int = 0, chmod: int | None = None) -> None:
    """Lay the sources out in a fresh layer directory at the (absolute) destination path."""
    dest_rel = dest.strip("/")
    if dest_is_dir and dest_rel:
        _make_parents(layer, dest_rel, 0, 0)
    for s in sources:
        src = context / s.rel
        if s.target:
            rel = os.path.join(dest_rel, s.target)
        elif dest_is_dir:
            rel = os.path.join(dest_rel, os.path.basename(s.rel)) if s.rel else dest_rel
        else:
            rel = dest_rel
        target = layer / rel if rel else layer
        _make_parents(layer, os.path.dirname(rel), 0, 0)
        st = os.lstat(src)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src), target)
        elif stat.S_ISDIR(st.st_mode):
            target.mkdir(exist_ok=True)
            os.chmod(target, chmod if chmod is not None else stat.S_IMODE(st.st_mode))
        else:
            shutil.copy2(src, target, follow_symlinks=False)
            if chmod is not None:
                os.chmod(target, chmod)
        os.lchown(target, uid, gid)


MAX_SYMLINK_HOPS = 40  # Linux's own limit (ELOOP)
COPY_LAYOUT = "2"  # part of a COPY step's cache key: 2 follows the image's symlinks


def _lookup(layers_top_first: list[Path], rel: str) -> os.stat_result | None:
    """What the image's merged root shows at `rel` (no leading "/"), as overlayfs would: the
    topmost layer holding the entry; a whiteout (0:0 character device) or an opaque directory
    above hides what lies below."""
    for layer in layers_top_first:
        path = layer / rel
        try:
            st = os.lstat(path)
        except OSError:
            if _opaque_above(layer, rel):
                return None
            continue
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            return None
        return st
    return None


def _opaque_above(layer: Path, rel: str) -> bool:
    """An opaque directory among rel's parents in this layer hides the layers below."""
    parent = Path(rel).parent
    while str(parent) not in ("", "."):
        try:
            if os.getxattr(layer / parent, OPAQUE_XATTR, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
        parent = parent.parent
    return False


def resolve_dest(layers_top_first: list[Path], dest: str, follow_last: bool) -> str:
    """`dest`'s directories with the image's symlinks followed inside the image's root, as
    Docker's COPY does (moby#18501; buildah's resolveSymlink): COPY x /lib/modules on a
    Debian 12 base, whose /lib is a link to usr/lib, writes /usr/lib/modules and leaves the
    link alone rather than shadowing it with a directory. The last component is followed
    only when it is a directory to copy into (`follow_last`); a file's own name is kept, so
    COPY onto a link's name replaces the link. Links never lead outside the root: ".."
    stops at "/", absolute targets start from it; below a missing entry nothing is looked up.
    """
    parts = [p for p in dest.strip("/").split("/") if p and p != "."]
    last = None if follow_last or not parts else parts.pop()
    done: list[str] = []
    hops = 0
    missing = False
    while parts:
        part = parts.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        rel = "/".join([*done, part])
        st = None if missing else _lookup(layers_top_first, rel)
        missing = st is None
        if st is not None and stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise OSError(40, f"too many levels of symbolic links in {dest}")
            target = _link_target(layers_top_first, rel)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        done.append(part)
    return "/" + "/".join(done + ([last] if last is not None else []))


def _link_target(layers_top_first: list[Path], rel: str) -> str:
    for layer in layers_top_first:
        try:
            return os.readlink(layer / rel)
        except OSError:
            continue
    raise FileNotFoundError(rel)
