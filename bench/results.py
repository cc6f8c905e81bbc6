"""The results document: one versioned JSON file per benchmark session (pyperf-like).

    {"schema_version": 1,
     "session":   {id, started_at, finished_at, profile, argv, repeat, seed, complete},
     "machine":   {cpu_model, cores, memory_bytes, kernel, distribution, cgroup_mode,
                   acceleration: {mode: "kvm"|"tcg"|null, reason}, versions: {tool: str|null}},
     "targets":   {name: {available, reason}},
     "workloads": {name: {"variants": {variant: {"metrics": {metric: {unit, better}}}}}},
     "runs":      [RunRecord as a dict, ...],
     "summary":   {workload: {variant: {metric: {target: {n, median, iqr, q1, q3, min, max,
                   mean, stdev, cv, ratio_to_native, ci_low, ci_high}}}}}}

bench/results.schema.json is the contract (JSON Schema, draft 2020-12); reports/ reads
nothing else. Writes are atomic, so a session interrupted at any point leaves the last
complete document on disk and `--resume` continues from `completed_keys`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import json
import math
import os
import platform
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.model import RunRecord, Workload
from bench.stats import bootstrap_ratio_ci, summarize
from runtime.errors import IsobenchError

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("results.schema.json")
NATIVE = "native"
RESULTS_FILE = "results.json"

Document = dict[str, Any]
RunKey = tuple[str, str, str, int]      # (workload, variant, target, repetition)


class ResultsError(IsobenchError):
    """A results file that cannot be read, validated or compared.

    Exit code 2, as cmp(1) and diff(1) use for "trouble", so `isobench compare` keeps 1
    for "regressed".
    """

    exit_code = 2


# -- the document -----------------------------------------------------------------------------

def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_session_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def workload_block(workload: Workload) -> dict[str, Any]:
    """A declared workload as the document's "workloads" entry (metrics, units, direction);
    a metric with no direction (a count, a limit as given) is not a cost: left out."""
    return {"variants": {
        v.name: {"metrics": {m.name: {"unit": m.unit, "better": m.better} for m in v.metrics
                             if m.better is not None}}
        for v in workload.variants
    }}


def new_document(*, profile: str, argv: Sequence[str], repeat: int, seed: int,
                 machine: Mapping[str, Any],
                 targets: Mapping[str, Mapping[str, Any]] | None = None,
                 workloads: Iterable[Workload] = (),
                 session_id: str | None = None, started_at: str | None = None) -> Document:
    """An empty session; `targets` maps name -> {"available": bool, "reason": str}."""
    return {
        "schema_version": SCHEMA_VERSION,
        "session": {"id": session_id or new_session_id(), "started_at": started_at or _utc_now(),
                    "finished_at": None, "profile": profile, "argv": list(argv),
                    "repeat": repeat, "seed": seed, "complete": False},
        "machine": copy.deepcopy(dict(machine)),
        "targets": {name: {"available": bool(t["available"]), "reason": str(t.get("reason", ""))}
                    for name, t in (targets or {}).items()},
        "workloads": {w.name: workload_block(w) for w in workloads},
        "runs": [],
        "summary": {},
    }


def set_target(doc: Document, name: str, available: bool, reason: str = "") -> None:
    doc["targets"][name] = {"available": available, "reason": reason}


def declare_workload(doc: Document, workload: Workload) -> None:
    doc["workloads"][workload.name] = workload_block(workload)


def finish(doc: Document, *, complete: bool = True) -> None:
    """Stamp the end; `complete` is False for a session cut short (Ctrl-C, a fatal error)."""
    doc["session"]["finished_at"] = _utc_now()
    doc["session"]["complete"] = complete


def run_key(run: Mapping[str, Any]) -> RunKey:
    return (run["workload"], run["variant"], run["target"], int(run["repetition"]))


def run_from_dict(data: Mapping[str, Any]) -> RunRecord:
    """A stored run back as a RunRecord; keys this version does not know are ignored."""
    known = {f.name for f in dataclasses.fields(RunRecord)}
    return RunRecord(**{k: v for k, v in data.items() if k in known})


def _run_dict(record: RunRecord | Mapping[str, Any]) -> dict[str, Any]:
    run = dataclasses.asdict(record) if isinstance(record, RunRecord) else dict(record)
    for name, value in run.get("metrics", {}).items():
        # JSON has no NaN or infinity; a parser that produced one has a bug worth hearing about.
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise ValueError(f"{run_key(run)}: metric {name} is not a finite number: {value!r}")
    return run


def add_run(doc: Document, record: RunRecord | Mapping[str, Any]) -> None:
    """Append one repetition (replacing an earlier one with the same key, e.g. a retried
    failure) and refresh the summary of its variant."""
    run = _run_dict(record)
    key = run_key(run)
    doc["runs"] = [r for r in doc["runs"] if run_key(r) != key]
    doc["runs"].append(run)
    recompute_summary(doc, only=(run["workload"], run["variant"]))


def completed_keys(doc: Document, *, include_failed: bool = True) -> set[RunKey]:
    """(workload, variant, target, repetition) already recorded: what `--resume` skips.

    A failed run is a recorded outcome (its output is kept) and is skipped too unless
    include_failed is False.
    """
    return {run_key(r) for r in doc["runs"] if include_failed or r.get("ok")}


# -- the summary ------------------------------------------------------------------------------

def _values(doc: Document) -> dict[tuple[str, str, str, str], list[float]]:
    """(workload, variant, metric, target) -> the successful repetitions' values."""
    grouped: dict[tuple[str, str, str, str], list[float]] = {}
    for run in doc["runs"]:
        if not run.get("ok"):
            continue
        for metric, value in run.get("metrics", {}).items():
            key = (run["workload"], run["variant"], metric, run["target"])
            grouped.setdefault(key, []).append(float(value))
    return grouped


