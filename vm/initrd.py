"""isobench's own initramfs: busybox-static, exactly the modules a guest needs, and a shell
init that loads them, mounts root=/dev/vda and switch_roots to the shim. No udev.

Why: the Debian initrd (MODULES=most, 31 MB zstd -> 129 MB) costs ~5 s of unpacking and
~5 s of udev under TCG on every boot. This one is a few MB of uncompressed cpio (nothing to
decompress under emulation) and its init does only what the guest needs.

Which modules: the guest's devices are virtio PCI (disk, NIC) on the libvirt VM and
virtio-mmio on QEMU's microvm machine (vm/microvm.py), and its root is ext4; the
init's channel is the 8250 serial port, built into the Debian kernel (CONFIG_SERIAL_8250=y),
so no virtio_console. ext4 and jbd2 declare `softdep pre: crypto-crc32c` (metadata_csum
needs it at mount); crc32c_generic provides it on any CPU (crc32c-intel needs SSE4.2, which
TCG's default CPU lacks). Each module's own dependencies come from the kernel's modules.dep,
loaded first. Compressed modules (.ko.xz/.ko.gz/.ko.zst) are decompressed here, so busybox's
insmod never has to.

Cached under ISOBENCH_ROOT/vm/initrd by kernel release, this builder's digest (its source:
any change to the module list or the init rebuilds it) and busybox's digest.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from runtime.fsutil import atomic_write

# virtio_mmio: the microvm machine's transport (no PCI there); Debian builds it as a module.
# virtio_balloon: libvirt's balloon stats, and free page reporting where the domain has it
# (the guest hands freed pages back: vm/domain.py Domain.free_page_reporting)
GUEST_MODULES = ("virtio_pci", "virtio_mmio", "virtio_blk", "virtio_net", "virtio_balloon",
                 "crc32c_generic", "ext4")
BUSYBOX_PATHS = ("/usr/bin/busybox", "/bin/busybox")
BUILDER_SOURCE = Path(__file__)

# The init. Kernel arguments it reads: root= (default /dev/vda), rootfstype= (ext4), init=
# (the program to switch to), ro/rw. Messages go to the console (ttyS0) with an
# "isobench-initrd:" prefix, so vm/bootlog.py can say where a failed boot stopped.
INIT_SCRIPT = """#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs -o mode=0755 devtmpfs /dev
root=/dev/vda fstype=ext4 init=/sbin/init mode=rw
for arg in $(/bin/busybox cat /proc/cmdline); do
    case "$arg" in
        root=*) root="${arg#root=}" ;;
        rootfstype=*) fstype="${arg#rootfstype=}" ;;
        init=*) init="${arg#init=}" ;;
        ro) mode=ro ;;
        rw) mode=rw ;;
    esac
done
while read -r module; do
    /bin/busybox insmod "/lib/modules/$module.ko" || echo "isobench-initrd: insmod $module failed"
done < /lib/modules/load
tries=0
while [ ! -b "$root" ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 500 ]; then
        echo "isobench-initrd: $root never appeared"
        /bin/busybox poweroff -f
    fi
    /bin/busybox usleep 10000
done
/bin/busybox mkdir -p /newroot
if ! /bin/busybox mount -t "$fstype" -o "$mode" "$root" /newroot; then
    echo "isobench-initrd: cannot mount $root ($fstype)"
    /bin/busybox poweroff -f
fi
for fs in dev proc sys; do
    /bin/busybox mkdir -p "/newroot/$fs"
    /bin/busybox mount --move "/$fs" "/newroot/$fs"
