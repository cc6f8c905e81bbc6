"""Compose: a compose file read into a validated Project, brought up and down with the
runtime. Split as compose-go splits its loader; each module imports only those above it:

    errors       ComposeError (docker compose's exit code 1)
    graph        the order services start in
    model        Project, Service, ... and compose's names for what a project owns
    yaml         the file's YAML, read as compose reads it
    interpolate  `${VAR:-default}` substitution
    spec_keys    the Compose file format's keys and shapes, from the specification's docs
    schema       that table as a JSON Schema, checked first: unknown keys, shapes
    fields       one value of the file checked and converted
    loader       file + .env + validation -> Project
    project      up/down/ps/logs over the Runtime
"""

from runtime.compose.errors import ComposeError
from runtime.compose.loader import find_file, load
from runtime.compose.model import Project
from runtime.compose.project import STOP_TIMEOUT_S, Compose, iter_ports, service_of

__all__ = ["STOP_TIMEOUT_S", "Compose", "ComposeError", "Project", "find_file", "iter_ports",
           "load", "service_of"]
