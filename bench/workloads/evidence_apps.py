"""evidence for the lecture's claims about applications, driven through the `isobench` CLI as
a user would: networks join containers and `-p` opens a port (claim 11); a compose file
brings a two-service app up, and `down` takes all of it away (claim 12).

Each check is a yes/no observed through the real runtime: a client container fetches a
token from a server container by its name; the host fetches it from the published port on
loopback; after `compose down` the project's containers and network are gone."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench.model import RunRecord, Session, Variant
from bench.workloads.common import BUSYBOX, ISOBENCH, cli_env
from results.metrics import named
from runtime.compose.project import LABEL_PROJECT

APP_VARIANTS = (
    Variant("evidence.network", metrics=named("reached_by_name", "published_port_answered")),
    Variant("evidence.compose", metrics=named("reached_by_name", "published_port_answered",
                                              "down_removed_all")),
)
READY_S = 10.0
CLI_TIMEOUT_S = 120


def _serve(token: str) -> list[str]:
    """busybox httpd serving one page that holds the token."""
    return ["sh", "-c", f"mkdir -p /www && echo {token} > /www/index.html && "
                        "exec httpd -f -p 80 -h /www"]


def _cli(session: Session, *args: str, check: bool = True) -> str:
    proc = subprocess.run([ISOBENCH, *args], env=cli_env(session.rt), capture_output=True,
                          text=True, timeout=CLI_TIMEOUT_S)
    if check and proc.returncode != 0:
        raise RuntimeError(f"isobench {' '.join(args[:2])} exited {proc.returncode}: "
                           f"{proc.stderr.strip()[:200]}")
    return proc.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fetch(url: str, token: str, within: float = READY_S) -> bool:
    """Whether `url` serves the token before `within` runs out (the server may still be
    starting: retried, not judged on the first refusal)."""
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback only
                return token in r.read().decode(errors="replace")
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)


def _by_name(session: Session, *exec_or_run: str, url: str, token: str) -> bool:
    """A client container's `wget` of `url`, retried while the server starts."""
    deadline = time.monotonic() + READY_S
    while True:
        out = _cli(session, *exec_or_run, "wget", "-q", "-O-", url, check=False)
        if token in out or time.monotonic() > deadline:
            return token in out
        time.sleep(0.3)


def _network(session: Session, target: str, rec: RunRecord) -> None:
    """Claim 11: two containers on a user network, one reaching the other by name; the
    server's port published on the host's loopback."""
    suffix, token, port = secrets.token_hex(4), secrets.token_hex(8), _free_port()
    net, server = f"isobench-evidence-{suffix}", f"isobench-evidence-web-{suffix}"
    _cli(session, "network", "create", net)
    try:
        _cli(session, "run", "-d", "--name", server, "--network", net,
             "-p", f"127.0.0.1:{port}:80", BUSYBOX, *_serve(token))
        try:
            by_name = _by_name(session, "run", "--rm", "--network", net, BUSYBOX,
                               url=f"http://{server}/", token=token)
            published = _fetch(f"http://127.0.0.1:{port}/", token)
        finally:
            _cli(session, "rm", "-f", server, check=False)
    finally:
        _cli(session, "network", "rm", net, check=False)
    rec.metrics = {"reached_by_name": float(by_name), "published_port_answered": float(published)}
    rec.extra = {"network": net, "server": server, "published": f"127.0.0.1:{port}->80/tcp"}


# init: true, so `down`'s SIGTERM reaches the commands (a shell or sleep as PID 1 ignores it
# and `down` would wait out the 10 s stop timeout for each)
COMPOSE_FILE = """\
services:
  web:
    image: busybox
    init: true
    command: {serve}
    ports: ["127.0.0.1:{port}:80"]
  client:
    image: busybox
    init: true
    command: ["sleep", "120"]
"""


def _compose(session: Session, target: str, rec: RunRecord) -> None:
    """Claim 12: one YAML file describes the app; up starts both services on the project's
    network, they reach each other by service name, the port answers; down removes it all."""
    project, token, port = f"evidence{secrets.token_hex(4)}", secrets.token_hex(8), _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="isobench-evidence-compose-"))
    compose_file = workdir / "compose.yaml"
    compose_file.write_text(COMPOSE_FILE.format(serve=_serve(token), port=port))
    base = ("compose", "-f", str(compose_file), "-p", project)
    try:
        _cli(session, *base, "up", "-d")
        try:
            by_name = _by_name(session, "exec", f"{project}-client-1",
                               url="http://web/", token=token)
            published = _fetch(f"http://127.0.0.1:{port}/", token)
        finally:
            _cli(session, *base, "down")
        left = _project_leftovers(session, project)
    finally:
        _cli(session, *base, "down", check=False)
        shutil.rmtree(workdir, ignore_errors=True)
    rec.metrics = {"reached_by_name": float(by_name), "published_port_answered": float(published),
                   "down_removed_all": float(not left)}
    rec.extra = {"project": project, "services": ["web", "client"], "left_after_down": left}


def _project_leftovers(session: Session, project: str) -> list[str]:
    """The project's containers (by Compose's project label) and networks (named after the
    project) still in the runtime's state after `down`."""
    rt = session.rt
    containers = [c.name for c in rt.list(all_=True)
                  if c.config.labels.get(LABEL_PROJECT) == project]
    networks = [n.name for n in rt.networks.list() if n.name.startswith(f"{project}_")]
    return containers + networks


APP_COLLECTORS: dict[str, Callable[[Session, str, RunRecord], None]] = {
    "evidence.network": _network, "evidence.compose": _compose}
