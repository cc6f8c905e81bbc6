"""Dockerfile parsing with Docker's (BuildKit's) semantics (being split into modules)."""

from runtime.image.dockerfile.evaluate import (
    DEFAULT_SHELL,
    PLATFORM_ARGS,
    ArgStep,
    CmdStep,
    CopyStep,
    Dockerfile,
    DockerfileError,
    EntrypointStep,
    EnvStep,
    ExposeStep,
    FromStep,
    Instruction,
    LabelStep,
    NoopStep,
    RunStep,
    ShellStep,
    Step,
    StopSignalStep,
    UserStep,
    VolumeStep,
    WorkdirStep,
    parse,
    substitute,
    substitute_words,
)

__all__ = [
    "ArgStep", "CmdStep", "CopyStep", "Dockerfile", "DockerfileError", "EntrypointStep",
    "EnvStep", "ExposeStep", "FromStep", "Instruction", "LabelStep", "NoopStep",
    "PLATFORM_ARGS", "RunStep", "ShellStep", "Step", "StopSignalStep", "UserStep",
    "VolumeStep", "WorkdirStep", "DEFAULT_SHELL", "parse", "substitute", "substitute_words",
]
