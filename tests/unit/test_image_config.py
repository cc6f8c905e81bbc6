"""Docker's rules for an image's config and `run`'s overrides (runtime/image/config.py), the
one resolution both a container and a VM guest get."""

from __future__ import annotations

import pytest

from runtime.errors import InvalidArgument
from runtime.image.config import Process, merge_env, resolve
from runtime.image.store import ImageConfig
from runtime.spec import ContainerSpec
from vm.request import VmRequest


def image(**fields: object) -> ImageConfig:
    return ImageConfig(**{"Env": ["PATH=/image/bin", "MODE=image"], **fields})  # type: ignore[arg-type]


def argv(config: ImageConfig | None, **given: object) -> list[str]:
    return resolve(config, ContainerSpec("x", **given)).argv  # type: ignore[arg-type]


@pytest.mark.parametrize("entrypoint, cmd, given, expected", [
    (None, ["sh"], {}, ["sh"]),                                          # CMD alone
    (["/entry"], None, {}, ["/entry"]),                                  # ENTRYPOINT alone
    (["/entry"], ["-v"], {}, ["/entry", "-v"]),                          # ENTRYPOINT + CMD
    (["/entry"], ["-v"], {"command": ["-q"]}, ["/entry", "-q"]),         # a command replaces CMD
    (None, ["sh"], {"command": ["ls", "-l"]}, ["ls", "-l"]),
    (["/entry"], ["-v"], {"command": []}, ["/entry", "-v"]),             # [] is no command
    (["/entry"], ["-v"], {"entrypoint": ["/other"]}, ["/other"]),         # --entrypoint drops CMD
    (["/entry"], ["-v"], {"entrypoint": ["/other"], "command": ["a"]}, ["/other", "a"]),
    (["/entry"], ["-v"], {"entrypoint": [], "command": ["ls"]}, ["ls"]),  # --entrypoint ""
    (None, ["sh"], {"entrypoint": ["/other"]}, ["/other"]),
])
def test_entrypoint_and_cmd(entrypoint: list[str] | None, cmd: list[str] | None,
                            given: dict[str, object], expected: list[str]) -> None:
    assert argv(image(Entrypoint=entrypoint, Cmd=cmd), **given) == expected


@pytest.mark.parametrize("config, given", [
    (ImageConfig(), {}),                                      # an image without either
    (ImageConfig(Entrypoint=["/e"], Cmd=["c"]), {"entrypoint": []}),  # both cleared
    (None, {}),                                               # --rootfs and no command
])
def test_nothing_to_run_is_refused(config: ImageConfig | None, given: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument, match="^No command specified$") as info:
        argv(config, **given)
    assert info.value.exit_code == 125


def test_env_merge_order() -> None:
    """The image's first, then the caller's; a later entry wins in the first one's place."""
    given = ContainerSpec("x", ["true"], env=["EXTRA=1", "MODE=cli", "EXTRA=2", "BARE"])
    assert resolve(image(), given).env == ["PATH=/image/bin", "MODE=cli", "EXTRA=2", "BARE"]
    assert merge_env(["A=1", "B=1"], ["B=2", "A=3", "C"]) == ["A=3", "B=2", "C"]
    assert merge_env([], []) == []


def test_defaults_come_from_the_image() -> None:
    config = image(Cmd=["sh"], WorkingDir="/srv", User="app")
    assert resolve(config, ContainerSpec("x")) == Process(
        argv=["sh"], env=["PATH=/image/bin", "MODE=image"], workdir="/srv", user="app")


def test_overrides_win() -> None:
    config = image(Cmd=["sh"], WorkingDir="/srv", User="app")
    got = resolve(config, ContainerSpec("x", workdir="/tmp", user="0"))
    assert (got.workdir, got.user) == ("/tmp", "0")


def test_user_default() -> None:
    """No USER anywhere: "" (root). A given "" is kept: it is the caller's choice of root."""
    assert resolve(image(Cmd=["sh"]), ContainerSpec("x")).user == ""
    assert resolve(image(Cmd=["sh"], User="app"), ContainerSpec("x", user="")).user == ""


def test_workdir_default() -> None:
    assert resolve(image(Cmd=["sh"]), ContainerSpec("x")).workdir == "/"
    assert resolve(image(Cmd=["sh"], WorkingDir="/srv"), ContainerSpec("x", workdir="")).workdir \
        == "/srv"  # an empty -w is no -w


def test_no_image_config() -> None:
    """A container on a bare root filesystem: only what the caller gives."""
    got = resolve(None, ContainerSpec(rootfs="/r", command=["true"], env=["A=1"]))
    assert got == Process(argv=["true"], env=["A=1"], workdir="/", user="")


def test_a_vm_request_resolves_alike() -> None:
    """The VM driver hands its request to the same rules."""
    config = image(Entrypoint=["/entry"], Cmd=["-v"], WorkingDir="/srv", User="app")
    fields = {"command": ["-q"], "env": ["MODE=cli"], "workdir": "/tmp", "user": "0"}
    assert resolve(config, VmRequest(image="x", **fields)) == \
        resolve(config, ContainerSpec("x", **fields))  # type: ignore[arg-type]
