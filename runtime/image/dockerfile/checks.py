"""Phase 2, Docker's instructions package: what each instruction may be, and the stage.

Argument counts, flags (Docker's BFlags, then what isobench supports), HEALTHCHECK and
ONBUILD forms, and the structure: only ARGs before the one FROM. The value checks that
need substitution first (STOPSIGNAL, EXPOSE, --chmod) are here too; evaluation calls them.
"""

from __future__ import annotations

import re

from runtime.image.dockerfile.errors import DockerfileError, Fail
from runtime.image.dockerfile.lexer import goquote, trim
from runtime.image.dockerfile.syntax import KNOWN, Instruction

_S, _B, _SS = "string", "bool", "strings"
_FLAG_SPECS: dict[str, dict[str, str]] = {
    "ADD": {"chown": _S, "chmod": _S, "link": _B, "checksum": _S, "keep-git-dir": _B,
            "exclude": _SS, "unpack": _B},
    "COPY": {"chown": _S, "chmod": _S, "from": _S, "link": _B, "parents": _B, "exclude": _SS},
    "FROM": {"platform": _S},
    "RUN": {"mount": _SS, "network": _S, "security": _S},
    "HEALTHCHECK": {"interval": _S, "timeout": _S, "start-period": _S, "start-interval": _S,
                    "retries": _S},
}
_SUPPORTED_FLAGS = {"ADD": {"chown", "chmod"}, "COPY": {"chown", "chmod"},
                    "FROM": {"platform"}, "HEALTHCHECK": set(_FLAG_SPECS["HEALTHCHECK"])}


def _check_flags(ins: Instruction) -> None:
    """Docker's BFlags.Parse for the instruction's flags, then what isobench supports."""
    spec = _FLAG_SPECS.get(ins.keyword, {})
    used: set[str] = set()
    for raw in ins.raw_flags:
        if raw == "--":
            break
        if not raw.startswith("--"):
            raise Fail(f"arg should start with -- : {raw}")
        name, eq, value = raw[2:].partition("=")
        kind = spec.get(name)
        if kind is None:  # BuildKit names it as written: `unknown flag: --boo`
            raise Fail(f"unknown flag: --{name}")
        if name in used and kind != _SS:
            raise Fail(f"duplicate flag specified: --{name}")
        used.add(name)
        if kind == _B and eq and value.lower() not in ("true", "false"):
            raise Fail(f"expecting boolean value for flag {name}, not: {value}")
        if kind in (_S, _SS) and not eq:
            raise Fail(f"missing a value on flag: {name}")
    for name in sorted(used):
        if name in _SUPPORTED_FLAGS.get(ins.keyword, set()):
            continue
        if ins.keyword == "COPY" and name == "from":
            raise Fail("COPY --from is not supported: multi-stage builds are not supported")
        raise Fail(f"{ins.keyword} --{name} is not supported")


_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
          "h": 3600.0}


def _go_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds."""
    s = text
    sign = -1.0 if s.startswith("-") else 1.0
    s = s[1:] if s[:1] in ("-", "+") else s
    if s == "0":
        return 0.0
    if not s:
        raise Fail(f"time: invalid duration {goquote(text)}")
    total = 0.0
    while s:
        m = _DURATION.match(s)
        if not m or m.group(1) in ("", "."):
            if re.match(r"[0-9.]+$", s):
                raise Fail(f"time: missing unit in duration {goquote(text)}")
            raise Fail(f"time: invalid duration {goquote(text)}")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        s = s[m.end():]
    return sign * total


def _check_healthcheck(ins: Instruction) -> None:
    if not ins.parts:
        raise Fail("HEALTHCHECK requires at least one argument")
    kind = ins.parts[0].upper()
    rest = ins.parts[1:]
    if kind == "NONE":
        if rest:
            raise Fail("HEALTHCHECK NONE takes no arguments")
        return
    _check_flags(ins)
    if kind != "CMD":
        raise Fail(f"Unknown type {goquote(kind)} in HEALTHCHECK (try CMD)")
    if not rest:
        raise Fail("Missing command after HEALTHCHECK CMD")
    for name in ("interval", "timeout", "start-period", "start-interval"):
        value = ins.flags.get(name, "")
        seconds = _go_duration(value) if value else 0.0
        if seconds != 0 and seconds < 0.001:  # BuildKit: 0 means "the default"
            raise Fail(f"Interval {goquote(name)} cannot be less than 1ms")
    if ins.flags.get("retries"):
        raw = ins.flags["retries"]
        if not re.fullmatch(r"[+-]?[0-9]+", raw):
            raise Fail(f"strconv.ParseInt: parsing {goquote(raw)}: invalid syntax")
        if int(raw) < 0:  # BuildKit: 0 means "the default"
            raise Fail(f"--retries cannot be negative ({int(raw)})")


_STAGE_NAME = re.compile(r"[a-z][a-z0-9-_.]*")


def _check_instruction(ins: Instruction) -> None:
    """Docker's ParseInstruction: argument counts and flags of one instruction."""
    kw, n = ins.keyword, len(ins.parts)
    if kw not in KNOWN:
        raise Fail(f"unknown instruction: {ins.written}")
    if kw in ("ENV", "LABEL"):
        _check_flags(ins)
        if n == 0:
            raise Fail(f"{kw} requires at least one argument")
        if any(key == "" for key, _ in ins.pairs()):
            raise Fail(f"{kw} names can not be blank")
    elif kw in ("MAINTAINER", "WORKDIR", "USER"):
        if n != 1:
            raise Fail(f"{kw} requires exactly one argument")
        _check_flags(ins)
    elif kw in ("ADD", "COPY"):
        if n < 2:
            raise Fail(f"{kw} requires at least two arguments, but only one was provided. "
                       "Destination could not be determined")
        _check_flags(ins)
    elif kw == "FROM":
        if n == 3 and ins.parts[1].lower() == "as":
            if not _STAGE_NAME.fullmatch(ins.parts[2].lower()):
                raise Fail(f"invalid name for build stage: {goquote(ins.parts[2])}, name "
                           "can't start with a number or contain symbols")
        elif n != 1:
            raise Fail("FROM requires either one or three arguments")
        _check_flags(ins)
    elif kw == "ONBUILD":
        if n == 0:
            raise Fail("ONBUILD requires at least one argument")
        _check_flags(ins)
        trigger = ins.parts[0].upper()
        if trigger == "ONBUILD":
            raise Fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise Fail(f"{trigger} isn't allowed as an ONBUILD trigger")
    elif kw in ("RUN", "CMD", "ENTRYPOINT"):
        _check_flags(ins)
    elif kw == "HEALTHCHECK":
        _check_healthcheck(ins)
    elif kw in ("EXPOSE", "VOLUME"):
        if n == 0:
            raise Fail(f"{kw} requires at least one argument")
        _check_flags(ins)
        if kw == "VOLUME" and any(trim(v) == "" for v in ins.parts):
            raise Fail("VOLUME specified can not be an empty string")
    elif kw == "STOPSIGNAL":
        if n != 1:
            raise Fail("STOPSIGNAL requires exactly one argument")
    elif kw == "ARG":
        if n == 0:
            raise Fail("ARG requires at least one argument")
        if any(name == "" for name, default in ins.arg_decls() if default is not None):
            raise Fail("ARG names can not be blank")
    elif kw == "SHELL":
        _check_flags(ins)
        if n == 0:
            raise Fail("SHELL requires at least one argument")
        if ins.exec_form is None:
            raise Fail("SHELL requires the arguments to be in JSON form")


