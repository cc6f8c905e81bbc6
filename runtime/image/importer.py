"""`isobench import ARCHIVE NAME`: a `docker save` tar or an OCI image-layout tar.

Every blob is checked before it is trusted: a blob named by its digest (OCI descriptors,
`blobs/sha256/...` in a docker save, the `<id>.json` config of a legacy docker save) must
hash to that digest (and descriptor size), and each layer's uncompressed content must hash
to the config's `rootfs.diff_ids` entry. Layers are copied out of the archive (and
decompressed) into a scratch dir, verified, extracted with `extract_layer` into staging
dirs, and committed to the store only once every layer of the image extracted cleanly;
then the image is tagged. On any error the scratch and staging dirs are removed and
nothing is tagged.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import platform
import posixpath
import re
import shutil
import tarfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from runtime.errors import InvalidArgument
from runtime.image.archive import ArchiveError, extract_layer, oneline, open_archive
from runtime.image.store import Image, ImageConfig, ImageStore, normalize_ref

NOT_AN_IMAGE = "not a docker-save or OCI image-layout archive"
MAX_JSON = 16 << 20
CHUNK = 1 << 20
MAX_LINK_HOPS = 16
DIGEST_RE = re.compile(r"^(sha256|sha384|sha512):([0-9a-f]+)$")
HEX_LEN = {"sha256": 64, "sha384": 96, "sha512": 128}

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
REF_NAME = "org.opencontainers.image.ref.name"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
          "armv7l": "arm", "i686": "386", "i386": "386", "ppc64le": "ppc64le",
          "s390x": "s390x", "riscv64": "riscv64"}


@dataclass
class _Layer:
    path: str                 # member of the outer archive
    digest: str | None        # of the blob as stored, when its name or descriptor says
    size: int | None          # descriptor size
    diff_id: str | None       # of the uncompressed tar, from the config
    media_type: str = ""


def _parse_digest(value: Any, label: str, what: str) -> tuple[str, str]:
    if isinstance(value, str):
        match = DIGEST_RE.match(value)
        if match and len(match.group(2)) == HEX_LEN[match.group(1)]:
            return match.group(1), match.group(2)
    raise ArchiveError(f"{label}: {what} has an invalid digest {oneline(repr(value))[:100]}")


class _Source:
    """The outer archive: members by normalized name, links followed inside it only."""

    def __init__(self, tar: tarfile.TarFile, label: str) -> None:
        self.tar = tar
        self.label = label
        self.members: dict[str, tarfile.TarInfo] = {}
        for m in tar.getmembers():
            self.members[self._norm(m.name)] = m

    @staticmethod
    def _norm(name: str) -> str:
        norm = posixpath.normpath(name.lstrip("/")) if name.strip("/") else "."
        return "" if norm == "." else norm

    def has(self, name: str) -> bool:
        return self._norm(name) in self.members

    def resolve(self, name: str, what: str) -> tarfile.TarInfo:
        path = self._norm(name)
        for _ in range(MAX_LINK_HOPS):
            inside = path and path != ".." and not path.startswith("../")
            m = self.members.get(path) if inside else None
            if m is None:
                break
            if m.isreg():
                return m
            if m.issym():
                path = self._norm(posixpath.join(posixpath.dirname(path), m.linkname))
            elif m.islnk():
                path = self._norm(m.linkname)
            else:
                break
        raise ArchiveError(f"{self.label}: {what} {oneline(repr(name))} is missing from the "
                           "archive")

    def open(self, m: tarfile.TarInfo) -> IO[bytes]:
        f = self.tar.extractfile(m)
        if f is None:  # resolve() only returns regular files
            raise ArchiveError(f"{self.label}: {oneline(repr(m.name))} is not a file")
        return f

    def read(self, name: str, what: str) -> bytes:
        m = self.resolve(name, what)
        if m.size > MAX_JSON:
            raise ArchiveError(f"{self.label}: {what} {oneline(repr(name))} is too large")
        try:
            return self.open(m).read()
        except ArchiveError:
            raise
        except Exception as e:
            raise ArchiveError(f"{self.label}: truncated or corrupt archive (at "
                               f"{oneline(repr(name))})") from e

    def json(self, name: str, what: str, data: bytes | None = None) -> Any:
        raw = self.read(name, what) if data is None else data
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ArchiveError(f"{self.label}: {what} {oneline(repr(name))} is not valid JSON") \
                from None

    def verified(self, name: str, what: str, digest: str | None, size: int | None) -> bytes:
        data = self.read(name, what)
        if size is not None and len(data) != size:
            raise ArchiveError(f"{self.label}: {what} {oneline(repr(name))}: size mismatch "
                               f"(expected {size}, got {len(data)})")
        if digest is not None:
            alg, hexd = _parse_digest(digest, self.label, what)
            got = hashlib.new(alg, data).hexdigest()
            if got != hexd:
                raise ArchiveError(f"{self.label}: {what} {oneline(repr(name))}: digest mismatch "
                                   f"(expected {alg}:{hexd}, got {alg}:{got})")
        return data


def _need(cond: bool, label: str, problem: str) -> None:
    if not cond:
        raise ArchiveError(f"{label}: {problem}")


def _digest_from_name(path: str) -> str | None:
    """`blobs/sha256/<hex>` and a legacy config's `<hex>.json` name their content."""
    parts = posixpath.normpath(path).split("/")
    if len(parts) >= 3 and parts[-3] == "blobs" and parts[-2] in HEX_LEN:
        return f"{parts[-2]}:{parts[-1]}"
    base = parts[-1]
    if base.endswith(".json") and re.fullmatch(r"[0-9a-f]{64}", base[:-5]):
        return f"sha256:{base[:-5]}"
    return None


