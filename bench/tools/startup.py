"""Container start-up latency: isobench (API and CLI) against runc and the machine's floors.

    .venv/bin/python -m bench.tools.startup --runs 30      (in the checkout's root)

Each method starts a busybox `/bin/true` and waits for it; the wall time of each run
(time.perf_counter_ns) is recorded. All methods run interleaved in one session: every
round runs each selected method once, in an order shuffled per round (seeded, so a run
can be repeated exactly), so that drift (page cache, thermal, other load) hits all alike.
The first --warmup rounds are discarded.

Methods:
  api      Runtime(root).run(ContainerSpec("busybox", ["/bin/true"], network="none",
           auto_remove=True), exit_first=True),
           in-process (--network none: a fresh netns with only lo, as runc's default spec
           gives; a bridge adds a veth pair and a netns that the kernel tears down slowly).
           Back at the exit, as the CLI's `run --rm` is: the monitor's teardown follows,
           untimed (the next run waits for it); `runc run` deletes its container before it
           returns, inside its time
  api-wait the same, exit_first=False: back once the teardown is done as well
  runc     runc --root STATE run --bundle B ID (same busybox layer, copied; same namespaces)
  cli      isobench run --rm --network none busybox true  (ISOBENCH_ROOT = the same root),
           served by the `isobench daemon` this session starts for that root (Docker's
           model: `docker run` is served by dockerd); the client is the console script
  cli-bridge  isobench run --rm busybox true, served  (the default bridge: netns, veth,
           bridge port; touches host-wide state, so run the tool under the integration lock:
           flock /tmp/isobench-integration.lock python -m bench.tools.startup ...)
  cli-direct, cli-bridge-direct  the same with ISOBENCH_DAEMON=0: the CLI imports and runs
           everything itself (what it costs without a daemon)
  python   sys.executable -c pass          (the floor of any Python CLI)
  imports  sys.executable -c 'import isobench.cli, isobench.commands.containers' (the floor
           plus what `isobench run` imports: cli minus imports is parsing and the start)
  unshare  unshare --pid --fork --mount --uts --ipc --net chroot ROOTFS /bin/true

cli and python read bytecode compiled once, before timing, into the temp dir
(PYTHONPYCACHEPREFIX, PYTHONDONTWRITEBYTECODE unset), as an installed CLI would.

Needs root. Everything lives in one temporary directory removed at the end (even on
Ctrl-C); afterwards no isobench cgroup of the containers run and no runc state may remain.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from bench import tools
from results.stats import iqr, median
from runtime.fsutil import atomic_write

METHODS = ("api", "api-wait", "runc", "cli", "cli-bridge", "cli-direct", "cli-bridge-direct",
           "python", "imports", "unshare")
SERVED_METHODS = {"cli", "cli-bridge"}  # these need the session's daemon
CLI_METHODS = SERVED_METHODS | {"cli-direct", "cli-bridge-direct"}
# the default: no host-wide bridge state
DEFAULT_METHODS = ("api", "api-wait", "runc", "cli", "cli-direct", "python", "unshare")
# (numerator, denominator, goal): the numerator's median over the denominator's (issue 18).
RATIOS = (("api", "runc", 0.5), ("cli", "runc", 2.0), ("cli-bridge", "runc", 3.0),
          ("api-wait", "runc", None), ("cli-direct", "runc", None),
          ("cli-bridge-direct", "runc", None),
          ("cli", "python", None))
CGROUP_ROOT = "/sys/fs/cgroup"
RUN_IMPORTS = "import isobench.cli, isobench.commands.containers"  # what `isobench run` loads
RUNC = "/usr/sbin/runc"
NS_PER_MS = 1_000_000


class BenchError(RuntimeError):
    """A method failed (non-zero exit, exception) or the session left something behind."""


# ---------------------------------------------------------------- pure helpers (unit-tested)

def summarize(values_ns: Sequence[int]) -> dict[str, float]:
    """n, median, IQR and min of per-run times given in ns, reported in ms."""
    ms = [v / NS_PER_MS for v in values_ns]
    return {"n": len(ms), "median_ms": median(ms), "iqr_ms": iqr(ms), "min_ms": min(ms)}


def ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def format_ratio(name: str, value: float | None, goal: float | None = None) -> str:
    """e.g. 'api/runc = 2.13  (goal <= 1.00: MISSED)'."""
    text = f"{name} = {'n/a' if value is None else f'{value:.2f}'}"
    if goal is not None:
        verdict = "n/a" if value is None else ("met" if value <= goal else "MISSED")
        text += f"  (goal <= {goal:.2f}: {verdict})"
    return text


def make_schedule(methods: Sequence[str], rounds: int, seed: int) -> list[list[str]]:
    """`rounds` rounds, each every method once, in an order shuffled per round."""
    if rounds < 0:
        raise ValueError("rounds must be >= 0")
    rng = random.Random(seed)
    schedule = []
    for _ in range(rounds):
        order = list(methods)
        rng.shuffle(order)
        schedule.append(order)
    return schedule


def parse_methods(text: str) -> list[str]:
    """'api,runc' -> ['api', 'runc'] (order kept, duplicates dropped, names checked)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(METHODS)}")
    if not names:
        raise ValueError("no method selected")
    return list(dict.fromkeys(names))


