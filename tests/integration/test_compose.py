"""`isobench compose` against the real kernel: two services on a project network sharing a
named volume, found by service name; `down -v` and a failed `up` leave nothing behind."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from tests.integration.conftest import Cli, Leftovers

pytestmark = pytest.mark.root

NOTHING = Leftovers(0, 0, 0, 0)

# web serves ./site (a bind relative to the file) on the project network; client fetches
# it by the service name, prints it, and keeps a copy in the named volume.
TWO_SERVICES = """\
    name: shop
    services:
      client:
        image: busybox
        depends_on:
          web:
            condition: service_started
        networks: [back]
        volumes: [fetched:/out]
        environment:
          URL: http://web:8080/index.html
        command:
          - sh
          - -c
          - >-
            for i in $$(seq 50); do wget -qO /out/page.html "$$URL" && break; sleep 0.1; done;
            cat /out/page.html
      web:
        image: busybox
        command: httpd -f -p 8080 -h /www
        networks: [back]
        volumes: [./site:/www:ro]
    volumes:
      fetched:
    networks:
      back:
        ipam:
          config: [{subnet: 10.213.47.0/24}]
    """


def write_project(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "compose.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def wait_exited(cli: Cli, compose: str, name: str, timeout: float = 20) -> str:
    """Polls `compose ps -a` until the container has exited; returns the last listing."""
    deadline = time.monotonic() + timeout
    while True:
        listing = cli("compose", "-f", compose, "ps", "-a", check=True).stdout
        line = next((ln for ln in listing.splitlines() if ln.startswith(name + " ")), "")
        if "Exited" in line or time.monotonic() > deadline:
            return listing
        time.sleep(0.2)


def row(listing: str, name: str) -> list[str]:
    line = next(ln for ln in listing.splitlines() if ln.startswith(name + " "))
    return [cell.strip() for cell in line.split("   ") if cell.strip()]


def test_two_services_by_name_over_a_network_and_a_volume(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("served-by-web\n")
    compose = str(write_project(tmp_path, TWO_SERVICES))
    before = cli.census()

    up = cli("compose", "-f", compose, "up", "-d", check=True)
    assert up.stdout == ""
    listing = wait_exited(cli, compose, "shop-client-1")
    assert row(listing, "shop-client-1")[:3] == ["shop-client-1", "busybox", "client"]
    assert row(listing, "shop-client-1")[3].startswith("Exited (0)"), listing
    assert row(listing, "shop-web-1")[:3] == ["shop-web-1", "busybox", "web"]
    assert row(listing, "shop-web-1")[3].startswith("Up"), listing
    running = cli.census() - before  # web runs; client's endpoint went with it
    assert (running.bridges, running.veths, running.netns, running.volumes) == (1, 1, 1, 1)

    logs = cli("compose", "-f", compose, "logs", check=True).stdout
    assert "client-1  | served-by-web\n" in logs
    volume = json.loads(cli("volume", "inspect", "shop_fetched", check=True).stdout)[0]
    assert volume["labels"]["com.docker.compose.project"] == "shop"
    assert (Path(volume["mountpoint"]) / "page.html").read_text() == "served-by-web\n"

    cli("compose", "-f", compose, "down", "-v", "-t", "1", check=True)
    assert cli("compose", "-p", "shop", "ps", "-a", check=True).stdout.splitlines() == [
        "NAME   IMAGE   SERVICE   STATUS   PORTS"]
    assert cli.census() - before == NOTHING


def test_up_attached_prints_prefixed_logs_until_all_exit(cli: Cli, tmp_path: Path) -> None:
    compose = str(write_project(tmp_path, """\
        services:
          one:
            image: busybox
            command: sh -c 'echo first; sleep 0.3; echo "$$GREETING" >&2'
            environment: [GREETING=hi-from-one]
          two-longer:
            image: busybox
            depends_on: [one]
            command: [echo, second]
        """))
    before = cli.census()
    up = cli("compose", "-f", compose, "-p", "att", "up", check=True)
    assert "one-1         | first\n" in up.stdout
    assert "two-longer-1  | second\n" in up.stdout
    assert "one-1         | hi-from-one\n" in up.stderr
    assert "one-1 exited with code 0\n" in up.stdout
    assert "two-longer-1 exited with code 0\n" in up.stdout
    cli("compose", "-p", "att", "down", check=True)  # by label: no file needed
    assert cli.census() - before == NOTHING


FAILING = {
    "missing-image": ("image: nosuchimage", "command: ['true']",
                      "service \"bad\": Unable to find image 'nosuchimage:latest' locally"),
    "missing-command": ("image: busybox", "command: [/nonexistent]",
                        'exec: "/nonexistent": stat /nonexistent: no such file or directory'),
}


@pytest.mark.parametrize("case", FAILING)
def test_failed_up_leaves_nothing(cli: Cli, tmp_path: Path, case: str) -> None:
    image, command, message = FAILING[case]
    compose = str(write_project(tmp_path, f"""\
        services:
          web:
            image: busybox
            command: sleep 300
            volumes: [data:/data]
          bad:
            {image}
            {command}
            depends_on: [web]
            volumes: [data:/data]
        volumes:
          data:
        """))
    before = cli.census()
    proc = cli("compose", "-f", compose, "-p", "broken", "up", "-d")
    assert proc.returncode == 1
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("isobench:")]
    assert errors == [f"isobench: {message}"], proc.stderr
    assert cli.census() - before == NOTHING
    assert "broken_" not in cli("network", "ls", check=True).stdout


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("services:\n  a: {image: busybox, depends_on: [b]}\n"
                 "  b: {image: busybox, depends_on: [a]}\n",
                 "dependency cycle detected: a -> b -> a", id="cycle"),
    pytest.param("services:\n  web: {image: busybox, depends_on: [db]}\n",
                 'service "web" depends on undefined service "db"', id="unknown-dependency"),
    pytest.param("services:\n  x:\n    command: [sh]\n",
                 'service "x" has neither an image nor a build context specified',
                 id="no-image-no-build"),
    pytest.param("services:\n  web:\n    image: busybox\n    bogus: 1\n",
                 "unknown key 'bogus' in service \"web\"", id="unknown-key"),
    pytest.param("services:\n  web:\n    image: busybox\n   command: [sh]\n", "{file}:4: ",
                 id="yaml-error"),
])
def test_bad_compose_files_are_one_line_and_create_nothing(cli: Cli, tmp_path: Path, text: str,
                                                           message: str) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    before = cli.census()
    proc = cli("compose", "-f", str(path), "up", "-d")
    assert proc.returncode == 1
    assert proc.stderr.startswith("isobench: " + message.format(file=path)), proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert cli.census() - before == NOTHING
