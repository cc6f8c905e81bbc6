"""Phase 3, Docker's dispatcher: the stage evaluated into typed steps; and `parse`.

The global ARGs (before FROM) and FROM's image name, then each instruction in the scope
it sees: ENV and ARG values so far (an ARG's value is its --build-arg, else its default;
a global ARG reaches the stage only when redeclared without a default), SHELL, and
WORKDIR. Substitution applies to FROM, ADD, COPY (and their --chown/--chmod), ENV,
EXPOSE, LABEL, USER, VOLUME, WORKDIR, ARG defaults and STOPSIGNAL, never to RUN, CMD or
ENTRYPOINT (that is the shell's job).
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from runtime.image.dockerfile import steps as st
from runtime.image.dockerfile.checks import check, check_chmod, check_signal, exposed_ports
from runtime.image.dockerfile.errors import DockerfileError, Fail
from runtime.image.dockerfile.lexer import expand, go_space, goquote, trim
from runtime.image.dockerfile.syntax import Instruction, read_instructions
from runtime.image.ignore import clean_path  # Go's path.Clean, shared

DEFAULT_SHELL = ("/bin/sh", "-c")

# Build args Docker accepts without an ARG (passed to RUN, never "unused").
PROXY_ARGS = frozenset({
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
    "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
})


def _host_platform() -> tuple[str, str]:
    machine = platform.machine().lower()
    arch, variant = {
        "x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", ""),
        "arm64": ("arm64", ""), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
        "i386": ("386", ""), "i686": ("386", ""), "ppc64le": ("ppc64le", ""),
        "s390x": ("s390x", ""), "riscv64": ("riscv64", ""),
    }.get(machine, (machine, ""))
    return arch, variant


def _platform_args() -> dict[str, str]:
    arch, variant = _host_platform()
    plat = f"linux/{arch}" + (f"/{variant}" if variant else "")
    out: dict[str, str] = {}
    for prefix in ("BUILD", "TARGET"):
        out.update({f"{prefix}PLATFORM": plat, f"{prefix}OS": "linux",
                    f"{prefix}ARCH": arch, f"{prefix}VARIANT": variant})
    return out


# BuildKit's automatic global ARGs: usable in FROM, and in the stage once declared.
PLATFORM_ARGS: Mapping[str, str] = _platform_args()


_SAFE_WORD = re.compile(r"[^\s\"'\\$`=]+")


def _q(s: str) -> str:
    """A value as written into a step's text: bare when unambiguous, else JSON-quoted."""
    return s if _SAFE_WORD.fullmatch(s) else goquote(s)


def _argv_text(keyword: str, argv: list[str]) -> str:
    return f"{keyword} {json.dumps(argv, ensure_ascii=False)}"


def _env_map(env: Mapping[str, str] | Iterable[str] | None) -> dict[str, str]:
    if env is None:
        return {}
    if isinstance(env, Mapping):
        return dict(env)
    out: dict[str, str] = {}
    for item in env:  # an image config's ["K=V", ...]
        key, _, value = item.partition("=")
        out[key] = value
    return out


@dataclass
class Stage:
    """What a stage's instructions set (`env`, `labels`, `cmd`, ...), as evaluated."""

    base_image: str = ""
    stage_name: str | None = None
    meta_args: dict[str, str | None] = field(default_factory=dict)  # ARGs before FROM
    args: dict[str, str | None] = field(default_factory=dict)  # ARGs of the stage
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    shell: list[str] = field(default_factory=lambda: list(DEFAULT_SHELL))
    workdir: str | None = None
    user: str | None = None
    exposed_ports: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    stop_signal: str | None = None
    healthcheck: Instruction | None = None
    onbuild: list[str] = field(default_factory=list)


