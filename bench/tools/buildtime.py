"""Build times: cold (every step executed) against fully cached, through the CLI.

    .venv/bin/python -m bench.tools.buildtime --runs 5      (in the checkout's root)

Two Dockerfiles: five instructions on busybox, and Debian with one package. "cold" is
`isobench build --no-cache` (the base image already in the store: for Debian the
debootstrap is per host and not part of a build); "cached" is the same build again with
nothing changed, which must be all CACHED (checked). Cold and cached builds alternate, so
drift hits both alike. Everything lives in a temporary ISOBENCH_ROOT removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.tools import reproduce_command
from results.stats import iqr, median

ISOBENCH = str(Path(sys.executable).with_name("isobench"))

DOCKERFILES = {
    "busybox-5": ("FROM busybox\nENV GREETING=hello\nWORKDIR /app\nCOPY app.txt ./\n"
                  'RUN echo "$GREETING" > built.txt\nCMD ["cat", "built.txt"]\n'),
    "debian-1pkg": ("FROM debian:bookworm\nRUN apt-get update -qq && apt-get install -y -qq "
                    "--no-install-recommends sysbench && rm -rf /var/lib/apt/lists/*\n"),
}


def plain_steps(text: str) -> list[str]:
    """`[i/n] TEXT`, with ` CACHED` for a cache hit, of each step `build --progress plain`
    showed (BuildKit's `#N [i/n] TEXT`, then `#N CACHED` for a hit)."""
    steps: dict[str, str] = {}
    for line in text.splitlines():
        number, _, rest = line.partition(" ")
        if rest.startswith("[") and number.startswith("#"):
            steps[number] = rest
        elif rest == "CACHED" and number in steps:
            steps[number] += " CACHED"
    return list(steps.values())


def _build(env: dict[str, str], ctx: Path, tag: str, no_cache: bool) -> tuple[float, str]:
    argv = [ISOBENCH, "build", "--progress", "plain", "-t", tag,
            *(["--no-cache"] if no_cache else []), str(ctx)]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"build {tag} failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
    return elapsed, proc.stderr


def measure(names: Sequence[str], runs: int) -> dict[str, dict[str, list[float]]]:
    root = Path(tempfile.mkdtemp(prefix="isobench-buildtime-"))
    env = {**os.environ, "ISOBENCH_ROOT": str(root / "state")}
    results: dict[str, dict[str, list[float]]] = {}
    try:
        for name in names:
            ctx = root / name
            ctx.mkdir()
            (ctx / "Dockerfile").write_text(DOCKERFILES[name])
            (ctx / "app.txt").write_text("app\n")
            _build(env, ctx, name, no_cache=False)  # warm-up: bases in the store, page cache
            cold, cached = [], []
            for _ in range(runs):
                cold.append(_build(env, ctx, name, no_cache=True)[0])
                seconds, out = _build(env, ctx, name, no_cache=False)
                steps = plain_steps(out)
                if not all(line.endswith("CACHED") for line in steps[1:]):
                    raise SystemExit(f"{name}: a rebuild with nothing changed was not all cached")
                cached.append(seconds)
            results[name] = {"cold": cold, "cached": cached}
    finally:
        subprocess.run([ISOBENCH, "rm", "-f", *subprocess.run(
            [ISOBENCH, "ps", "-aq"], env=env, capture_output=True, text=True).stdout.split()],
            env=env, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tools.buildtime",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--images", default=",".join(DOCKERFILES))
    args = parser.parse_args(argv)
    names = [n for n in args.images.split(",") if n]
    unknown = set(names) - set(DOCKERFILES)
    if unknown:
        parser.error(f"unknown image(s): {', '.join(sorted(unknown))}")
    results = measure(names, args.runs)
    print(f"{'image':<12} {'kind':<7} {'n':>3} {'median s':>9} {'IQR s':>7}")
    for name, kinds in results.items():
        for kind, values in kinds.items():
            print(f"{name:<12} {kind:<7} {len(values):>3} {median(values):>9.3f} "
                  f"{iqr(values):>7.3f}")
    print("goal: cached rebuild <= 0.5 s")
    print("reproduce: " + reproduce_command("buildtime", "--runs", str(args.runs),
                                            "--images", ",".join(names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
