"""What a guest boots: the host's kernel and an initrd, and a disk made from the image.

The kernel is the host's packaged one (/boot/vmlinuz-*), booted as its extracted ELF vmlinux
through the PVH entry where it has one (vm/vmlinux.py: no XZ decompression under emulation),
and the initrd is isobench's own (vm/initrd.py: busybox and a dozen modules, no udev), both
built once per kernel and cached for the whole host (boot_cache: /var/cache/isobench/boot,
shared by every ISOBENCH_ROOT). `boot_kernel` falls back to the
bzImage, and to the Debian initrd, with a one-line note each where those cannot be made.

The disk is the image's layers flattened into one tree plus the init shim, written into an
ext4 file by `mkfs.ext4 -d` (no loop mount), and cached per image digest and shim under
ISOBENCH_ROOT/vm/disks. Each run boots a qcow2 overlay of it, so runs never change it.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import IsobenchError, NotFound
from runtime.fsutil import read_json, state_root, write_json
from runtime.image.store import Image, ImageStore
from vm import initrd as own_initrd
from vm import vmlinux
from vm.flatten import flatten

SHIM_SOURCE = Path(__file__).with_name("shim.c")
SHIM_PATH = "/.isobench/init"     # inside the guest: the kernel's init=
DISK_FORMAT_VERSION = 3           # bump when the disk layout changes
MIN_DISK_BYTES = 512 << 20
# Room for the workload's own writes on top of the image; the file is sparse, so free.
DISK_HEADROOM_BYTES = 1 << 30
# Mount points a guest needs even when the image lacks them (the initramfs moves /run too).
MOUNT_POINTS = ("proc", "sys", "dev", "run", "tmp")


class GuestError(IsobenchError):
    """The guest cannot be prepared: kernel, initrd, init shim or disk."""


# What a guest boots: "fast" (the extracted vmlinux and our initrd), "initrd" (the packaged
# bzImage and our initrd), "debian" (the packaged bzImage and initrd: the path before issue 16).
BOOT_MODES = ("fast", "initrd", "debian")


@dataclass(frozen=True)
class Kernel:
    kernel: str
    initrd: str
    release: str  # what `uname -r` prints in the guest
    notes: tuple[str, ...] = ()  # one line each: what was chosen, or why a fallback was taken

    def describe(self) -> str:
        return f"{self.kernel}, {self.initrd}" + "".join(f"; {n}" for n in self.notes)


def _version_key(release: str) -> list[int | str]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", release)]


def find_kernel(boot: str = "/boot") -> Kernel:
    """The newest /boot/vmlinuz-* with its initrd, or ISOBENCH_VM_KERNEL/ISOBENCH_VM_INITRD."""
    kernel, initrd = os.environ.get("ISOBENCH_VM_KERNEL"), os.environ.get("ISOBENCH_VM_INITRD")
    if kernel:
        release = os.path.basename(kernel).removeprefix("vmlinuz-")
        initrd = initrd or os.path.join(os.path.dirname(kernel), f"initrd.img-{release}")
        for what, path in (("kernel", kernel), ("initrd", initrd)):
            if not os.path.isfile(path):
                raise GuestError(f"guest {what} {path} not found")
        return Kernel(kernel, initrd, release)
    found = sorted(glob.glob(os.path.join(boot, "vmlinuz-*")),
                   key=lambda p: _version_key(os.path.basename(p)), reverse=True)
    if not found:
        raise GuestError(f"no guest kernel: {boot}/vmlinuz-* not found "
                         "(apt-get install linux-image-amd64)")
    for path in found:
        release = os.path.basename(path).removeprefix("vmlinuz-")
        candidate = os.path.join(boot, f"initrd.img-{release}")
        if os.path.isfile(candidate):
            return Kernel(path, candidate, release)
    raise GuestError(f"no initrd for {found[0]}: {boot}/initrd.img-* not found "
                     "(update-initramfs -c -k all)")


def boot_kernel(mode: str = "fast", root: Path | None = None) -> Kernel:
    """The kernel and initrd a guest boots in `mode` (BOOT_MODES), made and cached on first
    use. A fallback (the bzImage, the Debian initrd) comes with its one-line reason."""
    if mode not in BOOT_MODES:
        raise GuestError(f"boot mode {mode!r}: one of {', '.join(BOOT_MODES)}")
    packaged = find_kernel()
    if mode == "debian":
        return Kernel(packaged.kernel, packaged.initrd, packaged.release,
                      ("the packaged bzImage and Debian initrd",))
    cache = boot_cache(root)
    notes: list[str] = []
    initrd = packaged.initrd
    if os.environ.get("ISOBENCH_VM_INITRD"):
        notes.append("initrd from ISOBENCH_VM_INITRD")
    else:
        try:
            with _locked(cache / ".lock"):
                made = own_initrd.ensure_initrd(packaged.release, cache)
            initrd = str(made.path)
            notes.append(f"isobench initrd ({len(made.modules)} modules, no udev)")
        except own_initrd.InitrdError as e:
            notes.append(f"Debian initrd kept (slow: udev, MODULES=most): {e}")
    kernel = packaged.kernel
    if mode == "fast":
        with _locked(cache / ".lock"):
            elf = vmlinux.ensure_vmlinux(packaged.kernel, packaged.release, cache)
        if elf.path is not None:
            kernel = str(elf.path)
        notes.append(elf.note)
    else:
        notes.append("the packaged bzImage (decompressed by the guest)")
    return Kernel(kernel, initrd, packaged.release, tuple(notes))


def initrd_modules(initrd: str, wanted: tuple[str, ...] = ("virtio_blk", "ext4")) -> list[str]:
    """Which of `wanted` the initrd lacks (the guest cannot mount root=/dev/vda without them)."""
    if initrd.endswith(".cpio"):  # our own: a plain newc archive, listed without a tool
        try:
            data = Path(initrd).read_bytes()
        except OSError as e:
            raise GuestError(f"cannot read {initrd}: {e.strerror}") from None
        have = set(re.findall(rb"lib/modules/([\w-]+)\.ko\0", data))
        return [m for m in wanted if m.encode() not in have]
    try:
        listing = subprocess.run(["lsinitramfs", initrd], capture_output=True, text=True,
                                 check=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise GuestError(f"cannot list {initrd}: {e}") from None
    have = {os.path.basename(line).split(".ko")[0] for line in listing.split() if ".ko" in line}
    return [m for m in wanted if m not in have]


DEFAULT_BOOT_CACHE = Path("/var/cache/isobench/boot")


def boot_cache(root: Path | None = None) -> Path:
    """Where the extracted vmlinux (66 MB) and our initrd are kept: once per host, shared by
    every ISOBENCH_ROOT, since they depend only on the kernel and the builders (their names
    carry those keys). ISOBENCH_BOOT_CACHE moves it; the state root's vm/boot is used where
    the shared directory cannot be made or written."""
    shared = Path(os.environ.get("ISOBENCH_BOOT_CACHE") or DEFAULT_BOOT_CACHE)
    try:
        shared.mkdir(mode=0o755, parents=True, exist_ok=True)
        if os.access(shared, os.W_OK | os.X_OK):
            return shared
    except OSError:
        pass
    return vm_dir(root) / "boot"


def vm_dir(root: Path | None = None) -> Path:
    return (root or state_root()) / "vm"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def shim_digest() -> str:
    return hashlib.sha256(SHIM_SOURCE.read_bytes()).hexdigest()[:16]


def build_shim(root: Path | None = None) -> Path:
    """The static init binary, compiled once per shim source (cached under vm/shim)."""
    digest = shim_digest()
    out = vm_dir(root) / "shim" / digest / "init"
    if out.exists():
        return out
    with _locked(out.parent.parent / ".lock"):
        if out.exists():
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        cc = os.environ.get("CC", "cc")
        tmp = out.with_name(".init.tmp")
        cmd = [cc, "-static", "-Os", "-s", "-o", str(tmp), str(SHIM_SOURCE)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except OSError as e:
            raise GuestError(f"cannot build the guest init: {cc}: {e.strerror} "
                             "(apt-get install gcc libc6-dev)") from None
        if proc.returncode != 0:
            first = (proc.stderr.strip().splitlines() or ["?"])[0]
            raise GuestError(f"cannot build the guest init with {cc}: {first}")
        os.replace(tmp, out)
    return out


@dataclass
class GuestDisk:
    path: Path
    image_id: str
    size: int
    passwd: str    # the image's /etc/passwd and /etc/group: users resolve against them
    group: str
    build_s: float
    cached: bool = False


def _disk_name(image: Image) -> str:
    return f"{image.id.split(':')[-1]}-{shim_digest()}-v{DISK_FORMAT_VERSION}"


def _tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace") if path.is_file() else ""
    except OSError:
        return ""


def stage(store: ImageStore, image: Image, dest: Path, shim: Path) -> None:
    """The image's merged tree plus the init shim and mount points, in `dest`."""
    for digest in image.layers:
        if not store.has_layer(digest):
            raise NotFound(f"layer {digest} of {image.id} is missing from the store")
    flatten((store.layer_path(d) for d in image.layers), dest)
    for name in MOUNT_POINTS:
        point = dest / name
        if not os.path.lexists(point):
            point.mkdir(mode=0o1777 if name == "tmp" else 0o755)
    (dest / ".isobench").mkdir(mode=0o755, exist_ok=True)
    shutil.copy2(shim, dest / SHIM_PATH.lstrip("/"))
    os.chmod(dest / SHIM_PATH.lstrip("/"), 0o755)


