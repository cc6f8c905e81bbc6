"""Dockerfile parsing with Docker's (BuildKit's) semantics, for single-stage builds.

    df = parse(text, path="Dockerfile", build_args={"VERSION": "1.2"})
    df.base_image          # "alpine:3.19", FROM after substitution with the global ARGs
    for step in df.steps(): # FromStep, RunStep, CopyStep, EnvStep, ... (typed, substituted)
        ...

Design: three phases, run by `parse` in the order Docker reports errors, one module each
(as BuildKit splits its frontend), over `lexer` (BuildKit's shell lexer) and `errors`:

1. Syntax (`syntax`, Docker's parser package), over the whole file first: parser
   directives (`# escape=\\` or `` # escape=` ``, and `syntax`/`check`, accepted and
   ignored) only at the very top; comment lines (`#` after optional whitespace) and blank
   lines dropped, also between continuation lines; a line ending in the escape character
   (then optional spaces) continues on the next, lines joined as they are (the escape
   character removed, nothing inserted). Each logical line is split into keyword (any
   case), `--flags` and arguments, and the arguments into Docker's shape for that keyword:
   a JSON array of strings (exec form) or not, ENV/LABEL `k=v` pairs (or legacy
   `ENV k v w`), ARG words, whitespace separated words. Result: `Instruction` objects,
   nothing substituted yet.
2. Checks (`checks`, Docker's instructions package), instruction by instruction: known
   keyword, argument counts, flags, HEALTHCHECK and ONBUILD forms, and the structure: only
   ARGs may come before the one FROM; a second FROM is refused (no multi-stage builds).
3. Evaluation (`evaluate`, Docker's dispatcher): the global ARGs (before FROM) and FROM's
   image name, then each instruction in the scope it sees: ENV and ARG values so far (an
   ARG's value is its --build-arg, else its default; a global ARG reaches the stage only
   when redeclared without a default), SHELL, and WORKDIR. Substitution (`substitute`)
   applies to FROM, ADD, COPY (and their --chown/--chmod), ENV, EXPOSE, LABEL, USER,
   VOLUME, WORKDIR, ARG defaults and STOPSIGNAL, never to RUN, CMD or ENTRYPOINT (that is
   the shell's job). Result: typed `Step` objects (dataclasses, in `steps`), each with
   `line`, `keyword` and `text`, the instruction after substitution, written so that two
   steps with different effects never have the same text (the builder keys its cache on
   it).

`Dockerfile.steps()` are those of phase 3 with an empty base image. Pass the base image's
environment, working directory and shell (`steps(base_env=..., base_workdir=...)`) to have
references to them resolved too (`FROM golang` + `WORKDIR src` is `/go/src`).

Errors are `DockerfileError`, a ValueError that prints as one line,
`Dockerfile:7: unknown instruction: FORM`, with Docker's wording where Docker has one.

Deliberate differences from Docker: no multi-stage builds (a second FROM, COPY --from);
no heredocs (`RUN <<EOF`), RUN --mount/--network/--security, COPY/ADD --link/--parents/
--exclude, ADD --checksum/--keep-git-dir/--unpack, all refused with a clear error rather
than half-supported; FROM --platform only for the host's own platform; --chmod only in
octal; MAINTAINER becomes the `maintainer` label (Docker sets the image's Author);
HEALTHCHECK and ONBUILD are checked and recorded (NoopStep) but have no effect; an
`ARG A=1 B=2` line gives one ArgStep per name; unknown-instruction errors carry no
"did you mean" hint.
"""

from runtime.image.dockerfile.errors import DockerfileError
from runtime.image.dockerfile.evaluate import (
    DEFAULT_SHELL,
    PLATFORM_ARGS,
    Dockerfile,
    parse,
)
from runtime.image.dockerfile.lexer import substitute, substitute_words
from runtime.image.dockerfile.steps import (
    ArgStep,
    CmdStep,
    CopyStep,
    EntrypointStep,
    EnvStep,
    ExposeStep,
    FromStep,
    LabelStep,
    NoopStep,
    RunStep,
    ShellStep,
    Step,
    StopSignalStep,
    UserStep,
    VolumeStep,
    WorkdirStep,
)
from runtime.image.dockerfile.syntax import Instruction

__all__ = [
    "ArgStep", "CmdStep", "CopyStep", "Dockerfile", "DockerfileError", "EntrypointStep",
    "EnvStep", "ExposeStep", "FromStep", "Instruction", "LabelStep", "NoopStep",
    "PLATFORM_ARGS", "RunStep", "ShellStep", "Step", "StopSignalStep", "UserStep",
    "VolumeStep", "WorkdirStep", "DEFAULT_SHELL", "parse", "substitute", "substitute_words",
]
