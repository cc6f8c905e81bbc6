"""No import cycle among the project's modules, and the import-linter contract covers every
package.

import-linter (`lint-imports`, run by `make test`) checks the arrows between packages; it
does not see a cycle inside one package. This test builds the import graph from the source
with ast, counting every import (module level and function level: a function-level import
hides a cycle from Python, not from the design) and finds the strongly connected groups.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOT_CODE = {"tests"}

# Cycles known and being removed (none left): an entry goes when its cycle does (the test
# fails once a listed cycle is gone).
KNOWN_CYCLES: set[frozenset[str]] = set()


def code_packages() -> list[str]:
    return sorted(p.name for p in REPO.iterdir()
                  if (p / "__init__.py").is_file() and p.name not in NOT_CODE)


def modules(packages: list[str]) -> dict[str, Path]:
    found = {}
    for package in packages:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported_names(name: str, path: Path) -> Iterator[str]:
    """Every module name `path` imports, `from a import b` giving both a and a.b (b may be a
    module or a name in a)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    mods = modules(code_packages())

    def resolve(target: str) -> str | None:
        while target and target not in mods:
            target = target.rpartition(".")[0]
        return target or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for target in map(resolve, imported_names(name, path)):
            # a package's submodule importing the package (its __init__) is not an arrow back
            if target and target != name and not name.startswith(f"{target}."):
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.add(frozenset(group))
    return found


def test_cycles_finds_a_cycle_and_ignores_a_chain() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == {frozenset({"a", "b", "c"})}
    assert cycles({"a": {"b"}, "b": set()}) == set()


def test_no_import_cycle_beyond_the_known_ones() -> None:
    found = cycles(import_graph())
    new = [" <-> ".join(sorted(c)) for c in found - KNOWN_CYCLES]
    gone = [" <-> ".join(sorted(c)) for c in KNOWN_CYCLES - found]
    assert not new, f"import cycles: {new}"
    assert not gone, f"no longer cycles, delete them from KNOWN_CYCLES: {gone}"


def test_the_import_contract_covers_every_package() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    hint = "each package needs a place in pyproject's [tool.importlinter] and a contract"
    assert sorted(config["root_packages"]) == code_packages(), hint
    sources = {m for c in config["contracts"] for m in c.get("source_modules", [])}
    # isobench, the composition root, may import every other package: no contract limits it
    assert sources == set(code_packages()) - {"isobench"}, hint
