"""State that survives crashes, concurrency and damage: the flock helper, atomic writes,
corrupt files reported and skipped, image-store pins, and `verify`."""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from runtime import fsutil
from runtime.containers import Container, ContainerConfig, ContainerStore
from runtime.errors import Conflict, NotFound
from runtime.fsutil import CorruptState, atomic_write, locked, read_json, write_json
from runtime.image.store import Image, ImageConfig, ImageStore
from runtime.network import Network, NetworkStore
from runtime.volumes import VolumeStore

FORK = multiprocessing.get_context("fork")


@pytest.fixture(autouse=True)
def fresh_warnings() -> None:
    fsutil._warned.clear()  # one warning per file and process: each test starts afresh


# --- the lock helper ---

def _hold(path: str, ready: multiprocessing.synchronize.Event, shared: bool) -> None:
    with locked(Path(path), shared=shared):
        ready.set()
        time.sleep(60)


def _try_lock(path: Path, mode: int = fcntl.LOCK_EX) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def _holder(path: Path, shared: bool = False) -> multiprocessing.Process:
    ready = FORK.Event()
    proc = FORK.Process(target=_hold, args=(str(path), ready, shared))
    proc.start()
    assert ready.wait(10)
    return proc


def test_lock_excludes_others_and_dies_with_its_holder(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "store.lock"  # its directory is made on the way
    proc = _holder(path)
    try:
        assert not _try_lock(path)
        os.kill(proc.pid, signal.SIGKILL)  # a CLI killed mid-write: the kernel lets go
        proc.join(10)
        assert _try_lock(path)
    finally:
        proc.kill()


def test_shared_locks_admit_each_other_but_not_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "store.lock"
    proc = _holder(path, shared=True)
    try:
        assert _try_lock(path, fcntl.LOCK_SH)
        assert not _try_lock(path, fcntl.LOCK_EX)
    finally:
        proc.kill()
        proc.join(10)


def test_lock_is_released_when_the_block_raises(tmp_path: Path) -> None:
    path = tmp_path / "store.lock"
    with pytest.raises(RuntimeError), locked(path):
        raise RuntimeError("boom")
    assert _try_lock(path)


# --- atomic writes ---

def test_a_failure_between_write_and_rename_keeps_the_old_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    write_json(path, {"v": 1})

    def crash(*_: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        write_json(path, {"v": 2})
    assert read_json(path) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # the temp file went too


def _write_then_die(path: str) -> None:
    os.replace = lambda *_: os.kill(os.getpid(), signal.SIGKILL)  # type: ignore[assignment]
    write_json(Path(path), {"v": 2, "pad": "x" * 100_000})


def test_a_process_killed_before_the_rename_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json(path, {"v": 1})
    proc = FORK.Process(target=_write_then_die, args=(str(path),))
    proc.start()
    proc.join(10)
    assert proc.exitcode == -signal.SIGKILL
    assert read_json(path) == {"v": 1}
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "state.json"]
    assert all(n.startswith(".state.json.") for n in leftovers)  # hidden, never read


def _rewrite(path: str, n: int) -> None:
    for i in range(n):
        write_json(Path(path), {"i": i, "pad": "y" * (i * 997 % 50_000)}, durable=False)


def test_readers_never_see_half_a_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json(path, {"i": -1})
    writer = FORK.Process(target=_rewrite, args=(str(path), 300))
    writer.start()
    seen = 0
    while writer.is_alive() or seen == 0:
        assert "i" in read_json(path)  # a torn read would raise here
        seen += 1
    writer.join(10)
    assert read_json(path)["i"] == 299


def test_atomic_write_sets_the_mode(tmp_path: Path) -> None:
    atomic_write(tmp_path / "f", b"x", mode=0o600)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o600


# --- corrupt state: reported once, skipped, and named when addressed ---

def _container(store: ContainerStore, name: str) -> Container:
    cid = store.new_id()
    c = Container(id=cid, name=store.reserve_name(name, cid), created=time.time(),
                  config=ContainerConfig(image="busybox", image_id=None, argv=["sh"], env=[]))
    store.save(c, create=True)
    return c


@pytest.mark.parametrize("damage", [b"", b"{trunc", b"[1, 2]", b'{"id": "x"}'])
def test_a_corrupt_container_record_is_skipped_and_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: bytes) -> None:
    store = ContainerStore(tmp_path)
    good, bad = _container(store, "good"), _container(store, "bad")
    record = store.path(bad.id) / "config.json"
    record.write_bytes(damage)
    assert [c.name for c in store.list()] == ["good"]
    assert [c.name for c in store.list()] == ["good"]
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and str(record) in err[0] and "warning" in err[0]  # once
    with pytest.raises(CorruptState) as e:
        store.resolve("bad")
    assert str(record) in str(e.value) and "\n" not in str(e.value)
    assert e.value.exit_code == 125
    assert store.resolve("good").id == good.id
    with pytest.raises(NotFound):
        store.resolve("ghost")