class _Evaluator:
    """Phase 3: the stage instruction by instruction, as Docker's dispatcher sees it."""

    def __init__(self, instructions: list[Instruction], path: str, escape: str,
                 build_args: Mapping[str, str], base_env: Mapping[str, str],
                 base_workdir: str | None, base_shell: list[str] | None) -> None:
        self.instructions = instructions
        self.path = path
        self.escape = escape
        self.build_args = build_args
        self.r = Stage()
        self.steps: list[st.Step] = []
        self.scope = dict(base_env)  # what $VAR sees: base ENV, then ENV and ARG in order
        self.cwd = base_workdir or ""
        if base_shell:
            self.r.shell = list(base_shell)
        self.cmd_set = False
        self.ins: Instruction | None = None

    def fail(self, message: str) -> DockerfileError:
        line = self.ins.line if self.ins is not None else 0
        return DockerfileError(message, path=self.path, line=line)

    def expand(self, word: str, env: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
        try:
            return expand(word, self.scope if env is None else env, self.escape)
        except DockerfileError as e:
            raise self.fail(e.message) from None

    def sub(self, word: str, env: Mapping[str, str] | None = None) -> str:
        return self.expand(word, env)[0]

    def sub_words(self, word: str) -> list[str]:
        return self.expand(word)[1]

    def run(self) -> tuple[Stage, list[st.Step]]:
        r = self.r
        global_args = dict(PLATFORM_ARGS)
        index = 0
        while self.instructions[index].keyword != "FROM":  # the global ARGs
            self.ins = self.instructions[index]
            for name, default in self.ins.arg_decls():
                if name in self.build_args:
                    value: str | None = self.build_args[name]
                elif default is not None:
                    value = self.sub(default, global_args)
                else:
                    value = None
                if value is not None:
                    global_args[name] = value
                r.meta_args[name] = value
            index += 1
        self.global_args = global_args
        for ins in self.instructions[index:]:
            self.ins = ins
            try:
                result = getattr(self, "do_" + ins.keyword.lower())(ins)
            except Fail as e:
                raise self.fail(str(e)) from None
            if isinstance(result, list):
                self.steps += result
            else:
                self.steps.append(result)
        return r, self.steps

    def do_from(self, ins: Instruction) -> st.Step:
        image = self.sub(ins.parts[0], self.global_args)
        if not image:
            raise Fail(f"base name ({ins.parts[0]}) should not be blank")
        if "platform" in ins.flags:
            wanted = self.sub(ins.flags["platform"], self.global_args)
            arch, variant = _host_platform()
            host = PLATFORM_ARGS["TARGETPLATFORM"]
            if wanted and wanted not in (host, f"linux/{arch}"):
                raise Fail(f"FROM --platform={wanted} is not supported: only the build host's "
                           f"platform ({host})")
        stage = ins.parts[2].lower() if len(ins.parts) == 3 else None
        self.r.base_image, self.r.stage_name = image, stage
        text = f"FROM {image}" + (f" AS {stage}" if stage else "")
        return st.FromStep(image, stage, line=ins.line, text=text)

    def _pairs(self, ins: Instruction) -> list[tuple[str, str]]:
        # All of one instruction's pairs see the scope from before it.
        pairs = [(self.sub(k), self.sub(v)) for k, v in ins.pairs()]
        if any(k == "" for k, _ in pairs):
            raise Fail(f"{ins.keyword} names can not be blank")
        return pairs

    @staticmethod
    def _pairs_text(keyword: str, pairs: list[tuple[str, str]]) -> str:
        return keyword + " " + " ".join(f"{_q(k)}={_q(v)}" for k, v in pairs)

    def do_env(self, ins: Instruction) -> st.Step:
        pairs = self._pairs(ins)
        for key, value in pairs:
            self.scope[key] = value
            self.r.env[key] = value
        return st.EnvStep(pairs, line=ins.line, text=self._pairs_text("ENV", pairs))

    def do_label(self, ins: Instruction) -> st.Step:
        pairs = self._pairs(ins)
        self.r.labels.update(pairs)
        return st.LabelStep(pairs, line=ins.line, text=self._pairs_text("LABEL", pairs))

    def do_maintainer(self, ins: Instruction) -> st.Step:
        self.r.labels["maintainer"] = ins.parts[0]
        return st.LabelStep([("maintainer", ins.parts[0])], line=ins.line,
                            text=f"MAINTAINER {ins.parts[0]}", keyword="MAINTAINER")

    def do_arg(self, ins: Instruction) -> list[st.Step]:
        before = dict(self.scope)
        steps: list[st.Step] = []
        for raw_name, default in ins.arg_decls():
            name = self.sub(raw_name, before)
            given = name in self.build_args
            value: str | None
            if default is None and not given and name in self.global_args:
                value = self.global_args[name]  # a global ARG redeclared in the stage
            elif given:
                value = self.build_args[name]
            elif default is not None:
                value = self.sub(default)
            else:
                value = None
            if value is not None:
                self.scope[name] = value
            self.r.args[name] = value
            text = f"ARG {_q(name)}" + (f"={_q(value)}" if value is not None else "")
            steps.append(st.ArgStep(name, value, line=ins.line, text=text))
        return steps

    def _command(self, ins: Instruction) -> tuple[list[str], bool]:
        if ins.exec_form is not None:
            return list(ins.exec_form), False
        return [*self.r.shell, ins.parts[0] if ins.parts else ""], True

    def do_run(self, ins: Instruction) -> st.Step:
        argv, shell_form = self._command(ins)
        if shell_form and not any(any(go_space(c) for c in a) for a in self.r.shell):
            text = "RUN " + " ".join(argv)
        else:
            text = _argv_text("RUN", argv)
        return st.RunStep(argv, shell_form, line=ins.line, text=text)

    def do_cmd(self, ins: Instruction) -> st.Step:
        argv, shell_form = self._command(ins)
        self.r.cmd = argv
        self.cmd_set = True
        return st.CmdStep(argv, shell_form, line=ins.line, text=_argv_text("CMD", argv))

    def do_entrypoint(self, ins: Instruction) -> st.Step:
        argv, shell_form = self._command(ins)
        self.r.entrypoint = argv
        if not self.cmd_set:
            self.r.cmd = None
        return st.EntrypointStep(argv, shell_form, line=ins.line,
                                 text=_argv_text("ENTRYPOINT", argv))

    def do_shell(self, ins: Instruction) -> st.Step:
        assert ins.exec_form is not None
        self.r.shell = list(ins.exec_form)
        return st.ShellStep(list(ins.exec_form), line=ins.line,
                            text=_argv_text("SHELL", ins.exec_form))

    def _copy(self, ins: Instruction, is_add: bool) -> st.Step:
        chown = self.sub(ins.flags["chown"]) if "chown" in ins.flags else None
        chmod = self.sub(ins.flags["chmod"]) if "chmod" in ins.flags else None
        if chmod:
            check_chmod(chmod)
        paths = [self.sub(p) for p in ins.parts]
        sources, dest = paths[:-1], paths[-1]
        keyword = "ADD" if is_add else "COPY"
        flags = "".join(f" --{name}={_q(value)}" for name, value in
                        (("chown", chown), ("chmod", chmod)) if value is not None)
        if all(_q(p) == p for p in paths):
            text = f"{keyword}{flags} " + " ".join(paths)
        else:
            text = f"{keyword}{flags} " + json.dumps(paths, ensure_ascii=False)
        return st.CopyStep(sources, dest, chown or None, chmod or None, is_add, line=ins.line,
                           text=text)

    def do_copy(self, ins: Instruction) -> st.Step:
        return self._copy(ins, False)

    def do_add(self, ins: Instruction) -> st.Step:
        return self._copy(ins, True)

    def do_workdir(self, ins: Instruction) -> st.Step:
        path = self.sub(ins.parts[0])
        if not path:
            raise Fail("cannot normalize nothing")
        if not path.startswith("/"):
            path = clean_path("/" + self.cwd + "/" + path)
        self.cwd = path
        self.r.workdir = path
        return st.WorkdirStep(path, line=ins.line, text=f"WORKDIR {_q(path)}")

    def do_user(self, ins: Instruction) -> st.Step:
        user = self.sub(ins.parts[0])
        self.r.user = user
        return st.UserStep(user, line=ins.line, text=f"USER {_q(user)}")

    def do_expose(self, ins: Instruction) -> st.Step:
        ports: list[str] = []
        for part in sorted(ins.parts):  # Docker sorts them
            for spec in self.sub_words(part):
                for port in exposed_ports(spec):
                    if port not in ports:
                        ports.append(port)
        for port in ports:
            if port not in self.r.exposed_ports:
                self.r.exposed_ports.append(port)
        return st.ExposeStep(ports, line=ins.line, text="EXPOSE " + " ".join(ports))

    def do_volume(self, ins: Instruction) -> st.Step:
        paths = [self.sub(trim(p)) for p in ins.parts]
        if any(p == "" for p in paths):
            raise Fail("VOLUME specified can not be an empty string")
        for p in paths:
            if p not in self.r.volumes:
                self.r.volumes.append(p)
        return st.VolumeStep(paths, line=ins.line, text=_argv_text("VOLUME", paths))

    def do_stopsignal(self, ins: Instruction) -> st.Step:
        sig = self.sub(ins.parts[0])
        check_signal(sig)
        self.r.stop_signal = sig
        return st.StopSignalStep(sig, line=ins.line, text=f"STOPSIGNAL {_q(sig)}")

    def do_healthcheck(self, ins: Instruction) -> st.Step:
        self.r.healthcheck = ins
        return st.NoopStep("HEALTHCHECK", line=ins.line, text=ins.original)

    def do_onbuild(self, ins: Instruction) -> st.Step:
        assert ins.trigger is not None
        self.r.onbuild.append(ins.trigger.original)
        return st.NoopStep("ONBUILD", line=ins.line, text=ins.original)


@dataclass(kw_only=True)
class Dockerfile(Stage):
    """A parsed, checked and evaluated Dockerfile (one stage).

    `instructions` are all of them in file order (the global ARGs before FROM too); the
    `Stage` attributes are the outcome of evaluating them against an empty base image:
    what the file itself sets, not what it inherits.
    """

    path: str
    instructions: list[Instruction]
    escape: str = "\\"
    build_args: dict[str, str] = field(default_factory=dict)
    unused_build_args: list[str] = field(default_factory=list)
    proxy_args: dict[str, str] = field(default_factory=dict)  # HTTP_PROXY & co, for RUN
    warnings: list[str] = field(default_factory=list)
    _steps: list[st.Step] = field(default_factory=list, repr=False)

    def steps(self, base_env: Mapping[str, str] | Iterable[str] | None = None,
              base_workdir: str | None = None,
              base_shell: list[str] | None = None) -> list[st.Step]:
        """The typed steps, FROM first (the global ARGs are not steps).

        Without arguments: evaluated against an empty base image. With the base image's
        environment (a mapping or `["K=V", ...]`), working directory and shell, references
        to them are resolved as Docker resolves them. May raise DockerfileError then.
        """
        if base_env is None and base_workdir is None and base_shell is None:
            return list(self._steps)
        evaluator = _Evaluator(self.instructions, self.path, self.escape, self.build_args,
                               _env_map(base_env), base_workdir, base_shell)
        return evaluator.run()[1]


def parse(text: str, path: str = "Dockerfile",
          build_args: Mapping[str, str] | None = None) -> Dockerfile:
    """Parse, check and evaluate a Dockerfile; raise DockerfileError as Docker would."""
    build_args = dict(build_args or {})
    instructions, escape, warnings = read_instructions(text, path)  # phase 1: the syntax
    check(instructions, path)  # phase 2: each instruction's shape, and the stage's
    stage, steps = _Evaluator(instructions, path, escape, build_args, {}, None, None).run()

    declared = {name for ins in instructions if ins.keyword == "ARG"
                for name, _ in ins.arg_decls()} | set(stage.args)
    unused = sorted(k for k in build_args if k not in declared and k not in PROXY_ARGS)
    if unused:
        warnings.append(f"One or more build-args {unused} were not consumed")
    return Dockerfile(
        path=path, instructions=instructions, escape=escape, build_args=build_args,
        unused_build_args=unused,
        proxy_args={k: v for k, v in build_args.items() if k in PROXY_ARGS},
        warnings=warnings, _steps=steps, **vars(stage))
