"""isobench/cli.py: the verb table, lazy command modules, --version, `python -m isobench`."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from isobench import cli
from isobench.version import checkout_commit, version_line

REPO = Path(__file__).resolve().parents[2]


def verbs(parser: argparse.ArgumentParser) -> list[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def test_the_verb_table_is_what_the_modules_register_in_help_order() -> None:
    assert verbs(cli.build_parser()) == list(cli.COMMANDS)
    for module in cli.MODULES:
        assert verbs(cli.build_parser((module,))) == [
            verb for verb, owner in cli.COMMANDS.items() if owner == module]


@pytest.mark.parametrize(("argv", "modules"), [
    (["run", "--rm", "busybox", "true"], ("containers",)),
    (["--debug", "compose", "up"], ("compose",)),
    (["doctor"], ("doctor",)),
    (["vm", "run", "busybox"], ("vm",)),
    ([], cli.MODULES),
    (["--debug"], cli.MODULES),
    (["-h", "run"], cli.MODULES),
    (["--version"], cli.MODULES),
    (["--", "run"], cli.MODULES),
    (["no-such-verb"], cli.MODULES),
])
def test_only_the_named_verbs_module_is_built(argv: list[str], modules: tuple[str, ...]) -> None:
    assert cli.modules_for(argv) == modules


@pytest.mark.parametrize("argv", [
    ["run"], ["run", "--memory"], ["ps", "--bogus"], ["compose"], ["compose", "-f"],
    ["compare"], ["compare", "a"], ["vm", "run", "--accel", "xen"], ["--debug", "rmi"],
    ["volume", "bogus"], ["network", "create"], ["bench", "--profile", "huge"],
    ["report"], ["gc", "--all"], ["doctor", "extra"], ["--bogus", "run"],
])
def test_a_bad_command_line_fails_as_it_would_with_every_verb_registered(
        argv: list[str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ISOBENCH_DEBUG", raising=False)
    if "--debug" in argv:
        monkeypatch.setenv("ISOBENCH_DEBUG", "1")  # main sets it; monkeypatch undoes it

    def run() -> tuple[object, str, str]:
        try:
            code: object = cli.main(argv)
        except Exception as e:  # --debug re-raises
            code = repr(e)
        out, err = capsys.readouterr()
        return code, out, err

    lazy = run()
    monkeypatch.setattr(cli, "modules_for", lambda _argv: cli.MODULES)
    assert lazy == run()
    assert lazy[0] != 0


def test_run_imports_no_other_command_module() -> None:
    probe = ("import sys\nfrom isobench import cli\n"
             "try:\n    cli.main(['run', '--help'])\nexcept SystemExit:\n    pass\n"
             "print(' '.join(sorted(m for m in sys.modules if m.startswith("
             "('isobench.', 'bench', 'vm', 'reports', 'yaml', 'jsonschema')))))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=REPO, check=True)
    loaded = proc.stdout.strip().splitlines()[-1].split()  # after run's help text
    assert loaded == ["isobench.cli", "isobench.commands", "isobench.commands.common",
                      "isobench.commands.containers", "isobench.verbs"]


# What `isobench run` must not import (issue 18: the CLI's start is imports first): the
# heavy libraries, and what only other paths use (tar for builds, subprocess and threading
# for the bridge and published ports, debootstrap's module, decimal), and the stdlib modules
# s6 measured and took off the path (-X importtime: hashlib's OpenSSL ~2 ms, socket.py ~2 ms,
# secrets/hmac, random and tempfile ~1.3 ms, traceback ~1 ms).
RUN_PATH_EXCLUDED = ("yaml", "rich", "libvirt", "pandas", "numpy", "jsonschema", "psutil",
                     "jinja2", "matplotlib", "pyroute2", "tarfile", "decimal", "subprocess",
                     "threading", "runtime.image.debian", "runtime.compose", "vm", "bench",
                     "results", "reports", "hashlib", "_hashlib", "socket", "secrets", "hmac",
                     "random", "tempfile", "traceback", "pyseccomp")


def test_the_run_path_imports_nothing_heavy() -> None:
    """A subprocess parses a real `run` command line and imports its module, as the console
    script does: an eager import of any excluded module (or of a package of one) fails."""
    probe = ("import sys\nfrom isobench import cli\n"
             "args = cli.build_parser(cli.modules_for(['run'])).parse_args("
             "['run', '--rm', '--network', 'none', 'busybox', 'true'])\n"
             "assert args.handler\n"
             "print(' '.join(sorted(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=REPO, check=True)
    loaded = set(proc.stdout.split())
    assert "runtime.api" in loaded and "runtime.launcher" in loaded  # the probe is real
    heavy = sorted(m for m in loaded
                   if any(m == x or m.startswith(x + ".") for x in RUN_PATH_EXCLUDED))
    assert heavy == []


@pytest.mark.parametrize(("argv", "fast"), [(["run", "x"], True), (["--debug", "run"], True),
                                            (["ps"], False), ([], False)])
def test_run_leaves_without_the_interpreters_teardown(argv: list[str], fast: bool) -> None:
    """`run` ends with os._exit: its code and buffered output still arrive, an atexit
    handler does not run; every other verb exits normally."""
    probe = ("import atexit, sys\nfrom isobench import cli\n"
             "atexit.register(lambda: print('atexit ran'))\n"
             "def main():\n    print('out', end='')\n    return 7\n"
             f"cli.main = main\nsys.argv = ['isobench', *{argv!r}]\ncli.entry()\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=REPO)
    assert proc.returncode == 7
    assert proc.stdout == ("out" if fast else "outatexit ran\n")


def test_version_names_the_package_and_the_checkouts_commit(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    line = capsys.readouterr().out
    assert line == version_line() + "\n"
    commit = checkout_commit()
    if (REPO / ".git").exists():
        assert commit and re.fullmatch(r"[0-9a-f]{7,40}", commit)
        assert line == f"isobench {version('isobench')} (commit {commit})\n"
    else:  # a copy without its git metadata
        assert line == f"isobench {version('isobench')}\n"


def test_the_commit_comes_only_from_a_git_checkout(tmp_path: Path) -> None:
    assert checkout_commit(tmp_path) is None
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    commit = checkout_commit(tmp_path)
    assert commit and head.startswith(commit)


def test_python_dash_m_isobench_is_the_cli() -> None:
    proc = subprocess.run([sys.executable, "-m", "isobench", "--help"], capture_output=True,
                          text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: isobench [-h] [--debug] [--version] COMMAND ...")
    for verb in cli.COMMANDS:
        assert re.search(rf"^    {verb} ", proc.stdout, re.MULTILINE), verb
