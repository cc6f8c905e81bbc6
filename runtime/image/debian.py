"""The `debian:bookworm` base: debootstrap --variant=minbase, once per host.

The tree is cached outside ISOBENCH_ROOT (ISOBENCH_CACHE, default /var/cache/isobench) so
every store on the host (tests make many) reuses it: a store takes it in as one layer by
hard-linking (layers are read-only lower dirs, so sharing inodes is safe) with the digest
computed once.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from runtime import private
from runtime.errors import IsobenchError
from runtime.fsutil import atomic_write
from runtime.image.layers import tree_digest
from runtime.image.store import Image, ImageConfig, ImageStore

SUITES = ("bookworm",)
DEFAULT_MIRROR = "http://deb.debian.org/debian"


def host_cache() -> Path:
    return private.cache_dir()


def _debootstrap(suite: str, target: Path) -> None:
    mirror = os.environ.get("ISOBENCH_DEBIAN_MIRROR") or DEFAULT_MIRROR
    print(f"debootstrap --variant=minbase {suite} (once per host, about a minute)",
          file=sys.stderr, flush=True)
    proc = subprocess.run(["debootstrap", "--variant=minbase", suite, str(target), mirror],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise IsobenchError(f"debootstrap {suite} failed ({proc.returncode}): {last}")
    # As Docker's debian images: no package lists or downloaded .debs in the base layer.
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (target / leftover).glob("*"):
            if entry.is_file():
                entry.unlink()


def cached_base(suite: str) -> tuple[Path, str, int]:
    """The host's debootstrapped tree, its digest and size; made under a lock if missing."""
    private.check_dir(host_cache(), bool(os.environ.get("ISOBENCH_CACHE")), "cache")
    private.make_private(host_cache())  # 0700: a tree copied into every debian image
    base = host_cache() / "debootstrap" / suite
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = base / "digest"
        if not marker.exists():
            partial = base / "rootfs.partial"
            shutil.rmtree(partial, ignore_errors=True)
            shutil.rmtree(base / "rootfs", ignore_errors=True)
            try:
                _debootstrap(suite, partial)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            os.rename(partial, base / "rootfs")
            digest, size = tree_digest(base / "rootfs")
            atomic_write(marker, f"{digest} {size}\n".encode())  # the tree is trusted from here
        digest, size = marker.read_text().split()
    return base / "rootfs", digest, int(size)


def ensure_debian(store: ImageStore, suite: str = "bookworm") -> Image:
    ref = f"debian:{suite}"
    if suite not in SUITES:
        raise IsobenchError(f"debian:{suite}: only {', '.join(SUITES)} is built in")
    rootfs, digest, size = cached_base(suite)
    config = ImageConfig(Cmd=["bash"])
    image = Image(id=Image.compute_id([digest], config), layers=[digest], config=config,
                  history=[{"created_by": f"debootstrap --variant=minbase {suite}"}])
    with store.pinned() as pin:  # an rmi racing us cannot take the layer before put()
        if not pin.hold_layers([digest]):
            staged = store.staging_dir()
            try:
                link = subprocess.run(["cp", "-al", f"{rootfs}/.", str(staged)],
                                      capture_output=True)
                if link.returncode != 0:  # another filesystem: copy instead
                    shutil.rmtree(staged)
                    staged.mkdir()
                    subprocess.run(["cp", "-a", f"{rootfs}/.", str(staged)], check=True)
                store.commit_layer(staged, known=(digest, size), pin=pin)
            except BaseException:
                shutil.rmtree(staged, ignore_errors=True)
                raise
        return store.put(image, ref)
