"""The one way a VM test may skip: `require_vm(reason)`. Where `ISOBENCH_REQUIRE_VM=1` (set by
`make test` on hosts where libvirt and QEMU are installed) a VM test that would skip fails
instead, so a broken driver or probe cannot hide as "this host cannot run VMs"."""

from __future__ import annotations

import json
import os
from typing import NoReturn

import pytest

REQUIRE_VM = "ISOBENCH_REQUIRE_VM"


def vm_required() -> bool:
    return os.environ.get(REQUIRE_VM, "") not in ("", "0")


def require_vm(reason: str) -> NoReturn:
    """Skip this VM test for `reason`, or fail where VMs are required."""
    if vm_required():
        pytest.fail(f"{REQUIRE_VM}=1 and a VM test would skip: {reason}", pytrace=False)
    pytest.skip(reason)


DOCTOR_NEEDED = ("libvirt", "guest kernel", "initrd modules", "acceleration")


def parse_doctor(returncode: int, stdout: str, stderr: str) -> dict[str, dict]:
    """`isobench doctor --json`'s checks by name; AssertionError when it crashed or printed
    anything but its list of checks (that is a bug to fail on, not a host to skip)."""
    why = f"isobench doctor --json -> {returncode}: {stderr.strip()[-2000:]}"
    assert returncode in (0, 1), why  # 1: a check failed; anything else: it broke
    try:
        checks = json.loads(stdout)
    except ValueError as e:
        raise AssertionError(f"{why}\nnot JSON ({e}): {stdout[:500]!r}") from None
    assert isinstance(checks, list) and checks, f"{why}\nnot a list of checks: {stdout[:500]!r}"
    for c in checks:
        assert isinstance(c, dict) and isinstance(c.get("name"), str) \
            and isinstance(c.get("ok"), bool) and isinstance(c.get("detail"), str), \
            f"{why}\nnot a check: {c!r}"
    by_name = {c["name"]: c for c in checks}
    missing = [n for n in DOCTOR_NEEDED if n not in by_name and
               not (n == "initrd modules" and not by_name.get("guest kernel", {}).get("ok"))]
    assert not missing, f"{why}\ndoctor left out {missing}: {sorted(by_name)}"
    assert (returncode == 0) == all(c["ok"] or not c.get("needed_by") for c in checks), \
        f"{why}\nits exit status disagrees with its checks"
    return by_name