def summary_cell(values: Sequence[float], native: Sequence[float] | None, *,
                 seed: int = 0, resamples: int = 2000) -> dict[str, Any]:
    """One target's numbers for one metric, with its ratio to native and a bootstrap CI."""
    cell: dict[str, Any] = summarize(values).as_dict()
    ratio = low = high = None
    if native:
        ratio, low, high = bootstrap_ratio_ci(values, native, resamples=resamples, seed=seed)
    cell.update(ratio_to_native=ratio, ci_low=low, ci_high=high)
    return cell


def _target_order(target: str) -> tuple[int, str]:
    order = (NATIVE, "container", "runc", "crun", "vm")
    return (order.index(target) if target in order else len(order), target)


def recompute_summary(doc: Document, *, only: tuple[str, str] | None = None,
                      resamples: int = 2000) -> None:
    """Rebuild the summary from the raw runs (all of it, or one (workload, variant)).

    Ratios are target median / native median of the same variant and metric; native's own
    ratio is 1 exactly. The bootstrap is seeded with the session's seed, so the same runs
    always give the same document.
    """
    seed = int(doc["session"].get("seed") or 0)
    grouped = _values(doc)
    summary = doc.setdefault("summary", {})
    if only is None:
        summary.clear()
    else:
        summary.get(only[0], {}).pop(only[1], None)
    for (workload, variant, metric, target) in sorted(
            grouped, key=lambda k: (k[0], k[1], k[2], _target_order(k[3]))):
        if only is not None and (workload, variant) != only:
            continue
        values = grouped[(workload, variant, metric, target)]
        native = grouped.get((workload, variant, metric, NATIVE))
        if target == NATIVE:
            cell = summary_cell(values, None)
            cell.update(ratio_to_native=1.0, ci_low=1.0, ci_high=1.0)
        else:
            cell = summary_cell(values, native, seed=seed, resamples=resamples)
        metrics = summary.setdefault(workload, {}).setdefault(variant, {})
        metrics.setdefault(metric, {})[target] = cell
    if only is not None:  # same order as a full rebuild, so the file does not churn
        doc["summary"] = {w: dict(sorted(v.items())) for w, v in sorted(summary.items()) if v}


# -- files ------------------------------------------------------------------------------------

