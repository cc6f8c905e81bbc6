"""Safe extraction of tar archives: image layers (`isobench import`) and Dockerfile ADD.

Layers in the store are plain directories used as overlayfs lower dirs, so a layer tar's
whiteouts are stored the way overlayfs reads them:

    .wh.NAME          -> NAME becomes a character device 0:0 (hides NAME of lower layers)
    DIR/.wh..wh..opq  -> DIR gets the xattr trusted.overlay.opaque=y (hides DIR's lower content)

Every member is checked before anything is written for it (`_Plan`, pure bookkeeping, no
I/O), and the writer checks again on the real filesystem: every parent component of every
path is lstat'ed and must be a real directory, so nothing is ever written through a
symlink. Refused, with `ArchiveError` (one line naming the archive and the member):

- names that are absolute or whose `..` components climb out of the root;
- symlinks whose relative target climbs out of the root (absolute targets are fine: the
  runtime resolves them inside the container's root, and extraction never follows one);
- members that would be written through a symlink or below a non-directory;
- hardlinks whose target is outside the archive or not an earlier member;
- block and character devices (a layer's whiteouts are generated from `.wh.` names, never
  taken from the archive), and member types tarfile does not know;
- a truncated or corrupt archive, compressed or not.

`dest` must be a fresh, empty directory (a store staging dir). On any error everything the
extraction wrote is removed again, so `dest` is left empty; the caller then removes `dest`.
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from runtime.errors import IsobenchError
from runtime.image.layers import OPAQUE_XATTR

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
OPAQUE_MARKER = ".wh..wh..opq"
CORRUPT = "truncated or corrupt archive"

_CHUNK = 1 << 20
_MAX_ID = 2**32 - 2          # (uid_t)-1 means "unchanged" to chown(2)
_MAX_MTIME = 2**40           # seconds; clamps absurd values instead of failing on them

Source = str | os.PathLike[str] | IO[bytes] | tarfile.TarFile


class ArchiveError(IsobenchError):
    """A refused archive: unsafe, unsupported, truncated or corrupt."""

    exit_code = 1


def oneline(text: str) -> str:
    """One line, whatever the archive put in a name."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _label_of(src: Source, name: str | None) -> str:
    if name:
        return oneline(name)
    if isinstance(src, str | os.PathLike):
        return oneline(os.fspath(src))
    found = getattr(src, "name", None)
    return oneline(os.fsdecode(found)) if isinstance(found, str | bytes) else "<archive>"


class _Info(tarfile.TarInfo):
    """Records how the header sequence ended: tarfile stops silently on a truncated header
    or garbage after the first member, while an intact archive ends with a zero block."""

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:  # type: ignore[override]
        try:
            return super().fromtarfile(tarfile_)
        except tarfile.EOFHeaderError:
            tarfile_._isobench_end = "eof"  # type: ignore[attr-defined]
            raise
        except Exception:
            tarfile_._isobench_end = "bad"  # type: ignore[attr-defined]
            raise


def _end_ok(tar: tarfile.TarFile) -> bool:
    end = getattr(tar, "_isobench_end", None)
    if end is not None:
        return end == "eof"
    # A TarFile opened by the caller: look at the block where the headers stopped.
    try:
        tar.fileobj.seek(tar.offset)  # type: ignore[union-attr]
        block = tar.fileobj.read(tarfile.BLOCKSIZE)  # type: ignore[union-attr]
    except Exception:
        return True  # a stream that cannot go back: nothing more to check
    return len(block) == tarfile.BLOCKSIZE and block.count(0) == tarfile.BLOCKSIZE


@dataclass
class _Op:
    """One member, checked: what to do, where (relative to dest, '' is dest itself)."""

    action: str      # root dir file symlink hardlink fifo whiteout opaque skip
    path: str
    member: tarfile.TarInfo
    link: str = ""   # hardlink: the earlier member's path; symlink: the target as written


def _ids(m: tarfile.TarInfo) -> tuple[int, int]:
    return m.uid, m.gid


