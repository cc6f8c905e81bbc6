"""`isobench import` against the real kernel: docker-save and OCI image-layout archives
built here with tarfile, run with the CLI, and overlayfs honouring the whiteouts and opaque
directories the importer wrote into stacked lower layers. Bad archives leave nothing."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from runtime.image.archive import OPAQUE_XATTR, ArchiveError
from runtime.image.importer import NOT_AN_IMAGE, import_archive
from runtime.image.store import ImageStore
from tests.integration.conftest import Cli

pytestmark = pytest.mark.root

MTIME = 1_700_000_000
BUSYBOX = next((p for p in ("/bin/busybox", "/usr/bin/busybox") if os.path.exists(p)), None)
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _add(tar: tarfile.TarFile, name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"",
         mode: int = 0o644, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.linkname = kind, mode, MTIME, link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def tar_of(build) -> bytes:  # noqa: ANN001 - a function that fills the tar
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        build(tar)
    return buf.getvalue()


def layer1(tar: tarfile.TarFile) -> None:
    assert BUSYBOX is not None
    for d in ("bin", "etc", "data", "data/old", "data/old/sub", "tmp"):
        _add(tar, d + "/", tarfile.DIRTYPE, mode=0o1777 if d == "tmp" else 0o755)
    _add(tar, "bin/busybox", data=Path(BUSYBOX).read_bytes(), mode=0o755)
    for applet in ("sh", "cat", "ls"):
        _add(tar, f"bin/{applet}", tarfile.SYMTYPE, link="busybox", mode=0o777)
    _add(tar, "etc/gone", data=b"deleted by layer 2\n")
    _add(tar, "etc/keep", data=b"kept\n")
    _add(tar, "data/old/file", data=b"hidden by the opaque dir\n")
    _add(tar, "data/old/sub/deeper", data=b"hidden too\n")


def layer2(tar: tarfile.TarFile) -> None:
    for d in ("etc", "data", "data/old"):
        _add(tar, d + "/", tarfile.DIRTYPE, mode=0o755)
    _add(tar, "etc/.wh.gone")
    _add(tar, "data/old/.wh..wh..opq")
    _add(tar, "data/old/new", data=b"new\n")


def config_json(diff_ids: list[str]) -> bytes:
    return json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-05-01T12:00:00.123456789Z",
        "config": {"Env": ["PATH=/bin", "FOO=bar"], "Cmd": ["sh", "-c", "echo $FOO"],
                   "WorkingDir": "/data", "Labels": {"org.example": "yes"},
                   "ExposedPorts": {"8080/tcp": {}}, "Entrypoint": None},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "layer one"}, {"created_by": "layer two"}],
    }).encode()


def docker_save(layers: list[bytes], *, diff_ids: list[str] | None = None,
                config: bytes | None = None, leave_out: int | None = None) -> bytes:
    """`docker save`'s legacy layout; `leave_out` drops that layer's file (not its name)."""
    config = config or config_json(diff_ids or [sha256(x) for x in layers])
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    names = [f"{hashlib.sha256(b'v1' + x).hexdigest()}/layer.tar" for x in layers]
    manifest = [{"Config": config_name, "RepoTags": ["imported:v1"], "Layers": names}]

    def build(tar: tarfile.TarFile) -> None:
        for i, (name, data) in enumerate(zip(names, layers, strict=True)):
            _add(tar, name.split("/")[0], tarfile.DIRTYPE, mode=0o755)
            if i != leave_out:
                _add(tar, name, data=data)
        _add(tar, config_name, data=config)
        _add(tar, "manifest.json", data=json.dumps(manifest).encode())
    return tar_of(build)


def oci_layout(layers: list[bytes], *, tamper: int | None = None) -> bytes:
    """An OCI image layout with gzip layers; `tamper` flips a byte of that layer's blob."""
    blobs: dict[str, bytes] = {}
    descs = []
    for i, layer in enumerate(layers):
        blob = gzip.compress(layer, mtime=0)
        digest = sha256(blob)
        if i == tamper:
            blob = gzip.compress(layer + b"\0" * 512, mtime=0)
        blobs[digest] = blob
        descs.append({"mediaType": LAYER_GZIP, "digest": digest, "size": len(blob)})
    config = config_json([sha256(x) for x in layers])
    blobs[sha256(config)] = config
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": sha256(config), "size": len(config)},
        "layers": descs,
    }).encode()
    blobs[sha256(manifest)] = manifest
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": MANIFEST_TYPE, "digest": sha256(manifest), "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": "v1"},
        "platform": {"architecture": "amd64", "os": "linux"},
    }]}

    def build(tar: tarfile.TarFile) -> None:
        _add(tar, "oci-layout", data=b'{"imageLayoutVersion": "1.0.0"}')
        _add(tar, "index.json", data=json.dumps(index).encode())
        for d in ("blobs/", "blobs/sha256/"):
            _add(tar, d, tarfile.DIRTYPE, mode=0o755)
        for digest, blob in blobs.items():
            _add(tar, f"blobs/sha256/{digest.split(':')[1]}", data=blob)
    return tar_of(build)


