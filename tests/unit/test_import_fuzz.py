"""Fuzzing the image importer (`isobench import`) end to end, into a real store.

Whatever the archive holds, the importer either imports an image that verifies, or raises
ArchiveError (one line, exit 1) and leaves the store as it found it: no staging dir, no
layer, no image, no tag, no pin. The archive layer's own fuzzing (test_archive.py) covers
extract_layer alone; here the manifests, configs, descriptors and layer members arrive
through the whole import, digests included, so damage reaches past the checksums."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import _current_build_context

from runtime.image.archive import ArchiveError
from runtime.image.importer import import_archive
from runtime.image.store import ImageStore

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: layers keep their owners and device whiteouts")

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MTIME = 1_600_000_000


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "",
           size: int | None = None) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mtime, info.linkname = kind, MTIME, link
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.size = len(data) if size is None else size
    return info, data


def tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


GOOD_LAYER = [member("a/", kind=tarfile.DIRTYPE), member("a/x", b"data" * 50),
              member("a/l", kind=tarfile.SYMTYPE, link="x"), member("b", b"b")]


def docker_save(layers: list[bytes], manifest: Any = None, config: Any = None,
                extra: list[tuple[tarfile.TarInfo, bytes]] | None = None) -> bytes:
    """A legacy `docker save`; `manifest`/`config` override the generated documents."""
    if config is None:
        config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                  "rootfs": {"type": "layers", "diff_ids": [sha(x) for x in layers]}}
    cdata = config if isinstance(config, bytes) else json.dumps(config).encode()
    cname = f"{hashlib.sha256(cdata).hexdigest()}.json"
    names = [f"{hashlib.sha256(b'v1' + x).hexdigest()}/layer.tar" for x in layers]
    if manifest is None:
        manifest = [{"Config": cname, "RepoTags": ["fuzz:1"], "Layers": names}]
    mdata = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    return tar([*(member(n, x) for n, x in zip(names, layers, strict=True)),
                member(cname, cdata), member("manifest.json", mdata), *(extra or [])])


def oci(layers: list[bytes], index: Any = None, manifest: Any = None) -> bytes:
    blobs = {}
    descs = []
    for layer in layers:
        blob = gzip.compress(layer, mtime=0)
        blobs[sha(blob)] = blob
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      "digest": sha(blob), "size": len(blob)})
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha(x) for x in layers]}}
                        ).encode()
    blobs[sha(config)] = config
    if manifest is None:
        manifest = {"schemaVersion": 2, "layers": descs,
                    "config": {"digest": sha(config), "size": len(config)}}
    mdata = json.dumps(manifest).encode()
    blobs[sha(mdata)] = mdata
    if index is None:
        index = {"schemaVersion": 2,
                 "manifests": [{"digest": sha(mdata), "size": len(mdata)}]}
    return tar([member("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
                member("index.json", json.dumps(index).encode()),
                *(member(f"blobs/sha256/{d.split(':')[1]}", b) for d, b in blobs.items())])


@contextmanager
def fresh_store() -> Iterator[tuple[ImageStore, Path]]:
    box = Path(tempfile.mkdtemp(prefix="import-fuzz-"))
    try:
        yield ImageStore(box / "root"), box
    finally:
        shutil.rmtree(box, ignore_errors=True)


def import_or_refuse(data: bytes) -> str:
    """Import; on refusal, check the message and that the store holds nothing."""
    with fresh_store() as (store, box):
        archive = box / "image.tar"
        archive.write_bytes(data)
        outside = box / "outside"
        outside.mkdir()
        try:
            image = import_archive(store, archive, "fuzz:1")
        except ArchiveError as e:
            assert "\n" not in str(e) and e.exit_code == 1, str(e)
            assert not list(store.layers_dir.glob("*")) if store.layers_dir.exists() else True
            assert store.list() == []
            assert not store.pins_dir.exists() or not list(store.pins_dir.iterdir())
            outcome = "refused"
        else:
            assert store.get("fuzz:1").id == image.id
            assert store.verify() == []
            assert not list(store.layers_dir.glob(".staging-*"))
            outcome = "imported"
        assert list(outside.iterdir()) == []  # nothing written through a link
        if _current_build_context.value is not None:  # inside a hypothesis example
            event(outcome)
        return outcome


def test_the_good_archives_import() -> None:
    assert import_or_refuse(docker_save([tar(GOOD_LAYER)])) == "imported"
    assert import_or_refuse(oci([tar(GOOD_LAYER), tar([member("c", b"c")])])) == "imported"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=12)
    | st.sampled_from(["sha256:" + "0" * 64, "../../etc/passwd", "/etc/passwd", "manifest.json",
                       "layer.tar", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["Config", "Layers", "RepoTags", "rootfs", "diff_ids", "config",
                         "manifests", "digest", "size", "mediaType", "layers", "platform",
                         "history", "created"]) | st.text(max_size=6), inner, max_size=4),
    max_leaves=12)


@FUZZ
@given(st.sampled_from(["Config", "Layers", "RepoTags"]), JSON, st.booleans())
# found by this test: two images whose RepoTags is not a list crashed with a TypeError
@example("RepoTags", [{"RepoTags": True}, {"RepoTags": True}], True)
@example("RepoTags", [{"RepoTags": {"fuzz:1": 1}, "Config": "c"}, {"RepoTags": None}], True)
def test_random_docker_save_manifests(key: str, value: Any, whole: bool) -> None:
    layer = tar(GOOD_LAYER)
    if whole:  # the whole manifest.json replaced
        import_or_refuse(docker_save([layer], manifest=value))
        return
    plain = json.loads(tar_member(docker_save([layer]), "manifest.json"))
    plain[0][key] = value
    import_or_refuse(docker_save([layer], manifest=plain))


@FUZZ
@given(st.sampled_from(["rootfs", "config", "history", "created", "architecture", "os"]),
       JSON)
def test_random_image_configs(key: str, value: Any) -> None:
    layer = tar(GOOD_LAYER)
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
              "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}}
    config[key] = value
    import_or_refuse(docker_save([layer], config=config))


@FUZZ
@given(st.sampled_from(["index", "manifest"]), JSON)
def test_random_oci_indexes_and_manifests(which: str, value: Any) -> None:
    layer = tar(GOOD_LAYER)
    import_or_refuse(oci([layer], **{which: value}))


def tar_member(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        f = t.extractfile(name)
        assert f is not None
        return f.read()


NAMES = st.sampled_from(["a", "a/x", "a/l", "b", "../x", "a/../../x", "/etc/x", "l/x",
                         "a/l/y", ".wh.a", "a/.wh..wh..opq", ".wh.", "c/d/e", "./f"])
KINDS = st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE,
                         tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE])


@FUZZ
@given(st.lists(st.tuples(KINDS, NAMES, NAMES | st.sampled_from(["/", "/etc", "../.."])),
                min_size=1, max_size=6))
def test_hostile_layer_members_through_a_valid_archive(
        members: list[tuple[bytes, str, str]]) -> None:
    """Digests match, so every member reaches extraction: escapes must still be refused."""
    entries = []
    for kind, name, link in members:
        entries.append(member(name, b"x" if kind == tarfile.REGTYPE else b"", kind, link))
    try:
        layer = tar(entries)
    except (ValueError, tarfile.TarError):
        return
    import_or_refuse(docker_save([layer]))


def raw_header(name: bytes, size_field: bytes, kind: bytes) -> bytes:
    """A ustar header with any bytes in its size field, and a correct checksum."""
    h = bytearray(512)
    h[0:len(name)] = name[:100]
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = size_field.ljust(12, b"\0")[:12]
    h[136:148] = b"00000000000\0"
    h[156:157] = kind
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    h[148:156] = b" " * 8
    h[148:156] = f"{sum(h):06o}\0 ".encode()
    return bytes(h)


@FUZZ
@given(st.sampled_from([b"77777777777", b"\x80" + b"\xff" * 11, b"\xff" * 12, b"-1",
                        b"99999999999", b"0000000001\0", b"\x80\x00\x00\x00\x7f" + b"\0" * 7])
       | st.binary(min_size=1, max_size=12),
       st.sampled_from([b"0", b"5", b"2", b"1", b"x", b"\0"]),
       st.binary(max_size=700))
def test_absurd_sizes_and_bad_headers_in_a_layer(size_field: bytes, kind: bytes,
                                                 body: bytes) -> None:
    """The layer tar's header lies about its size (8 GiB with 10 bytes behind it, negative,
    base-256, garbage); its digest is right, so only the extraction can notice."""
    info, data = member("ok", b"fine")
    layer = info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict") + data.ljust(512, b"\0")
    layer += raw_header(b"liar", size_field, kind) + body
    layer += b"\0" * (-len(layer) % 512) + b"\0" * 1024
    import_or_refuse(docker_save([layer]))


@FUZZ
@given(st.binary(min_size=1, max_size=600), st.integers(min_value=0, max_value=8000))
def test_damaged_archives(noise: bytes, at: int) -> None:
    good = docker_save([tar(GOOD_LAYER), tar([member("c", b"c" * 100)])])
    at %= len(good)
    import_or_refuse(good[:at] + noise + good[at + len(noise):])


def test_a_huge_declared_member_is_refused_without_reading_it() -> None:
    """A layer.tar member declaring 8 GiB in a 20 kB archive: refused as truncated."""
    layer = tar(GOOD_LAYER)
    data = docker_save([layer])
    head = data.index(b"layer.tar") - 65  # the member's header starts at its name
    head -= head % 512
    hdr = bytearray(data[head:head + 512])
    assert hdr[:100].rstrip(b"\0").endswith(b"layer.tar")
    hdr[124:136] = b"77777777777\0"
    hdr[148:156] = b" " * 8
    hdr[148:156] = f"{sum(hdr):06o}\0 ".encode()
    assert import_or_refuse(data[:head] + bytes(hdr) + data[head + 512:]) == "refused"
