"""The packaged kernel without its decompressor: the ELF vmlinux inside a bzImage, booted
directly through its PVH entry point.

A Debian bzImage is a small real-mode setup, a decompressor stub and an XZ-compressed vmlinux.
Under TCG the stub's XZ decompression is ~5 s of emulated instructions on every boot; done
once here on the host (~1 s, Python's lzma), it costs nothing per boot. QEMU boots an ELF
given to `-kernel` only through the Xen PVH entry (an ELF note of type
XEN_ELFNOTE_PHYS32_ENTRY, CONFIG_PVH=y); without that note the bzImage is kept.

`find_payload` follows scripts/extract-vmlinux: the payload's place from the setup header
where the header is sane (boot protocol >= 2.08: payload_offset/payload_length), else the
first compression magic in the file that decompresses to an ELF.
"""

from __future__ import annotations

import bz2
import hashlib
import lzma
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

from runtime.fsutil import atomic_write

ELF_MAGIC = b"\x7fELF"
HDR_MAGIC = b"HdrS"
XEN_ELFNOTE_PHYS32_ENTRY = 18
PT_NOTE = 4
# Compression magics as scripts/extract-vmlinux tries them (name, magic).
MAGICS: tuple[tuple[str, bytes], ...] = (
    ("gzip", b"\x1f\x8b\x08"),
    ("xz", b"\xfd7zXZ\x00"),
    ("bzip2", b"BZh"),
    ("lzma", b"\x5d\x00\x00\x00"),
    ("zstd", b"\x28\xb5\x2f\xfd"),
)
EXTRACTOR_VERSION = 1  # bump when the extraction's output could differ


class ExtractError(Exception):
    """No ELF vmlinux could be taken out of the image."""


@dataclass(frozen=True)
class Payload:
    compression: str
    offset: int
    length: int | None  # None: up to the end of the stream


def _header_payload(blob: bytes) -> Payload | None:
    """The payload the boot protocol's header names (x86 boot protocol 2.08+)."""
    if len(blob) < 0x250 or blob[0x202:0x206] != HDR_MAGIC:
        return None
    version = struct.unpack_from("<H", blob, 0x206)[0]
    if version < 0x208:
        return None
    setup_sects = blob[0x1F1] or 4
    start = (setup_sects + 1) * 512
    offset, length = struct.unpack_from("<II", blob, 0x248)
    begin = start + offset
    if not length or begin + length > len(blob):
        return None
    for name, magic in MAGICS:
        if blob.startswith(magic, begin):
            return Payload(name, begin, length)
    return None


def find_payload(blob: bytes) -> Payload:
    """Where the compressed vmlinux starts, and how it is compressed."""
    found = _header_payload(blob)
    if found is not None:
        return found
    # As scripts/extract-vmlinux: every magic, each place it occurs, first that yields an ELF.
    for name, magic in MAGICS:
        at = blob.find(magic)
        while at >= 0:
            try:
                if decompress(name, blob[at:])[:4] == ELF_MAGIC:
                    return Payload(name, at, None)
            except (ExtractError, OSError, EOFError, ValueError, lzma.LZMAError, zlib.error):
                pass
            at = blob.find(magic, at + 1)
    raise ExtractError("no compressed vmlinux found (gzip, xz, bzip2, lzma, zstd)")


def decompress(compression: str, data: bytes) -> bytes:
    """One compressed stream; whatever follows it (the kernel appends its size) is ignored."""
    if compression == "xz":
        d = lzma.LZMADecompressor(lzma.FORMAT_XZ)
        return d.decompress(data)
    if compression == "lzma":
        return lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(data)
    if compression == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    if compression == "bzip2":
        return bz2.BZ2Decompressor().decompress(data)
    if compression == "zstd":  # not in Python 3.11's standard library: the zstd tool
        zstd = shutil.which("zstd")
        if zstd is None:
            raise ExtractError("the kernel is zstd-compressed and zstd is not installed")
        proc = subprocess.run([zstd, "-dc"], input=data, capture_output=True, timeout=120)
        if not proc.stdout:
            raise ExtractError(f"zstd -d failed: {proc.stderr.decode(errors='replace')}")
        return proc.stdout
    raise ExtractError(f"unknown compression {compression}")