def ensure_disk(store: ImageStore, image: Image, root: Path | None = None) -> GuestDisk:
    """The cached ext4 disk of `image`, built on first use."""
    disks = vm_dir(root) / "disks"
    name = _disk_name(image)
    path, meta = disks / f"{name}.raw", disks / f"{name}.json"
    with _locked(disks / f".{name}.lock"):
        if path.exists() and meta.exists():
            info = read_json(meta)
            return GuestDisk(path, image.id, info["size"], info["passwd"], info["group"],
                             info["build_s"], cached=True)
        shim = build_shim(root)
        started = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=disks))
        tmp = disks / f".{name}.raw.tmp"
        try:
            tree = staging / "root"
            tree.mkdir()
            with store.pinned() as pin:  # a concurrent `rmi` must not take the layers we copy
                if not pin.hold(image):
                    raise NotFound(f"image {image.id[:19]} was removed while its VM disk was "
                                   "built", 125)
                stage(store, image, tree, shim)
            used = _tree_bytes(tree)
            size = max(MIN_DISK_BYTES, int(used * 1.3) + DISK_HEADROOM_BYTES)
            size = (size + (1 << 20) - 1) & ~((1 << 20) - 1)
            passwd, group = _read_text(tree / "etc/passwd"), _read_text(tree / "etc/group")
            mkfs(tree, tmp, size)
            os.replace(tmp, path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            tmp.unlink(missing_ok=True)
        build_s = time.monotonic() - started
        write_json(meta, {"image_id": image.id, "size": size, "passwd": passwd, "group": group,
                          "build_s": build_s, "shim": shim_digest()})
    return GuestDisk(path, image.id, size, passwd, group, build_s)


def mkfs(tree: Path, out: Path, size: int) -> None:
    """`mkfs.ext4 -d`: the tree's files, owners, modes and xattrs, into a sparse image file."""
    with open(out, "wb") as f:
        f.truncate(size)
    cmd = ["mkfs.ext4", "-q", "-F", "-L", "isobench-root", "-m", "0",
           "-E", "root_owner=0:0", "-d", str(tree), str(out)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except OSError as e:
        raise GuestError(f"mkfs.ext4: {e.strerror} (apt-get install e2fsprogs)") from None
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        raise GuestError(f"mkfs.ext4 -d failed: {detail}")
    if not (tree / "lost+found").exists():
        # mkfs made it; the image had none, and `ls /` should match the container's.
        subprocess.run(["debugfs", "-w", "-R", "rmdir /lost+found", str(out)],
                       capture_output=True, timeout=60, check=False)


def create_overlay(base: Path, out: Path) -> None:
    """A qcow2 file whose reads fall through to `base`: the guest writes here, not in the cache."""
    cmd = ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(base), str(out)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise GuestError(f"qemu-img: {e.strerror} (apt-get install qemu-utils)") from None
    if proc.returncode != 0:
        raise GuestError(f"qemu-img create failed: {proc.stderr.strip()}")


def create_scratch(out: Path, size: int) -> None:
    """A sparse raw disk the workload may use as a whole device (/dev/vdb)."""
    with open(out, "wb") as f:
        f.truncate(size)
