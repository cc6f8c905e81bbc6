"""Documents written by earlier versions, brought up to the current `schema_version`.

Each step upgrades a document by exactly one version (STEPS[n]: version n -> n + 1), so a
document of any earlier version is migrated step by step; a version newer than this code's
or one never released is refused with one UnknownSchemaVersion. When the schema changes:
bump SCHEMA_VERSION (and the `const` in schema.json), add the step from the previous version
to STEPS, and check in a fixture written by the previous version (tests/unit/fixtures/results/).

Only version 1 exists so far, so STEPS is empty.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from results.errors import ResultsError, UnknownSchemaVersion

SCHEMA_VERSION = 1          # what this code writes and reads
FIRST_VERSION = 1           # the oldest version ever released

Document = dict[str, Any]
Step = Callable[[Document], Document]

STEPS: dict[int, Step] = {}


def migrate(doc: Any, *, steps: Mapping[int, Step] = STEPS, current: int = SCHEMA_VERSION,
            first: int = FIRST_VERSION) -> Document:
    """`doc` at version `current`: itself when it is already, else an upgraded copy (the
    input is never changed). Raises ResultsError for a non-object, UnknownSchemaVersion for
    a version outside first..current, and ResultsError when a step is missing or does not
    produce the next version."""
    if not isinstance(doc, dict):
        raise ResultsError(f"not a results document (a JSON {type(doc).__name__})")
    version = doc.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) \
            or not first <= version <= current:
        raise UnknownSchemaVersion(version, current)
    if version == current:
        return doc
    doc = copy.deepcopy(doc)
    while version < current:
        step = steps.get(version)
        if step is None:
            raise ResultsError(f"no migration from schema_version {version} to {version + 1}")
        doc = step(doc)
        if doc.get("schema_version") != version + 1:
            raise ResultsError(f"the migration from schema_version {version} did not produce "
                               f"version {version + 1}")
        version += 1
    return doc
