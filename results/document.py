"""The results document: one versioned JSON file per benchmark session (pyperf-like).

    {"schema_version": 1,
     "session":   {id, started_at, finished_at, profile, argv, repeat, seed, complete},
     "machine":   {cpu_model, cores, memory_bytes, kernel, distribution, cgroup_mode,
                   acceleration: {mode: "kvm"|"tcg"|null, reason}, versions: {tool: str|null}},
     "targets":   {name: {available, reason}},
     "workloads": {name: {"variants": {variant: {"metrics": {metric: {unit, better}}}}}},
     "runs":      [a run record as a dict, ...],
     "summary":   {workload: {variant: {metric: {target: {n, median, iqr, q1, q3, min, max,
                   mean, stdev, cv, ratio_to_native, ci_low, ci_high, paired,
                   contended_excluded, noisy}}}}}}

A run the contention guard flagged (`"contended": true`) is kept in `runs` but left out of
the summary unless the session was run with --keep-contended (session.keep_contended); a
cell says how many it left out. A cell whose spread cannot carry a ratio says why in
`noisy` (results.stats.noisy_reason); below results.stats.MIN_CI_N repetitions on either
side its ratio has no CI (ci_low and ci_high null).

results/schema.json is the contract (JSON Schema, draft 2020-12): bench writes it, reports/
and `isobench compare` read it. Writes are atomic, so a session interrupted at any point
leaves the last complete document on disk and `--resume` continues from `completed_keys`.
A file written by an earlier version is brought up to date by results.migrate on load.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import json
import math
import os
import secrets
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from results.errors import ResultsError, UnknownSchemaVersion
from results.metrics import Metric
from results.metrics import cv_limit as metric_cv_limit
from results.migrate import SCHEMA_VERSION, migrate
from results.stats import bootstrap_ratio_ci, ci_supported, noisy_reason, summarize

SCHEMA_PATH = Path(__file__).with_name("schema.json")
NATIVE = "native"
RESULTS_FILE = "results.json"

Document = dict[str, Any]
RunKey = tuple[str, str, str, int]      # (workload, variant, target, repetition)


# What the document needs of a declared workload (bench.model's Workload and Variant have
# this shape; results/ imports nothing of bench, so it names the shape only). The metrics are
# the table's own (results.metrics.named).
class DeclaredVariant(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def metrics(self) -> Sequence[Metric]: ...


class DeclaredWorkload(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def variants(self) -> Sequence[DeclaredVariant]: ...


# -- the document -----------------------------------------------------------------------------

def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_session_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def workload_block(workload: DeclaredWorkload) -> dict[str, Any]:
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
                 workloads: Iterable[DeclaredWorkload] = (),
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


def declare_workload(doc: Document, workload: DeclaredWorkload) -> None:
    doc["workloads"][workload.name] = workload_block(workload)


def skip_variant(doc: Document, workload: str, variant: str, target: str, reason: str) -> None:
    """Record that `target` did not run `variant` in the setup it asks for, and why: the
    variant's entry under "workloads" gets {"skipped": {target: reason}}."""
    block = doc["workloads"][workload]["variants"][variant]
    block.setdefault("skipped", {})[target] = reason