def _mtime_ns(m: tarfile.TarInfo) -> int:
    try:
        seconds = float(m.mtime)
    except (TypeError, ValueError, OverflowError):
        seconds = 0.0
    if seconds != seconds:  # NaN
        seconds = 0.0
    seconds = min(max(seconds, 0.0), float(_MAX_MTIME))
    return int(seconds) * 1_000_000_000 + int(round((seconds % 1) * 1e9)) % 1_000_000_000


class _Plan:
    """The archive's own view of the tree it lays out; refuses unsafe members (no I/O)."""

    def __init__(self, label: str, whiteouts: bool) -> None:
        self.label = label
        self.whiteouts = whiteouts
        self.tree: dict[str, str] = {}  # path -> dir file symlink fifo whiteout

    def error(self, member: str, problem: str) -> ArchiveError:
        return ArchiveError(f"{self.label}: member {oneline(repr(member))}: {problem}")

    def _normalize(self, member: str, name: str, what: str = "path") -> str:
        if "\x00" in name:
            raise self.error(member, f"{what} contains a NUL byte")
        if name.startswith("/"):
            raise self.error(member, f"absolute {what} {oneline(repr(name))}")
        norm = posixpath.normpath(name) if name else "."
        if norm == ".." or norm.startswith("../"):
            raise self.error(member, f"{what} {oneline(repr(name))} escapes the root")
        return "" if norm == "." else norm

    def _parents(self, member: str, path: str) -> None:
        """Every ancestor of `path` must be a directory (missing ones become directories)."""
        parts = path.split("/")[:-1] if path else []
        prefix = ""
        for part in parts:
            prefix = f"{prefix}/{part}" if prefix else part
            kind = self.tree.get(prefix)
            if kind is None:
                self.tree[prefix] = "dir"
            elif kind == "symlink":
                raise self.error(member, f"would be written through the symlink {prefix!r}")
            elif kind != "dir":
                raise self.error(member, f"{prefix!r} is not a directory")

    def _drop(self, path: str) -> None:
        self.tree.pop(path, None)
        below = path + "/"
        for key in [k for k in self.tree if k.startswith(below)]:
            del self.tree[key]

    def _place(self, path: str, kind: str) -> None:
        """Docker's rule: an existing entry is replaced, unless both are directories."""
        if not (kind == "dir" and self.tree.get(path) == "dir"):
            self._drop(path)
        self.tree[path] = kind

    def check(self, m: tarfile.TarInfo) -> _Op:
        member = m.name
        path = self._normalize(member, member)
        if not (0 <= m.uid <= _MAX_ID and 0 <= m.gid <= _MAX_ID):
            raise self.error(member, f"owner {m.uid}:{m.gid} is out of range")
        base = path.rsplit("/", 1)[-1]
        if self.whiteouts and base.startswith(WHITEOUT_PREFIX):
            return self._whiteout(m, path, base)
        if m.ischr() or m.isblk():
            raise self.error(member, "device nodes are not allowed in an image layer")
        if not (m.isdir() or m.isreg() or m.issym() or m.islnk() or m.isfifo()):
            raise self.error(member, f"unsupported member type {oneline(repr(m.type))}")
        if path == "":
            if not m.isdir():
                raise self.error(member, "the root must be a directory")
            return _Op("root", "", m)
        self._parents(member, path)
        if m.isdir():
            self._place(path, "dir")
            return _Op("dir", path, m)
        if m.isreg():
            self._place(path, "file")
            return _Op("file", path, m)
        if m.isfifo():
            self._place(path, "fifo")
            return _Op("fifo", path, m)
        if m.issym():
            target = m.linkname
            if not target:
                raise self.error(member, "symlink with an empty target")
            if "\x00" in target:
                raise self.error(member, "symlink target contains a NUL byte")
            if not target.startswith("/"):
                parent = posixpath.dirname(path)
                resolved = posixpath.normpath(posixpath.join(parent, target))
                if resolved == ".." or resolved.startswith("../"):
                    raise self.error(member, f"symlink target {oneline(repr(target))} "
                                             "escapes the root")
            self._place(path, "symlink")
            return _Op("symlink", path, m, target)
        # hardlink: to an earlier member of this archive, never to anything else
        target = self._normalize(member, m.linkname, "hardlink target")
        if target == path:
            raise self.error(member, "hardlink to itself")
        self._place(path, "link")
        if self.tree.get(target) not in ("file", "symlink", "fifo", "link"):
            raise self.error(member, f"hardlink target {oneline(repr(m.linkname))} "
                                     "is not an earlier member of the archive")
        return _Op("hardlink", path, m, target)

    def _whiteout(self, m: tarfile.TarInfo, path: str, base: str) -> _Op:
        member = m.name
        parent = posixpath.dirname(path)
        if base == OPAQUE_MARKER:
            self._parents(member, path)  # the directory itself is the marker's parent
            return _Op("opaque", parent, m)
        if base.startswith(WHITEOUT_META_PREFIX):
            return _Op("skip", path, m)  # aufs bookkeeping (.wh..wh.plnk and the like)
        name = base[len(WHITEOUT_PREFIX):]
        if name in ("", ".", ".."):
            raise self.error(member, "whiteout without a name")
        target = f"{parent}/{name}" if parent else name
        self._parents(member, target)
        self._drop(target)
        self.tree[target] = "whiteout"
        return _Op("whiteout", target, m)