def write_atomic(path: str | os.PathLike[str], doc: Document) -> None:
    """Write `doc` to `path` so that readers see the old file or the new one, never half.

    Serialized straight into a temp file in the same directory, fsynced, then renamed over
    the target (rename is atomic within a filesystem); the directory is fsynced so the
    rename survives a crash. Any failure removes the temp file and leaves `path` untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on directories; the data is already safe
        pass
    finally:
        os.close(fd)


def load(path: str | os.PathLike[str]) -> Document:
    """Read and validate a results file; every problem is one ResultsError naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such results file") from None
    except IsADirectoryError:
        raise ResultsError(f"{path}: is a directory, not a results file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ResultsError(f"{path}: not JSON ({e})") from None
    except OSError as e:
        raise ResultsError(f"{path}: {e.strerror or e}") from None
    try:
        validate(doc)
    except ResultsError as e:
        raise ResultsError(f"{path}: {e}") from None
    return doc


@functools.cache
def _validator() -> Any:
    import jsonschema  # imported on first use: only loading and tests need it

    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _where(path: Iterable[Any]) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def validate(doc: Any) -> None:
    """Check `doc` against bench/results.schema.json; raise ResultsError with the first
    (most relevant) problem as one line."""
    from jsonschema.exceptions import best_match

    if not isinstance(doc, dict):
        raise ResultsError(f"not a results document (a JSON {type(doc).__name__})")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        shown = "missing" if version is None else repr(version)
        raise ResultsError(f"unknown schema_version {shown} (this isobench reads "
                           f"{SCHEMA_VERSION})")
    error = best_match(_validator().iter_errors(doc))
    if error is not None:
        raise ResultsError(f"invalid results: {_where(error.absolute_path)}: "
                           f"{_one_line(error.message)}")


# -- the machine ------------------------------------------------------------------------------

# tool -> argv printing its version (stdout or stderr); a missing tool is recorded as null.
TOOLS: dict[str, tuple[str, ...]] = {
    "qemu": (f"qemu-system-{platform.machine() or 'x86_64'}", "--version"),
    "libvirt": ("libvirtd", "--version"),
    "runc": ("runc", "--version"),
    "crun": ("crun", "--version"),
    "sysbench": ("sysbench", "--version"),
    "fio": ("fio", "--version"),
    "iperf3": ("iperf3", "--version"),
    "qperf": ("qperf", "--version"),
    "stress-ng": ("stress-ng", "--version"),
}
_VERSION = re.compile(r"\d+(?:\.\d+)+(?:[-+~][\w.]+)?")
# Daemons such as libvirtd live in sbin, which is not on every PATH.
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin",
                                "/sbin"])


def version_from_output(text: str) -> str | None:
    """The first dotted version number in a tool's --version output, else its first line."""
    for line in text.splitlines():
        if line.strip():
            match = _VERSION.search(line)
            return match.group(0) if match else _one_line(line, 100)
    return None


def tool_version(argv: Sequence[str], timeout: float = 3.0) -> str | None:
    exe = shutil.which(argv[0], path=_SEARCH_PATH)
    if exe is None:
        return None
    try:
        proc = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, errors="replace",
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return version_from_output(proc.stdout) or version_from_output(proc.stderr)


def cpu_model_from(cpuinfo: str) -> str | None:
    # x86 says "model name"; arm64 kernels often give only "CPU part"-style fields.
    for key in ("model name", "Model", "cpu model", "Processor"):
        for line in cpuinfo.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == key and value.strip():
                return " ".join(value.split())
    return None


def memory_bytes_from(meminfo: str) -> int | None:
    match = re.search(r"^MemTotal:\s+(\d+)\s*kB", meminfo, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def distribution_from(os_release: str) -> str | None:
    fields = {}
    for line in os_release.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip("\"'")
    if "PRETTY_NAME" in fields:
        return fields["PRETTY_NAME"]
    name = " ".join(filter(None, (fields.get("NAME"), fields.get("VERSION_ID"))))
    return name or None


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _cgroup_mode() -> str | None:
    from runtime.cgroups import CgroupError, detect_mode

    try:
        return detect_mode()
    except (CgroupError, OSError):
        return None


def _package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_metadata(acceleration: Mapping[str, Any] | None = None, *,
                     tools: Mapping[str, Sequence[str]] = TOOLS,
                     timeout: float = 3.0) -> dict[str, Any]:
    """The "machine" block for this host. Acceleration is a measured fact the VM driver
    proves (vm/accel.py), so the caller passes it in: {"mode": "kvm"|"tcg"|None, "reason"}."""
    accel = dict(acceleration or {"mode": None, "reason": "not probed"})
    accel.setdefault("mode", None)
    accel.setdefault("reason", "")
    with ThreadPoolExecutor(max_workers=max(1, len(tools))) as pool:  # --version calls overlap
        found = dict(zip(tools, pool.map(lambda a: tool_version(a, timeout), tools.values()),
                         strict=True))
    versions: dict[str, str | None] = {"python": platform.python_version(),
                                       "isobench": _package_version("isobench"), **found}
    uname = platform.uname()
    return {
        "cpu_model": cpu_model_from(_read("/proc/cpuinfo")) or platform.processor() or None,
        "cores": os.cpu_count(),
        "memory_bytes": memory_bytes_from(_read("/proc/meminfo")),
        "kernel": uname.release,
        "kernel_version": uname.version,
        "arch": uname.machine,
        "hostname": uname.node,
        "distribution": distribution_from(_read("/etc/os-release")),
        "cgroup_mode": _cgroup_mode(),
        "acceleration": accel,
        "versions": versions,
    }
