"""`isobench doctor`'s cgroup line from a captured mountinfo and a temp-dir cgroupfs: mode,
driver, and the controllers a cgroup of ours can have."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.cgroups import describe_host, systemd


def mountinfo(tmp_path: Path, lines: list[tuple[str, str, str]]) -> str:
    path = tmp_path / "mountinfo"
    path.write_text("".join(f"{30 + i} 1 0:{i} / {mp} rw,relatime shared:{i} - {fs} {fs} {opts}\n"
                            for i, (mp, fs, opts) in enumerate(lines)))
    return str(path)


def test_pure_v2_with_systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cg"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    info = mountinfo(tmp_path, [(str(root), "cgroup2", "rw,nsdelegate")])
    monkeypatch.setattr(systemd, "booted", lambda: True)
    assert describe_host(str(root), info, "") == (
        "v2; driver systemd; v2 controllers: cpuset cpu io memory hugetlb pids rdma misc; "
        "systemd is PID 1")
    assert describe_host(str(root), info, "cgroupfs").startswith("v2; driver cgroupfs; ")


def test_hybrid_as_these_machines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cg"
    (root / "unified").mkdir(parents=True)
    (root / "unified" / "cgroup.controllers").write_text("hugetlb\n")
    info = mountinfo(tmp_path, [
        (f"{root}/cpu", "cgroup", "rw,cpu"), (f"{root}/memory", "cgroup", "rw,memory"),
        (f"{root}/pids", "cgroup", "rw,pids"), (f"{root}/systemd", "cgroup", "rw,name=systemd"),
        (f"{root}/unified", "cgroup2", "rw")])
    monkeypatch.setattr(systemd, "booted", lambda: False)
    assert describe_host(str(root), info, "") == (
        f"hybrid; driver cgroupfs; v1 controllers: cpu memory pids; cgroup2 at {root}/unified "
        "offers: hugetlb; no systemd as PID 1")
