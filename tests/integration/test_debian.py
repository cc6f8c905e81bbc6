"""`FROM debian:bookworm`: debootstrap once per host, then every build and store reuses it.

Needs Debian's package mirror (a package registry these machines reach) on the first run
on a host; later runs reuse the host cache.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from runtime.image.debian import host_cache
from tests.integration.conftest import Cli, teardown

pytestmark = pytest.mark.root


def test_debian_with_a_package_then_another_store_reuses_the_base(cli: Cli,
                                                                  tmp_path: Path) -> None:
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed (make setup installs it)")
    ctx = tmp_path / "sysbench"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM debian:bookworm\n"
        "RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends sysbench "
        "&& rm -rf /var/lib/apt/lists/*\n")
    proc = cli("build", "-t", "deb-sysbench", str(ctx), timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = cli("run", "--rm", "deb-sysbench", "sysbench", "--version", check=True).stdout
    assert out.startswith("sysbench 1.")
    kernel = cli("run", "--rm", "deb-sysbench", "cat", "/etc/debian_version", check=True).stdout
    assert kernel.startswith("12.")

    marker = host_cache() / "debootstrap" / "bookworm" / "digest"
    stamp = marker.stat().st_mtime_ns
    other = Cli(Path(tempfile.mkdtemp(prefix="isobench-test-")))
    try:
        ctx2 = tmp_path / "other"
        ctx2.mkdir()
        (ctx2 / "Dockerfile").write_text("FROM debian:bookworm\nRUN echo hi > /hi\n")
        second = other("build", "-t", "deb-other", str(ctx2), timeout=300)
        assert second.returncode == 0, second.stderr
        assert "debootstrap" not in second.stderr  # the host's base was reused, not remade
        assert marker.stat().st_mtime_ns == stamp
        assert other("run", "--rm", "deb-other", "cat", "/hi", check=True).stdout == "hi\n"
    finally:
        teardown(other)
