"""The VM tests' skip helper: doctor's output parsed strictly, ISOBENCH_REQUIRE_VM honoured."""

from __future__ import annotations

import json

import pytest

from tests.vmhost import parse_doctor, require_vm

GOOD = [{"name": n, "ok": True, "detail": "fine", "needed_by": "vm"}
        for n in ("root", "libvirt", "guest kernel", "initrd modules", "acceleration")]
TRACEBACK = "Traceback (most recent call last):\n  ...\nKeyError: 'x'\n"


def test_a_good_doctor_is_read_by_name() -> None:
    checks = parse_doctor(0, json.dumps(GOOD), "")
    assert sorted(checks) == sorted(c["name"] for c in GOOD)
    assert checks["libvirt"] == GOOD[1]


@pytest.mark.parametrize("code, stdout, stderr, message", [
    (1, "", TRACEBACK, "not JSON"),                       # crashed before printing
    (120, json.dumps(GOOD), "", "-> 120"),                # killed or broke after printing
    (0, "[]", "", "not a list of checks"),
    (0, "{}", "", "not a list of checks"),
    (0, "ok libvirt", "", "not JSON"),
    (0, json.dumps([{"name": "libvirt", "ok": "yes", "detail": ""}]), "", "not a check"),
    (0, json.dumps(GOOD[:2]), "", "doctor left out ['guest kernel', 'acceleration']"),
    (0, json.dumps([{**c, "ok": c["name"] != "libvirt"} for c in GOOD]), "",
     "exit status disagrees"),
])
def test_a_broken_doctor_fails_instead_of_skipping(code: int, stdout: str, stderr: str,
                                                  message: str) -> None:
    with pytest.raises(AssertionError, match="isobench doctor --json") as err:
        parse_doctor(code, stdout, stderr)
    assert message in str(err.value)


def test_require_vm_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ISOBENCH_REQUIRE_VM", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no QEMU"):
        require_vm("no QEMU")


@pytest.mark.parametrize("value", ["1", "yes"])
def test_require_vm_fails_where_vms_are_required(monkeypatch: pytest.MonkeyPatch,
                                                 value: str) -> None:
    monkeypatch.setenv("ISOBENCH_REQUIRE_VM", value)
    with pytest.raises(pytest.fail.Exception, match="ISOBENCH_REQUIRE_VM=1 and a VM test "
                       "would skip: no QEMU"):
        require_vm("no QEMU")