def _diff_ids(config: dict[str, Any], count: int, label: str) -> list[str | None]:
    rootfs = config.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if ids is None:
        return [None] * count
    _need(isinstance(ids, list) and all(isinstance(i, str) for i in ids), label,
          "image config has an invalid rootfs.diff_ids")
    _need(len(ids) == count, label,
          f"image config lists {len(ids)} layers but the manifest {count}")
    return list(ids)


# ---- docker save ----

def _repo_tags(entry: dict[str, Any]) -> list[str]:
    """An entry's RepoTags, normalized; `docker save` writes a list of strings or null, and
    anything else tags nothing (not a crash: the manifest is untrusted input)."""
    tags = entry.get("RepoTags")
    if not isinstance(tags, list):
        return []
    return [normalize_ref(t) for t in tags if isinstance(t, str)]


def _docker_save(src: _Source, ref: str) -> tuple[dict[str, Any], list[_Layer]]:
    label = src.label
    manifest = src.json("manifest.json", "manifest")
    _need(isinstance(manifest, list) and manifest and all(isinstance(e, dict) for e in manifest),
          label, "manifest.json is not a list of images")
    entry = manifest[0]
    if len(manifest) > 1:
        wanted = normalize_ref(ref)
        hits = [e for e in manifest if wanted in _repo_tags(e)]
        _need(len(hits) == 1, label, f"manifest.json lists {len(manifest)} images and none "
                                     f"is tagged {wanted}; import one image at a time")
        entry = hits[0]
    config_path, layer_paths = entry.get("Config"), entry.get("Layers")
    _need(isinstance(config_path, str) and bool(config_path), label,
          "manifest.json: the image has no Config")
    _need(isinstance(layer_paths, list) and all(isinstance(p, str) and p for p in layer_paths),
          label, "manifest.json: the image has no valid Layers list")
    data = src.verified(config_path, "image config", _digest_from_name(config_path), None)
    config = src.json(config_path, "image config", data)
    _need(isinstance(config, dict), label, "the image config is not a JSON object")
    diff_ids = _diff_ids(config, len(layer_paths), label)
    layers = [_Layer(p, _digest_from_name(p), None, d) for p, d in zip(layer_paths, diff_ids,
                                                                       strict=True)]
    return config, layers


# ---- OCI image layout ----

def _blob_path(desc: dict[str, Any], label: str, what: str) -> str:
    alg, hexd = _parse_digest(desc.get("digest"), label, what)
    return f"blobs/{alg}/{hexd}"


def _descriptor(value: Any, label: str, what: str) -> dict[str, Any]:
    _need(isinstance(value, dict), label, f"{what} descriptor is not a JSON object")
    size = value.get("size")
    _need(size is None or (isinstance(size, int) and size >= 0), label,
          f"{what} descriptor has an invalid size")
    _parse_digest(value.get("digest"), label, what)
    return value


def _platform_ok(desc: dict[str, Any]) -> bool:
    plat = desc.get("platform")
    if not isinstance(plat, dict):
        return True
    arch = GOARCH.get(platform.machine().lower(), platform.machine().lower())
    return plat.get("os", "linux") == "linux" and plat.get("architecture", arch) == arch


