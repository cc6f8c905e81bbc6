"""A recording fake of the runtime, as `Compose` drives it: every call logged in order."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from runtime.errors import IsobenchError, NotFound
from runtime.spec import ContainerSpec


class FakeStore:
    def __init__(self, kind: str, log: list[str]) -> None:
        self.kind, self.log, self.items = kind, log, {}

    def create(self, name: str, subnet: str | None = None,
               labels: dict[str, str] | None = None) -> SimpleNamespace:
        self.log.append(f"create {self.kind} {name}" + (f" {subnet}" if subnet else ""))
        self.items[name] = SimpleNamespace(name=name, labels=dict(labels or {}))
        return self.items[name]

    def get(self, name: str) -> SimpleNamespace:
        if name not in self.items:
            raise NotFound(f"{self.kind} {name} not found", 1)
        return self.items[name]

    def list(self) -> list[SimpleNamespace]:
        return list(self.items.values())


class FakeRuntime:
    """Records every call; `fail_start` names a container whose start fails."""

    def __init__(self, images: tuple[str, ...] = ("busybox",), fail_start: str = "") -> None:
        self.log: list[str] = []
        self.networks = FakeStore("network", self.log)
        self.volumes = FakeStore("volume", self.log)
        self.records: dict[str, Any] = {}
        self.known_images = set(images)
        self.fail_start = fail_start
        self.images = SimpleNamespace(get=self.image)

    def image(self, ref: str) -> object:
        if ref not in self.known_images:
            raise NotFound(f"Unable to find image '{ref}:latest' locally")
        return object()

    def create(self, spec: ContainerSpec) -> Any:
        kw = {**vars(spec), **vars(spec.security)}  # every field, the security ones too
        self.log.append(f"create container {kw['name']}")
        c = SimpleNamespace(id=f"id-{kw['name']}", name=kw["name"], image=spec.image,
                            command=spec.command, kw=kw,
                            config=SimpleNamespace(labels=kw["labels"]),
                            state=SimpleNamespace(status="created", exit_code=None))
        self.records[c.id] = c
        return c

    def start(self, c: Any, attach: bool = True) -> None:
        assert attach is False
        if c.name == self.fail_start:
            raise IsobenchError('exec: "/nope": stat /nope: no such file or directory', 127)
        self.log.append(f"start {c.name}")
        c.state.status = "running"

    def list(self, all_: bool = False) -> list[Any]:
        return list(self.records.values())

    def stop(self, ref: str, timeout: float = 10) -> None:
        self.log.append(f"stop {self.records[ref].name}")
        self.records[ref].state.status = "exited"

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        c = self.records.pop(ref)
        self.log.append(f"remove container {c.name}")

    def remove_network(self, name: str) -> None:
        self.log.append(f"remove network {name}")
        del self.networks.items[name]

    def remove_volume(self, name: str) -> None:
        self.log.append(f"remove volume {name}")
        del self.volumes.items[name]
