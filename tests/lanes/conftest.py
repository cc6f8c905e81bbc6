"""The lanes' tests run inside a lane guest only (tests/lanes/lane.sh sets ISOBENCH_LANE
there): on the host they are not collected at all, so `pytest tests` neither runs nor skips
them; `make test-cgroup2` and `make test-kvm` do."""

from __future__ import annotations

import os

from tests.integration.conftest import cli, iso_root, one_integration_test_at_a_time  # noqa: F401

if not os.environ.get("ISOBENCH_LANE"):
    collect_ignore_glob = ["test_*.py"]
