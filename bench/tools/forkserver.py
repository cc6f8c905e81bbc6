"""Measures the prototype isobench/forkserver.py, the Docker model for the CLI: a resident
server has imported the runtime once; each `run` request from a tiny client
(bench/tools/forkclient.py) is served by a fork of the warm server.

    .venv/bin/python -m bench.tools.forkserver --runs 30 --warmup 3 --seed 18

Methods, interleaved and shuffled per round as bench.tools.startup does (its Session):
  runc     runc run (the reference)
  cli      isobench run --rm --network none busybox true (the console script)
  served   python -I -S forkclient.py SOCK run --rm --network none busybox true
           (a server that has imported what `run` needs and built its parser)
  served-warm  the same, to a server that has also run one such container itself before
           listening (what a first run fills in: caches, lazily built state, page faults)
  served-c the same request from forkclient.c (compiled with cc into the temp dir: the
           client without an interpreter's start)
  served-prefork, served-c-prefork  the same to a server that keeps one spare child,
           forked and its pages touched before the request (`--prefork`)
  ping     the same client, argv `__ping__`: the server's child answers 0 at once
           (client start + connect + fork + reply: what the model adds to the API start)
  floor    python -I -S -c pass (the client's interpreter start alone)

The server runs as `python -m isobench.forkserver` (bench may not import the CLI).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.tools import startup

CLIENT = Path(__file__).with_name("forkclient.py")
METHODS = ("runc", "cli", "served", "served-warm", "served-c", "served-prefork",
           "served-c-prefork", "ping", "floor")
WARM_RUN = ["run", "--rm", "--network", "none", "busybox", "true"]
PING = "__ping__"  # = isobench.forkserver.PING


class ServedSession(startup.Session):
    """startup's Session (root, runc bundle, cleanup) plus the server and its client."""

    def __init__(self, methods: Sequence[str]) -> None:
        super().__init__([m if m != "served" else "cli" for m in methods])
        self.methods = list(methods)
        self.sock = str(self.tmp / "server.sock")
        self.warm_sock = str(self.tmp / "server-warm.sock")
        self.prefork_sock = str(self.tmp / "server-prefork.sock")
        self.servers: list[subprocess.Popen[bytes]] = []

    def setup(self) -> None:
        super().setup()
        for sock, extra in ((self.sock, []), (self.warm_sock, ["--warm-run"]),
                            (self.prefork_sock, ["--prefork"])):
            # its own process group: cleanup kills the server and its spare child together
            server = subprocess.Popen([sys.executable, "-m", "isobench.forkserver", sock,
                                       *extra], env=self.env, start_new_session=True,
                                      cwd=Path(__file__).parents[2])
            self.servers.append(server)
            deadline = time.monotonic() + 30
            while not os.path.exists(sock):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise startup.BenchError("the fork server did not start")
                time.sleep(0.01)
        self.settle()  # the warm-up run's teardown
        if {"served-c", "served-c-prefork"} & set(self.methods):
            self.c_client = str(self.tmp / "forkclient")
            startup._run_quiet(["cc", "-O2", "-o", self.c_client, str(CLIENT.with_suffix(".c"))],
                               "compiling forkclient.c")

    def _client(self, *argv: str, sock: str = "") -> None:
        startup._run_quiet([sys.executable, "-I", "-S", str(CLIENT), sock or self.sock, *argv],
                           "served", env=self.env)

    def run_served(self) -> None:
        self._client(*WARM_RUN)

    def run_served_c(self) -> None:
        startup._run_quiet([self.c_client, self.sock, *WARM_RUN], "served-c", env=self.env)

    def run_served_c_prefork(self) -> None:
        startup._run_quiet([self.c_client, self.prefork_sock, *WARM_RUN], "served-c-prefork",
                           env=self.env)

    def run_served_prefork(self) -> None:
        self._client(*WARM_RUN, sock=self.prefork_sock)

    def run_served_warm(self) -> None:
        self._client(*WARM_RUN, sock=self.warm_sock)

    def run_ping(self) -> None:
        self._client(PING)

    def run_floor(self) -> None:
        startup._run_quiet([sys.executable, "-I", "-S", "-c", "pass"], "floor")

    def server_memory(self, server: subprocess.Popen[bytes]) -> dict[str, float]:
        """A resident server's cost with its idle children (a prefork server's spare):
        RSS, PSS and private dirty in MiB (smaps_rollup), summed."""
        out = {"processes": 0.0, "rss_mib": 0.0, "pss_mib": 0.0, "private_dirty_mib": 0.0}
        with open(f"/proc/{server.pid}/task/{server.pid}/children") as f:
            pids = [server.pid, *(int(p) for p in f.read().split())]
        for pid in pids:
            out["processes"] += 1
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    key, _, rest = line.partition(":")
                    if key in ("Rss", "Pss", "Private_Dirty"):
                        out[key.lower() + "_mib"] += int(rest.split()[0]) / 1024
        return out

    def cleanup(self) -> None:
        for server in self.servers:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        super().cleanup()


def bench(runs: int, warmup: int, seed: int, methods: Sequence[str]) -> int:
    schedule = startup.make_schedule(methods, warmup + runs, seed)
    load = os.getloadavg()[0]
    session = ServedSession(methods)
    try:
        session.setup()
        times, _ = startup.measure(session, schedule, warmup, progress=False)
        memory = [session.server_memory(s) for s in session.servers]
        errors, _ = session.leftovers()
    finally:
        session.cleanup()
    summary = {m: startup.summarize(times[m]) for m in methods}
    print(f"fork-server prototype, busybox /bin/true --network none: {runs} rounds after "
          f"{warmup} warm-up, shuffled (seed {seed}); load {load:.2f} -> "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(startup.format_table(summary))
    for num in METHODS[1:-1]:
        if num in summary and "runc" in summary:
            paired = startup.median([a / b for a, b in zip(times[num], times["runc"],
                                                           strict=False)])
            print(f"{num}/runc = {summary[num]['median_ms'] / summary['runc']['median_ms']:.2f}"
                  f"   paired per round: {paired:.2f}")
    for name, mem in zip(("server", "warm server", "prefork server"), memory, strict=True):
        print(f"{name} (idle, after the session): "
              + ", ".join(f"{k} {v:.1f}" for k, v in mem.items()))
    print(f"reproduce: .venv/bin/python -m bench.tools.forkserver --runs {runs} --warmup "
          f"{warmup} --seed {seed} --methods {','.join(methods)}")
    for e in errors:
        print(f"LEFTOVER: {e}", file=sys.stderr)
    return 1 if errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.tools.forkserver")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    if not set(methods) <= set(METHODS) or args.runs < 1 or args.warmup < 0:
        parser.error(f"methods from {','.join(METHODS)}; --runs >= 1, --warmup >= 0")
    return bench(args.runs, args.warmup, args.seed, methods)


if __name__ == "__main__":
    sys.exit(main())
