"""Run records back from a results document (results.document stores them as dicts)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bench.model import RunRecord


def run_from_dict(data: Mapping[str, Any]) -> RunRecord:
    """A stored run back as a RunRecord; keys this version does not know are ignored."""
    known = {f.name for f in dataclasses.fields(RunRecord)}
    return RunRecord(**{k: v for k, v in data.items() if k in known})
