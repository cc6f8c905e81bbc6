"""Nobody gets in where they don't belong: as the unprivileged user `nobody`, every attempt to
read isobench's files, list its directories, write into a layer or connect to its sockets
fails; for a state root left with the old modes (0755 directories, 0644 files) too, once the
next command has tightened it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from results import document
from runtime.image.store import ImageStore
from tests.integration.conftest import Cli, Leftovers
from tests.unit.test_results_document import make_doc

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
PYTHON = "/usr/bin/python3"   # the system's: a pyenv shim under /root is not nobody's
NOTHING = Leftovers(0, 0, 0, 0)


def as_nobody(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*NOBODY, *argv], capture_output=True, timeout=30, cwd="/")


def attempts(files: list[Path], dirs: list[Path], layer_dir: Path,
             sockets: list[Path]) -> dict[str, bool]:
    """What `nobody` managed: each attempt's description -> whether it succeeded."""
    done = {}
    for f in files:
        done[f"read {f}"] = as_nobody("head", "-c", "64", str(f)).returncode == 0
    for d in dirs:
        done[f"list {d}"] = as_nobody("ls", str(d)).returncode == 0
    target = layer_dir / "nobody-was-here"
    done[f"write {target}"] = as_nobody("touch", str(target)).returncode == 0
    for s in sockets:
        code = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.settimeout(2); "
                "s.connect(sys.argv[1])")
        done[f"connect {s}"] = as_nobody(PYTHON, "-c", code, str(s)).returncode == 0
    return done


def loosen_like_the_old_code(root: Path) -> None:
    """The modes the code before this change left: directories 0755, state files 0644
    (layer trees keep their own modes: they are the image's)."""
    for d in [root, *(p for p in root.iterdir() if p.is_dir()), *root.glob("containers/*"),
              *root.glob("volumes/*"), *root.glob("layers/*")]:
        os.chmod(d, 0o755)
    for f in [*root.glob("containers/*/*.json"), *root.glob("networks/*.json"),
              *root.glob("volumes/*/*.json")]:
        os.chmod(f, 0o644)


def unix_sockets(*dirs: Path) -> list[Path]:
    found = []
    for d in dirs:
        for dirpath, _, names in os.walk(d):
            found += [Path(dirpath, n) for n in names
                      if stat.S_ISSOCK(os.lstat(Path(dirpath, n)).st_mode)]
    return found


def vm_available() -> str | None:
    if not Path("/run/libvirt/libvirt-sock").exists():
        return "libvirtd is not running (make daemons)"
    return None