done
exec /bin/busybox switch_root /newroot "$init"
"""


class InitrdError(Exception):
    """The initrd cannot be built on this host (no busybox-static, no modules)."""


def parse_modules_dep(text: str) -> dict[str, list[str]]:
    """modules.dep: 'path/name.ko[.xz]: dep1 dep2' -> {module path: [dependency paths]}."""
    deps: dict[str, list[str]] = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        path, _, rest = line.partition(":")
        deps[path.strip()] = rest.split()
    return deps


def module_name(path: str) -> str:
    """'kernel/fs/ext4/ext4.ko.xz' -> 'ext4' (modprobe's name: '-' and '_' are the same)."""
    base = os.path.basename(path)
    return base[:base.index(".ko")].replace("-", "_")


def resolve(deps: dict[str, list[str]], wanted: tuple[str, ...]) -> list[str]:
    """The module paths to load, in an order where every module follows its dependencies."""
    by_name = {module_name(p): p for p in deps}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(path: str) -> None:
        if path in order:
            return
        if path in visiting:
            raise InitrdError(f"modules.dep has a cycle through {path}")
        visiting.add(path)
        for dep in deps.get(path, []):
            visit(dep)
        visiting.discard(path)
        order.append(path)

    for name in wanted:
        path = by_name.get(name.replace("-", "_"))
        if path is None:
            raise InitrdError(f"module {name} is not in modules.dep")
        visit(path)
    return order


def builder_digest() -> str:
    """This builder's own digest: its source holds the module list and the init."""
    return hashlib.sha256(BUILDER_SOURCE.read_bytes()).hexdigest()[:16]


def find_busybox() -> Path:
    override = os.environ.get("ISOBENCH_BUSYBOX")
    for candidate in ((override,) if override else BUSYBOX_PATHS):
        if candidate and os.path.isfile(candidate):
            return Path(candidate)
    raise InitrdError("busybox not found (apt-get install busybox-static)")


def is_static_elf(data: bytes) -> bool:
    """An ELF executable without a PT_INTERP segment (it needs no dynamic loader)."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    phoff = int.from_bytes(data[0x20:0x28], "little")
    phentsize = int.from_bytes(data[0x36:0x38], "little")
    phnum = int.from_bytes(data[0x38:0x3A], "little")
    for i in range(phnum):
        at = phoff + i * phentsize
        if int.from_bytes(data[at:at + 4], "little") == 3:  # PT_INTERP
            return False
    return True


def cache_key(release: str, busybox_digest: str, digest: str | None = None) -> str:
    return f"{release}-{digest or builder_digest()}-{busybox_digest[:12]}"


def read_module(path: Path) -> bytes:
    """A module's bytes, decompressed when the kernel ships it compressed."""
    data = path.read_bytes()
    name = path.name
    if name.endswith(".ko.xz"):
        return lzma.decompress(data)
    if name.endswith(".ko.gz"):
        return gzip.decompress(data)
    if name.endswith(".ko.zst"):
        zstd = shutil.which("zstd")
        if zstd is None:
            raise InitrdError(f"{path} is zstd-compressed and zstd is not installed")
        return subprocess.run([zstd, "-dc", str(path)], capture_output=True, check=True,
                              timeout=60).stdout
    return data


class Cpio:
    """A newc ('070701') archive, the format the kernel unpacks; owners root, times zero."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
               ) -> None:
        fields = (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
                  len(name) + 1, 0)
        self.ino += 1
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        self.parts.append(_pad(header + name.encode() + b"\0"))
        self.parts.append(_pad(data))

    def dir(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, perm: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, major: int, minor: int) -> None:
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def bytes(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return b"".join(self.parts)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def build(modules_dir: Path, busybox: bytes) -> bytes:
    """The initramfs (an uncompressed cpio) for the kernel whose modules are in modules_dir."""
    try:
        deps = parse_modules_dep((modules_dir / "modules.dep").read_text())
    except OSError as e:
        raise InitrdError(f"cannot read {modules_dir}/modules.dep: {e.strerror}") from None
    order = resolve(deps, GUEST_MODULES)
    archive = Cpio()
    for d in ("bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules"):
        archive.dir(d)
    archive.chardev("dev/console", 5, 1)  # the kernel opens it for init's stdio before /dev
    archive.file("bin/busybox", busybox, 0o755)
    archive.symlink("bin/sh", "busybox")
    archive.file("init", INIT_SCRIPT.encode(), 0o755)
    names = []
    for path in order:
        name = module_name(path)
        try:
            archive.file(f"lib/modules/{name}.ko", read_module(modules_dir / path))
        except OSError as e:
            raise InitrdError(f"cannot read module {modules_dir / path}: {e.strerror}") from None
        names.append(name)
    archive.file("lib/modules/load", ("\n".join(names) + "\n").encode())
    return archive.bytes()


@dataclass(frozen=True)
class Initrd:
    path: Path
    modules: list[str]   # in load order
    cached: bool


def ensure_initrd(release: str, cache: Path, modules_root: Path = Path("/lib/modules")
                  ) -> Initrd:
    """The cached initrd for kernel `release`, built on first use."""
    busybox_path = find_busybox()
    busybox = busybox_path.read_bytes()
    if not is_static_elf(busybox):
        raise InitrdError(f"{busybox_path} is not statically linked "
                          "(apt-get install busybox-static)")
    modules_dir = modules_root / release
    try:
        deps = parse_modules_dep((modules_dir / "modules.dep").read_text())
    except OSError as e:
        raise InitrdError(f"cannot read {modules_dir}/modules.dep: {e.strerror} "
                          f"(the modules of kernel {release} are not installed)") from None
    names = [module_name(p) for p in resolve(deps, GUEST_MODULES)]
    out = cache / f"initrd-{cache_key(release, hashlib.sha256(busybox).hexdigest())}.cpio"
    if out.exists():
        return Initrd(out, names, cached=True)
    data = build(modules_dir, busybox)
    cache.mkdir(parents=True, exist_ok=True)
    atomic_write(out, data, durable=False)  # a cache: rebuilt if lost
    return Initrd(out, names, cached=False)
