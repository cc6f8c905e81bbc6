"""`isobench build`: every instruction, the layer cache, and what a container then sees."""

from __future__ import annotations

import io
import json
import re
import signal
import tarfile
import time
from pathlib import Path

import pytest

from bench.tools.buildtime import plain_steps
from tests.integration.conftest import Cli, Leftovers

pytestmark = pytest.mark.root

DOCKERFILE = """\
# syntax is Docker's; comments and continuations are honoured
ARG BASE=busybox
FROM ${BASE}
ARG GREETING=hello
LABEL maintainer="isobench" version=1
ENV APP_HOME=/srv/app \\
    MODE=test
WORKDIR $APP_HOME
COPY app.txt ./
COPY ["conf dir/", "/etc/app/"]
ADD bundle.tar /opt/bundle/
ADD notes.txt /opt/notes.txt
COPY . /ctx/
RUN echo "$GREETING from $MODE" > built.txt \\
 && echo "appuser:x:1234:1234::/home/appuser:/bin/sh" >> /etc/passwd \\
 && rm /bin/vi
USER appuser
EXPOSE 8080/tcp 53/udp
VOLUME /data
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo $MODE; cat app.txt; whoami"]
"""


def make_context(root: Path) -> Path:
    ctx = root / "ctx"
    (ctx / "conf dir").mkdir(parents=True)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "app.txt").write_text("app v1\n")
    (ctx / "conf dir" / "app.conf").write_text("key=value\n")
    (ctx / "notes.txt").write_text("notes\n")
    (ctx / "debug.log").write_text("must not be copied\n")
    (ctx / ".dockerignore").write_text("*.log\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"from the tarball\n"
        info = tarfile.TarInfo("inner/file.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (ctx / "bundle.tar").write_bytes(buf.getvalue())
    return ctx


def build(cli: Cli, ctx: Path, *extra: str) -> tuple[list[str], str]:
    proc = cli("build", "-t", "app:1", *extra, str(ctx), timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    steps = plain_steps(proc.stderr)  # not a terminal: --progress auto is plain
    image_id = json.loads(cli("inspect", "app:1", check=True).stdout)[0]["Id"]
    return steps, image_id


def test_every_instruction_reaches_the_container(cli: Cli, tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    build(cli, ctx, "--build-arg", "GREETING=hi")
    default = cli("run", "--rm", "app:1", check=True).stdout.splitlines()
    assert default == ["test", "app v1", "appuser"]  # ENTRYPOINT + CMD, ENV, WORKDIR, USER
    script = ("pwd; id -u; cat built.txt /etc/app/app.conf /opt/bundle/inner/file.txt "
              "/opt/notes.txt; ls /ctx; ls /bin/vi 2>&1 || true")
    out = cli("run", "--rm", "app:1", script, check=True).stdout.splitlines()
    assert out[:6] == ["/srv/app", "1234", "hi from test", "key=value", "from the tarball",
                       "notes"]
    listing = out[6:-1]
    assert "debug.log" not in listing and "app.txt" in listing and "bundle.tar" in listing
    assert "No such file" in out[-1]  # the RUN's deletion is a whiteout in its layer
    config = json.loads(cli("inspect", "app:1", check=True).stdout)[0]["Config"]
    assert config["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert config["Volumes"] == {"/data": {}}
    assert config["Labels"] == {"maintainer": "isobench", "version": "1"}
    assert "APP_HOME=/srv/app" in config["Env"]
    # --entrypoint replaces the image's and drops its CMD
    assert cli("run", "--rm", "--entrypoint", "hostname", "-h", "eph", "app:1",
               check=True).stdout == "eph\n"
    history = cli("history", "app:1", check=True).stdout
    assert "COPY app.txt ./" in history


def test_rebuild_is_all_cached_and_an_edit_rebuilds_from_that_step(cli: Cli,
                                                                    tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    first, image1 = build(cli, ctx)
    assert not any(s.endswith("CACHED") for s in first)
    second, image2 = build(cli, ctx)
    assert image2 == image1
    assert all(s.endswith("CACHED") for s in second[1:]), second
    (ctx / "app.txt").write_text("app v2\n")
    third, image3 = build(cli, ctx)
    assert image3 != image1
    changed = next(i for i, s in enumerate(third) if "COPY app.txt" in s)
    assert all(s.endswith("CACHED") for s in third[1:changed]), third
    assert not any(s.endswith("CACHED") for s in third[changed:]), third
    layers1 = json.loads(cli("inspect", image1, check=True).stdout)[0]["Layers"]
    layers3 = json.loads(cli("inspect", "app:1", check=True).stdout)[0]["Layers"]
    assert layers3[:1] == layers1[:1]  # the base layer is shared
    assert layers3[1] != layers1[1]
    # --no-cache runs every step again
    fourth, _ = build(cli, ctx, "--no-cache")
    assert not any(s.endswith("CACHED") for s in fourth)


def test_scratch_image_with_a_static_binary(cli: Cli, tmp_path: Path) -> None:
    ctx = tmp_path / "scratch"
    ctx.mkdir()
    (ctx / "busybox").write_bytes(Path("/bin/busybox").read_bytes())
    (ctx / "busybox").chmod(0o755)
    (ctx / "Dockerfile").write_text('FROM scratch\nCOPY busybox /bin/busybox\n'
                                    'ENTRYPOINT ["/bin/busybox"]\nCMD ["echo", "from scratch"]\n')
    cli("build", "-t", "tiny", str(ctx), check=True)
    assert cli("run", "--rm", "tiny", check=True).stdout == "from scratch\n"
    images = cli("images", check=True).stdout
    assert "tiny" in images and "latest" in images


BAD_DOCKERFILES = [
    ("unknown-instruction", "FROM busybox\nFORM x\n", "Dockerfile:2", "unknown instruction"),
    ("missing-from", "RUN true\n", "Dockerfile:1", "FROM"),
    ("unknown-base", "FROM nosuchbase:1\n", "Dockerfile:1", "nosuchbase"),
    ("copy-parent", "FROM busybox\nCOPY ../x /x\n", "Dockerfile:2", "outside the build context"),
    ("copy-absolute", "FROM busybox\nCOPY /etc/passwd /x\n", "Dockerfile:2",
     "outside the build context"),
    ("copy-symlink-out", "FROM busybox\nCOPY link /x\n", "Dockerfile:2",
     "outside the build context"),
    ("copy-missing", "FROM busybox\nCOPY nope /x\n", "Dockerfile:2", "file not found"),
    ("run-fails", "FROM busybox\nRUN echo step; exit 7\n", "Dockerfile:2", "exit code: 7"),
]


@pytest.mark.parametrize("text, where, what", [c[1:] for c in BAD_DOCKERFILES],
                         ids=[c[0] for c in BAD_DOCKERFILES])
def test_bad_dockerfiles(cli: Cli, tmp_path: Path, text: str, where: str, what: str) -> None:
    ctx = tmp_path / "bad"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(text)
    (ctx / "link").symlink_to("/etc/passwd")
    cli("run", "--rm", "busybox", "true", check=True)
    before = cli.census()
    proc = cli("build", "-t", "bad:1", str(ctx))
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("isobench:")]
    assert len(errors) == 1 and where in errors[0] and what in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert cli("inspect", "bad:1").returncode == 1  # nothing tagged
    assert cli.census() - before == Leftovers(0, 0, 0, 0)
    assert not list((cli.root / "layers").glob(".staging-*"))


def test_interrupted_build_tags_nothing_and_is_not_trusted(cli: Cli, tmp_path: Path) -> None:
    ctx = tmp_path / "slow"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN sleep 2 && echo done > /marker\n")
    proc = cli.popen("build", "-t", "slow:1", str(ctx))
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(2.5)  # the RUN container's monitor finishes on its own
    assert cli("inspect", "slow:1").returncode == 1
    again = cli("build", "-t", "slow:1", str(ctx), check=True).stderr
    assert "#2 [2/2] RUN" in again and "CACHED" not in again
    assert cli("run", "--rm", "slow:1", "cat", "/marker", check=True).stdout == "done\n"


def test_rmi_refuses_an_image_in_use(cli: Cli, tmp_path: Path) -> None:
    ctx = tmp_path / "small"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo x > /x\n")
    cli("build", "-t", "small", str(ctx), check=True)
    cli("run", "--name", "user1", "small", "true", check=True)
    refused = cli("rmi", "small")
    assert refused.returncode == 1 and "is using its referenced image" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    cli("rm", "user1", check=True)
    removed = cli("rmi", "small", check=True).stdout
    assert "Deleted: sha256:" in removed
    assert cli("inspect", "small").returncode == 1


PROGRESS_DOCKERFILE = ("FROM busybox\n"
                       "RUN echo to-stdout; echo to-stderr >&2; printf 'x\\rlast\\n'\n"
                       "COPY Dockerfile /copied\n")


def test_build_progress_plain_is_buildkit_shaped(cli: Cli, tmp_path: Path) -> None:
    ctx = tmp_path / "progress"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(PROGRESS_DOCKERFILE)
    proc = cli("build", "--progress", "plain", "-t", "prog:1", str(ctx), check=True)
    assert proc.stdout == ""  # progress is stderr's business, as BuildKit's
    assert "\x1b" not in proc.stderr  # CI logs stay readable
    lines = proc.stderr.splitlines()
    run = "#2 [2/3] RUN /bin/sh -c echo to-stdout; echo to-stderr >&2; printf 'x\\rlast\\n'"
    assert lines[0] == "#1 [1/3] FROM busybox" and lines[3] == run, lines
    assert re.fullmatch(r"#1 DONE \d+\.\ds", lines[1]), lines  # busybox made on first use
    body = lines[4:lines.index("", 4)]
    # the RUN's output, #2-prefixed and timed (its two streams, in whichever order they came)
    assert all(re.match(r"#2 \d+\.\d{3} ", line) for line in body[:-1]), body
    assert sorted(line.split(" ", 2)[2] for line in body[:-1]) == [
        "last", "to-stderr", "to-stdout"], body
    assert re.fullmatch(r"#2 DONE \d+\.\ds", body[-1]), body
    image_id = json.loads(cli("inspect", "prog:1", check=True).stdout)[0]["Id"]
    assert lines[-4:] == ["#4 exporting to image", f"#4 writing image {image_id} done",
                          "#4 naming to prog:1 done", "#4 DONE 0.0s"]
    again = cli("build", "--progress", "plain", "-t", "prog:1", str(ctx), check=True).stderr
    assert "#2 CACHED" in again and not re.search(r"^#2 \d", again, re.M)  # nothing ran
    assert plain_steps(again) == ["[1/3] FROM busybox", run[3:] + " CACHED",
                                  "[3/3] COPY Dockerfile /copied CACHED"]
    quiet = cli("build", "-q", "-t", "prog:1", str(ctx), check=True)
    assert (quiet.stdout, quiet.stderr) == (f"{image_id}\n", "")


def test_build_progress_plain_shows_the_failed_steps_output_and_error(cli: Cli,
                                                                      tmp_path: Path) -> None:
    ctx = tmp_path / "fails"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo about to fail; exit 7\n")
    proc = cli("build", "--progress", "plain", str(ctx))
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert re.fullmatch(r"#2 \d+\.\d{3} about to fail", lines[4]), lines
    assert re.fullmatch(r"#2 ERROR: \S*Dockerfile:2: process .* exit code: 7", lines[5]), lines
    assert lines[-1] == "isobench: " + lines[5].removeprefix("#2 ERROR: ")


def test_copy_follows_the_images_symlinks_in_its_destination(cli: Cli, tmp_path: Path) -> None:
    """Docker's COPY resolves the destination's directories inside the image's root
    (moby#18501): on a base whose /lib links to usr/lib (Debian 12), COPY x /lib/modules/
    lands in /usr/lib/modules and the link stays a link, instead of a new /lib directory
    shadowing it and every program that needs /lib's loader."""
    ctx = tmp_path / "links"
    ctx.mkdir()
    (ctx / "f.txt").write_text("through the link\n")
    (ctx / "Dockerfile").write_text(
        "FROM busybox\n"
        "RUN mkdir -p /usr/real && ln -s usr/real /linked\n"
        "COPY f.txt /linked/sub/f.txt\n"
        "COPY f.txt /linked/\n")
    cli("build", "-t", "links", str(ctx), check=True)
    out = cli("run", "--rm", "links", "sh", "-c",
              "readlink /linked; cat /usr/real/sub/f.txt /usr/real/f.txt", check=True).stdout
    assert out == "usr/real\nthrough the link\nthrough the link\n"