class _Writer:
    """Carries out checked ops under `dest`, re-checking every parent with lstat."""

    def __init__(self, plan: _Plan, tar: tarfile.TarFile, dest: Path) -> None:
        self.plan = plan
        self.tar = tar
        self.dest = os.fspath(dest)
        self.dir_times: list[tuple[str, int]] = []
        self.created: list[str] = []

    def _real_dirs(self, rel: str) -> bool:
        """Whether `rel` and each of its ancestors under dest is a directory, not a link."""
        path = self.dest
        for part in rel.split("/") if rel else []:
            path = os.path.join(path, part)
            try:
                if not stat.S_ISDIR(os.lstat(path).st_mode):
                    return False
            except OSError:  # gone, or under something that is no directory now
                return False
        return True

    def _abs(self, rel: str) -> str:
        return os.path.join(self.dest, rel) if rel else self.dest

    def _parent(self, member: str, rel: str) -> None:
        """Make sure each ancestor of `rel` is a real directory; create missing ones."""
        path = self.dest
        for part in rel.split("/")[:-1] if rel else []:
            path = os.path.join(path, part)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                os.mkdir(path, 0o755)
                os.chmod(path, 0o755)
                self.created.append(path)
                continue
            if stat.S_ISLNK(st.st_mode):
                raise self.plan.error(member, f"would be written through the symlink "
                                              f"{os.path.relpath(path, self.dest)!r}")
            if not stat.S_ISDIR(st.st_mode):
                raise self.plan.error(member, f"{os.path.relpath(path, self.dest)!r} "
                                              "is not a directory")

    def _clear(self, path: str, keep_dir: bool = False) -> bool:
        """Remove what is at `path` (never following a symlink). True if a dir was kept."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            self.created.append(path)
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            shutil.rmtree(path)
        else:
            os.unlink(path)
        self.created.append(path)
        return False

    def _owner_mode(self, path: str, m: tarfile.TarInfo) -> None:
        os.chown(path, *_ids(m), follow_symlinks=False)
        os.chmod(path, m.mode & 0o7777)  # after chown, which clears setuid/setgid

    def _utime(self, path: str, m: tarfile.TarInfo) -> None:
        ns = _mtime_ns(m)
        os.utime(path, ns=(ns, ns), follow_symlinks=False)

    def apply(self, op: _Op) -> None:
        m, member = op.member, op.member.name
        if op.action == "skip":
            return
        self._parent(member, op.path)
        path = self._abs(op.path)
        if op.action == "root":
            self._owner_mode(path, m)
            self.dir_times.append((op.path, _mtime_ns(m)))
        elif op.action == "dir":
            if not self._clear(path, keep_dir=True):
                os.mkdir(path, 0o700)
            self._owner_mode(path, m)
            self.dir_times.append((op.path, _mtime_ns(m)))
        elif op.action == "file":
            self._clear(path)
            self._write_file(path, m)
        elif op.action == "symlink":
            self._clear(path)
            os.symlink(op.link, path)
            os.chown(path, *_ids(m), follow_symlinks=False)
            self._utime(path, m)
        elif op.action == "hardlink":
            self._clear(path)
            source = self._abs(op.link)
            self._parent(member, op.link)
            try:
                st = os.lstat(source)
            except FileNotFoundError:
                raise self.plan.error(member, "hardlink target is missing") from None
            if stat.S_ISDIR(st.st_mode):
                raise self.plan.error(member, "hardlink to a directory")
            os.link(source, path, follow_symlinks=False)
        elif op.action == "fifo":
            self._clear(path)
            os.mkfifo(path, 0o600)
            self._owner_mode(path, m)
            self._utime(path, m)
        elif op.action == "whiteout":
            self._clear(path)
            os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))
        elif op.action == "opaque":
            # the marked directory is checked (and made if missing) like any parent
            self._parent(member, posixpath.join(op.path, OPAQUE_MARKER))
            os.setxattr(path, OPAQUE_XATTR, b"y", follow_symlinks=False)

    def _write_file(self, path: str, m: tarfile.TarInfo) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o600)
        try:
            with _reading(self.plan, m.name):
                source = self.tar.extractfile(m)
            if source is not None:
                while True:
                    with _reading(self.plan, m.name):
                        chunk = source.read(_CHUNK)
                    if not chunk:
                        break
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
            os.fchown(fd, *_ids(m))
            os.fchmod(fd, m.mode & 0o7777)
            ns = _mtime_ns(m)
            os.utime(fd, ns=(ns, ns))
        finally:
            os.close(fd)

    def finish(self) -> None:
        """Directory mtimes last (writing into a directory changes its mtime), deepest first."""
        for rel, ns in sorted(self.dir_times, key=lambda t: -t[0].count("/") - bool(t[0])):
            # a later member may have replaced it or an ancestor ("a/x/" then the file or the
            # symlink "a"): only a path of real directories all the way down is touched, so
            # no symlink, not even a loop, leads the timestamp outside the tree
            if self._real_dirs(rel):
                os.utime(self._abs(rel), ns=(ns, ns), follow_symlinks=False)

    def undo(self, was_empty: bool) -> None:
        if was_empty:
            _empty(Path(self.dest))
            return
        for path in reversed(self.created):
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)


def _empty(dest: Path) -> None:
    for entry in os.scandir(dest):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)


class _reading:
    """Any failure while reading the archive is a corrupt archive, whatever raised it."""

    def __init__(self, plan: _Plan, member: str | None = None, where: str = "at") -> None:
        self.plan = plan
        self.member = member
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, ArchiveError) or not isinstance(exc, Exception):
            return False
        where = f" ({self.where} member {oneline(repr(self.member))})" if self.member else ""
        raise ArchiveError(f"{self.plan.label}: {CORRUPT}{where}") from exc


def _open(src: Source, plan: _Plan) -> tuple[tarfile.TarFile, bool]:
    """(tar, opened_here): one streaming pass; compression (gzip, bzip2, xz) is detected
    from the bytes."""
    if isinstance(src, tarfile.TarFile):
        return src, False
    mode = "r|*"
    if isinstance(src, str | os.PathLike):
        try:
            src = open(src, "rb")  # closed with the TarFile (_close)
        except OSError as e:
            raise ArchiveError(f"{plan.label}: {e.strerror or e}") from None
        try:
            with _reading(plan):
                tar = tarfile.open(fileobj=src, mode=mode, tarinfo=_Info)
        except BaseException:
            src.close()
            raise
        tar._isobench_file = src  # type: ignore[attr-defined]
        return tar, True
    with _reading(plan):
        return tarfile.open(fileobj=src, mode=mode, tarinfo=_Info), True


def _close(tar: tarfile.TarFile) -> None:
    tar.close()
    own = getattr(tar, "_isobench_file", None)
    if own is not None:
        own.close()


def _members(tar: tarfile.TarFile, plan: _Plan) -> Iterator[tarfile.TarInfo]:
    """Members in archive order; at the end, refuses an archive without its end marker."""
    last: str | None = None
    members = iter(tar)
    while True:
        with _reading(plan, last, "after"):
            m = next(members, None)
        if m is None:
            break
        last = m.name
        yield m
    if not _end_ok(tar):
        raise ArchiveError(f"{plan.label}: {CORRUPT}")


def _run(src: Source, dest: Path | None, *, whiteouts: bool, name: str | None) -> int:
    plan = _Plan(_label_of(src, name), whiteouts)
    writer: _Writer | None = None
    was_empty = True
    if dest is not None:
        if not dest.is_dir() or dest.is_symlink():
            raise ArchiveError(f"{plan.label}: destination {dest} is not a directory")
        was_empty = not any(os.scandir(dest))
    tar, opened = _open(src, plan)
    count = 0
    try:
        if dest is not None:
            writer = _Writer(plan, tar, dest)
            if was_empty:
                os.chmod(dest, 0o755)  # staging dirs are 0700; a root dir is 0755
        for m in _members(tar, plan):
            op = plan.check(m)
            count += 1
            if writer is None:
                if op.action == "file":  # read the data too: truncation shows up there
                    with _reading(plan, m.name):
                        data = tar.extractfile(m)
                        while data is not None and data.read(_CHUNK):
                            pass
                continue
            try:
                writer.apply(op)
            except OSError as e:
                raise plan.error(m.name, f"cannot extract: {e.strerror or e}") from e
        if writer is not None:
            writer.finish()
    except BaseException:
        if writer is not None:
            writer.undo(was_empty)
        raise
    finally:
        if opened:
            _close(tar)
    return count


def extract_layer(src: Source, dest: Path, *, name: str | None = None) -> None:
    """Extract an image layer tar (path, binary file object or open TarFile; gzip, bzip2
    and xz are detected) into the fresh, empty directory `dest`, turning Docker/OCI
    whiteouts into overlayfs ones. Modes (setuid included), owners and mtimes are kept.
    `name` labels the archive in error messages. On error `dest` is left empty and
    `ArchiveError` is raised."""
    _run(src, Path(dest), whiteouts=True, name=name)


def add_local_archive(src: Path | str, dest: Path, *, name: str | None = None) -> None:
    """Dockerfile ADD of a local tar: the same checks, but `.wh.` names are plain files.

    `dest` may already hold files (ADD a.tar b.tar /dir/): members replace entries as
    tar does (a directory stays a directory), and nothing is written through a symlink
    already there. On error, what this call created is removed; entries it replaced are
    gone, so the caller should discard the layer it was building."""
    _run(src, Path(dest), whiteouts=False, name=name)


def validate_archive(src: Source, *, whiteouts: bool = True, name: str | None = None) -> int:
    """Check a whole archive without writing anything; returns the number of members.

    Raises only ArchiveError, whatever the bytes (suitable for fuzzing)."""
    if isinstance(src, bytes | bytearray | memoryview):
        src = io.BytesIO(bytes(src))
    return _run(src, None, whiteouts=whiteouts, name=name)


def is_archive(path: Path | str) -> bool:
    """Whether ADD should unpack `path`: a tar, plain or compressed, that opens cleanly."""
    plan = _Plan(oneline(os.fspath(path)), False)
    try:
        tar, _ = _open(Path(path), plan)
        _close(tar)
    except (ArchiveError, OSError):
        return False
    return True


def open_archive(path: Path | str, *, name: str | None = None) -> tarfile.TarFile:
    """Open a (possibly compressed) tar for random access and read all of its headers.

    Raises ArchiveError: `... is not a tar archive` when the first header does not parse,
    `truncated or corrupt archive` for damage after it. Member data of the returned tar
    is safe to read with extractfile."""
    label = _label_of(path, name)
    plan = _Plan(label, False)
    try:
        tar = tarfile.open(os.fspath(path), "r:*", tarinfo=_Info)
    except FileNotFoundError:
        raise ArchiveError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise ArchiveError(f"{label}: is a directory") from None
    except Exception as e:
        raise ArchiveError(f"{label}: not a tar archive") from e
    try:
        for _ in _members(tar, plan):
            pass
    except BaseException:
        tar.close()
        raise
    return tar
