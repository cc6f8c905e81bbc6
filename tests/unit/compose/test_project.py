"""`up` and `down` against a recording fake runtime (runtime.compose.project): order, names,
labels and rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.compose.errors import ComposeError
from runtime.compose.project import Compose
from tests.unit.compose.fakes import FakeRuntime
from tests.unit.compose.helpers import project

TWO_SERVICES = """\
    services:
      client:
        image: busybox
        command: wget -qO- http://web:8080/
        depends_on: [web]
        networks: [front]
        volumes: [data:/data]
        environment: {A: 1}
      web:
        image: busybox
        ports: ["127.0.0.1:8080:80"]
        networks: [front]
        volumes: [data:/www, ./site:/site:ro]
        working_dir: /www
        hostname: webhost
    volumes:
      data:
    networks:
      front:
        ipam: {config: [{subnet: 10.77.0.0/24}]}
    """


def _up(tmp_path: Path, rt: FakeRuntime, text: str = TWO_SERVICES) -> Compose:
    (tmp_path / "site").mkdir(exist_ok=True)
    p = project(tmp_path, text)
    compose = Compose(rt, p.name, p, say=lambda _line: None)  # type: ignore[arg-type]
    compose.up(detach=True)
    return compose


def test_up_creates_in_order_with_names_labels_and_aliases(tmp_path: Path) -> None:
    rt = FakeRuntime()
    _up(tmp_path, rt)
    assert rt.log == ["create network proj_front 10.77.0.0/24", "create volume proj_data",
                      "create container proj-web-1", "start proj-web-1",
                      "create container proj-client-1", "start proj-client-1"]
    web = rt.records["id-proj-web-1"]
    assert web.kw["labels"]["com.docker.compose.project"] == "proj"
    assert web.kw["labels"]["com.docker.compose.service"] == "web"
    assert web.kw["labels"]["com.docker.compose.container-number"] == "1"
    assert web.kw["aliases"] == ["web"]
    assert web.kw["network"] == "proj_front"
    assert web.kw["volumes"] == ["proj_data:/www", f"{tmp_path / 'site'}:/site:ro"]
    assert web.kw["publish"] == ["127.0.0.1:8080:80/tcp"]
    assert (web.kw["workdir"], web.kw["hostname"]) == ("/www", "webhost")
    client = rt.records["id-proj-client-1"]
    assert client.command == ["wget", "-qO-", "http://web:8080/"]
    assert client.kw["env"] == ["A=1"]
    assert rt.networks.items["proj_front"].labels["com.docker.compose.project"] == "proj"
    assert rt.volumes.items["proj_data"].labels["com.docker.compose.project"] == "proj"


def test_up_again_recreates_and_reuses_network_and_volume(tmp_path: Path) -> None:
    rt = FakeRuntime()
    _up(tmp_path, rt)
    rt.log.clear()
    _up(tmp_path, rt)
    assert sorted(rt.log[:2]) == ["stop proj-client-1", "stop proj-web-1"]  # side by side
    assert rt.log[2:] == ["remove container proj-client-1", "remove container proj-web-1",
                          "create container proj-web-1", "start proj-web-1",
                          "create container proj-client-1", "start proj-client-1"]


def test_failed_start_removes_what_this_up_created(tmp_path: Path) -> None:
    rt = FakeRuntime(fail_start="proj-client-1")
    with pytest.raises(ComposeError) as e:
        _up(tmp_path, rt)
    assert str(e.value) == 'exec: "/nope": stat /nope: no such file or directory'
    assert e.value.exit_code == 1
    assert rt.log[-4:] == ["remove container proj-client-1", "remove container proj-web-1",
                           "remove network proj_front", "remove volume proj_data"]
    assert not rt.records and not rt.networks.items and not rt.volumes.items


def test_failed_up_keeps_what_existed_before(tmp_path: Path) -> None:
    rt = FakeRuntime(fail_start="proj-client-1")
    rt.volumes.create("proj_data", labels={"com.docker.compose.project": "proj"})
    with pytest.raises(ComposeError):
        _up(tmp_path, rt)
    assert "proj_data" in rt.volumes.items
    assert "remove volume proj_data" not in rt.log


def test_missing_image_is_found_before_anything_is_created(tmp_path: Path) -> None:
    rt = FakeRuntime()
    text = TWO_SERVICES.replace("image: busybox\n        command", "image: nosuch\n        command")
    with pytest.raises(ComposeError) as e:
        _up(tmp_path, rt, text)
    assert str(e.value) == "service \"client\": Unable to find image 'nosuch:latest' locally"
    assert rt.log == []


def test_missing_bind_source_is_found_before_anything_is_created(tmp_path: Path) -> None:
    rt = FakeRuntime()
    text = TWO_SERVICES.replace("./site:/site:ro", "./nosuchdir:/site:ro")
    with pytest.raises(ComposeError, match='^service "web": .*bind source path does not exist'):
        _up(tmp_path, rt, text)
    assert rt.log == []


def test_foreign_network_of_the_same_name_is_refused(tmp_path: Path) -> None:
    rt = FakeRuntime()
    rt.networks.create("proj_front")
    rt.log.clear()
    with pytest.raises(ComposeError, match="^network proj_front was found but has incorrect "
                                           'label com.docker.compose.project set to ""$'):
        _up(tmp_path, rt)
    assert rt.log == []


def test_down_removes_only_the_projects_things(tmp_path: Path) -> None:
    rt = FakeRuntime()
    compose = _up(tmp_path, rt)
    rt.networks.create("other_default", labels={"com.docker.compose.project": "other"})
    rt.volumes.create("keep")
    rt.log.clear()
    compose.down(volumes=False)
    assert sorted(rt.log) == sorted([
        "stop proj-client-1", "stop proj-web-1", "remove container proj-client-1",
        "remove container proj-web-1", "remove network proj_front"])
    assert set(rt.volumes.items) == {"proj_data", "keep"}
    compose.down(volumes=True)
    assert set(rt.volumes.items) == {"keep"}
    assert set(rt.networks.items) == {"other_default"}