def skipped(doc: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """Every (workload, variant, target, reason) a session listed as skipped."""
    return [(w, v, t, reason) for w, block in doc.get("workloads", {}).items()
            for v, vblock in block.get("variants", {}).items()
            for t, reason in sorted(vblock.get("skipped", {}).items(),
                                    key=lambda kv: _target_order(kv[0]))]


def finish(doc: Document, *, complete: bool = True) -> None:
    """Stamp the end; `complete` is False for a session cut short (Ctrl-C, a fatal error)."""
    doc["session"]["finished_at"] = _utc_now()
    doc["session"]["complete"] = complete


def run_key(run: Mapping[str, Any]) -> RunKey:
    return (run["workload"], run["variant"], run["target"], int(run["repetition"]))


def _run_dict(record: Any) -> dict[str, Any]:
    """A run record (a dataclass such as bench.model.RunRecord, or a mapping) as a dict."""
    is_record = dataclasses.is_dataclass(record) and not isinstance(record, type)
    run = dataclasses.asdict(record) if is_record else dict(record)
    for name, value in run.get("metrics", {}).items():
        # JSON has no NaN or infinity; a parser that produced one has a bug worth hearing about.
        # None is a reading that was not available, stored as null.
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise ValueError(f"{run_key(run)}: metric {name} is not a finite number: {value!r}")
    return run


def add_run(doc: Document, record: Any) -> None:
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

def keeps_contended(doc: Mapping[str, Any]) -> bool:
    """Whether the session was told to count contended runs (`--keep-contended`)."""
    return bool((doc.get("session") or {}).get("keep_contended"))


def counted(run: Mapping[str, Any], keep_contended: bool) -> bool:
    """A run whose values count: successful, and not contended unless those are kept."""
    return bool(run.get("ok")) and (keep_contended or not run.get("contended"))


def run_values(doc: Mapping[str, Any], *, keep_contended: bool | None = None
               ) -> dict[tuple[str, str, str, str], list[float]]:
    """(workload, variant, metric, target) -> the counted repetitions' values (a missing
    reading, null, is no value; a contended run is left out unless kept: by default as the
    session was told)."""
    return {key: [v for _, v in pairs]
            for key, pairs in _values_by_repetition(doc, keep_contended).items()}


def _values_by_repetition(doc: Mapping[str, Any], keep_contended: bool | None = None
                          ) -> dict[tuple[str, str, str, str], list[tuple[int, float]]]:
    keep = keeps_contended(doc) if keep_contended is None else keep_contended
    grouped: dict[tuple[str, str, str, str], list[tuple[int, float]]] = {}
    for run in doc.get("runs", []):
        if not counted(run, keep):
            continue
        for metric, value in run.get("metrics", {}).items():
            if value is None:
                continue
            key = (run["workload"], run["variant"], metric, run["target"])
            grouped.setdefault(key, []).append((int(run.get("repetition", 0)), float(value)))
    return grouped


def contended_counts(doc: Mapping[str, Any]) -> dict[tuple[str, str, str], int]:
    """(workload, variant, target) -> successful runs flagged contended."""
    out: dict[tuple[str, str, str], int] = {}
    for run in doc.get("runs", []):
        if run.get("ok") and run.get("contended"):
            key = (run["workload"], run["variant"], run["target"])
            out[key] = out.get(key, 0) + 1
    return out


def shared_boot_cells(doc: Mapping[str, Any]) -> set[tuple[str, str, str]]:
    """(workload, variant, target) whose repetitions shared a boot (reps_per_boot > 1): they
    ran one after another in one guest, not each beside native's round of the same number,
    so they are never paired by round."""
    return {(r["workload"], r["variant"], r["target"]) for r in doc.get("runs", [])
            if (r.get("reps_per_boot") or 1) > 1}


def paired_by_round(values: Sequence[tuple[int, float]], native: Sequence[tuple[int, float]]
                    ) -> tuple[list[float], list[float]] | None:
    """Both sides aligned by repetition when every repetition is on both (the scheduled runs
    are interleaved by round, so round i of a target ran beside round i of native); None
    when they do not pair up one to one."""
    mine, theirs = dict(values), dict(native)
    if len(mine) != len(values) or len(theirs) != len(native) or mine.keys() != theirs.keys():
        return None
    rounds = sorted(mine)
    return [mine[r] for r in rounds], [theirs[r] for r in rounds]


def summary_cell(values: Sequence[float], native: Sequence[float] | None, *,
                 seed: int = 0, resamples: int = 2000, paired: bool = False
                 ) -> dict[str, Any]:
    """One target's numbers for one metric, with its ratio to native and a bootstrap CI
    (none below results.stats.MIN_CI_N repetitions on either side); `paired`: the two
    lists are aligned by round."""
    cell: dict[str, Any] = summarize(values).as_dict()
    ratio = low = high = None
    if native:
        ratio, low, high = bootstrap_ratio_ci(values, native, resamples=resamples, seed=seed,
                                              paired=paired)
    cell.update(ratio_to_native=ratio, ci_low=low, ci_high=high, paired=paired)
    return cell


def _target_order(target: str) -> tuple[int, str]:
    order = (NATIVE, "container", "runc", "crun", "microvm", "vm")
    return (order.index(target) if target in order else len(order), target)


def tool_versions(doc: Mapping[str, Any]) -> dict[tuple[str, str, str], set[str]]:
    """(workload, variant, target) -> the versions of the tool its successful runs ran, as
    each run's setup block records them (setup.tool.version: "<package> <version>")."""
    out: dict[tuple[str, str, str], set[str]] = {}
    for run in doc.get("runs", []):
        tool = ((run.get("extra") or {}).get("setup") or {}).get("tool") or {}
        if run.get("ok") and tool.get("version"):
            out.setdefault((run["workload"], run["variant"], run["target"]),
                           set()).add(str(tool["version"]))
    return out


def tool_mismatch(tools: Mapping[tuple[str, str, str], set[str]], workload: str,
                  variant: str, target: str) -> str | None:
    """Why no ratio to native may be drawn for this cell: the one line saying the two sides
    ran different versions of the tool; None when they ran the same (or one is unknown)."""
    mine, native = tools.get((workload, variant, target)), tools.get((workload, variant, NATIVE))
    if target == NATIVE or not mine or not native or mine == native:
        return None
    return (f"no ratio: {target} ran {', '.join(sorted(mine))}, native "
            f"{', '.join(sorted(native))} (different binaries)")


def recompute_summary(doc: Document, *, only: tuple[str, str] | None = None,
                      resamples: int = 2000) -> None:
    """Rebuild the summary from the raw runs (all of it, or one (workload, variant)).

    Ratios are target median / native median of the same variant and metric; native's own
    ratio is 1 exactly. The bootstrap is seeded with the session's seed, so the same runs
    always give the same document.
    """
    seed = int(doc["session"].get("seed") or 0)
    grouped = _values_by_repetition(doc)
    flagged = {} if keeps_contended(doc) else contended_counts(doc)
    shared = shared_boot_cells(doc)
    tools = tool_versions(doc)
    summary = doc.setdefault("summary", {})
    if only is None:
        summary.clear()
    else:
        summary.get(only[0], {}).pop(only[1], None)
    for (workload, variant, metric, target) in sorted(
            grouped, key=lambda k: (k[0], k[1], k[2], _target_order(k[3]))):
        if only is not None and (workload, variant) != only:
            continue
        pairs = grouped[(workload, variant, metric, target)]
        values = [v for _, v in pairs]
        native_pairs = grouped.get((workload, variant, metric, NATIVE))
        if target == NATIVE:
            cell = summary_cell(values, None)
            exact = 1.0 if ci_supported(len(values)) else None  # no CI below MIN_CI_N
            cell.update(ratio_to_native=1.0, ci_low=exact, ci_high=exact)
        elif native_pairs and (workload, variant, target) not in shared and \
                (aligned := paired_by_round(pairs, native_pairs)) is not None:
            cell = summary_cell(aligned[0], aligned[1], seed=seed, resamples=resamples,
                                paired=True)
        else:
            cell = summary_cell(values, [v for _, v in native_pairs or []], seed=seed,
                                resamples=resamples)
        refused = tool_mismatch(tools, workload, variant, target)
        if refused is not None:  # the two sides ran different binaries: no ratio at all
            cell.update(ratio_to_native=None, ci_low=None, ci_high=None, ratio_refused=refused)
        cell["contended_excluded"] = flagged.get((workload, variant, target), 0)
        cell["noisy"] = noisy_reason(values, metric_cv_limit(metric))
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
        os.chmod(tmp, 0o640)  # root and its group: results can hold hostnames, commands, output
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


def results_path(arg: str | os.PathLike[str]) -> Path:
    """A results file, or a session directory (such as reports/out/latest) holding one."""
    path = Path(arg)
    if path.is_dir():
        inner = path / RESULTS_FILE
        if not inner.is_file():
            raise ResultsError(f"{path}: no {RESULTS_FILE} in this directory")
        return inner
    if not path.exists():
        raise ResultsError(f"{path}: no such results file or directory")
    return path


def load(path: str | os.PathLike[str]) -> Document:
    """Read, migrate (results.migrate) and validate a results file; every problem is one
    ResultsError naming the file."""
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
        doc = migrate(doc)
        validate(doc)
    except ResultsError as e:
        raise ResultsError(f"{path}: {e}") from None
    return doc


@functools.cache
def _validator() -> Any:
    # jsonschema takes 60-160 ms to import here: loaded on first use, so that the commands
    # that never read a results file (`isobench run`, ...) do not pay for it at start-up.
    import jsonschema

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


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def schema_problem(doc: Any, *, limit: int = 160) -> str | None:
    """The first (most relevant) way `doc` breaks results/schema.json, as one line
    "$.where: message" (the message cut to `limit` characters), else None."""
    from jsonschema.exceptions import best_match  # on first use, as in _validator

    error = best_match(_validator().iter_errors(doc))
    if error is None:
        return None
    return f"{_where(error.absolute_path)}: {_one_line(error.message, limit)}"


def validate(doc: Any) -> None:
    """Check a document of the current version against results/schema.json; raise
    ResultsError with the first (most relevant) problem as one line."""
    if not isinstance(doc, dict):
        raise ResultsError(f"not a results document (a JSON {type(doc).__name__})")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise UnknownSchemaVersion(version, SCHEMA_VERSION)
    problem = schema_problem(doc)
    if problem is not None:
        raise ResultsError(f"invalid results: {problem}")
