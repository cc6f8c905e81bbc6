"""deploy/ansible/ run for real against localhost (the local connection) with a tiny
session: the role checks out this checkout's HEAD commit into a temporary directory, runs
`make setup` there (apt finds everything installed; a fresh .venv is made), runs `isobench
bench`, fetches results.json back and ingests it into a history the test names; and
ansible-lint passes on the playbook and role."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import ISOBENCH, Cli

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "ansible"
BIN = Path(sys.executable).parent


def test_ansible_lint_passes() -> None:
    proc = subprocess.run([str(BIN / "ansible-lint"), "--nocolor", "playbook.yml", "roles"],
                          cwd=DEPLOY, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Passed: 0 failure(s), 0 warning(s)" in proc.stdout + proc.stderr


def test_the_playbook_benchmarks_localhost_into_the_history(cli: Cli, tmp_path: Path) -> None:
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    history = tmp_path / "history.sqlite"
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(f"bench1 ansible_connection=local "
                         f"ansible_python_interpreter={sys.executable}\n")
    extra = {
        "isobench_repo": str(REPO), "isobench_version": commit,
        "isobench_checkout": str(tmp_path / "checkout"), "isobench_become": False,
        "isobench_profile": "tiny", "isobench_targets": "native", "isobench_workloads": "cpu",
        "isobench_bench_args": ["--keep-contended", "--seed", "3"],
        "isobench_environment": {k: cli.env[k]
                                 for k in ("ISOBENCH_ROOT", "ISOBENCH_CGROUP_PARENT")},
        "isobench_fetch_dir": str(tmp_path / "fetched"),
        "isobench_controller_cli": ISOBENCH, "isobench_history": str(history),
    }
    began = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory),
                           str(DEPLOY / "playbook.yml"), "-e", json.dumps(extra)],
                          capture_output=True, text=True, timeout=1800,
                          env={**cli.env, "ANSIBLE_NOCOLOR": "1",
                               "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
                               "ANSIBLE_HOME": str(tmp_path / "ansible-home")})
    took = time.monotonic() - began
    print(f"playbook run, tiny profile (cpu on native), localhost: {took:.0f} s")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "failed=0" in proc.stdout
    fetched = list((tmp_path / "fetched" / "bench1").glob("*/results.json"))
    assert len(fetched) == 1
    doc = json.loads(fetched[0].read_text())
    recorded = doc["machine"]["isobench"]["commit"]
    assert doc["session"]["complete"] and recorded and commit.startswith(recorded)
    listed = json.loads(cli("history", "ls", "--history", str(history), "--format", "json",
                            check=True).stdout)
    assert [s["id"] for s in listed] == [doc["session"]["id"]]
    assert listed[0]["commit"] == recorded and listed[0]["runs"] == len(doc["runs"])
    shutil.rmtree(tmp_path / "checkout", ignore_errors=True)
