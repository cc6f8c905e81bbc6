"""Bad input: one clear line on stderr, Docker's exit code, and nothing left behind.

One table across every verb family: run and the container verbs, images, build, import,
volume, network, compose, vm and bench. Exit codes are Docker's: 125 when the runtime or
the CLI refuses (`run`'s flags, usage errors), 126/127 for a command that cannot be
executed / is not found, 1 for "No such ..." and conflicts in the other verbs and for a
failed build, import or compose (as `docker build`, `docker load` and `docker compose`).
`compare` keeps 2 for trouble, as diff(1), since its 1 means "regressed".
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.integration.conftest import Cli, Leftovers

pytestmark = pytest.mark.root


@pytest.fixture
def running(cli: Cli) -> str:
    cli("run", "-d", "--name", "busy", "busybox", "sleep", "300", check=True)
    return "busy"


@pytest.fixture
def empty_rootfs(tmp_path: Path) -> str:
    (tmp_path / "rootfs").mkdir()
    return str(tmp_path / "rootfs")


@pytest.fixture
def in_use(cli: Cli) -> dict[str, str]:
    """A running container on a user network with a named volume."""
    cli("network", "create", "busynet", check=True)
    cli("run", "-d", "--name", "user", "--network", "busynet", "-v", "busyvol:/data",
        "busybox", "sleep", "300", check=True)
    return {"netinuse": "busynet", "volinuse": "busyvol"}


def _tar(members: list[tuple[str, bytes, str]]) -> bytes:
    """(name, data, symlink target) members, in a plain tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, link in members:
            info = tarfile.TarInfo(name)
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _docker_save(layers: list[bytes], diff_ids: list[str] | None = None) -> bytes:
    sha = [f"sha256:{hashlib.sha256(x).hexdigest()}" for x in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids or sha}}).encode()
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    names = [f"{h.split(':')[1]}/layer.tar" for h in sha]
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["x:1"], "Layers": names}])
    return _tar([*((n, x, "") for n, x in zip(names, layers, strict=True)),
                 (config_name, config, ""), ("manifest.json", manifest.encode(), "")])


