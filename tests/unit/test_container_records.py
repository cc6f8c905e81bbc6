"""Container records and names on disk (runtime.containers)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from runtime.containers import (
    Container,
    ContainerConfig,
    ContainerState,
    ContainerStore,
    is_alive,
    process_start_time,
)
from runtime.errors import Conflict, NotFound


@pytest.fixture
def store(tmp_path: Path) -> ContainerStore:
    return ContainerStore(tmp_path)


def _container(cid: str, name: str, created: float = 1.0) -> Container:
    config = ContainerConfig(image="busybox", image_id="sha256:" + "a" * 64, argv=["sh"],
                             env=["PATH=/bin"])
    return Container(id=cid, name=name, created=created, config=config)


def _saved(store: ContainerStore, name: str, cid: str | None = None,
           created: float = 1.0) -> Container:
    cid = cid or store.new_id()
    c = _container(cid, store.reserve_name(name, cid), created)
    store.save(c, create=True)
    return c


def test_new_ids_are_64_hex_and_distinct(store: ContainerStore) -> None:
    ids = {store.new_id() for _ in range(20)}
    assert len(ids) == 20
    assert all(re.fullmatch(r"[0-9a-f]{64}", i) for i in ids)


def test_reserve_explicit_name(store: ContainerStore) -> None:
    cid = store.new_id()
    assert store.reserve_name("web", cid) == "web"
    assert os.readlink(store.names_dir / "web") == cid


def test_name_conflict_names_the_other_container(store: ContainerStore) -> None:
    first, second = store.new_id(), store.new_id()
    store.reserve_name("web", first)
    with pytest.raises(Conflict) as info:
        store.reserve_name("web", second)
    message = str(info.value)
    assert message.startswith('Conflict. The container name "/web" is already in use by '
                              f'container "{first[:12]}')
    assert message.endswith("You have to remove (or rename) that container to be able to "
                            "reuse that name.")
    assert second[:12] not in message
    assert info.value.exit_code == 125
    assert os.readlink(store.names_dir / "web") == first  # the first claim stands


def test_generated_names_are_unique_and_docker_like(store: ContainerStore) -> None:
    names = [store.reserve_name(None, store.new_id()) for _ in range(50)]
    assert len(set(names)) == 50
    assert all(re.fullmatch(r"[a-z]+_[a-z]+", n) for n in names)
    assert len(os.listdir(store.names_dir)) == 50


def test_release_name_only_releases_our_own_claim(store: ContainerStore) -> None:
    mine, theirs = store.new_id(), store.new_id()
    store.reserve_name("web", mine)
    store.release_name("web", theirs)
    assert os.readlink(store.names_dir / "web") == mine
    store.release_name("web", mine)
    assert not os.path.lexists(store.names_dir / "web")
    store.release_name("web", mine)  # already gone: no error
    assert store.reserve_name("web", theirs) == "web"


def test_save_and_load_round_trip(store: ContainerStore) -> None:
    c = _saved(store, "db")
    c.state = ContainerState(status="exited", pid=42, exit_code=137, oom_killed=True,
                             namespaces={"net": 4026531840})
    c.mounts = [{"Type": "bind", "Source": "/a", "Destination": "/b", "Options": "ro"}]
    store.save(c)
    assert store.load(c.id) == c


def test_resolve_by_name_full_id_and_unique_prefix(store: ContainerStore) -> None:
    c = _saved(store, "api", cid="ab12" + "0" * 60)
    _saved(store, "other", cid="cd34" + "0" * 60)
    for ref in ("api", c.id, "ab12", "ab1", "a"):
        assert store.resolve(ref).id == c.id, ref


def test_ambiguous_prefix_is_not_found_exit_1(store: ContainerStore) -> None:
    _saved(store, "one", cid="abc1" + "0" * 60)
    _saved(store, "two", cid="abc2" + "0" * 60)
    with pytest.raises(NotFound) as info:
        store.resolve("abc")
    assert info.value.exit_code == 1
    assert str(info.value) == "No such container: abc"
    assert store.resolve("abc1").name == "one"


def test_unknown_ref_is_not_found_exit_1(store: ContainerStore) -> None:
    _saved(store, "one")
    for ref in ("nosuch", "ffff", ""):
        with pytest.raises(NotFound) as info:
            store.resolve(ref)
        assert info.value.exit_code == 1
        assert str(info.value) == f"No such container: {ref}"


def test_resolve_on_an_empty_store(store: ContainerStore) -> None:
    with pytest.raises(NotFound):
        store.resolve("abcd")


def test_save_without_create_does_not_resurrect_a_removed_container(
    store: ContainerStore,
) -> None:
    c = _saved(store, "gone")
    store.remove(c)
    assert not store.path(c.id).exists()
    assert not os.path.lexists(store.names_dir / "gone")
    c.state.status = "exited"
    store.save(c)
    assert not store.path(c.id).exists()
    with pytest.raises(NotFound):
        store.resolve(c.id)


def test_save_without_create_updates_an_existing_record(store: ContainerStore) -> None:
    c = _saved(store, "live")
    c.state.status = "running"
    store.save(c)
    assert store.load(c.id).state.status == "running"


def test_list_is_newest_first_and_skips_corrupt_and_half_made_records(
    store: ContainerStore,
) -> None:
    old = _saved(store, "old", created=100.0)
    new = _saved(store, "new", created=200.0)
    corrupt = store.path(store.new_id())
    corrupt.mkdir()
    (corrupt / "config.json").write_text("{not json")
    wrong_shape = store.path(store.new_id())
    wrong_shape.mkdir()
    (wrong_shape / "config.json").write_text('{"id": "x"}')
    store.path(store.new_id()).mkdir()  # being created: no config.json yet
    assert [c.id for c in store.list()] == [new.id, old.id]


def test_list_of_an_empty_store(store: ContainerStore) -> None:
    assert store.list() == []


def test_short_id_is_twelve_chars() -> None:
    assert _container("f" * 64, "x").short_id == "f" * 12


def test_process_start_time_and_liveness_of_this_process() -> None:
    start = process_start_time(os.getpid())
    assert start > 0
    assert is_alive(os.getpid(), start)
    assert not is_alive(os.getpid(), start + 1)
    assert not is_alive(0, start)


def test_start_time_of_a_reaped_child_is_zero() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    assert process_start_time(pid) == 0


def test_is_held_tells_a_held_lock_and_never_creates_one(store: ContainerStore) -> None:
    store.path("a").mkdir(parents=True)
    store.path("b").mkdir(parents=True)
    # No lock file: not held, and none made (a record being removed must stay removable).
    assert not store.is_held("a") and not store.lock_path("a").exists()
    fd = store.hold("b")
    assert fd is not None
    assert store.is_held("b") and store.held() == ["b"]
    os.close(fd)
    assert not store.is_held("b") and store.held() == []
    assert not store.is_held("gone")


def test_remove_takes_the_record_out_of_sight_before_deleting_it(
    store: ContainerStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rmtree deletes `.lock` before the directory: without the rename first, a reader saw a
    record with no lock, neither held nor gone (the census after a `run --rm` raced it)."""
    import shutil

    c = _saved(store, "leaving")
    store.hold(c.id)
    seen: list[tuple[bool, list[str], list[str]]] = []
    real = shutil.rmtree

    def watching(path: Path, *args: object, **kwargs: object) -> None:
        seen.append((store.path(c.id).exists(), [p.name for p in store.removed_leftovers()],
                     [x.id for x in store.list()]))
        real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("runtime.containers.shutil.rmtree", watching)
    store.remove(c)
    assert seen == [(False, [f".removed-{c.id}"], [])]
    assert store.removed_leftovers() == []
    store.remove(c)  # a second removal of a record already gone is a no-op
