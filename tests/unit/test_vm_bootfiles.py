"""isobench's own initrd (vm/initrd.py) and the uncompressed kernel (vm/vmlinux.py), without
booting anything: module dependency order from a modules.dep sample, the cache key, the cpio
the kernel unpacks, payload finding in a synthetic bzImage and the real /boot kernel, and the
PVH note."""

from __future__ import annotations

import glob
import gzip
import hashlib
import lzma
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from vm import guest, initrd, vmlinux

MODULES_DEP = """\
kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/fs/jbd2/jbd2.ko:
kernel/fs/mbcache.ko:
kernel/lib/crc16.ko:
kernel/crypto/crc32c_generic.ko:
kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko \
kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko \
kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko \
kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko \
kernel/drivers/virtio/virtio_ring.ko
kernel/net/core/failover.ko:
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko \
kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_balloon.ko: kernel/drivers/virtio/virtio.ko \
kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/scsi/sd_mod.ko: kernel/drivers/scsi/scsi_mod.ko
""".replace("\\\n", "")


def test_modules_dep_order_puts_every_dependency_first() -> None:
    deps = initrd.parse_modules_dep(MODULES_DEP)
    order = [initrd.module_name(p) for p in initrd.resolve(deps, initrd.GUEST_MODULES)]
    assert sorted(order) == sorted(["virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio",
                                    "virtio_ring", "virtio_pci", "virtio_mmio", "virtio_blk",
                                    "failover", "net_failover", "virtio_net", "virtio_balloon",
                                    "crc32c_generic", "crc16",
                                    "mbcache", "jbd2", "ext4"])
    assert len(order) == len(set(order))  # shared dependencies once
    for path, needs in deps.items():
        name = initrd.module_name(path)
        if name in order:
            for dep in needs:
                assert order.index(initrd.module_name(dep)) < order.index(name), (dep, name)
    assert "sd_mod" not in order and "scsi_mod" not in order  # exactly what the guest needs


def test_compressed_module_names_and_missing_modules() -> None:
    assert initrd.module_name("kernel/fs/ext4/ext4.ko.xz") == "ext4"
    assert initrd.module_name("kernel/crypto/crc32c-generic.ko.zst") == "crc32c_generic"
    deps = initrd.parse_modules_dep("kernel/a.ko.xz: kernel/b.ko.xz\nkernel/b.ko.xz:\n")
    assert initrd.resolve(deps, ("a",)) == ["kernel/b.ko.xz", "kernel/a.ko.xz"]
    with pytest.raises(initrd.InitrdError, match="ext4 is not in modules.dep"):
        initrd.resolve(deps, ("ext4",))
    with pytest.raises(initrd.InitrdError, match="cycle"):
        initrd.resolve(initrd.parse_modules_dep("x.ko: y.ko\ny.ko: x.ko\n"), ("x",))


def test_cache_key_changes_with_kernel_builder_and_busybox(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    base = initrd.cache_key("6.1.0-57-amd64", "b" * 64, "d" * 16)
    assert base != initrd.cache_key("6.1.0-58-amd64", "b" * 64, "d" * 16)
    assert base != initrd.cache_key("6.1.0-57-amd64", "c" * 64, "d" * 16)
    assert base != initrd.cache_key("6.1.0-57-amd64", "b" * 64, "e" * 16)
    # The builder's digest is its own source: any edit (module list, init) changes the key.
    fake = tmp_path / "builder.py"
    fake.write_text("GUEST_MODULES = ('ext4',)\n")
    monkeypatch.setattr(initrd, "BUILDER_SOURCE", fake)
    one = initrd.builder_digest()
    fake.write_text("GUEST_MODULES = ('ext4', 'virtio_blk')\n")
    assert initrd.builder_digest() != one
    assert one == hashlib.sha256(b"GUEST_MODULES = ('ext4',)\n").hexdigest()[:16]


def fake_kernel_tree(tmp_path: Path, release: str, compress: str = "") -> Path:
    modules = tmp_path / "lib-modules"
    tree = modules / release
    deps = initrd.parse_modules_dep(MODULES_DEP)
    lines = []
    for path, needs in deps.items():
        suffix = compress
        target = tree / (path + suffix)
        target.parent.mkdir(parents=True, exist_ok=True)
        body = f"module {initrd.module_name(path)}".encode()
        target.write_bytes({"": body, ".xz": lzma.compress(body),
                            ".gz": gzip.compress(body)}[compress])
        lines.append(f"{path}{suffix}: " + " ".join(d + suffix for d in needs))
    (tree / "modules.dep").write_text("\n".join(lines) + "\n")
    return modules


def cpio_entries(data: bytes) -> dict[str, tuple[int, bytes]]:
    """newc archive -> {name: (mode, data)}."""
    out, pos = {}, 0
    while True:
        assert data[pos:pos + 6] == b"070701"
        fields = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_at = pos + 110
        name = data[name_at:name_at + namesize - 1].decode()
        body_at = (name_at + namesize + 3) & ~3
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, data[body_at:body_at + size])
        pos = (body_at + size + 3) & ~3