@pytest.fixture(scope="module")
def layers() -> list[bytes]:
    if BUSYBOX is None:
        pytest.skip("needs the host's busybox (busybox-static)")
    return [tar_of(layer1), tar_of(layer2)]


def leftovers(root: Path) -> tuple[list[str], list[str]]:
    """Staging dirs, and layers that are trusted (have layer.json)."""
    layers_dir = root / "layers"
    if not layers_dir.exists():
        return [], []
    staging = [p.name for p in layers_dir.iterdir() if p.name.startswith(".staging-")]
    trusted = [p.name for p in layers_dir.iterdir() if (p / "layer.json").exists()]
    return staging, trusted


@pytest.mark.parametrize("fmt", ["docker-save", "oci", "oci-gzipped-whole"])
def test_imported_image_runs_and_overlay_honours_whiteouts(
        cli: Cli, tmp_path: Path, layers: list[bytes], fmt: str) -> None:
    data = docker_save(layers) if fmt == "docker-save" else oci_layout(layers)
    if fmt == "oci-gzipped-whole":
        data = gzip.compress(data)
    archive = tmp_path / "image.tar"
    archive.write_bytes(data)
    store = ImageStore(cli.root)
    before = cli.census()
    image = import_archive(store, archive, "imported:v1")

    assert store.get("imported:v1").id == image.id and image.tags == ["imported:v1"]
    assert len(image.layers) == 2
    assert image.config.Env == ["PATH=/bin", "FOO=bar"]
    assert image.config.Cmd == ["sh", "-c", "echo $FOO"] and image.config.Entrypoint is None
    assert image.config.WorkingDir == "/data" and image.config.Labels == {"org.example": "yes"}
    assert image.config.ExposedPorts == {"8080/tcp": {}}
    assert [h["created_by"] for h in image.history] == ["layer one", "layer two"]
    assert image.created == pytest.approx(1714564800.123456)
    # the top layer holds overlayfs' own whiteout and opaque formats
    top = store.layer_path(image.layers[1])
    gone = os.lstat(top / "etc/gone")
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == 0
    assert os.getxattr(top / "data/old", OPAQUE_XATTR) == b"y"
    assert leftovers(cli.root)[0] == []

    assert cli("run", "--rm", "imported:v1", check=True).stdout == "bar\n"
    etc = cli("run", "--rm", "imported:v1", "ls", "-a", "/etc", check=True).stdout.split()
    assert "keep" in etc and "gone" not in etc
    old = cli("run", "--rm", "imported:v1", "ls", "-a", "/data/old", check=True).stdout.split()
    assert sorted(old) == [".", "..", "new"]
    script = "pwd; cat /data/old/new; cat /etc/gone 2>&1 || echo missing; ls -ld /tmp"
    out = cli("run", "--rm", "imported:v1", "sh", "-c", script, check=True).stdout.splitlines()
    assert out[:3] == ["/data", "new", "cat: can't open '/etc/gone': No such file or directory"]
    assert out[3] == "missing" and out[4].startswith("drwxrwxrwt")
    assert cli.census() - before == type(before)(0, 0, 0, 0)


