"""Every ISOBENCH_* environment variable the code reads is in the README's table."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("runtime", "vm", "bench", "reports", "results", "isobench")
NOT_VARIABLES = {"ISOBENCH_NS"}  # vm/domain.py: an XML namespace constant


def used() -> set[str]:
    found: set[str] = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            found |= set(re.findall(r"\bISOBENCH_[A-Z0-9_]+\b", path.read_text()))
    found |= set(re.findall(r"\bISOBENCH_[A-Z0-9_]+\b", (REPO / "Makefile").read_text()))
    return found - NOT_VARIABLES


def documented() -> set[str]:
    text = (REPO / "README.md").read_text()
    return set(re.findall(r"^\| `(ISOBENCH_[A-Z0-9_]+)` \|", text, re.M))


def test_every_variable_is_in_the_readme_table() -> None:
    missing = used() - documented()
    assert not missing, f"not in README.md's environment table: {sorted(missing)}"
    assert {"ISOBENCH_ROOT", "ISOBENCH_LIBVIRT_URI", "ISOBENCH_VM_KERNEL"} <= documented()
