"""The start order and its errors (runtime.compose.graph)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.compose.helpers import error_of, project


def test_dependency_cycle(tmp_path: Path) -> None:
    msg = error_of(tmp_path, """\
        services:
          a: {image: busybox, depends_on: [b]}
          b: {image: busybox, depends_on: [a]}
        """)
    assert msg == "dependency cycle detected: a -> b -> a"


def test_longer_cycle_and_self_dependency(tmp_path: Path) -> None:
    msg = error_of(tmp_path, """\
        services:
          web: {image: busybox, depends_on: [api]}
          api: {image: busybox, depends_on: {db: {condition: service_started}}}
          db: {image: busybox, depends_on: [api]}
        """)
    assert msg == "dependency cycle detected: api -> db -> api"
    assert error_of(tmp_path, "services: {a: {image: x, depends_on: [a]}}\n") == (
        "dependency cycle detected: a -> a")


def test_unknown_dependency(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "services:\n  web: {image: busybox, depends_on: [db]}\n")
    assert msg == 'service "web" depends on undefined service "db"'


def test_start_order_puts_dependencies_first_and_keeps_file_order(tmp_path: Path) -> None:
    p = project(tmp_path, """\
        services:
          client: {image: x, depends_on: [web]}
          web: {image: x, depends_on: {db: {condition: service_started},
                                          cache: {condition: service_started}}}
          other: {image: x}
          db: {image: x}
          cache: {image: x, depends_on: [db]}
        """)
    order = p.order()
    assert order == ["db", "cache", "web", "client", "other"]
    for name, s in p.services.items():
        assert all(order.index(dep) < order.index(name) for dep in s.depends_on)