def test_nobody_reads_lists_writes_or_connects_nothing(cli: Cli, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed: cannot act as nobody")
    before = cli.census()
    root = cli.root
    run_dir = Path(os.environ.get("ISOBENCH_RUN_DIR", "/run/isobench"))
    # a container with a secret in its environment, a volume with a file, a log line
    cid = cli("run", "-d", "--name", "sec", "-e", "DB_PASSWORD=hunter2", "-v", "vol1:/data",
              "busybox", "sh", "-c", "echo s3cret > /data/f; echo logline; sleep 120",
              check=True).stdout.strip()
    # a built image with a /tmp in one of its layers
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY f /tmp/f\n")
    (ctx / "f").write_text("layer file\n")
    cli("build", "-t", "withtmp", str(ctx), check=True, timeout=120)
    layers = ImageStore(root).get("withtmp").layers
    copied = root / "layers" / layers[-1].split(":", 1)[1] / "diff"
    # the layer whose /tmp is the image's own, mode 1777 (the busybox base's)
    top = next(d for d in layers
               if stat.S_IMODE(os.stat(root / "layers" / d.split(":", 1)[1] / "diff" / "tmp")
                               .st_mode) == 0o1777)
    layer = root / "layers" / top.split(":", 1)[1] / "diff"
    # a results file, written as bench writes it
    results = root / "out" / "results.json"   # under the root: cleaned with it
    document.write_atomic(results, make_doc())
    os.chmod(results.parent, 0o755)            # an ordinary directory: the file must hold
    deadline = time.monotonic() + 10
    while "logline" not in cli("logs", "sec").stdout:
        assert time.monotonic() < deadline, "no log line"
        time.sleep(0.1)
    # a VM run, while it runs (its disks, console log and channel socket exist then)
    vm_proc = None
    why_no_vm = vm_available()
    if why_no_vm is None:
        vm_proc = cli.popen("vm", "run", "--rm", "--timeout", "120", "busybox", "sleep", "15")
        deadline = time.monotonic() + 90
        while not [r for r in root.glob("vm/runs/*") if (r / "console.log").exists()
                   and (run_dir / "vm" / f"{r.name}.sock").exists()]:
            assert vm_proc.poll() is None, vm_proc.communicate()
            assert time.monotonic() < deadline, "the vm never opened its channel"
            time.sleep(0.2)
    else:
        print(f"no vm in this test: {why_no_vm}")

    files = [root / "containers" / cid / "config.json", root / "containers" / cid / "log.json",
             root / "volumes" / "vol1" / "_data" / "f", copied / "tmp" / "f", results,
             *root.glob("vm/**/*.qcow2"), *root.glob("vm/**/console.log"),
             *root.glob("vm/disks/*")]
    files = [f for f in files if f.is_file()]
    dirs = [root, root / "containers" / cid, root / "volumes" / "vol1" / "_data",
            layer / "tmp", root / "layers", run_dir, run_dir / "vm",
            *(p for p in root.glob("vm/**/*") if p.is_dir())]
    ours = {r.name for r in root.glob("vm/runs/*")}
    sockets = [*unix_sockets(root), *(s for s in unix_sockets(run_dir) if s.stem in ours)]
    assert (root / "containers" / cid / "config.json").read_text().count("hunter2") == 1
    assert files[1].name == "log.json" and files[3] == copied / "tmp" / "f"
    if vm_proc is not None:
        assert sockets and any(f.name == "console.log" for f in files), (sockets, files)

    got = attempts(files, dirs, layer / "tmp", sockets)
    assert not any(got.values()), [what for what, ok in got.items() if ok]

    # the old code's modes: nobody reads the secret then (the test can tell) ...
    loosen_like_the_old_code(root)
    loose = attempts(files, dirs, layer / "tmp", sockets)
    assert loose[f"read {files[0]}"] and loose[f"write {layer / 'tmp' / 'nobody-was-here'}"]
    (layer / "tmp" / "nobody-was-here").unlink()
    # ... and the next command tightens the root again
    cli("ps", check=True)
    got = attempts(files, dirs, layer / "tmp", sockets)
    assert not any(got.values()), [what for what, ok in got.items() if ok]
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    with capsys.disabled():
        print(f"\nnobody: {len(got)} attempts, before tightening {sum(loose.values())} "
              f"succeeded, after {sum(got.values())}")

    # a layer changed behind the store's back is reported by images --verify
    assert cli("images", "--verify").returncode == 0
    (layer / "tmp" / "planted").write_text("x")
    verify = cli("images", "--verify")
    assert verify.returncode == 1 and top in verify.stderr, verify.stderr
    (layer / "tmp" / "planted").unlink()

    if vm_proc is not None:
        out, err = vm_proc.communicate(timeout=120)
        assert vm_proc.returncode == 0, err
    cli("rm", "-f", "sec", check=True)
    cli("rmi", "withtmp", check=True)
    cli("volume", "rm", "vol1", check=True)
    assert cli.census() - before == NOTHING


def test_a_writable_state_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "open"
    root.mkdir()
    os.chmod(root, 0o777)
    cli = Cli(root)
    proc = cli("ps")
    assert proc.returncode == 125
    assert proc.stderr.count("\n") == 1 and "world-writable" in proc.stderr, proc.stderr
    assert stat.S_IMODE(root.stat().st_mode) == 0o777   # refused, not changed