def format_table(summary: dict[str, dict[str, float]]) -> str:
    lines = [f"{'method':<10} {'n':>4} {'median ms':>10} {'IQR ms':>8} {'min ms':>8}"]
    for name, s in summary.items():
        lines.append(f"{name:<10} {int(s['n']):>4} {s['median_ms']:>10.2f} {s['iqr_ms']:>8.2f} "
                     f"{s['min_ms']:>8.2f}")
    return "\n".join(lines)


def compute_ratios(summary: dict[str, dict[str, float]]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for num, den, _ in RATIOS:
        if num in summary and den in summary:
            out[f"{num}/{den}"] = ratio(summary[num]["median_ms"], summary[den]["median_ms"])
    return out


def paired_ratios(times: dict[str, list[int]]) -> dict[str, float]:
    """Per RATIOS pair: the median over rounds of that round's ratio (both methods ran in
    the same round, seconds apart: drift and load hit both)."""
    out = {}
    for num, den, _ in RATIOS:
        pairs = [a / b for a, b in zip(times.get(num, []), times.get(den, []), strict=False)
                 if b > 0]
        if pairs:
            out[f"{num}/{den}"] = median(pairs)
    return out


def reproduce_command(runs: int, warmup: int, methods: Sequence[str], seed: int,
                      json_path: str | None = None) -> str:
    """The command line that repeats this session, run in the checkout's root."""
    parts = ["--runs", str(runs), "--warmup", str(warmup), "--methods", ",".join(methods),
             "--seed", str(seed)]
    if json_path:
        parts += ["--json", json_path]
    return tools.reproduce_command("startup", *parts)


# ---------------------------------------------------------------- the session

def _run_quiet(argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=env)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise BenchError(f"{what}: `{shlex.join(argv)}` exited {proc.returncode}"
                         + (f": {err}" if err else ""))


def _isobench_cgroups(cid: str) -> list[str]:
    return glob.glob(os.path.join(CGROUP_ROOT, "*", "isobench", cid))


def _isobench_children() -> set[str]:
    """Container ids that have an isobench cgroup in some hierarchy."""
    return {os.path.basename(os.path.dirname(p))
            for p in glob.glob(os.path.join(CGROUP_ROOT, "*", "isobench", "*", ""))}


def _cgroup_empty(cid: str) -> bool:
    for path in _isobench_cgroups(cid):
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                if f.read().strip():
                    return False
        except OSError:
            pass  # removed meanwhile
    return True


class Session:
    """Owns the temp dir: the isobench root, the runc bundle and the runc state dir."""

    def __init__(self, methods: Sequence[str]) -> None:
        self.methods = list(methods)
        self.tmp = Path(tempfile.mkdtemp(prefix="isobench-startup-"))
        self.root = self.tmp / "root"
        self.bundle = self.tmp / "bundle"
        self.rootfs = self.bundle / "rootfs"
        self.runc_state = self.tmp / "runc-state"
        # Child Pythons read bytecode compiled once into the temp dir, as an installed CLI
        # does: without this, PYTHONDONTWRITEBYTECODE=1 (set on these machines) plus sources
        # edited since their .pyc was written make every launch recompile those modules.
        self.py_env = dict(os.environ, PYTHONPYCACHEPREFIX=str(self.tmp / "pycache"))
        self.py_env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env = dict(self.py_env, ISOBENCH_ROOT=str(self.root))
        self.direct_env = dict(self.env, ISOBENCH_DAEMON="0")
        self.isobench = str(Path(sys.executable).parent / "isobench")
        self.api_ids: list[str] = []
        self.runc_ids: list[str] = []
        self.cgroups_before = _isobench_children()
        self._seq = 0

    # ---- setup, once, outside timing ----
    def setup(self) -> None:
        from runtime.api import Runtime  # imported here: the pure helpers need no runtime
        from runtime.spec import ContainerSpec

        self.rt = Runtime(root=self.root)
        self.api_spec = ContainerSpec("busybox", ["/bin/true"], network="none",
                                      auto_remove=True)
        image = self.rt.image("busybox")
        layer = self.rt.images.lower_dirs(image)[0]
        if {"runc", "unshare"} & set(self.methods):
            self.bundle.mkdir()
            _run_quiet(["cp", "-a", layer, str(self.rootfs)], "copying the busybox layer")
            self._write_runc_config()
            self.runc_state.mkdir()
        if CLI_METHODS & set(self.methods) and not os.access(self.isobench, os.X_OK):
            raise BenchError(f"{self.isobench} not found (make venv)")
        if (CLI_METHODS | {"python", "imports"}) & set(self.methods):  # bytecode, once
            _run_quiet([sys.executable, "-c", RUN_IMPORTS], "compiling bytecode", env=self.py_env)
        if SERVED_METHODS & set(self.methods):
            self._start_daemon()
        if "runc" in self.methods and not os.access(RUNC, os.X_OK):
            raise BenchError(f"{RUNC} not found (apt-get install runc)")

    def _write_runc_config(self) -> None:
        _run_quiet([RUNC, "spec", "--bundle", str(self.bundle)], "runc spec")
        path = self.bundle / "config.json"
        spec = json.loads(path.read_text())
        spec["process"]["args"] = ["/bin/true"]
        spec["process"]["terminal"] = False
        spec["root"] = {"path": "rootfs", "readonly": False}
        namespaces = spec["linux"].setdefault("namespaces", [])
        if not any(ns.get("type") == "cgroup" for ns in namespaces):
            namespaces.append({"type": "cgroup"})  # isobench unshares its cgroup namespace too
        path.write_text(json.dumps(spec, indent=2))

    # ---- one run of each method; each raises BenchError unless it exited 0 ----
    def run_api(self, exit_first: bool = True) -> None:
        try:
            result = self.rt.run(self.api_spec, exit_first=exit_first)
        except Exception as e:  # noqa: BLE001 - reported as the method's failure
            raise BenchError(f"api: Runtime.run raised {type(e).__name__}: {e}") from e
        self.api_ids.append(result.container.id)
        if result.exit_code != 0:
            raise BenchError(f"api: container {result.container.short_id} exited "
                             f"{result.exit_code}")

    def run_api_wait(self) -> None:
        self.run_api(exit_first=False)

    def run_runc(self) -> None:
        self._seq += 1
        cid = f"isobench-startup-{os.getpid()}-{self._seq}"
        self.runc_ids.append(cid)
        _run_quiet([RUNC, "--root", str(self.runc_state), "run", "--bundle", str(self.bundle),
                    cid], "runc")

    def run_cli(self) -> None:
        _run_quiet([self.isobench, "run", "--rm", "--network", "none", "busybox", "true"], "cli",
                   env=self.env)

    def run_cli_bridge(self) -> None:
        _run_quiet([self.isobench, "run", "--rm", "busybox", "true"], "cli-bridge", env=self.env)

    def run_cli_direct(self) -> None:
        _run_quiet([self.isobench, "run", "--rm", "--network", "none", "busybox", "true"],
                   "cli-direct", env=self.direct_env)

    def run_cli_bridge_direct(self) -> None:
        _run_quiet([self.isobench, "run", "--rm", "busybox", "true"], "cli-bridge-direct",
                   env=self.direct_env)

    def _start_daemon(self) -> None:
        """`isobench daemon` for this root, until cleanup; its log beside the root."""
        log = open(self.tmp / "daemon.log", "wb")
        self.daemon = subprocess.Popen([self.isobench, "daemon"], env=self.env,
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 30
        while not (self.root / "daemon.sock").exists():
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                raise BenchError("isobench daemon did not start: "
                                 + (self.tmp / "daemon.log").read_text().strip())
            time.sleep(0.01)

    def _stop_daemon(self) -> None:
        daemon = getattr(self, "daemon", None)
        if daemon is not None and daemon.poll() is None:
            daemon.terminate()
            daemon.wait(timeout=30)

    def run_python(self) -> None:
        _run_quiet([sys.executable, "-c", "pass"], "python", env=self.py_env)

    def run_imports(self) -> None:
        _run_quiet([sys.executable, "-c", RUN_IMPORTS], "imports", env=self.py_env)

    def run_unshare(self) -> None:
        _run_quiet(["unshare", "--pid", "--fork", "--mount", "--uts", "--ipc", "--net",
                    "chroot", str(self.rootfs), "/bin/true"], "unshare")

    def settle(self, timeout_s: float = 20.0) -> None:
        """Until no record of this root is held: `run --rm` returns at the exit and its
        monitor tears down after it; the next run (and the leftovers check) must not overlap
        that teardown, which is not part of the time to the exit."""
        deadline = time.monotonic() + timeout_s
        # and until its renamed record (.removed-<id>, not listed by held()) is deleted: a
        # leftovers check right after a teardown saw one still being rmtree'd
        while ((self.rt.containers.held() or self.rt.containers.removed_leftovers())
               and time.monotonic() < deadline):
            time.sleep(0.005)

    def runner(self, method: str) -> Callable[[], None]:
        return getattr(self, f"run_{method.replace('-', '_')}")

    # ---- checks and cleanup ----
    def leftovers(self) -> tuple[list[str], list[str]]:
        """(errors, warnings): what the containers this session ran left behind."""
        self.settle()
        errors: list[str] = []
        for cid in self.api_ids:
            errors += [f"isobench cgroup left: {p}" for p in _isobench_cgroups(cid)]
        containers = self.root / "containers"
        if containers.is_dir():
            errors += [f"isobench container record left: {p}" for p in containers.iterdir()
                       if p.name != ".names"]
        for cid in self.runc_ids:
            errors += [f"runc cgroup left: {p}"
                       for p in glob.glob(os.path.join(CGROUP_ROOT, "*", cid))]
        if self.runc_state.is_dir():
            errors += [f"runc state left: {p}" for p in self.runc_state.iterdir()]
        # The CLI's container ids are not known here. Every container this session ran has
        # exited, so a leaked cgroup of the CLI's is empty; one with processes belongs to
        # someone else's running container. An empty one may still be someone else's.
        warnings = [f"isobench cgroup {cid} appeared during the session and remains, empty "
                    f"(a CLI run's, or another user's): {', '.join(_isobench_cgroups(cid))}"
                    for cid in sorted(_isobench_children() - self.cgroups_before)
                    if cid not in self.api_ids and _cgroup_empty(cid)]
        return errors, warnings

    def cleanup(self) -> None:
        """Best effort, also after a failure or Ctrl-C: containers, runc state, the temp dir."""
        self._stop_daemon()
        rt = getattr(self, "rt", None)
        containers = self.root / "containers"
        if rt is not None and containers.is_dir():
            for p in containers.iterdir():
                if p.name != ".names":
                    try:
                        rt.remove(p.name, force=True)
                    except Exception as e:  # noqa: BLE001
                        print(f"cleanup: removing container {p.name}: {e}", file=sys.stderr)
        if self.runc_state.is_dir():
            for p in self.runc_state.iterdir():
                subprocess.run([RUNC, "--root", str(self.runc_state), "delete", "--force",
                                p.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)


def measure(session: Session, schedule: Iterable[list[str]], warmup: int,
            progress: bool = True) -> tuple[dict[str, list[int]], list[list[str]]]:
    """Run the schedule; returns per-method ns (warm-up rounds dropped) and the orders used."""
    times: dict[str, list[int]] = {m: [] for m in session.methods}
    orders = []
    for i, order in enumerate(schedule):
        for method in order:
            fn = session.runner(method)
            t0 = time.perf_counter_ns()
            fn()
            elapsed = time.perf_counter_ns() - t0
            session.settle()  # untimed: a `run --rm`'s teardown, after its exit
            if i >= warmup:
                times[method].append(elapsed)
        if i >= warmup:
            orders.append(order)
        if progress:
            print(f"\rround {i + 1}", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return times, orders


def host_info() -> dict[str, Any]:
    info: dict[str, Any] = {"kernel": platform.release(), "python": platform.python_version(),
                            "cpus": os.cpu_count()}
    try:
        out = subprocess.run([RUNC, "--version"], capture_output=True, text=True).stdout
        info["runc"] = out.splitlines()[0] if out else None
    except OSError:
        info["runc"] = None
    return info


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.tools.startup",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=30, help="measured rounds (default 30)")
    p.add_argument("--warmup", type=int, default=3, help="discarded rounds first (default 3)")
    p.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                   help=f"comma-separated subset of {','.join(METHODS)} "
                        f"(default {','.join(DEFAULT_METHODS)})")
    p.add_argument("--seed", type=int, help="seed of the per-round order (default random)")
    p.add_argument("--json", metavar="PATH", help="also write raw per-run values and summary")
    p.add_argument("--phases", type=int, metavar="N",
                   help="instead: N API starts with each phase timed (bench/tools/phases.py), "
                        "the median ms per phase")
    p.add_argument("--monitors", metavar="N[,N...]",
                   help="instead: for each N, N idle `isobench run -d` containers (busybox "
                        "sleep): the mean RSS, PSS and USS of their monitors")
    p.add_argument("--network", default="none", choices=("none", "bridge"),
                   help="the API's network in --phases (bridge: under the integration lock)")
    p.add_argument("--exit-first", action="store_true",
                   help="--phases of `run --rm` as the CLI runs it: the caller's wait ends at "
                        "the exit, the teardown follows (untimed)")
    return p


def monitor_summary(readings: Sequence[dict[str, int] | None]) -> dict[str, float | None]:
    """Mean RSS, PSS and USS in MiB over monitors (None for a reading missing anywhere)."""
    out: dict[str, float | None] = {"n": float(len(readings))}
    for key in ("rss", "pss", "uss"):
        values = [r.get(key) if r else None for r in readings]
        out[f"{key}_mib"] = (None if not values or None in values
                             else sum(values) / len(values) / 2**20)  # type: ignore[arg-type]
    return out


def _monitors(counts: Sequence[int]) -> int:
    """`--monitors N,...`: the monitors' memory over N idle containers, started by the CLI
    (its process exits: each monitor owns all it inherited) and by the API from this
    process, which lives on as `isobench bench` does in the density workload (its monitors
    share the pages they have not written with it, so their PSS splits those)."""
    from bench.collectors import monitor_memory
    from runtime.spec import ContainerSpec

    session = Session(["cli-direct"])  # the monitor is the same served or not
    print(f"container monitors, idle `run -d --network none busybox sleep 600`; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'started by':<10} {'containers':>10} {'RSS MiB':>8} {'PSS MiB':>8} {'USS MiB':>8}"
          "  (mean per monitor)")
    errors: list[str] = []
    try:
        session.setup()
        spec = ContainerSpec("busybox", ["sleep", "600"], network="none")
        session.run_cli_direct()  # one run first: a first CLI run of a root does extra work
        for how in ("cli", "api"):
            for n in counts:
                ids = [_detached(session, how, spec) for _ in range(n)]
                time.sleep(0.5)  # idle: every monitor waits in select()
                s = monitor_summary([monitor_memory(session.rt, cid) for cid in ids])
                print(f"{how:<10} {n:>10} " + " ".join(
                    f"{s[k]:>8.2f}" if s[k] is not None else f"{'n/a':>8}"
                    for k in ("rss_mib", "pss_mib", "uss_mib")))
                for cid in ids:
                    session.rt.remove(cid, force=True)
        errors, _ = session.leftovers()
    except BenchError as e:
        print(f"bench.tools.startup: FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        session.cleanup()
    again = tools.reproduce_command("startup", "--monitors", ",".join(map(str, counts)))
    print(f"reproduce: {again}")
    for e in errors:
        print(f"bench.tools.startup: LEFTOVER: {e}", file=sys.stderr)
    return 1 if errors else 0


def _detached(session: Session, how: str, spec: Any) -> str:
    """One idle detached container's id, started by the CLI or by the API in-process."""
    if how == "api":
        return session.rt.run(spec, detach=True).container.id
    proc = subprocess.run([session.isobench, "run", "-d", "--network", "none", "busybox",
                           "sleep", "600"], env=session.direct_env, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise BenchError(f"run -d exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def _phases(runs: int, warmup: int, network: str = "none", exit_first: bool = False) -> int:
    """`--phases N`: the API start's per-phase profile (warm-up runs untimed). `exit_first`:
    --rm, back at the exit as the CLI's `run --rm` is; each teardown ends before the next."""
    from bench.tools import phases

    if runs < 1:
        print("bench.tools.startup: --phases must be >= 1", file=sys.stderr)
        return 2
    load_start = os.getloadavg()
    session = Session(["api"])
    try:
        session.setup()
        session.api_spec.network = network

        def run() -> None:
            session.run_api(exit_first=exit_first)

        for _ in range(warmup):
            run()
            session.settle()
        prof = phases.profile(run, runs, str(session.tmp / "phases.log"), session.settle)
        errors, _ = session.leftovers()
    except BenchError as e:
        print(f"\nbench.tools.startup: FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        session.cleanup()
    print(f"API start phases, busybox /bin/true --network {network}"
          f"{' --rm, exit first' if exit_first else ''}: {runs} runs after {warmup} "
          f"warm-up; load average {load_start[0]:.2f} -> {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} CPUs")
    print(phases.format_profile(prof))
    again = tools.reproduce_command("startup", "--phases", str(runs), "--warmup", str(warmup),
                                    "--network", network, *(["--exit-first"] if exit_first else []))
    print(f"reproduce: {again}")
    for e in errors:
        print(f"bench.tools.startup: LEFTOVER: {e}", file=sys.stderr)
    return 1 if errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        methods = parse_methods(args.methods)
    except ValueError as e:
        print(f"bench.tools.startup: {e}", file=sys.stderr)
        return 2
    if args.runs < 1 or args.warmup < 0:
        print("bench.tools.startup: --runs must be >= 1 and --warmup >= 0", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("bench.tools.startup: needs root (namespaces, cgroups, runc)", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    schedule = make_schedule(methods, args.warmup + args.runs, seed)

    if args.monitors is not None:
        try:
            counts = [int(n) for n in args.monitors.split(",")]
        except ValueError:
            counts = []
        if not counts or min(counts) < 1:
            print("bench.tools.startup: --monitors takes counts >= 1, e.g. 1,10,50",
                  file=sys.stderr)
            return 2
        return _monitors(counts)
    if args.phases is not None:
        return _phases(args.phases, args.warmup, args.network, args.exit_first)
    load_start = os.getloadavg()
    session = Session(methods)
    try:
        session.setup()
        times, orders = measure(session, schedule, args.warmup, progress=sys.stderr.isatty())
        errors, warnings = session.leftovers()
    except BenchError as e:
        print(f"\nbench.tools.startup: FAILED: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbench.tools.startup: interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        session.cleanup()
    if session.tmp.exists():
        errors.append(f"temp dir not removed: {session.tmp}")

    load_end = os.getloadavg()
    summary = {m: summarize(times[m]) for m in methods}
    ratios = compute_ratios(summary)
    print(f"container start-up, busybox /bin/true: {args.runs} rounds after {args.warmup} "
          f"warm-up, order shuffled per round (seed {seed}); load average "
          f"{load_start[0]:.2f} -> {load_end[0]:.2f} on {os.cpu_count()} CPUs")
    print(format_table(summary))
    goals = {f"{n}/{d}": g for n, d, g in RATIOS}
    paired = paired_ratios(times)
    for name, value in ratios.items():
        print(format_ratio(name, value, goals[name])
              + (f"   paired per round: {paired[name]:.2f}" if name in paired else ""))
    command = reproduce_command(args.runs, args.warmup, methods, seed)
    print(f"reproduce: {command}")
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)

    if args.json:
        doc = {
            "benchmark": "startup",
            "command": reproduce_command(args.runs, args.warmup, methods, seed, args.json),
            "runs": args.runs, "warmup": args.warmup, "seed": seed, "methods": methods,
            "host": host_info(), "loadavg_start": load_start, "loadavg_end": load_end,
            "raw_ns": times,
            "orders": orders,
            "summary": summary,
            "ratios": ratios,
            "paired_ratios": paired,
            "leftovers": {"errors": errors, "warnings": warnings},
        }
        atomic_write(Path(args.json), (json.dumps(doc, indent=2) + "\n").encode())
    if errors:
        for e in errors:
            print(f"bench.tools.startup: LEFTOVER: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
