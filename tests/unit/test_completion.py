"""Shell completion generated from the parser (shtab): bash completes verbs and flags."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ISOBENCH = str(Path(sys.executable).with_name("isobench"))


def _script(shell: str) -> str:
    proc = subprocess.run([ISOBENCH, "completion", shell], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _complete(script: Path, line: str) -> list[str]:
    words = line.split(" ")
    probe = (f"source {script}; COMP_WORDS=({' '.join(repr(w) for w in words)}); "
             f"COMP_CWORD={len(words) - 1}; COMP_LINE={line!r}; COMP_POINT={len(line)}; "
             "_shtab_isobench; printf '%s\\n' \"${COMPREPLY[@]}\"")
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash on this host")
def test_bash_completes_verbs_and_flags(tmp_path: Path) -> None:
    script = tmp_path / "isobench.bash"
    script.write_text(_script("bash"))
    assert subprocess.run(["bash", "-n", str(script)], timeout=30).returncode == 0
    assert _complete(script, "isobench st") == ["stats", "stop"]
    assert "--no-stream" in _complete(script, "isobench stats --no")
    assert "--format" in _complete(script, "isobench ps --f")
    assert set(_complete(script, "isobench completion ")) == {"bash", "zsh"}


def test_zsh_script_names_every_verb() -> None:
    from isobench import cli

    text = _script("zsh")
    assert text.startswith("#compdef isobench")
    for verb in cli.COMMANDS:
        assert f'"{verb}:' in text or f"'{verb}:" in text or f"{verb}:" in text, verb
    if shutil.which("zsh"):
        assert subprocess.run(["zsh", "-n"], input=text, text=True, timeout=30).returncode == 0
    else:
        print("zsh not installed: the zsh script's syntax is not checked")


def test_unknown_shell_is_one_line_exit_125() -> None:
    proc = subprocess.run([ISOBENCH, "completion", "fish"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 125
    assert len(proc.stderr.splitlines()) == 1 and "invalid choice" in proc.stderr
