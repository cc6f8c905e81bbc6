"""The CLI's verbs, one module per area; each exposes register(subparsers). isobench.cli
imports a module only when one of its verbs runs (or for the full `--help`)."""
