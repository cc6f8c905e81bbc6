"""Content addressing of layer directories."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tarfile

OPAQUE_XATTR = "trusted.overlay.opaque"


class _HashWriter:
    """A file-like sink that only hashes: tarfile streams the layer into it."""

    def __init__(self) -> None:
        import hashlib  # only builds and imports hash layers: OpenSSL's ~2 ms, not in `run`

        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return len(data)


def _normalize(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Same content, mode and ownership => same digest, whenever and by whoever it was made.
    info.mtime = 0
    info.uname = info.gname = ""
    return info


def tree_digest(root: Path) -> tuple[str, int]:
    """sha256 of a deterministic tar of `root` (Docker's diff ID minus timestamps), and size."""
    import tarfile  # start-up time: only builds and imports digest; `run` never does

    sink = _HashWriter()
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                full = os.path.join(dirpath, name)
                arc = os.path.relpath(full, root)
                info = _normalize(tar.gettarinfo(full, arcname=arc))
                if info.isdir():  # an opaque dir hides the layers below: part of the content
                    try:
                        opaque = os.getxattr(full, OPAQUE_XATTR, follow_symlinks=False)
                        info.pax_headers[f"SCHILY.xattr.{OPAQUE_XATTR}"] = opaque.decode()
                    except OSError:
                        pass
                if info.isreg():
                    with open(full, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return "sha256:" + sink.sha.hexdigest(), sink.size

