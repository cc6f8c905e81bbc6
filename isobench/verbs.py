"""The CLI's verbs and the module of isobench.commands that registers each. Its own module,
importing nothing, because the thin client (isobench/client.py) reads it before anything
else is loaded."""

# Each verb -> the module of isobench.commands that registers it, in `--help` order. Only
# the chosen verb's module is imported: `isobench run` pays for none of the others (compose's
# YAML loader, compare's results schema, ...). tests/unit/test_cli.py keeps this table true.
COMMANDS: dict[str, str] = {
    "run": "containers", "ps": "containers", "stats": "containers", "stop": "containers",
    "kill": "containers", "rm": "containers", "wait": "containers", "logs": "containers",
    "exec": "containers", "inspect": "containers",
    "build": "images", "images": "images", "rmi": "images", "import": "images",
    "image": "images",
    "volume": "storage", "network": "storage",
    "compose": "compose",
    "compare": "compare",
    "export": "export",
    "history": "history",
    "bench": "bench",
    "report": "report",
    "vm": "vm",
    "doctor": "doctor",
    "gc": "gc",
    "completion": "completion",
    "daemon": "daemon",
}
MODULES: tuple[str, ...] = tuple(dict.fromkeys(COMMANDS.values()))

# What `isobench daemon` serves: the container verbs, whose module it has imported. Others
# would import their module in each served child, gaining nothing.
SERVED_MODULE = "containers"
SERVED: frozenset[str] = frozenset(v for v, m in COMMANDS.items() if m == SERVED_MODULE)


def verb_of(argv: list[str]) -> str | None:
    """The verb argv names (flags before it other than --debug: none, the parser answers)."""
    for arg in argv:
        if arg != "--debug":
            return arg
    return None