@pytest.mark.parametrize("compress", ["", ".xz", ".gz"])
def test_initrd_holds_busybox_the_modules_in_order_and_the_init(tmp_path: Path,
                                                                compress: str) -> None:
    modules = fake_kernel_tree(tmp_path, "6.1.0-test", compress)
    data = initrd.build(modules / "6.1.0-test", b"\x7fELF-busybox")
    files = cpio_entries(data)
    assert files["bin/busybox"][1] == b"\x7fELF-busybox" and files["bin/busybox"][0] & 0o111
    assert files["init"][0] & 0o111 and b"switch_root" in files["init"][1]
    assert "udev" not in files["init"][1].decode()
    assert files["dev/console"][0] >> 12 == 0o02  # a character device: init's stdio
    load = files["lib/modules/load"][1].decode().split()
    assert load.index("virtio") < load.index("virtio_pci") < load.index("virtio_blk")
    assert load.index("jbd2") < load.index("ext4") and load[-1] == "ext4"
    for name in load:  # decompressed here: busybox insmod gets plain ELF modules
        assert files[f"lib/modules/{name}.ko"][1] == f"module {name}".encode()


def test_initrd_cache_is_keyed_and_rebuilt(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    modules = fake_kernel_tree(tmp_path, "6.1.0-test")
    busybox = tmp_path / "busybox"
    shutil.copy("/bin/true", busybox)  # any static ELF passes; a dynamic one is refused below
    cache = tmp_path / "cache"
    monkeypatch.setenv("ISOBENCH_BUSYBOX", str(busybox))
    if not initrd.is_static_elf(busybox.read_bytes()):
        with pytest.raises(initrd.InitrdError, match="not statically linked"):
            initrd.ensure_initrd("6.1.0-test", cache, modules)
        static = shutil.which("busybox")
        if static is None or not initrd.is_static_elf(Path(static).read_bytes()):
            pytest.skip("no static ELF on this host to stand in for busybox-static")
        shutil.copy(static, busybox)
    first = initrd.ensure_initrd("6.1.0-test", cache, modules)
    assert not first.cached and first.path.exists() and first.modules[-1] == "ext4"
    again = initrd.ensure_initrd("6.1.0-test", cache, modules)
    assert again.cached and again.path == first.path
    # A changed builder: a new name, built again, not the old file reused.
    monkeypatch.setattr(initrd, "builder_digest", lambda: "0123456789abcdef")
    changed = initrd.ensure_initrd("6.1.0-test", cache, modules)
    assert not changed.cached and changed.path != first.path
    with pytest.raises(initrd.InitrdError, match="modules of kernel 9.9 are not installed"):
        initrd.ensure_initrd("9.9", cache, modules)


def test_host_busybox_is_static() -> None:
    try:
        path = initrd.find_busybox()
    except initrd.InitrdError as e:
        pytest.skip(f"capability missing: {e}")
    assert initrd.is_static_elf(path.read_bytes()), f"{path} must be busybox-static"
    file_says = subprocess.run(["file", "-L", str(path)], capture_output=True, text=True)
    if file_says.returncode == 0:
        assert "statically linked" in file_says.stdout


# ---- vmlinux ----

def elf_with_notes(notes: list[tuple[bytes, int, bytes]]) -> bytes:
    """A minimal ELF64 with one PT_NOTE segment holding `notes`."""
    body = b""
    for name, ntype, desc in notes:
        n = name + b"\0"
        body += struct.pack("<III", len(n), len(desc), ntype)
        body += n + b"\0" * (-len(n) % 4) + desc + b"\0" * (-len(desc) % 4)
    ehdr = bytearray(64)
    ehdr[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", ehdr, 0x20, 64)         # e_phoff
    struct.pack_into("<HH", ehdr, 0x36, 56, 2)     # e_phentsize, e_phnum
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, 0, 0, 0, 0, 0)
    note = struct.pack("<IIQQQQQQ", vmlinux.PT_NOTE, 4, 64 + 112, 0, 0, len(body), len(body), 4)
    return bytes(ehdr) + load + note + body


def fake_bzimage(payload: bytes, with_header: bool) -> bytes:
    """Setup sectors with a boot-protocol header (or none), a stub, then the payload."""
    setup = bytearray(5 * 512)
    setup[0x1F1] = 4
    stub = b"\x90" * 300 + b"\xfd7zXY"  # a near miss of the xz magic before the real one
    if with_header:
        setup[0x202:0x206] = b"HdrS"
        struct.pack_into("<H", setup, 0x206, 0x20F)
        struct.pack_into("<II", setup, 0x248, len(stub), len(payload))
    return bytes(setup) + stub + payload + struct.pack("<I", 12345)


@pytest.mark.parametrize("compression", ["xz", "gzip", "bzip2"])
@pytest.mark.parametrize("with_header", [True, False])
def test_payload_found_and_extracted_from_a_synthetic_bzimage(compression: str,
                                                              with_header: bool) -> None:
    import bz2
    elf = elf_with_notes([(b"Xen", vmlinux.XEN_ELFNOTE_PHYS32_ENTRY,
                           struct.pack("<Q", 0x1000850))]) + b"kernel text" * 100
    packed = {"xz": lambda b: lzma.compress(b, lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
              "gzip": gzip.compress, "bzip2": bz2.compress}[compression](elf)
    blob = fake_bzimage(packed, with_header)
    found = vmlinux.find_payload(blob)
    assert found.compression == compression and found.offset == 5 * 512 + 305
    assert found.length == (len(packed) if with_header else None)
    assert vmlinux.extract(blob) == elf
    assert vmlinux.pvh_entry(vmlinux.extract(blob)) == 0x1000850


def test_no_payload_is_an_error() -> None:
    with pytest.raises(vmlinux.ExtractError, match="no compressed vmlinux"):
        vmlinux.find_payload(b"\0" * 4096 + b"\xfd7zXZ\x00garbage")


def test_pvh_note_detection() -> None:
    other = [(b"Xen", 6, b"linux\0"), (b"GNU", 3, b"\1" * 20), (b"Linux", 256, b"6.1\0")]
    assert vmlinux.pvh_entry(elf_with_notes(other)) is None
    # the type alone is not enough: it must be Xen's note
    assert vmlinux.pvh_entry(elf_with_notes(other + [(b"GNU", 18, b"\1\0\0\0")])) is None
    with_pvh = other + [(b"Xen", 18, struct.pack("<Q", 0x1234))]
    assert vmlinux.pvh_entry(elf_with_notes(with_pvh)) == 0x1234
    with pytest.raises(vmlinux.ExtractError, match="not an ELF"):
        vmlinux.pvh_entry(b"MZ" + b"\0" * 100)


def test_ensure_vmlinux_caches_and_falls_back(tmp_path: Path) -> None:
    with_pvh = fake_bzimage(lzma.compress(elf_with_notes([(b"Xen", 18, b"\0\0\0\1")])), True)
    without = fake_bzimage(lzma.compress(elf_with_notes([(b"Xen", 6, b"linux\0")])), True)
    (tmp_path / "vmlinuz-a").write_bytes(with_pvh)
    (tmp_path / "vmlinuz-b").write_bytes(without)
    (tmp_path / "vmlinuz-c").write_bytes(b"not a kernel")
    cache = tmp_path / "cache"
    a = vmlinux.ensure_vmlinux(str(tmp_path / "vmlinuz-a"), "a", cache)
    assert a.path is not None and a.path.read_bytes()[:4] == b"\x7fELF" and "PVH" in a.note
    assert vmlinux.ensure_vmlinux(str(tmp_path / "vmlinuz-a"), "a", cache).path == a.path
    b = vmlinux.ensure_vmlinux(str(tmp_path / "vmlinuz-b"), "b", cache)
    assert b.path is None and "no PVH note" in b.note and "\n" not in b.note
    c = vmlinux.ensure_vmlinux(str(tmp_path / "vmlinuz-c"), "c", cache)
    assert c.path is None and c.note.startswith("bzImage kept")
    # A changed bzImage under the same release name is extracted again, not reused.
    (tmp_path / "vmlinuz-a").write_bytes(fake_bzimage(lzma.compress(
        elf_with_notes([(b"Xen", 18, b"\0\0\0\2")])), True))
    assert vmlinux.ensure_vmlinux(str(tmp_path / "vmlinuz-a"), "a", cache).path != a.path


def test_the_installed_kernel_extracts_with_a_pvh_entry(tmp_path: Path) -> None:
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    if not kernels:
        pytest.skip("capability missing: no /boot/vmlinuz-* on this host")
    blob = Path(kernels[-1]).read_bytes()
    payload = vmlinux.find_payload(blob)
    elf = vmlinux.extract(blob)
    assert elf[:4] == b"\x7fELF" and len(elf) > len(blob)
    config = Path(kernels[-1].replace("vmlinuz-", "config-"))
    if config.exists() and "CONFIG_PVH=y" in config.read_text():
        assert vmlinux.pvh_entry(elf) is not None
    assert payload.compression in {"xz", "gzip", "zstd", "bzip2", "lzma"}
    readelf = shutil.which("readelf")
    if readelf is None:
        print("readelf missing (binutils): the cross-check against readelf -n is skipped")
        return
    (tmp_path / "vmlinux").write_bytes(elf)
    listing = subprocess.run([readelf, "-n", str(tmp_path / "vmlinux")], capture_output=True,
                             text=True, check=True).stdout
    # readelf has no name for Xen's type 0x12 (PHYS32_ENTRY) on Debian 12: the raw type
    has_pvh = any(line.split()[:1] == ["Xen"] and ("0x00000012" in line or "PHYS32" in line)
                  for line in listing.splitlines())
    assert has_pvh == (vmlinux.pvh_entry(elf) is not None)


def test_boot_kernel_modes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "vmlinuz-6.1.0-test").write_bytes(
        fake_bzimage(lzma.compress(elf_with_notes([(b"Xen", 18, b"\0\0\0\1")])), True))
    (boot / "initrd.img-6.1.0-test").write_bytes(b"debian")
    monkeypatch.setenv("ISOBENCH_VM_KERNEL", str(boot / "vmlinuz-6.1.0-test"))
    monkeypatch.delenv("ISOBENCH_VM_INITRD", raising=False)
    monkeypatch.setenv("ISOBENCH_BOOT_CACHE", str(tmp_path / "shared"))
    monkeypatch.setattr(initrd, "ensure_initrd", lambda release, cache: initrd.Initrd(
        cache / "own.cpio", ["ext4"], False))
    fast = guest.boot_kernel("fast", tmp_path / "root")
    # one cache for the host, not one per state root
    assert fast.kernel.startswith(str(tmp_path / "shared" / "vmlinux-6.1.0-test-"))
    assert fast.initrd == str(tmp_path / "shared" / "own.cpio")
    assert guest.boot_kernel("fast", tmp_path / "other-root").kernel == fast.kernel
    assert not (tmp_path / "root").exists() and not (tmp_path / "other-root").exists()
    assert any("PVH" in n for n in fast.notes)
    mid = guest.boot_kernel("initrd", tmp_path / "root")
    assert mid.kernel == str(boot / "vmlinuz-6.1.0-test") and mid.initrd.endswith("own.cpio")
    old = guest.boot_kernel("debian", tmp_path / "root")
    assert (old.kernel, old.initrd) == (str(boot / "vmlinuz-6.1.0-test"),
                                        str(boot / "initrd.img-6.1.0-test"))

    def no_busybox(release: str, cache: Path) -> initrd.Initrd:
        raise initrd.InitrdError("busybox not found (apt-get install busybox-static)")
    monkeypatch.setattr(initrd, "ensure_initrd", no_busybox)
    fallback = guest.boot_kernel("fast", tmp_path / "root")
    assert fallback.initrd == str(boot / "initrd.img-6.1.0-test")
    assert any(n.startswith("Debian initrd kept") and "busybox" in n for n in fallback.notes)
    with pytest.raises(guest.GuestError, match="boot mode"):
        guest.boot_kernel("turbo")


def test_boot_cache_is_shared_unless_it_cannot_be_made(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISOBENCH_BOOT_CACHE", str(tmp_path / "a" / "b"))
    assert guest.boot_cache(tmp_path / "root") == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("ISOBENCH_BOOT_CACHE", str(tmp_path / "file" / "boot"))
    assert guest.boot_cache(tmp_path / "root") == tmp_path / "root" / "vm" / "boot"
    monkeypatch.delenv("ISOBENCH_BOOT_CACHE")
    assert guest.DEFAULT_BOOT_CACHE == Path("/var/cache/isobench/boot")
