"""Compose: a compose file read into a validated Project, brought up and down with the
runtime."""

from runtime.compose.loader import ComposeError, Project, find_file, load
from runtime.compose.project import STOP_TIMEOUT_S, Compose, iter_ports, service_of

__all__ = ["STOP_TIMEOUT_S", "Compose", "ComposeError", "Project", "find_file", "iter_ports",
           "load", "service_of"]