# moby/sys/signal's Linux names (without SIG), for STOPSIGNAL.
_SIGNALS = frozenset(
    "ABRT ALRM BUS CHLD CLD CONT FPE HUP ILL INT IO IOT KILL PIPE POLL PROF PWR QUIT SEGV "
    "STKFLT STOP SYS TERM TRAP TSTP TTIN TTOU URG USR1 USR2 VTALRM WINCH XCPU XFSZ RTMIN "
    "RTMAX".split()
    + [f"RTMIN+{i}" for i in range(1, 16)] + [f"RTMAX-{i}" for i in range(1, 15)])


def check_signal(sig: str) -> None:
    if re.fullmatch(r"[+-]?[0-9]+", sig):
        if int(sig) == 0:
            raise Fail(f"Invalid signal: {sig}")
        return
    if sig.upper().removeprefix("SIG") not in _SIGNALS:
        raise Fail(f"Invalid signal: {sig}")


def exposed_ports(spec: str) -> list[str]:
    """docker/go-connections nat.ParsePortSpec for EXPOSE: the container ports, normalized."""
    raw = spec.rsplit(":", 1)[-1]  # [ip:[hostport:]]port[/proto]
    fields = raw.split("/")
    port = fields[0]
    if not port:
        raise Fail(f"no port specified: {spec}<empty>")
    proto = (fields[1] if len(fields) > 1 and fields[1] else "tcp").lower()
    start_s, dash, end_s = port.partition("-")
    if not re.fullmatch(r"[0-9]+", start_s) or (dash and not re.fullmatch(r"[0-9]+", end_s)):
        raise Fail(f"invalid containerPort: {port}")
    start, end = int(start_s), int(end_s) if dash else int(start_s)
    if start > 65535 or end > 65535 or end < start:
        raise Fail(f"invalid containerPort: {port}")
    if proto not in ("tcp", "udp", "sctp"):
        raise Fail(f"invalid proto: {proto}")
    return [f"{p}/{proto}" for p in range(start, end + 1)]


def check_chmod(chmod: str) -> None:
    """COPY/ADD --chmod after substitution: octal only, as isobench supports."""
    if not (re.fullmatch(r"[0-7]+", chmod) and int(chmod, 8) <= 0o7777):
        raise Fail(f"invalid chmod parameter {goquote(chmod)}: only octal modes such as "
                   "0755 are supported")


def check(instructions: list[Instruction], path: str) -> None:
    """Phase 2: each instruction's shape, and the stage structure; DockerfileError if not."""
    seen_from = False
    for ins in instructions:
        try:
            _check_instruction(ins)
        except Fail as e:
            raise DockerfileError(str(e), path=path, line=ins.line) from None
        if ins.keyword == "FROM":
            if seen_from:
                raise DockerfileError("multi-stage builds are not supported (a second FROM)",
                                      path=path, line=ins.line)
            seen_from = True
        elif ins.keyword != "ARG" and not seen_from:
            raise DockerfileError(f"no FROM instruction: the first instruction must be FROM "
                                  f"(or ARG), not {ins.keyword}", path=path, line=ins.line)
    if not seen_from:
        raise DockerfileError("no FROM instruction: dockerfile contains no stages to build",
                              path=path, line=0)
