"""The order services start in: dependencies first, otherwise the file's order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from runtime.compose.errors import ComposeError


class Dependent(Protocol):
    """What the order needs of a service (model.Service is one)."""

    @property
    def depends_on(self) -> Sequence[str]: ...


def start_order(services: Mapping[str, Dependent]) -> list[str]:
    """Dependencies first, otherwise the file's order; a cycle is reported as the path that
    closes it (`a -> b -> a`). Services are named by their keys."""
    for name, s in services.items():
        for dep in s.depends_on:
            if dep not in services:
                raise ComposeError(f'service "{name}" depends on undefined service "{dep}"')
    order: list[str] = []
    done: set[str] = set()
    stack: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in stack:
            cycle = [*stack[stack.index(name):], name]
            raise ComposeError(f"dependency cycle detected: {' -> '.join(cycle)}")
        stack.append(name)
        for dep in services[name].depends_on:
            visit(dep)
        stack.pop()
        done.add(name)
        order.append(name)

    for name in services:
        visit(name)
    return order