def extract(blob: bytes) -> bytes:
    """The ELF vmlinux inside a bzImage (or the blob itself when it already is an ELF)."""
    if blob[:4] == ELF_MAGIC:
        return blob
    payload = find_payload(blob)
    end = None if payload.length is None else payload.offset + payload.length
    try:
        elf = decompress(payload.compression, blob[payload.offset:end])
    except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as e:
        raise ExtractError(f"{payload.compression} payload at {payload.offset}: {e}") from None
    if elf[:4] != ELF_MAGIC:
        raise ExtractError(f"the {payload.compression} payload is not an ELF file")
    return elf


def elf_notes(elf: bytes) -> list[tuple[str, int, bytes]]:
    """(name, type, desc) of every note in the ELF's PT_NOTE segments (what QEMU reads)."""
    if elf[:4] != ELF_MAGIC or len(elf) < 64:
        raise ExtractError("not an ELF file")
    is64, little = elf[4] == 2, elf[5] == 1
    end = "<" if little else ">"
    if is64:
        phoff, = struct.unpack_from(end + "Q", elf, 0x20)
        phentsize, phnum = struct.unpack_from(end + "HH", elf, 0x36)
    else:
        phoff, = struct.unpack_from(end + "I", elf, 0x1C)
        phentsize, phnum = struct.unpack_from(end + "HH", elf, 0x2A)
    notes: list[tuple[str, int, bytes]] = []
    for i in range(phnum):
        ph = phoff + i * phentsize
        if ph + phentsize > len(elf):
            raise ExtractError("truncated program headers")
        p_type, = struct.unpack_from(end + "I", elf, ph)
        if p_type != PT_NOTE:
            continue
        if is64:
            offset, = struct.unpack_from(end + "Q", elf, ph + 8)
            size, = struct.unpack_from(end + "Q", elf, ph + 32)
        else:
            offset, = struct.unpack_from(end + "I", elf, ph + 4)
            size, = struct.unpack_from(end + "I", elf, ph + 16)
        notes += _parse_notes(elf[offset:offset + size], end)
    return notes


def _parse_notes(data: bytes, end: str) -> list[tuple[str, int, bytes]]:
    notes = []
    pos = 0
    while pos + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from(end + "III", data, pos)
        pos += 12
        name = data[pos:pos + namesz].rstrip(b"\0").decode("ascii", "replace")
        pos += (namesz + 3) & ~3
        desc = data[pos:pos + descsz]
        pos += (descsz + 3) & ~3
        notes.append((name, ntype, desc))
    return notes


def pvh_entry(elf: bytes) -> int | None:
    """The PVH entry address (Xen's PHYS32_ENTRY note), None when the kernel has none."""
    little = elf[5:6] == b"\x01"
    for name, ntype, desc in elf_notes(elf):
        if name == "Xen" and ntype == XEN_ELFNOTE_PHYS32_ENTRY and len(desc) >= 4:
            return int.from_bytes(desc[:4], "little" if little else "big")
    return None


@dataclass(frozen=True)
class Vmlinux:
    path: Path | None   # None: boot the bzImage
    note: str           # one line: what is booted, or why the bzImage is kept


def ensure_vmlinux(bzimage: str, release: str, cache: Path) -> Vmlinux:
    """The extracted vmlinux of `bzimage`, cached per kernel release, the image's own digest
    and this extractor's version; Vmlinux(None, why) where it cannot be booted directly."""
    try:
        blob = Path(bzimage).read_bytes()
    except OSError as e:
        return Vmlinux(None, f"bzImage kept: cannot read {bzimage}: {e.strerror}")
    digest = hashlib.sha256(blob).hexdigest()[:16]
    out = cache / f"vmlinux-{release}-{digest}-v{EXTRACTOR_VERSION}"
    nopvh = out.with_name(out.name + ".nopvh")
    if out.exists():
        return Vmlinux(out, f"uncompressed vmlinux with a PVH entry ({out.name})")
    if nopvh.exists():
        return Vmlinux(None, nopvh.read_text().strip())
    cache.mkdir(parents=True, exist_ok=True)
    try:
        elf = extract(blob)
        entry = pvh_entry(elf)
    except ExtractError as e:
        return Vmlinux(None, f"bzImage kept: {e}")
    if entry is None:
        why = "bzImage kept: its vmlinux has no PVH note (CONFIG_PVH), QEMU cannot boot it as ELF"
        nopvh.write_text(why + "\n")
        return Vmlinux(None, why)
    atomic_write(out, elf, durable=False)  # a cache: rebuilt if lost
    return Vmlinux(out, f"uncompressed vmlinux with a PVH entry at {entry:#x} ({out.name})")
