"""A compose file's YAML read as compose reads it: YAML 1.2's scalars, a key given twice
refused, and an error as one line `FILE:LINE: problem`.

`import yaml` below is PyYAML (absolute imports), not this module.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from runtime.compose.errors import ComposeError


class _Loader(yaml.SafeLoader):
    """SafeLoader without the YAML 1.1 traps that compose's YAML 1.2 parser does not have:
    `8080:80` is a string (1.1 reads a base-60 integer), `OFF` is a string (1.1 reads a
    boolean), and a key given twice is an error (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"mapping key {key!r} already defined at line {seen[key]}",
                    key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_INT = re.compile(r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""", re.X)
_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)


_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


def _yaml_12_scalars() -> None:
    """PyYAML's resolvers made YAML 1.2's where they differ, order kept: no base-60 ints
    or floats, and only true/false are booleans (`on`, `off`, `yes`, `no` are strings)."""
    swap = {"tag:yaml.org,2002:int": _INT, "tag:yaml.org,2002:float": _FLOAT,
            "tag:yaml.org,2002:bool": _BOOL}
    _Loader.yaml_implicit_resolvers = {
        first: [(tag, swap.get(tag, regexp)) for tag, regexp in entries]
        for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()}


_yaml_12_scalars()


MAX_EXPANDED_NODES = 200_000  # nodes after aliases are expanded (a bomb: 10**10)
MAX_ALIASES = 10_000  # alias uses per file
MAX_DEPTH = 64  # mappings and lists nested


class _Bound(Exception):
    pass


def _measure(node: yaml.Node, memo: dict[int, int], depth: int) -> int:
    """The node's size once aliases are expanded (shared nodes counted each time they are
    used, computed once each), refusing past the bounds before anything is built."""
    if depth > MAX_DEPTH:
        raise _Bound(f"nesting deeper than {MAX_DEPTH} levels")
    known = memo.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_measure(child, memo, depth + 1) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_measure(k, memo, depth + 1) + _measure(v, memo, depth + 1)
                    for k, v in node.value)
    if size > MAX_EXPANDED_NODES:
        raise _Bound("excessive aliasing: the document expands to more than "
                     f"{MAX_EXPANDED_NODES} nodes")
    memo[id(node)] = size
    return size


def _check_bounds(text: str, nodes: list[yaml.Node]) -> None:
    aliases = sum(1 for e in yaml.parse(text, Loader=_Loader) if isinstance(e, yaml.AliasEvent))
    if aliases > MAX_ALIASES:
        raise _Bound(f"excessive aliasing: more than {MAX_ALIASES} aliases")
    for node in nodes:
        _measure(node, {}, 0)


def _merge(base: Any, override: Any) -> Any:
    """compose-go (compose-spec/compose-go#451) merges the documents of one file in order,
    as override files: mappings key by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = _merge(base[k], v) if k in base else v
        return out
    return override


def parse_yaml(text: str, shown: str) -> Any:
    """The document (several `---` documents merged in order), or one line
    `FILE:LINE: problem`."""
    try:
        nodes = [n for n in yaml.compose_all(text, Loader=_Loader) if n is not None]
        _check_bounds(text, nodes)
        docs = [d for d in yaml.load_all(text, Loader=_Loader)  # noqa: S506 - SafeLoader
                if d is not None]
    except _Bound as e:
        raise ComposeError(f"{shown}: {e}") from None
    except RecursionError:
        raise ComposeError(f"{shown}: nesting deeper than {MAX_DEPTH} levels") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        if e.context and e.problem and not e.context.startswith("while "):
            problem = f"{e.context}: {e.problem}"
        where = f"{shown}:{mark.line + 1}" if mark else shown
        raise ComposeError(f"{where}: {problem}") from None
    except yaml.YAMLError as e:
        raise ComposeError(f"{shown}: {e}") from None
    if not docs:
        return None
    merged = docs[0]
    for doc in docs[1:]:
        if not isinstance(merged, dict) or not isinstance(doc, dict):
            raise ComposeError(f"{shown}: every document of a multi-document file must be a "
                               "mapping")
        merged = _merge(merged, doc)
    return merged
