"""Layer digests, the image store and the built-in busybox image (runtime.image)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from runtime.errors import NotFound
from runtime.image import busybox
from runtime.image.layers import tree_digest
from runtime.image.store import Image, ImageConfig, ImageStore, normalize_ref

# --- tree_digest ---


def _tree(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "bin" / "tool").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "bin" / "tool").chmod(0o755)
    (root / "etc" / "conf").write_text("key=value\n")
    (root / "etc" / "conf").chmod(0o644)
    (root / "bin" / "alias").symlink_to("tool")
    (root / "empty").mkdir()
    return root


def test_same_tree_twice_gives_the_same_digest(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a")
    b = _tree(tmp_path / "b")
    da, size = tree_digest(a)
    assert da.startswith("sha256:") and len(da) == len("sha256:") + 64
    assert size > 0
    assert tree_digest(a) == (da, size)
    assert tree_digest(b) == (da, size)


def test_changing_a_byte_changes_the_digest(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    before = tree_digest(root)[0]
    (root / "etc" / "conf").write_text("key=valuE\n")
    assert tree_digest(root)[0] != before


def test_changing_a_mode_changes_the_digest(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    before = tree_digest(root)[0]
    (root / "etc" / "conf").chmod(0o600)
    assert tree_digest(root)[0] != before


def test_changing_a_symlink_target_changes_the_digest(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    before = tree_digest(root)[0]
    (root / "bin" / "alias").unlink()
    (root / "bin" / "alias").symlink_to("../etc/conf")
    assert tree_digest(root)[0] != before


def test_renaming_or_adding_an_empty_dir_changes_the_digest(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    before = tree_digest(root)[0]
    (root / "empty").rename(root / "vacant")
    renamed = tree_digest(root)[0]
    assert renamed != before
    (root / "another").mkdir()
    assert tree_digest(root)[0] not in (before, renamed)


def test_mtime_does_not_change_the_digest(tmp_path: Path) -> None:
    root = _tree(tmp_path / "t")
    before = tree_digest(root)
    for path in [root / "etc" / "conf", root / "bin", root / "empty"]:
        os.utime(path, (1_000_000, 1_000_000))
    os.utime(root / "bin" / "alias", (5, 5), follow_symlinks=False)
    assert tree_digest(root) == before


# --- normalize_ref ---


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("busybox", "busybox:latest"),
        ("busybox:1.36", "busybox:1.36"),
        ("library/busybox", "library/busybox:latest"),
        ("localhost:5000/busybox", "localhost:5000/busybox:latest"),
        ("localhost:5000/team/app:v2", "localhost:5000/team/app:v2"),
    ],
)
def test_normalize_ref(ref: str, expected: str) -> None:
    assert normalize_ref(ref) == expected


# --- ImageStore ---


def _stage(store: ImageStore, content: bytes = b"payload") -> Path:
    staged = store.staging_dir()
    (staged / "data").write_bytes(content)
    (staged / "sub").mkdir()
    (staged / "sub" / "more").write_text("more")
    return staged


def _image(store: ImageStore, *contents: bytes, cmd: list[str] | None = None) -> Image:
    layers = [store.commit_layer(_stage(store, c)) for c in contents]
    config = ImageConfig(Cmd=cmd or ["sh"])
    return Image(id=Image.compute_id(layers, config), layers=layers, config=config)


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "root")


def test_staging_dir_is_inside_the_layer_dir(store: ImageStore) -> None:
    staged = store.staging_dir()
    assert staged.is_dir()
    assert staged.parent == store.layers_dir


def test_commit_layer_moves_staging_into_place_and_writes_layer_json(store: ImageStore) -> None:
    staged = _stage(store)
    expected, size = tree_digest(staged)
    digest = store.commit_layer(staged)
    assert digest == expected
    hexd = digest.removeprefix("sha256:")
    diff = store.layers_dir / hexd / "diff"
    assert not staged.exists()
    assert (diff / "data").read_bytes() == b"payload"
    assert (diff / "sub" / "more").read_text() == "more"
    assert store.layer_path(digest) == diff
    assert json.loads((store.layers_dir / hexd / "layer.json").read_text()) == {
        "digest": digest, "size": size}
    assert store.has_layer(digest)
    assert tree_digest(diff)[0] == digest


def test_committing_an_identical_tree_dedupes(store: ImageStore) -> None:
    first = store.commit_layer(_stage(store))
    marker = store.layer_path(first) / "data"
    inode = marker.stat().st_ino
    again = _stage(store)
    assert store.commit_layer(again) == first
    assert not again.exists()
    assert marker.stat().st_ino == inode  # the committed layer was not replaced
    entries = [p.name for p in store.layers_dir.iterdir()]
    assert entries == [first.removeprefix("sha256:")]


def test_half_committed_layer_is_replaced(store: ImageStore) -> None:
    staged = _stage(store)
    digest = tree_digest(staged)[0]
    stale = store.layer_path(digest)
    stale.mkdir(parents=True)
    (stale / "junk").write_text("from a crash")
    assert not store.has_layer(digest)
    assert store.commit_layer(staged) == digest
    assert not (stale / "junk").exists()
    assert (stale / "data").read_bytes() == b"payload"


def test_put_and_get_by_name_tag_id_and_prefix(store: ImageStore) -> None:
    image = _image(store, b"one")
    store.put(image, "myimg")
    hexd = image.id.removeprefix("sha256:")
    for ref in ("myimg", "myimg:latest", image.id, hexd, hexd[:12], f"sha256:{hexd[:8]}"):
        got = store.get(ref)
        assert got.id == image.id, ref
        assert got.layers == image.layers
        assert got.config == image.config
        assert got.tags == ["myimg:latest"]


def test_get_of_an_unknown_tag_of_a_known_name_fails(store: ImageStore) -> None:
    store.put(_image(store, b"one"), "myimg:v1")
    assert store.get("myimg:v1").tags == ["myimg:v1"]
    with pytest.raises(NotFound):
        store.get("myimg")


def test_one_image_many_tags(store: ImageStore) -> None:
    image = _image(store, b"one")
    store.put(image, "a")
    store.put(image, "b:2")
    assert store.get("a").tags == ["a:latest", "b:2"]


def test_retagging_moves_the_tag(store: ImageStore) -> None:
    old = _image(store, b"one")
    new = _image(store, b"two")
    store.put(old, "app")
    store.put(new, "app")
    assert store.get("app").id == new.id
    assert store.get(old.id).tags == []


def test_get_unknown_raises_not_found_125(store: ImageStore) -> None:
    with pytest.raises(NotFound) as info:
        store.get("nosuch")
    assert info.value.exit_code == 125
    assert str(info.value) == "Unable to find image 'nosuch:latest' locally"


def test_too_short_or_non_hex_prefix_is_not_an_id(store: ImageStore) -> None:
    image = _image(store, b"one")
    store.put(image)
    hexd = image.id.removeprefix("sha256:")
    assert store.get(hexd[:4]).id == image.id
    for ref in (hexd[:3], hexd[:8].upper(), "zzzz"):
        with pytest.raises(NotFound):
            store.get(ref)


def test_ambiguous_id_prefix_is_not_found(store: ImageStore) -> None:
    layer = store.commit_layer(_stage(store))
    ids = ["sha256:abcd1" + "0" * 59, "sha256:abcd2" + "0" * 59]
    for image_id in ids:
        store.put(Image(id=image_id, layers=[layer], config=ImageConfig()))
    with pytest.raises(NotFound):
        store.get("abcd")
    assert store.get("abcd1").id == ids[0]
    assert store.get("abcd2").id == ids[1]


def test_put_refuses_an_image_with_a_missing_layer(store: ImageStore) -> None:
    config = ImageConfig()
    image = Image(id=Image.compute_id(["sha256:" + "0" * 64], config),
                  layers=["sha256:" + "0" * 64], config=config)
    with pytest.raises(NotFound):
        store.put(image, "broken")
    with pytest.raises(NotFound):
        store.get("broken")


def test_list_returns_every_image_but_not_the_tag_index(store: ImageStore) -> None:
    a, b = _image(store, b"one"), _image(store, b"two")
    store.put(a, "a")
    store.put(b)
    assert sorted(i.id for i in store.list()) == sorted([a.id, b.id])


def test_lower_dirs_are_topmost_first(store: ImageStore) -> None:
    image = _image(store, b"bottom", b"middle", b"top")
    bottom, middle, top = image.layers
    assert store.lower_dirs(image) == [
        str(store.layer_path(top)), str(store.layer_path(middle)), str(store.layer_path(bottom))]


def test_image_id_depends_on_layers_and_config() -> None:
    layers = ["sha256:" + "1" * 64]
    base = Image.compute_id(layers, ImageConfig(Cmd=["sh"]))
    assert base == Image.compute_id(layers, ImageConfig(Cmd=["sh"]))
    assert base != Image.compute_id(layers, ImageConfig(Cmd=["ls"]))
    assert base != Image.compute_id(layers + ["sha256:" + "2" * 64], ImageConfig(Cmd=["sh"]))


def test_image_config_ignores_unknown_fields() -> None:
    cfg = ImageConfig.from_dict({"Cmd": ["x"], "Healthcheck": {"Test": []}})
    assert cfg.Cmd == ["x"]


# --- busybox ---

HOST_BUSYBOX = next((p for p in busybox.BUSYBOX_CANDIDATES
                     if os.path.isfile(p) and os.access(p, os.X_OK)), None)
needs_busybox = pytest.mark.skipif(
    HOST_BUSYBOX is None, reason="no busybox on this host (apt-get install busybox-static)")


@needs_busybox
def test_populate_lays_out_a_busybox_root(tmp_path: Path) -> None:
    assert HOST_BUSYBOX is not None
    root = tmp_path / "rootfs"
    root.mkdir()
    busybox.populate(root, HOST_BUSYBOX)
    bb = root / "bin" / "busybox"
    assert bb.is_file() and not bb.is_symlink()
    assert os.access(bb, os.X_OK)
    assert bb.read_bytes() == Path(HOST_BUSYBOX).read_bytes()
    sh = root / "bin" / "sh"
    assert sh.is_symlink()
    assert not os.path.isabs(os.readlink(sh))  # relative: valid inside the container too
    assert sh.resolve() == bb.resolve()
    for link in root.glob("usr/*bin/*"):
        assert link.resolve() == bb.resolve(), link
    passwd = (root / "etc" / "passwd").read_text().splitlines()
    assert passwd[0].split(":")[:4] == ["root", "x", "0", "0"]
    assert (root / "etc" / "group").read_text().startswith("root:x:0:")
    assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777
    for d in ("proc", "sys", "dev", "root"):
        assert (root / d).is_dir()


@needs_busybox
def test_ensure_busybox_builds_once_and_tags_it(store: ImageStore) -> None:
    image = busybox.ensure_busybox(store)
    assert store.get(busybox.BUSYBOX_REF).id == image.id
    assert image.config.Cmd == ["sh"]
    assert len(image.layers) == 1
    layer = store.layer_path(image.layers[0])
    assert (layer / "bin" / "busybox").is_file()
    again = busybox.ensure_busybox(store)
    assert again.id == image.id
    assert again.tags == [busybox.BUSYBOX_REF]
    assert [p.name for p in store.layers_dir.iterdir()] == [image.layers[0].split(":")[1]]