def test_both_formats_give_the_same_layers(iso_root: Path, tmp_path: Path,
                                           layers: list[bytes]) -> None:
    store = ImageStore(iso_root)
    (tmp_path / "a.tar").write_bytes(docker_save(layers))
    (tmp_path / "b.tar").write_bytes(oci_layout(layers))
    a = import_archive(store, tmp_path / "a.tar", "a")
    b = import_archive(store, tmp_path / "b.tar", "b")
    assert a.layers == b.layers and a.id == b.id
    assert sorted(leftovers(iso_root)[1]) == sorted(d.split(":")[1] for d in a.layers)


def _evil_layer() -> bytes:
    def build(tar: tarfile.TarFile) -> None:
        _add(tar, "ok", data=b"fine")
        _add(tar, "../evil", data=b"escaped")
    return tar_of(build)


def _bad_archives(layers: list[bytes]) -> dict[str, tuple[bytes, str]]:
    good_save = docker_save(layers)
    wrong_diff = docker_save(layers, diff_ids=[sha256(layers[0]), sha256(b"something else")])
    return {
        "truncated": (good_save[: len(good_save) // 2], "truncated or corrupt archive"),
        "dotdot-member": (docker_save([layers[0], _evil_layer()]),
                          "member '../evil': path '../evil' escapes the root"),
        "oci-digest-mismatch": (oci_layout(layers, tamper=1), "digest mismatch"),
        "diff-id-mismatch": (wrong_diff, "diff_id mismatch"),
        "missing-layer": (docker_save(layers, leave_out=1), "is missing from the archive"),
        "not-a-tar": (b"just some text\n" * 100, NOT_AN_IMAGE),
        "tar-without-image": (tar_of(lambda t: _add(t, "hello.txt", data=b"hi")), NOT_AN_IMAGE),
    }


@pytest.mark.parametrize("case", ["truncated", "dotdot-member", "oci-digest-mismatch",
                                  "diff-id-mismatch", "missing-layer", "not-a-tar",
                                  "tar-without-image"])
def test_bad_archives_leave_nothing_behind(iso_root: Path, tmp_path: Path,
                                           layers: list[bytes], case: str) -> None:
    data, expected = _bad_archives(layers)[case]
    archive = tmp_path / "bad.tar"
    archive.write_bytes(data)
    store = ImageStore(iso_root)
    with pytest.raises(ArchiveError) as err:
        import_archive(store, archive, "bad:latest")
    message = str(err.value)
    assert expected in message and "\n" not in message and message.startswith(str(archive))
    assert err.value.exit_code == 1
    assert store.list() == []
    staging, trusted = leftovers(iso_root)
    assert staging == [] and trusted == []
    assert not (iso_root / "images" / "repositories.json").exists()


def test_docker_25_save_with_blobs_and_symlinked_layers(iso_root: Path, tmp_path: Path,
                                                        layers: list[bytes]) -> None:
    """Newer `docker save`: blobs/sha256/..., the legacy <id>/layer.tar names as symlinks."""
    config = config_json([sha256(x) for x in layers])
    hexes = [sha256(x).split(":")[1] for x in layers]
    manifest = [{"Config": f"blobs/sha256/{sha256(config).split(':')[1]}",
                 "RepoTags": ["imported:v1"], "Layers": [f"{h}/layer.tar" for h in hexes]}]

    def build(tar: tarfile.TarFile) -> None:
        for h, data in zip(hexes, layers, strict=True):
            _add(tar, f"blobs/sha256/{h}", data=data)
            _add(tar, f"{h}/layer.tar", tarfile.SYMTYPE, link=f"../blobs/sha256/{h}")
        _add(tar, manifest[0]["Config"], data=config)
        _add(tar, "manifest.json", data=json.dumps(manifest).encode())
    (tmp_path / "new.tar").write_bytes(tar_of(build))
    image = import_archive(ImageStore(iso_root), tmp_path / "new.tar", "new")
    assert image.config.WorkingDir == "/data" and len(image.layers) == 2


def test_oci_index_of_platforms_picks_this_machine(iso_root: Path, tmp_path: Path) -> None:
    def one_file_image(text: bytes) -> tuple[dict[str, bytes], dict]:
        layer = tar_of(lambda t: _add(t, "which", data=text))
        config = config_json([sha256(layer)])
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "digest": sha256(config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": sha256(layer), "size": len(layer)}],
        }).encode()
        blobs = {sha256(b): b for b in (layer, config, manifest)}
        return blobs, {"mediaType": MANIFEST_TYPE, "digest": sha256(manifest),
                       "size": len(manifest)}

    blobs: dict[str, bytes] = {}
    descs = []
    for text, arch in ((b"arm", "arm64"), (b"mine", "amd64"), (b"attest", "unknown")):
        more, desc = one_file_image(text)
        blobs.update(more)
        descs.append({**desc, "platform": {"os": "linux" if arch != "unknown" else "unknown",
                                           "architecture": arch}})
    inner = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": descs}).encode()
    blobs[sha256(inner)] = inner
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha256(inner),
        "size": len(inner)}]}

    def build(tar: tarfile.TarFile) -> None:
        _add(tar, "oci-layout", data=b'{"imageLayoutVersion": "1.0.0"}')
        _add(tar, "index.json", data=json.dumps(index).encode())
        for digest, blob in blobs.items():
            _add(tar, f"blobs/sha256/{digest.split(':')[1]}", data=blob)
    (tmp_path / "multi.tar").write_bytes(tar_of(build))
    store = ImageStore(iso_root)
    image = import_archive(store, tmp_path / "multi.tar", "multi")
    assert (store.layer_path(image.layers[0]) / "which").read_bytes() == b"mine"


