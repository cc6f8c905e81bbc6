"""Dockerfile -> image: one step per instruction, each cached under a content key.

The cache key of a step is sha256(parent key, the instruction after substitution, the
build args in scope for RUN, and for COPY/ADD the digest of exactly the files read). A
cache entry records the image state after the step (layers and config); it is written
only after the step's layer is committed, and a hit is trusted only if every layer it
names is in the store. The image is tagged last, so an interrupted build tags nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.errors import IsobenchError
from runtime.fsutil import TextFileError, read_bounded_text, read_json, write_json
from runtime.image import copy as copying
from runtime.image import dockerfile as df
from runtime.image.archive import ArchiveError, add_local_archive, is_archive
from runtime.image.dockerfile.syntax import MAX_DOCKERFILE_CHARS
from runtime.image.ignore import DockerIgnore
from runtime.image.progress import BuildProgress, Lines, OutputLines
from runtime.image.store import Image, ImageConfig, Pin
from runtime.spec import ContainerSpec

if TYPE_CHECKING:
    from runtime.api import Runtime

EXIT_BUILD = 1  # docker build's code for a failed build


class BuildError(IsobenchError):
    exit_code = EXIT_BUILD


@dataclass
class StepResult:
    index: int
    text: str
    cached: bool
    seconds: float
    layer: str | None


@dataclass
class BuildResult:
    image: Image
    steps: list[StepResult]


@dataclass
class _State:
    """The image as it stands after a step."""

    key: str
    layers: list[str]
    config: ImageConfig
    args: dict[str, str] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_cache(self) -> dict[str, Any]:
        return {"layers": self.layers, "config": asdict(self.config), "args": self.args}


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def apply_config(step: df.Step, config: ImageConfig, cmd_set: bool = False) -> ImageConfig:
    """The effect of a metadata instruction on the image config (pure). `cmd_set`: a CMD
    came earlier in this Dockerfile (BuildKit keeps it when ENTRYPOINT follows)."""
    match step:
        case df.EnvStep(pairs=pairs):
            env = {e.partition("=")[0]: e for e in config.Env}
            env.update({k: f"{k}={v}" for k, v in pairs})
            return replace(config, Env=list(env.values()))
        case df.WorkdirStep(path=path):
            return replace(config, WorkingDir=path)
        case df.UserStep(user=user):
            return replace(config, User=user)
        case df.CmdStep(argv=argv):
            return replace(config, Cmd=list(argv))
        case df.EntrypointStep(argv=argv):
            # Docker: setting ENTRYPOINT resets a CMD inherited from the base image.
            return replace(config, Entrypoint=list(argv), Cmd=config.Cmd if cmd_set else None)
        case df.ExposeStep(ports=ports):
            return replace(config, ExposedPorts={**config.ExposedPorts, **{p: {} for p in ports}})
        case df.LabelStep(pairs=pairs):
            return replace(config, Labels={**config.Labels, **dict(pairs)})
        case df.VolumeStep(paths=paths):
            return replace(config, Volumes={**config.Volumes, **{p: {} for p in paths}})
    return config


# Bytes read of a Dockerfile at most: the parser's bound is MAX_DOCKERFILE_CHARS characters,
# and UTF-8 takes at most 4 bytes for one; reading no more keeps a huge file cheap.
MAX_DOCKERFILE_BYTES = 4 * MAX_DOCKERFILE_CHARS


def _read_dockerfile(path: Path, shown: str) -> str:
    try:
        return read_bounded_text(path, MAX_DOCKERFILE_BYTES)
    except OSError as e:
        raise BuildError(f"failed to read Dockerfile {path}: {e.strerror}") from None
    except TextFileError as e:
        raise BuildError(f"{shown}: {e}") from None


class Builder:
    def __init__(self, rt: Runtime, out: Callable[[str], None] | None = None,
                 progress: BuildProgress | None = None) -> None:
        """`progress` is told every step (and a RUN's output, if it captures it); without
        it, `out` gets one line a step (default: our stdout)."""
        self.rt = rt
        self.store = rt.images
        self.cache_dir = rt.root / "cache" / "build"
        self.progress = progress or Lines(out or (lambda line: print(line, flush=True)))
        self.pin: Pin | None = None  # held for a build: its base and layers stay put

    # ---- cache ----
    def _cache_get(self, key: str) -> dict[str, Any] | None:
        try:
            entry = read_json(self.cache_dir / f"{key}.json")
        except (OSError, ValueError):
            return None
        if all(self.store.has_layer(d) for d in entry.get("layers", [])):
            return entry
        return None

    def _cache_put(self, key: str, state: _State) -> None:
        write_json(self.cache_dir / f"{key}.json", state.to_cache())

    # ---- the build ----
    def build(self, context: Path, dockerfile: Path | None = None, tag: str | None = None,
              no_cache: bool = False, build_args: dict[str, str] | None = None) -> BuildResult:
        """Build under a pin: a concurrent `rmi` of the base is refused (or, forced, leaves
        the layers), and no layer this build uses or makes is deleted before it is tagged."""
        with self.store.pinned() as pin:
            self.pin = pin
            try:
                return self._build(context, dockerfile, tag, no_cache, build_args)
            finally:
                self.pin = None

    def _build(self, context: Path, dockerfile: Path | None, tag: str | None,
               no_cache: bool, build_args: dict[str, str] | None) -> BuildResult:
        context = Path(context).resolve()
        if not context.is_dir():
            raise BuildError(f"unable to prepare context: path {str(context)!r} not found")
        path = Path(dockerfile) if dockerfile else context / "Dockerfile"
        shown = os.path.relpath(path) if not path.is_absolute() else str(path)
        text = _read_dockerfile(path, shown)
        try:
            parsed = df.parse(text, path=shown, build_args=build_args or {})
        except df.DockerfileError as e:
            raise BuildError(str(e)) from None
        ignore_file = context / ".dockerignore"
        ignore = DockerIgnore(ignore_file.read_text() if ignore_file.exists() else "")
        included: list[str] | None = None  # walked once, on the first COPY
        unresolved = parsed.steps()
        # FROM is shown first: a missing debian base is debootstrapped there (a minute)
        t0 = time.monotonic()
        self.progress.step(1, len(unresolved), unresolved[0].text, False)
        with self._failing(1):
            base = self._base(unresolved[0], shown)
        # The base's ENV and WORKDIR take part in substitution (FROM golang + WORKDIR src).
        steps = parsed.steps(base_env=base.config.Env, base_workdir=base.config.WorkingDir or None)
        if parsed.unused_build_args:
            print(f"[Warning] One or more build-args {sorted(parsed.unused_build_args)} were "
                  "not consumed", file=sys.stderr)
        results: list[StepResult] = []
        state: _State | None = None
        for index, step in enumerate(steps, 1):
            if index > 1:
                t0 = time.monotonic()
            if isinstance(step, df.FromStep):
                state = _State(key=base.id, layers=list(base.layers), config=base.config,
                               history=list(base.history))
                self.progress.done(index, time.monotonic() - t0, False)
                results.append(StepResult(index, step.text, False, time.monotonic() - t0, None))
                continue
            assert state is not None  # the parser guarantees FROM comes first
            inputs = ""
            sources: list[copying.Source] = []
            if isinstance(step, df.CopyStep):
                if included is None:
                    included = ignore.walk(context)
                with self._failing(index, len(steps), step.text):
                    sources = self._sources(step, context, included, shown)
                # COPY_LAYOUT: a layer laid out before symlinks in the destination were
                # followed (resolve_dest) must not be taken from the cache
                inputs = f"{copying.COPY_LAYOUT}\0{copying.sources_digest(context, sources)}"
            run = isinstance(step, df.RunStep)
            args = json.dumps(state.args, sort_keys=True) if run else ""
            key = _key(state.key, step.text, args, inputs)
            entry = None if no_cache else self._cache_get(key)
            if entry is not None and not self._pinned().hold_layers(entry["layers"]):
                entry = None  # its layers went with an rmi a moment ago: run the step
            layer = None
            if entry is not None:
                grew = len(entry["layers"]) > len(state.layers)
                layer = entry["layers"][-1] if grew else None
                state = _State(key, list(entry["layers"]), ImageConfig.from_dict(entry["config"]),
                               dict(entry.get("args", {})), state.history)
                self.progress.step(index, len(steps), step.text, True)
            else:
                self.progress.step(index, len(steps), step.text, False)
                with self._failing(index):
                    layer = self._execute(index, step, state, context, sources, shown)
                cmd_set = any(isinstance(s, df.CmdStep) for s in steps[:index - 1])
                state = _State(key, state.layers + ([layer] if layer else []),
                               apply_config(step, state.config, cmd_set),
                               self._args_after(step, state.args), state.history)
                self._cache_put(key, state)
            state.history = [*state.history,
                             {"created_by": step.text, "empty_layer": layer is None}]
            self.progress.done(index, time.monotonic() - t0, entry is not None)
            results.append(StepResult(index, step.text, entry is not None,
                                      time.monotonic() - t0, layer))
        assert state is not None
        image = Image(id=Image.compute_id(state.layers, state.config), layers=state.layers,
                      config=state.config, history=state.history)
        image = self.store.put(image, tag)
        self.progress.wrote(image.id, tag)
        return BuildResult(image, results)

    @contextmanager
    def _failing(self, index: int, total: int = 0, text: str = "") -> Iterator[None]:
        """Tells the progress that step `index` failed when the block raises a BuildError
        (a step not started yet, `total` given, is started first)."""
        try:
            yield
        except BuildError as e:
            if total:
                self.progress.step(index, total, text, False)
            self.progress.failed(index, str(e))
            raise

    @staticmethod
    def _args_after(step: df.Step, args: dict[str, str]) -> dict[str, str]:
        if isinstance(step, df.ArgStep) and step.value is not None:
            return {**args, step.name: step.value}
        return args

    def _pinned(self) -> Pin:
        assert self.pin is not None, "steps run inside build()"
        return self.pin

    def _base(self, step: df.FromStep, shown: str) -> Image:
        if step.image == "scratch":
            return Image(id="scratch", layers=[], config=ImageConfig(Env=[]))
        for _ in range(3):  # an rmi between resolving and pinning: resolve again
            try:
                base = self.rt.image(step.image)
            except IsobenchError as e:
                raise BuildError(f"{shown}:{step.line}: FROM {step.image}: {e}") from None
            if self._pinned().hold(base):
                return base
        raise BuildError(f"{shown}:{step.line}: FROM {step.image}: the image was removed "
                         "while the build started")

    def _sources(self, step: df.CopyStep, context: Path, included: list[str],
                 shown: str) -> list[copying.Source]:
        found: list[copying.Source] = []
        for src in step.sources:
            try:
                found += copying.resolve_sources(context, included, src)
            except copying.CopyError as e:
                raise BuildError(f"{shown}:{step.line}: {step.keyword} failed: {e}") from None
        return found

    # ---- executing a step that changes the filesystem ----
    def _execute(self, index: int, step: df.Step, state: _State, context: Path,
                 sources: list[copying.Source], shown: str) -> str | None:
        if isinstance(step, df.RunStep):
            return self._run(index, step, state, shown)
        if isinstance(step, df.CopyStep):
            return self._copy(step, state, context, sources, shown)
        return None

    def _run(self, index: int, step: df.RunStep, state: _State, shown: str) -> str | None:
        """RUN in a container of our own runtime; its writable layer becomes the new layer."""
        image = Image(id=f"build:{state.key}", layers=state.layers, config=state.config)
        env = [f"{k}={v}" for k, v in state.args.items()]
        binds = [("/etc/resolv.conf", "/etc/resolv.conf", True)]  # host network for installs
        c = self.rt.create(ContainerSpec(image, list(step.argv), entrypoint=[], env=env,
                                         network="host", binds=binds))
        try:
            if self.progress.captures_output:
                with OutputLines(lambda line: self.progress.output(index, line)) as fd:
                    code = self.rt.start(c, attach=True, output=fd)
            else:
                code = self.rt.start(c, attach=True)
            if code != 0:
                raise BuildError(f'{shown}:{step.line}: process "{" ".join(step.argv)}" did not '
                                 f"complete successfully: exit code: {code}")
            upper = self.rt.containers.path(c.id) / "upper"
            if not any(upper.iterdir()):
                return None
            staged = self.store.staging_dir()
            staged.rmdir()
            os.rename(upper, staged)
            try:
                return self.store.commit_layer(staged, pin=self._pinned())
            except BaseException:
                shutil.rmtree(staged, ignore_errors=True)
                raise
        finally:
            self.rt.remove(c.id, force=True)

    def _copy(self, step: df.CopyStep, state: _State, context: Path,
              sources: list[copying.Source], shown: str) -> str | None:
        workdir = state.config.WorkingDir or "/"
        dest = step.dest if step.dest.startswith("/") else os.path.join(workdir, step.dest)
        uid, gid = _parse_chown(step.chown, shown, step.line)
        chmod = int(step.chmod, 8) if step.chmod else None
        staged = self.store.staging_dir()
        try:
            archives = [s for s in sources if step.is_add and not s.target
                        and is_archive(context / s.rel)]
            plain = [s for s in sources if s not in archives]
            dest_is_dir = (step.dest.endswith("/") or len(step.sources) > 1
                           or any(s.target for s in sources) or bool(archives))
            try:
                dest = copying.resolve_dest(
                    [self.store.layer_path(d) for d in reversed(state.layers)], dest,
                    follow_last=dest_is_dir)
            except OSError as e:
                raise BuildError(f"{shown}:{step.line}: COPY failed: {e.strerror}") from None
            copying.copy_into(context, plain, staged, dest, dest_is_dir, uid, gid, chmod)
            for archive in archives:
                target = staged / dest.strip("/")
                target.mkdir(parents=True, exist_ok=True)
                add_local_archive(context / archive.rel, target)
            return self.store.commit_layer(staged, pin=self._pinned())
        except ArchiveError as e:
            shutil.rmtree(staged, ignore_errors=True)
            raise BuildError(f"{shown}:{step.line}: ADD failed: {e}") from None
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise


def _parse_chown(chown: str | None, shown: str, line: int) -> tuple[int, int]:
    if not chown:
        return 0, 0
    user, _, group = chown.partition(":")
    try:
        uid = int(user)
        return uid, int(group) if group else uid
    except ValueError:
        raise BuildError(f"{shown}:{line}: --chown supports numeric ids only: {chown}") from None