def _pick_manifest(src: _Source, index: Any, ref: str, depth: int = 0) -> dict[str, Any]:
    label = src.label
    _need(depth < 4, label, "image indexes nest too deeply")
    _need(isinstance(index, dict) and isinstance(index.get("manifests"), list), label,
          "index.json has no manifests list")
    descs = [_descriptor(d, label, "manifest") for d in index["manifests"]]
    _need(bool(descs), label, "index.json lists no image")
    fitting = [d for d in descs if _platform_ok(d)] or descs
    if len(fitting) > 1:
        wanted = normalize_ref(ref)
        named = [d for d in fitting
                 if isinstance(d.get("annotations"), dict)
                 and d["annotations"].get(REF_NAME) in (ref, wanted, wanted.rsplit(":", 1)[-1])]
        _need(len(named) == 1, label, f"index.json lists {len(fitting)} images; "
                                      "import one image at a time")
        fitting = named
    desc = fitting[0]
    path = _blob_path(desc, label, "manifest")
    data = src.verified(path, "manifest", desc["digest"], desc.get("size"))
    doc = src.json(path, "manifest", data)
    _need(isinstance(doc, dict), label, f"manifest {path} is not a JSON object")
    if desc.get("mediaType") in INDEX_TYPES or doc.get("mediaType") in INDEX_TYPES or (
            "manifests" in doc and "layers" not in doc):
        return _pick_manifest(src, doc, ref, depth + 1)
    return doc


def _oci(src: _Source, ref: str) -> tuple[dict[str, Any], list[_Layer]]:
    label = src.label
    layout = src.json("oci-layout", "oci-layout")
    _need(isinstance(layout, dict) and isinstance(layout.get("imageLayoutVersion"), str),
          label, "oci-layout has no imageLayoutVersion")
    manifest = _pick_manifest(src, src.json("index.json", "index"), ref)
    cdesc = _descriptor(manifest.get("config"), label, "config")
    cpath = _blob_path(cdesc, label, "config")
    config = src.json(cpath, "image config",
                      src.verified(cpath, "image config", cdesc["digest"], cdesc.get("size")))
    _need(isinstance(config, dict), label, "the image config is not a JSON object")
    descs = manifest.get("layers")
    _need(isinstance(descs, list), label, "the manifest has no layers list")
    descs = [_descriptor(d, label, "layer") for d in descs]
    diff_ids = _diff_ids(config, len(descs), label)
    layers = []
    for d, diff_id in zip(descs, diff_ids, strict=True):
        media = d.get("mediaType") if isinstance(d.get("mediaType"), str) else ""
        _need(not media.endswith("zstd"), label,
              f"layer {d['digest']}: zstd-compressed layers are not supported")
        layers.append(_Layer(_blob_path(d, label, "layer"), d["digest"], d.get("size"),
                             diff_id, media))
    return config, layers


# ---- layers ----

class _HashingReader(io.RawIOBase):
    def __init__(self, f: IO[bytes], alg: str) -> None:
        self.f = f
        self.hash = hashlib.new(alg)
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        data = self.f.read(len(buf))
        n = len(data)
        buf[:n] = data
        self.hash.update(data)
        self.size += n
        return n


def _unpack_blob(src: _Source, layer: _Layer, out: Path) -> None:
    """Copy a layer blob to `out`, uncompressed, checking the blob's digest and size and
    the uncompressed tar's diff_id."""
    label, what = src.label, f"layer {oneline(repr(layer.path))}"
    m = src.resolve(layer.path, "layer")
    raw_alg = _parse_digest(layer.digest, label, what)[0] if layer.digest else "sha256"
    diff_alg = _parse_digest(layer.diff_id, label, what)[0] if layer.diff_id else "sha256"
    raw = _HashingReader(src.open(m), raw_alg)
    buffered = io.BufferedReader(raw, CHUNK)
    diff_hash = hashlib.new(diff_alg)
    try:
        head = buffered.peek(6)[:6]
        if head.startswith(ZSTD_MAGIC):
            raise ArchiveError(f"{label}: {what}: zstd-compressed layers are not supported")
        stream: IO[bytes] = buffered
        if head.startswith(b"\x1f\x8b"):
            stream = gzip.GzipFile(fileobj=buffered)
        elif head.startswith(b"BZh"):
            stream = bz2.BZ2File(buffered)
        elif head.startswith(b"\xfd7zXZ\x00"):
            stream = lzma.LZMAFile(buffered)
        with open(out, "wb") as f:
            while chunk := _read(stream, label, what):
                diff_hash.update(chunk)
                f.write(chunk)
        while _read(buffered, label, what):  # anything after the compressed stream
            pass
    finally:
        buffered.close()
    if layer.size is not None and raw.size != layer.size:
        raise ArchiveError(f"{label}: {what}: size mismatch (expected {layer.size}, "
                           f"got {raw.size})")
    for expected, hasher, kind in ((layer.digest, raw.hash, "digest"),
                                   (layer.diff_id, diff_hash, "diff_id")):
        if expected is None:
            continue
        got = f"{hasher.name}:{hasher.hexdigest()}"
        if got != expected:
            raise ArchiveError(f"{label}: {what}: {kind} mismatch (expected {expected}, "
                               f"got {got})")