def test_a_corrupt_volume_is_skipped_and_named(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    store = VolumeStore(tmp_path)
    store.create("good")
    store.create("bad")
    (tmp_path / "volumes" / "bad" / "volume.json").write_text('{"name": ')
    assert [v.name for v in store.list()] == ["good"]
    assert "volumes/bad/volume.json" in capsys.readouterr().err
    with pytest.raises(CorruptState, match="volume bad: corrupt state file"):
        store.get("bad")
    with pytest.raises(CorruptState):
        store.remove("bad", users=[])
    with pytest.raises(NotFound):
        store.get("ghost")


def test_a_corrupt_network_is_skipped_and_named(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    store = NetworkStore(tmp_path)
    store.dir.mkdir(parents=True)
    good = Network("good", "a" * 64, "10.250.0.0/16", "10.250.0.1", "ib-aaaaaaaaaaaa")
    write_json(store.dir / "good.json", good.to_dict())
    (store.dir / "bad.json").write_text("\0\0\0")
    assert [n.name for n in store.list()] == ["good"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "networks/bad.json" in err
    with pytest.raises(CorruptState, match="network bad"):
        store.get("bad")
    with pytest.raises(CorruptState):
        store.remove("bad")
    assert store.get("good").subnet == "10.250.0.0/16"


# --- the image store: corrupt files, pins, verify ---

def _layer(store: ImageStore, content: bytes, pin: object = None) -> str:
    staged = store.staging_dir()
    (staged / "file").write_bytes(content)
    return store.commit_layer(staged, pin=pin)  # type: ignore[arg-type]


def _image(store: ImageStore, layers: list[str], tag: str | None = None,
           cmd: str = "sh") -> Image:
    config = ImageConfig(Cmd=[cmd])
    return store.put(Image(id=Image.compute_id(layers, config), layers=layers, config=config),
                     tag)


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "root")


def test_a_corrupt_image_is_skipped_and_named(store: ImageStore,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    good = _image(store, [_layer(store, b"a")], "good")
    bad = _image(store, [_layer(store, b"b")], "bad")
    store.image_file(bad.id).write_text('{"id": ')
    assert [i.id for i in store.list()] == [good.id]
    assert store.list()[0].tags == ["good:latest"]
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and bad.id.split(":")[1] in err[0]
    with pytest.raises(CorruptState, match="image bad: corrupt state file"):
        store.get("bad")
    assert any("corrupt image file" in p for p in store.verify())


def test_a_corrupt_tag_index_leaves_the_images_listed_untagged(
        store: ImageStore, capsys: pytest.CaptureFixture[str]) -> None:
    image = _image(store, [_layer(store, b"a")], "good")
    store.repos_file.write_text("[not, json")
    assert [(i.id, i.tags) for i in store.list()] == [(image.id, [])]
    assert "repositories.json" in capsys.readouterr().err
    assert store.get(image.id).id == image.id
    _image(store, [_layer(store, b"b")], "fresh")  # the next write repairs the index
    assert read_json(store.repos_file) == {"fresh:latest": store.get("fresh").id}


def test_a_corrupt_image_stops_layer_removal_not_the_delete(
        store: ImageStore, capsys: pytest.CaptureFixture[str]) -> None:
    shared = _layer(store, b"shared")
    a = _image(store, [shared], "a")
    b = _image(store, [shared, _layer(store, b"b")], "b")
    store.image_file(b.id).write_text("garbage")
    assert store.delete(a) == []  # b's layers are unknown: the shared one must stay
    assert store.has_layer(shared)
    assert "garbage" not in capsys.readouterr().err


def test_delete_is_refused_while_a_pin_holds_the_image(store: ImageStore) -> None:
    base = _image(store, [_layer(store, b"base")], "base")
    with store.pinned() as pin:
        assert pin.hold(base)
        assert store.pinned_by(base.id) == [os.getpid()]
        with pytest.raises(Conflict) as e:
            store.delete(base)
        assert e.value.exit_code == 1 and "being used by a build" in str(e.value)
        assert store.get("base").id == base.id
        # forced: the image goes, its layers stay for the build
        assert store.delete(base, force=True) == []
        assert store.has_layer(base.layers[0])
        child = _image(store, [*base.layers, _layer(store, b"child", pin)], "child")
    assert store.verify() == []
    assert store.get("child").id == child.id
    assert list(store.pins_dir.iterdir()) == []  # the pin went with the block


def test_a_pinned_layer_outlives_the_delete_of_its_only_image(store: ImageStore) -> None:
    other = _image(store, [_layer(store, b"same")], "other")
    with store.pinned() as pin:
        digest = _layer(store, b"same", pin)  # deduplicated: the layer `other` has
        assert digest == other.layers[0]
        store.delete(other)
        assert store.has_layer(digest)  # a build's next put() still finds it
        mine = _image(store, [digest], "mine")
    store.delete(mine)
    assert not store.has_layer(digest)  # unpinned and unused: now it goes


def test_hold_says_no_once_the_image_is_gone(store: ImageStore) -> None:
    base = _image(store, [_layer(store, b"base")], "base")
    store.delete(base)
    with store.pinned() as pin:
        assert not pin.hold(base)
        assert not pin.hold_layers(base.layers)


def _pin_and_wait(root: str, image_id: str, ready: multiprocessing.synchronize.Event) -> None:
    store = ImageStore(Path(root))
    with store.pinned() as pin:
        pin.hold(store.get(image_id))
        ready.set()
        time.sleep(60)


def test_the_pin_of_a_killed_build_is_dropped(store: ImageStore) -> None:
    base = _image(store, [_layer(store, b"base")], "base")
    ready = FORK.Event()
    proc = FORK.Process(target=_pin_and_wait, args=(str(store.root), base.id, ready))
    proc.start()
    assert ready.wait(10)
    assert store.pinned_by(base.id) == [proc.pid]
    with pytest.raises(Conflict):
        store.delete(base)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    assert store.pinned_by(base.id) == []
    assert store.delete(base) == base.layers
    assert list(store.pins_dir.iterdir()) == []


def test_keep_layers_callable_is_asked_under_the_lock(store: ImageStore) -> None:
    image = _image(store, [_layer(store, b"a")], "a")
    lock = store.images_dir / ".lock"

    def in_use() -> set[str]:
        assert not _try_lock(lock)  # held by delete right now
        return set(image.layers)

    assert store.delete(image, in_use) == []
    assert store.has_layer(image.layers[0])


def test_verify_finds_tampered_missing_and_dangling(store: ImageStore) -> None:
    a = _image(store, [_layer(store, b"a")], "a")
    b = _image(store, [_layer(store, b"b"), _layer(store, b"b2")], "b")
    assert store.verify() == []
    (store.layer_path(a.layers[0]) / "file").write_bytes(b"tampered")
    (store.layers_dir / b.layers[1].split(":")[1] / "layer.json").unlink()
    repos = read_json(store.repos_file)
    repos["ghost:latest"] = "sha256:" + "f" * 64
    write_json(store.repos_file, repos)
    problems = store.verify()
    assert any(a.layers[0] in p and "content hashes to" in p for p in problems)
    assert any(b.layers[1] in p and "missing" in p for p in problems)
    assert any("ghost:latest" in p for p in problems)
    fake = store.image_file(a.id)
    data = read_json(fake)
    data["config"]["Cmd"] = ["evil"]
    write_json(fake, data)
    assert any("id does not match" in p for p in store.verify())


def _churn(root: str, worker: int, rounds: int) -> None:
    """One process of the stress test: build-like (pin base, commit, put) or rmi-like."""
    store = ImageStore(Path(root))
    for n in range(rounds):
        if worker == 0:  # removes the base and puts it back, over and over
            try:
                store.delete(store.get("base"), force=n % 2 == 0)
            except (Conflict, NotFound):
                pass
            _image(store, [_layer(store, b"base")], "base")
            continue
        with store.pinned() as pin:
            try:
                base = store.get("base")
            except NotFound:
                continue
            if not pin.hold(base):
                continue
            own = _layer(store, f"w{worker}-{n}".encode(), pin)
            _image(store, [*base.layers, own], f"w{worker}:{n}")
        if n:
            try:
                store.delete(store.get(f"w{worker}:{n - 1}"))
            except NotFound:
                pass


def test_concurrent_builds_and_rmis_keep_the_store_whole(store: ImageStore) -> None:
    _image(store, [_layer(store, b"base")], "base")
    procs = [FORK.Process(target=_churn, args=(str(store.root), w, 25)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert store.verify() == []
    for image in store.list():
        assert all(store.has_layer(d) for d in image.layers)
    assert list(store.pins_dir.iterdir()) == []
    assert not list(store.layers_dir.glob(".staging-*"))
    assert json.loads(store.repos_file.read_text())  # the index is whole


# --- names and volumes under concurrent processes ---

def _claim(root: str, name: str, start: multiprocessing.synchronize.Event,
           wins: multiprocessing.Queue) -> None:
    store = ContainerStore(Path(root))
    cid = store.new_id()
    start.wait(10)
    try:
        store.reserve_name(name, cid)
        wins.put(cid)
    except Conflict:
        wins.put("conflict")


def test_one_name_claimed_by_many_processes_goes_to_exactly_one(tmp_path: Path) -> None:
    start, wins = FORK.Event(), FORK.Queue()
    procs = [FORK.Process(target=_claim, args=(str(tmp_path), "web", start, wins))
             for _ in range(8)]
    for p in procs:
        p.start()
    start.set()
    results = [wins.get(timeout=10) for _ in procs]
    for p in procs:
        p.join(10)
    winners = [r for r in results if r != "conflict"]
    assert len(winners) == 1
    assert os.readlink(tmp_path / "containers" / ".names" / "web") == winners[0]


def test_invalid_container_names_are_refused(tmp_path: Path) -> None:
    store = ContainerStore(tmp_path)
    for bad in ("a", "bad name", "a/b", "../x", "-x", ""):
        with pytest.raises(Exception, match="Invalid container name") as e:
            store.reserve_name(bad, store.new_id())
        assert e.value.exit_code == 125  # type: ignore[attr-defined]
    assert store.reserve_name("ok_1.x-y", store.new_id()) == "ok_1.x-y"


def _volume_churn(root: str, worker: int) -> None:
    store = VolumeStore(Path(root))
    for i in range(40):
        name = f"v{(worker + i) % 3}"
        if (worker + i) % 2:
            store.create(name)
        else:
            try:
                store.remove(name, users=[])
            except NotFound:
                pass


def test_volume_creates_and_removes_at_once_leave_whole_volumes(tmp_path: Path) -> None:
    procs = [FORK.Process(target=_volume_churn, args=(str(tmp_path), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = VolumeStore(tmp_path)
    for entry in (tmp_path / "volumes").iterdir():
        # every directory left is a whole volume: its record and its data dir
        assert (entry / "volume.json").is_file() and (entry / "_data").is_dir(), entry
        assert store.get(entry.name).mountpoint == str(entry / "_data")


def test_a_vm_disk_build_pins_its_image(store: ImageStore, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """While the guest disk is staged from the layers, `rmi` must see a user of the image;
    an image removed before the pin makes the build fail in one line, not half-copy."""
    from vm import guest

    image = _image(store, [_layer(store, b"x")], "vmbase")
    seen: list[list[int]] = []
    monkeypatch.setattr(guest, "build_shim", lambda root: tmp_path / "shim")
    monkeypatch.setattr(guest, "stage", lambda st, img, tree, shim:
                        seen.append(store.pinned_by(img.id)))
    monkeypatch.setattr(guest, "mkfs", lambda tree, out, size: out.write_bytes(b"disk"))
    monkeypatch.setattr(guest, "shim_digest", lambda: "test")
    guest.ensure_disk(store, image, tmp_path / "vmroot")
    assert seen == [[os.getpid()]]
    assert store.pinned_by(image.id) == []  # released once the disk is built

    gone = _image(store, [_layer(store, b"y")], "gone")
    store.delete(gone, lambda: set())
    with pytest.raises(NotFound, match="removed while its VM disk was built"):
        guest.ensure_disk(store, gone, tmp_path / "vmroot")