COMPOSE = {
    "bad-yaml": "services: [\n",
    "unknown-image": "services:\n  a:\n    image: nosuchimage\n",
    "cycle": ("services:\n  a:\n    image: busybox\n    depends_on: [b]\n"
              "  b:\n    image: busybox\n    depends_on: [a]\n"),
    "unknown-key": "services:\n  a:\n    image: busybox\n    bogus_key: 1\n",
    "no-services": "version: '3'\n",
}
DOCKERFILES = {
    "empty": "",
    "unknown-instruction": "FROMM busybox\n",
    "run-fails": "FROM busybox\nRUN exit 3\n",
    "copy-missing": "FROM busybox\nCOPY nothere /x\n",
    "no-from": "RUN true\n",
    "unknown-base": "FROM nosuchimage\n",
}


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, str]:
    """Build contexts, archives, compose and results files, by placeholder name."""
    out = {}
    for name, text in DOCKERFILES.items():
        ctx = tmp_path / f"ctx-{name}"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(text)
        out[f"ctx-{name}"] = str(ctx)
    for name, text in COMPOSE.items():
        (tmp_path / f"{name}.yaml").write_text(text)
        out[f"compose-{name}"] = str(tmp_path / f"{name}.yaml")
    files = {
        "notatar": b"not a tar\n" * 100,
        "escape": _docker_save([_tar([("etc", b"", "/etc"), ("etc/evil", b"x", "")])]),
        "wrongdiff": _docker_save([_tar([("a", b"a", "")])], diff_ids=["sha256:" + "0" * 64]),
        "badresults": b"{}\n",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = str(tmp_path / name)
    return out


CASES = [
    # (id, argv, exit code, text the one line must contain)
    ("unknown-image", ["run", "--rm", "nosuchimage"], 125,
     "Unable to find image 'nosuchimage:latest' locally"),
    ("no-arguments", ["run"], 125, "requires at least 1 argument"),
    ("no-command", ["run", "--rm", "--rootfs", "{rootfs}"], 125, "No command specified"),
    ("memory-unit", ["run", "--rm", "--memory", "12q", "busybox", "true"], 125,
     "invalid argument \"12q\" for \"-m, --memory\" flag: invalid size: '12q'"),
    ("cpus-negative", ["run", "--rm", "--cpus", "-1", "busybox", "true"], 125, "--cpus"),
    ("cpus-too-many", ["run", "--rm", "--cpus", "99", "busybox", "true"], 125,
     "range of CPUs is from 0.01 to"),
    ("pids-zero", ["run", "--rm", "--pids-limit", "0", "busybox", "true"], 125,
     "invalid pids limit: 0"),
    ("rootfs-not-dir", ["run", "--rm", "--rootfs", "/etc/hostname", "/bin/true"], 125,
     "not a directory"),
    ("rootfs-no-command", ["run", "--rm", "--rootfs", "{rootfs}", "/bin/true"], 127,
     'exec: "/bin/true": stat /bin/true: no such file or directory'),
    ("unknown-network", ["run", "--rm", "--network", "nonet", "busybox", "true"], 125,
     "network nonet not found"),
    ("exec-unknown", ["exec", "ghost", "true"], 1, "No such container: ghost"),
    ("stop-unknown", ["stop", "ghost"], 1, "No such container: ghost"),
    ("rm-unknown", ["rm", "ghost"], 1, "No such container: ghost"),
    ("kill-unknown", ["kill", "ghost"], 1, "No such container: ghost"),
    ("wait-unknown", ["wait", "ghost"], 1, "No such container: ghost"),
    ("wait-condition", ["wait", "--condition", "next-exit", "ghost"], 125,
     "argument --condition: invalid choice: 'next-exit'"),
    ("logs-unknown", ["logs", "ghost"], 1, "No such container: ghost"),
    ("stats-unknown", ["stats", "--no-stream", "ghost"], 1, "No such container: ghost"),
    ("export-missing", ["export", "/nonexistent-results"], 1,
     "/nonexistent-results: no such results file or directory"),
    ("export-format", ["export", "--format", "xml", "/nonexistent-results"], 125,
     "argument --format: invalid choice: 'xml'"),
    ("completion-shell", ["completion", "fish"], 125, "argument shell: invalid choice: 'fish'"),
    ("daemon-argument", ["daemon", "extra"], 125, "unrecognized arguments: extra"),
    ("rm-running", ["rm", "{running}"], 1, "You cannot remove a running container"),
    ("name-in-use", ["run", "--name", "{running}", "busybox", "true"], 125,
     'The container name "/busy" is already in use'),
    ("exec-missing-binary", ["exec", "{running}", "nosuchbinary"], 127,
     'exec: "nosuchbinary": executable file not found in $PATH'),
    ("unknown-flag", ["run", "--bogus", "busybox"], 125, "unrecognized arguments"),
    ("unknown-user", ["run", "--rm", "-u", "ghost", "busybox", "true"], 125,
     "unable to find user ghost"),
    ("bad-signal", ["kill", "-s", "SIGNOPE", "{running}"], 125, "invalid signal: SIGNOPE"),
    ("run-a-directory", ["run", "--rm", "busybox", "/etc"], 126,
     'exec: "/etc": permission denied'),
    ("run-not-executable", ["run", "--rm", "busybox", "/etc/passwd"], 126,
     'exec: "/etc/passwd": permission denied'),
    ("entrypoint-missing", ["run", "--rm", "--entrypoint", "nosuch", "busybox"], 127,
     'exec: "nosuch": executable file not found in $PATH'),
    ("workdir-relative", ["run", "--rm", "-w", "rel", "busybox", "true"], 125,
     "the working directory 'rel' is invalid, it needs to be an absolute path"),
    ("env-without-name", ["run", "--rm", "-e", "=x", "busybox", "true"], 125,
     "invalid environment variable: =x"),
    ("name-invalid", ["run", "--rm", "--name", "bad name!", "busybox", "true"], 125,
     "Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
    ("name-with-slash", ["run", "--rm", "--name", "a/b", "busybox", "true"], 125,
     "Invalid container name (a/b)"),
    ("publish-garbage", ["run", "--rm", "-p", "abc", "busybox", "true"], 125,
     "invalid containerPort: abc"),
    ("memory-too-small", ["run", "--rm", "--memory", "1", "busybox", "true"], 125,
     "minimum memory limit allowed is 6MB"),
    ("volume-mode", ["run", "--rm", "-v", "/tmp:/x:zz", "busybox", "true"], 125,
     'invalid mode: "zz" in volume specification'),
    ("unknown-group", ["run", "--rm", "-u", "0:nogroup", "busybox", "true"], 125,
     "unable to find group nogroup"),
    ("cpu-shares-garbage", ["run", "--rm", "--cpu-shares", "x", "busybox", "true"], 125,
     "invalid cpu shares"),
    # images
    ("inspect-unknown", ["inspect", "ghost"], 1, "No such object: ghost"),
    ("rmi-unknown", ["rmi", "ghost"], 1, "No such image: ghost:latest"),
    ("history-unknown", ["history", "ghost"], 1, "No such image: ghost:latest"),
    ("image-history-unknown", ["image", "history", "ghost"], 1, "No such image: ghost:latest"),
    ("rmi-in-use", ["rmi", "busybox", "#{running}"], 1,
     'conflict: unable to remove repository reference "busybox" (must force)'),
    # build
    ("build-no-context", ["build", "/nonexistent"], 1,
     "unable to prepare context: path '/nonexistent' not found"),
    ("build-empty-dockerfile", ["build", "{ctx-empty}"], 1, "file with no instructions"),
    ("build-unknown-instruction", ["build", "{ctx-unknown-instruction}"], 1,
     "Dockerfile:1: unknown instruction: FROMM"),
    ("build-run-fails", ["build", "{ctx-run-fails}"], 1,
     'process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'),
    ("build-copy-missing", ["build", "{ctx-copy-missing}"], 1,
     "COPY failed: file not found in build context"),
    ("build-no-from", ["build", "{ctx-no-from}"], 1, "no FROM instruction"),
    ("build-unknown-base", ["build", "{ctx-unknown-base}"], 1,
     "FROM nosuchimage: Unable to find image 'nosuchimage:latest' locally"),
    ("build-missing-dockerfile", ["build", "-f", "/nonexistent/Dockerfile", "{ctx-run-fails}"],
     1, "failed to read Dockerfile /nonexistent/Dockerfile"),
    ("build-arg-format", ["build", "--build-arg", "NOEQ", "{ctx-run-fails}"], 125,
     "invalid --build-arg 'NOEQ': expected KEY=VALUE"),
    # import
    ("import-missing", ["import", "/nonexistent.tar", "x"], 1, "/nonexistent.tar: no such file"),
    ("import-not-an-image", ["import", "{notatar}", "x"], 1,
     "not a docker-save or OCI image-layout archive"),
    ("import-escaping-layer", ["import", "{escape}", "x"], 1, "member"),
    ("import-wrong-diff-id", ["import", "{wrongdiff}", "x"], 1, "sha256:000000"),
    # volume
    ("volume-bad-name", ["volume", "create", "bad/name"], 1,
     '"bad/name" includes invalid characters for a local volume name'),
    ("volume-inspect-unknown", ["volume", "inspect", "ghost"], 1, "get ghost: no such volume"),
    ("volume-rm-in-use", ["volume", "rm", "{volinuse}"], 1, "remove busyvol: volume is in use"),
    # network
    ("network-bad-name", ["network", "create", "bad name"], 1, "invalid network name"),
    ("network-create-predefined", ["network", "create", "bridge"], 1,
     "network with name bridge already exists"),
    ("network-bad-subnet", ["network", "create", "--subnet", "10.1.2.3/33", "x"], 1,
     "invalid subnet 10.1.2.3/33"),
    ("network-inspect-unknown", ["network", "inspect", "ghost"], 1, "network ghost not found"),
    ("network-rm-in-use", ["network", "rm", "{netinuse}"], 1, "has active endpoints"),
    ("network-unknown-verb", ["network", "connect", "x", "y"], 125, "invalid choice: 'connect'"),
    # compose
    ("compose-missing-file", ["compose", "-f", "/nonexistent.yaml", "up", "-d"], 1,
     "open /nonexistent.yaml: no such file or directory"),
    ("compose-bad-yaml", ["compose", "-f", "{compose-bad-yaml}", "up", "-d"], 1,
     "bad-yaml.yaml:2:"),
    ("compose-unknown-image", ["compose", "-f", "{compose-unknown-image}", "up", "-d"], 1,
     "service \"a\": Unable to find image 'nosuchimage:latest' locally"),
    ("compose-cycle", ["compose", "-f", "{compose-cycle}", "up", "-d"], 1,
     "dependency cycle detected"),
    ("compose-unknown-key", ["compose", "-f", "{compose-unknown-key}", "up", "-d"], 1,
     "unknown key 'bogus_key' in service \"a\""),
    ("compose-no-services", ["compose", "-f", "{compose-no-services}", "up", "-d"], 1,
     "no services defined"),
    # vm: refused before any domain is defined
    ("vm-unknown-image", ["vm", "run", "nosuchimage", "true"], 125,
     "Unable to find image 'nosuchimage:latest' locally"),
    ("vm-memory", ["vm", "run", "--memory", "12q", "busybox", "true"], 125, "invalid size"),
    ("vm-cpus-zero", ["vm", "run", "--cpus", "0", "busybox", "true"], 125,
     "a VM takes a whole number of vCPUs"),
    ("vm-network", ["vm", "run", "--network", "bogus", "busybox", "true"], 125,
     "network bogus not found"),
    ("vm-bridge-publish", ["vm", "run", "--network", "bridge", "-p", "8080:80", "busybox",
                           "true"], 125, "-p needs --network user"),
    ("vm-publish", ["vm", "run", "-p", "70000:80", "busybox", "true"], 125,
     'invalid argument "70000:80" for "-p, --publish" flag'),
    ("vm-timeout", ["vm", "run", "--timeout", "-1", "busybox", "true"], 125,
     'invalid argument "-1" for "--timeout" flag'),
    ("vm-no-image", ["vm", "run"], 125, "requires at least 1 argument"),
    # bench, compare
    ("bench-unknown-target", ["bench", "--targets", "native,xen"], 125, "unknown target: xen"),
    ("bench-unknown-workload", ["bench", "--workloads", "nope"], 125, "unknown workload: nope"),
    ("bench-profile", ["bench", "--profile", "huge"], 125, "invalid choice: 'huge'"),
    ("bench-resume-missing", ["bench", "--resume", "/nonexistent"], 125,
     "/nonexistent/results.json: no such results file"),
    ("compare-missing", ["compare", "/nonexistent", "/nonexistent"], 2,
     "/nonexistent: no such results file"),
    ("compare-bad-schema", ["compare", "{badresults}", "{badresults}"], 2,
     "unknown schema_version"),
    # history: compare's codes (1 is "regressed"); nothing is written for a refused file
    ("history-ingest-bad-schema", ["history", "ingest", "{badresults}"], 2,
     "unknown schema_version"),
    ("history-ingest-missing", ["history", "ingest", "/nonexistent"], 2,
     "/nonexistent: no such results file or directory"),
    ("history-trend-empty", ["history", "trend", "events_per_s"], 2,
     "no values of 'events_per_s' in the history"),
]
FIXTURES = {"running": "running", "rootfs": "empty_rootfs", "netinuse": "in_use",
            "volinuse": "in_use"}


def store_debris(root: Path) -> list[str]:
    """Half-made things a census does not count: staging dirs, pins, temp files."""
    found = [p.name for p in (root / "layers").glob(".staging-*")]
    found += [p.name for p in (root / "images" / "pins").glob("*")]
    found += [str(p) for p in root.rglob(".*.tmp")]
    return found


def domains() -> int:
    if not shutil.which("virsh"):
        return 0
    out = subprocess.run(["virsh", "-q", "list", "--all", "--name"], capture_output=True,
                         text=True).stdout
    return sum(1 for line in out.splitlines() if line.startswith("isobench"))


# Verbs without a case here, and where their bad input is tested instead.
TESTED_ELSEWHERE = {
    "doctor": "no arguments but --json/--refresh (tests/unit/test_cli.py)",
    "gc": "no arguments (tests/unit/test_gc.py)",
    "images": "no arguments but -q",
    "ps": "no arguments but -a/-q/--no-trunc",
    "report": "tests/unit/test_report_cli.py",
}


def test_the_table_covers_every_verb_the_cli_registers() -> None:
    """Against the product's parser, not a list in this file: a verb added to the CLI without
    a bad-input case here (or a reason above) fails, and so does a case for a verb it lost."""
    from isobench.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    registered = set(sub.choices)
    verbs = {c[1][0] for c in CASES}
    assert verbs - registered == set()
    assert registered - verbs == set(TESTED_ELSEWHERE)


@pytest.mark.parametrize("argv, code, text", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(cli: Cli, request: pytest.FixtureRequest, argv: list[str], code: int,
                   text: str) -> None:
    subs: dict[str, str] = {}
    for key, fixture in FIXTURES.items():
        if any("{" + key + "}" in a for a in argv):
            value = request.getfixturevalue(fixture)
            subs.update(value if isinstance(value, dict) else {key: value})
    if any("{" in a for a in argv):
        subs.update(request.getfixturevalue("inputs"))
    argv = [a.format(**subs) for a in argv if not a.startswith("#")]  # "#...": fixture only
    cli("run", "--rm", "busybox", "true", check=True)  # the image exists before the count
    before, vms = cli.census(), domains()
    proc = cli(*argv, timeout=120)
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.splitlines()
    if argv[0] == "build":
        # as BuildKit's plain progress, a build shows its steps ("#N ...", a blank line
        # between steps) on stderr before the error; what is left must be the one line (a
        # traceback line would remain)
        lines = [line for line in lines if line and not re.match(r"#\d+ ", line)]
    assert len(lines) == 1, proc.stderr
    assert text in lines[0]
    assert lines[0].startswith("isobench: ")
    assert cli.census() - before == Leftovers(0, 0, 0, 0)
    assert store_debris(cli.root) == []
    assert domains() == vms


def test_corrupt_state_is_reported_and_skipped(cli: Cli, tmp_path: Path) -> None:
    """A damaged record (a disk error, a hand edit) costs that object only: listings warn
    once and show the rest; commands naming it fail in one line."""
    for name in ("good", "bad"):
        cli("run", "--name", name, "busybox", "true", check=True)
        cli("network", "create", f"net-{name}", check=True)
        cli("volume", "create", f"vol-{name}", check=True)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nLABEL x=y\n")
    second = cli("build", "-q", "-t", "second", str(ctx), check=True).stdout.split()[-1]
    root = cli.root
    bad_id = json.loads(cli("inspect", "bad", check=True).stdout)[0]["Id"]
    damaged = {
        "container": root / "containers" / bad_id / "config.json",
        "network": root / "networks" / "net-bad.json",
        "volume": root / "volumes" / "vol-bad" / "volume.json",
    }
    damaged["image"] = root / "images" / f"{second.split(':')[1]}.json"
    for path in damaged.values():
        path.write_bytes(path.read_bytes()[:17])  # truncated mid-record
    listings = {"container": (["ps", "-a"], "good"), "network": (["network", "ls"], "net-good"),
                "volume": (["volume", "ls"], "vol-good"), "image": (["images"], "busybox")}
    for what, (argv, shown) in listings.items():
        proc = cli(*argv)
        assert proc.returncode == 0, (what, proc.stderr)
        assert shown in proc.stdout, (what, proc.stdout)
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and "warning" in lines[0], (what, proc.stderr)
        assert str(damaged[what]) in lines[0], (what, lines)
    for argv, what in ((["inspect", "bad"], "container"), (["rm", "bad"], "container"),
                       (["network", "inspect", "net-bad"], "network"),
                       (["network", "rm", "net-bad"], "network"),
                       (["volume", "inspect", "vol-bad"], "volume"),
                       (["volume", "rm", "vol-bad"], "volume"),
                       (["run", "--rm", "second", "true"], "image"),
                       (["history", "second"], "image")):
        proc = cli(*argv)
        assert proc.returncode != 0, argv
        # One line about the object; a scan of other records on the way (`volume rm`
        # looks for containers using the volume) may warn about the corrupt ones it skips.
        *warnings, line = proc.stderr.splitlines()
        assert "corrupt state file" in line and str(damaged[what]) in line, (argv, line)
        assert all("warning: skipping corrupt state file" in w for w in warnings), warnings
        assert len(warnings) <= 1 and "Traceback" not in proc.stderr, proc.stderr
    verify = cli("images", "--verify")
    assert verify.returncode == 1 and "corrupt image file" in verify.stderr
    cli("rm", "good", check=True)
    # `rm -f` of the unreadable one goes by what its id alone finds, as Docker's does.
    assert cli("rm", "-f", "bad", check=True).stdout.strip() == "bad"
    assert not damaged["container"].parent.exists()
    assert not (root / "containers" / ".names" / "bad").exists()
    assert "warning" not in cli("ps", "-a", check=True).stderr