def _read(stream: IO[bytes], label: str, what: str) -> bytes:
    try:
        return stream.read(CHUNK)
    except ArchiveError:
        raise
    except Exception as e:
        raise ArchiveError(f"{label}: {what}: truncated or corrupt data") from e


# ---- the image config ----

def _str_list(c: dict[str, Any], key: str, label: str) -> list[str] | None:
    value = c.get(key)
    if value is None:
        return None
    _need(isinstance(value, list) and all(isinstance(v, str) for v in value), label,
          f"image config: {key} is not a list of strings")
    return list(value)


def _str_dict(c: dict[str, Any], key: str, label: str, values: type) -> dict[str, Any]:
    value = c.get(key) or {}
    _need(isinstance(value, dict) and all(isinstance(v, values) for v in value.values()), label,
          f"image config: {key} is not a valid object")
    return dict(value)


def _image_config(config: dict[str, Any], label: str) -> ImageConfig:
    c = config.get("config") or config.get("Config") or {}
    _need(isinstance(c, dict), label, "image config: config is not a JSON object")
    for key in ("WorkingDir", "User"):
        _need(isinstance(c.get(key) or "", str), label, f"image config: {key} is not a string")
    return ImageConfig(
        Env=_str_list(c, "Env", label) or [],
        Cmd=_str_list(c, "Cmd", label),
        Entrypoint=_str_list(c, "Entrypoint", label),
        WorkingDir=c.get("WorkingDir") or "",
        User=c.get("User") or "",
        ExposedPorts=_str_dict(c, "ExposedPorts", label, dict),
        Volumes=_str_dict(c, "Volumes", label, dict),
        Labels=_str_dict(c, "Labels", label, str),
    )


def _created(value: Any) -> float:
    """RFC 3339 (nanoseconds allowed) to epoch seconds; now when absent or unreadable."""
    if isinstance(value, str):
        text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip()).replace("Z", "+00:00")
        try:
            return datetime.fromisoformat(text).timestamp()
        except ValueError:
            pass
    return time.time()


# ---- the whole import ----

def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def import_archive(store: ImageStore, archive: Path, ref: str) -> Image:
    """Import a `docker save` or OCI image-layout tar (plain or compressed) as `ref`."""
    if not ref or not ref.strip():
        raise InvalidArgument("import requires an image name")
    archive = Path(archive)
    label = oneline(str(archive))
    try:
        tar = open_archive(archive, name=label)
    except ArchiveError as e:
        if str(e).endswith("not a tar archive"):
            raise ArchiveError(f"{label}: {NOT_AN_IMAGE}") from None
        raise
    with tar:
        src = _Source(tar, label)
        if src.has("manifest.json"):
            config, layers = _docker_save(src, ref)
        elif src.has("oci-layout") and src.has("index.json"):
            config, layers = _oci(src, ref)
        else:
            raise ArchiveError(f"{label}: {NOT_AN_IMAGE}")
        image_config = _image_config(config, label)
        history = config.get("history")
        history = [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []
        staged: list[Path] = []
        scratch = store.staging_dir()
        try:
            with store.pinned() as pin:  # no rmi takes a committed layer before put() names it
                for i, layer in enumerate(layers):
                    blob = scratch / f"layer-{i}.tar"
                    _unpack_blob(src, layer, blob)
                    staged.append(store.staging_dir())
                    extract_layer(blob, staged[-1], name=f"{label}: {layer.path}")
                    blob.unlink()
                digests = []
                for s in staged:  # only now: every layer of the image extracted cleanly
                    digests.append(store.commit_layer(s, pin=pin))
                image = Image(id=Image.compute_id(digests, image_config), layers=digests,
                              config=image_config, created=_created(config.get("created")),
                              history=history)
                return store.put(image, ref)
        except BaseException:
            for s in staged:  # the ones not committed yet (commit renames or removes them)
                _remove(s)
            raise
        finally:
            _remove(scratch)