def test_opaque_only_difference_gives_different_layers(iso_root: Path, tmp_path: Path,
                                                       layers: list[bytes]) -> None:
    def not_opaque(tar: tarfile.TarFile) -> None:
        for d in ("etc", "data", "data/old"):
            _add(tar, d + "/", tarfile.DIRTYPE, mode=0o755)
        _add(tar, "etc/.wh.gone")
        _add(tar, "data/old/new", data=b"new\n")
    store = ImageStore(iso_root)
    (tmp_path / "plain.tar").write_bytes(docker_save([layers[0], tar_of(not_opaque)]))
    (tmp_path / "opaque.tar").write_bytes(docker_save(layers))
    plain = import_archive(store, tmp_path / "plain.tar", "plain")
    opaque = import_archive(store, tmp_path / "opaque.tar", "opaque")
    assert os.getxattr(store.layer_path(opaque.layers[1]) / "data/old", OPAQUE_XATTR) == b"y"
    assert plain.layers[1] != opaque.layers[1]


def test_cli_import_then_run(cli: Cli, tmp_path: Path, layers: list[bytes]) -> None:
    archive = tmp_path / "image.tar"
    archive.write_bytes(oci_layout(layers))
    proc = cli("import", str(archive), "imported:v1", check=True)
    assert proc.stdout.startswith("sha256:")
    assert cli("run", "--rm", "imported:v1", check=True).stdout == "bar\n"
    assert "imported" in cli("images", check=True).stdout


@pytest.mark.parametrize("case", ["truncated", "dotdot-member", "not-a-tar"])
def test_cli_import_of_a_bad_archive(cli: Cli, tmp_path: Path, layers: list[bytes],
                                     case: str) -> None:
    data, expected = _bad_archives(layers)[case]
    archive = tmp_path / "bad.tar"
    archive.write_bytes(data)
    proc = cli("import", str(archive), "bad:v1")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and expected in proc.stderr
    assert cli("inspect", "bad:v1").returncode == 1
    assert leftovers(cli.root) == ([], [])
