"""The Dockerfile parser (runtime.image.dockerfile), against Docker's (BuildKit's) rules."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.image import dockerfile as d
from runtime.image.dockerfile import DockerfileError, parse, substitute, substitute_words


def steps(text: str, **kw) -> list[d.Step]:
    return parse(text, **kw).steps()


def stage(body: str, **kw) -> list[d.Step]:
    """The steps of `FROM alpine` + body, without the FromStep."""
    return steps("FROM alpine\n" + body, **kw)[1:]


def error(text: str, **kw) -> DockerfileError:
    with pytest.raises(DockerfileError) as info:
        parse(text, **kw)
    return info.value


# ---------------------------------------------------------------- lines and comments

def test_continuation_joins_lines_as_written_and_skips_comments_and_blanks_inside():
    df = parse("FROM alpine\n"
               "RUN apk add \\\n"
               "    # a comment between continuation lines\n"
               "\n"
               "      curl \\   \n"
               "  && echo done\n"
               "USER bob\n")
    run = df.instructions[1]
    assert run.keyword == "RUN"
    assert run.args == "apk add       curl   && echo done"
    assert (run.line, run.end_line) == (2, 6)
    assert run.original == "RUN apk add       curl   && echo done"
    assert df.steps()[1].argv == ["/bin/sh", "-c", "apk add       curl   && echo done"]
    assert df.instructions[2].line == 7
    assert any("empty continuation line" in w for w in df.warnings)


def test_continuation_inserts_nothing_between_joined_lines():
    df = parse("FROM alpine\nRUN echo a\\\nb\n")
    assert df.instructions[1].args == "echo ab"


def test_comment_lines_are_skipped_and_a_comment_never_continues():
    df = parse("# first\n   # indented comment \\\n"
               "FROM alpine\n#RUN nothing\nUSER x # not a comment\n")
    assert [i.keyword for i in df.instructions] == ["FROM", "USER"]
    assert df.instructions[0].line == 3
    assert df.user == "x # not a comment"


def test_crlf_line_endings_and_a_byte_order_mark():
    df = parse("\ufeffFROM alpine\r\nENV A=1 \\\r\n  B=2\r\n")
    assert df.env == {"A": "1", "B": "2"}


def test_escape_directive_backtick_continues_lines_and_leaves_backslashes_alone():
    df = parse("# escape=`\n"
               "FROM mcr.microsoft.com/windows\n"
               "COPY C:\\src\\app C:\\app\\ `\n"
               "  C:\\dest\\\n"
               "ENV P=a`$b\n"
               "RUN dir c:\\\n")
    assert df.escape == "`"
    copy = df.steps()[1]
    assert copy.sources == ["C:\\src\\app", "C:\\app\\"]
    assert copy.dest == "C:\\dest\\"
    assert df.env == {"P": "a$b"}  # the backtick escapes the dollar
    assert df.instructions[3].args == "dir c:\\"  # a backslash no longer continues


def test_directive_spelling_is_free_but_only_at_the_very_top():
    df = parse("#  ESCAPE = `\nFROM alpine\nRUN a `\n b\n")
    assert df.instructions[1].args == "a  b"
    # After a comment or a blank line the same text is just a comment.
    for prefix in ("# hello\n", "\n"):
        df = parse(prefix + "# escape=`\nFROM alpine\nRUN a \\\n b\n")
        assert df.escape == "\\"
        assert df.instructions[1].args == "a  b"


def test_bad_and_repeated_directives():
    e = error("# escape=x\nFROM alpine\n")
    assert e.line == 1 and "invalid escape token 'x'" in e.message
    e = error("# escape=`\n# escape=\\\nFROM alpine\n")
    assert e.line == 2 and e.message == "only one escape parser directive can be used"


def test_keywords_are_case_insensitive_and_remember_how_they_were_written():
    df = parse("from alpine\nRun echo hi\ncOpY a b\nworkdir /x\n")
    assert [i.keyword for i in df.instructions] == ["FROM", "RUN", "COPY", "WORKDIR"]
    assert df.instructions[1].written == "Run"
    assert isinstance(df.steps()[2], d.CopyStep)


# ---------------------------------------------------------------- errors and their lines

def test_unknown_instruction_names_its_line_on_one_line():
    e = error("FROM alpine\nRUN a\nRUN b\n\n# c\nRUN d\nFORM x\n")
    assert isinstance(e, ValueError)
    assert (e.path, e.line) == ("Dockerfile", 7)
    assert str(e) == "Dockerfile:7: unknown instruction: FORM"
    e = error("FROM alpine\nfrob x\n", path="ctx/Dockerfile.dev")
    assert str(e) == "ctx/Dockerfile.dev:2: unknown instruction: frob"


def test_missing_from_names_the_first_offender():
    e = error("# c\n\nRUN echo hi\nFROM alpine\n")
    assert e.line == 3 and e.message.startswith("no FROM instruction")
    e = error("ARG A=1\nARG B\nENV X=1\nFROM alpine\n")
    assert e.line == 3 and "ENV" in e.message
    e = error("ARG A=1\n")
    assert e.line == 0 and e.message.startswith("no FROM instruction")


def test_an_empty_file_has_no_instructions():
    for text in ("", "\n\n", "# only a comment\n  \n"):
        e = error(text)
        assert e.line == 0 and e.message == "file with no instructions"
        assert str(e) == "Dockerfile: file with no instructions"


def test_a_second_from_is_refused():
    e = error("FROM golang AS build\nRUN make\nFROM alpine\n")
    assert e.line == 3 and "multi-stage builds are not supported" in e.message


def test_copy_with_one_argument_errors_on_the_line_it_starts():
    e = error("FROM alpine\nRUN true\nCOPY \\\n   onlysource\n")
    assert e.line == 3
    assert e.message.startswith("COPY requires at least two arguments")
    assert "ADD requires at least two" in error("FROM alpine\nADD x\n").message


def test_syntax_errors_anywhere_come_before_instruction_errors_as_in_docker():
    # Docker parses the whole file before it looks at instructions one by one.
    e = error("FROM alpine\nFORM x\nENV LONELY\n")
    assert e.line == 3 and e.message == "ENV must have two arguments"


def test_argument_shape_errors():
    cases = {
        "ENV a=b c": "Syntax error - can't find = in \"c\". Must be of the form: name=value",
        "LABEL onlykey": "LABEL must have two arguments",
        "ENV =x": "ENV names can not be blank",
        "ARG =x": "ARG names can not be blank",
        "WORKDIR": "WORKDIR requires exactly one argument",
        "USER": "USER requires exactly one argument",
        "EXPOSE": "EXPOSE requires at least one argument",
        "VOLUME": "VOLUME requires at least one argument",
        "ARG": "ARG requires at least one argument",
        "STOPSIGNAL": "STOPSIGNAL requires exactly one argument",
        'CMD ["a", 1]': "when using JSON array syntax, arrays must be comprised of strings only",
        "SHELL /bin/bash -c": "SHELL requires the arguments to be in JSON form",
        "FROM": "FROM requires either one or three arguments",
    }
    for line, message in cases.items():
        text = line + "\n" if line == "FROM" else "FROM alpine\n" + line + "\n"
        e = error(text)
        assert e.message == message, line
        assert e.line == (1 if line == "FROM" else 2)


def test_flags():
    e = error("FROM alpine\nCOPY --from=build /a /b\n")
    assert e.line == 2 and "multi-stage builds are not supported" in e.message
    assert error("FROM alpine\nCOPY --nope=1 a b\n").message == "unknown flag: --nope"
    assert error("FROM alpine\nCOPY --chown a b\n").message == "missing a value on flag: chown"
    assert error("FROM alpine\nENV --x=1 A=1\n").message == "unknown flag: --x"
    assert "RUN --mount is not supported" in error("FROM alpine\nRUN --mount=type=cache,"
                                                   "target=/c make\n").message
    assert "COPY --link is not supported" in error("FROM alpine\nCOPY --link a b\n").message
    e = error("FROM alpine\nCOPY --chown=1:1 --chown=2:2 a b\n")
    assert e.message == "duplicate flag specified: --chown"


def test_substitution_errors_carry_the_line():
    e = error("FROM alpine\nENV A=1\nWORKDIR ${NOPE:?must be set}\n")
    assert e.line == 3 and e.message.endswith("NOPE: must be set")
    e = error("FROM alpine\nCOPY \"a b\" /x\n")  # plain COPY splits on spaces first
    assert e.line == 2 and "double-quote" in e.message


def test_error_is_one_line_and_survives_pickling():
    e = error("FROM alpine\nFROB \x0bx\rY\n")
    assert str(e) == "Dockerfile:2: unknown instruction: FROB"
    assert str(DockerfileError("a\nb\rc", line=4)) == "Dockerfile:4: a\\nb\\rc"
    again = pickle.loads(pickle.dumps(e))
    assert (again.path, again.line, str(again)) == (e.path, e.line, str(e))


# ---------------------------------------------------------------- variable substitution

ENV = {"A": "a", "EMPTY": "", "PATH": "/usr/bin:/bin", "FILE": "archive.tar.gz"}


@pytest.mark.parametrize("text,expected", [
    ("$A", "a"),
    ("${A}", "a"),
    ("x${A}y$A", "xaya"),
    ("$UNSET", ""),
    ("${UNSET:-dflt}", "dflt"),
    ("${EMPTY:-dflt}", "dflt"),
    ("${A:-dflt}", "a"),
    ("${EMPTY-dflt}", ""),  # without the colon, only unset counts
    ("${UNSET-dflt}", "dflt"),
    ("${A:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${UNSET:+alt}", ""),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET:-$A/x}", "a/x"),  # nested expansion in the default
    ("\\$A", "$A"),
    ("\\${A}", "${A}"),
    ("'$A'", "$A"),  # single quotes: literal
    ('"$A b"', "a b"),  # double quotes: expanded, quotes removed
    ('"\\$A"', "$A"),
    ("a\\ b", "a b"),
    ("$", "$"),
    ("$1x", "x"),
    ("${FILE%.*}", "archive.tar"),
    ("${FILE%%.*}", "archive"),
    ("${FILE#*.}", "tar.gz"),
    ("${FILE##*.}", "gz"),
    ("${PATH/:/;}", "/usr/bin;/bin"),
    ("${PATH//\\//_}", "_usr_bin:_bin"),
])
def test_substitute(text, expected):
    assert substitute(text, ENV) == expected


@pytest.mark.parametrize("text,message", [
    ("${A", "missing '}'"),
    ("${}", "bad substitution"),
    ("${:x}", "bad substitution"),
    ("${A!x}", "unsupported modifier (!) in substitution"),
    ("${UNSET:?}", "UNSET: is not allowed to be unset"),
    ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
    ("'open", "single-quote"),
    ('"open', "double-quote"),
])
def test_substitute_errors(text, message):
    with pytest.raises(DockerfileError) as info:
        substitute(text, ENV)
    assert message in str(info.value)
    assert str(info.value).startswith("failed to process ")


def test_substitute_with_backtick_escape_and_words():
    assert substitute("C:\\x`$A", ENV, escape="`") == "C:\\x$A"
    assert substitute_words('$PORTS "a b" c', {"PORTS": "80  443"}) == ["80", "443", "a b", "c"]


def test_substitution_applies_to_the_documented_instructions_only():
    df = parse("ARG IMG=alpine\nFROM $IMG\n"
               "ENV D=/data U=bob P=8080 S=SIGINT L=lbl\n"
               "WORKDIR $D\nUSER ${U}:staff\nEXPOSE $P\nVOLUME $D/v\nLABEL $L=$U\n"
               "STOPSIGNAL $S\nCOPY $D/src ${D}/dst\nADD --chown=$U $D/a /b\n"
               "RUN echo $D\nCMD echo $D\nENTRYPOINT [\"echo\", \"$D\"]\n")
    s = df.steps()
    assert s[0].image == "alpine"
    assert s[2].path == "/data"
    assert s[3].user == "bob:staff"
    assert s[4].ports == ["8080/tcp"]
    assert s[5].paths == ["/data/v"]
    assert s[6].pairs == [("lbl", "bob")]
    assert s[7].signal == "SIGINT"
    assert (s[8].sources, s[8].dest) == (["/data/src"], "/data/dst")
    assert (s[9].chown, s[9].sources, s[9].is_add) == ("bob", ["/data/a"], True)
    assert s[10].argv == ["/bin/sh", "-c", "echo $D"]  # the shell expands it, not Docker
    assert s[11].argv == ["/bin/sh", "-c", "echo $D"]
    assert s[12].argv == ["echo", "$D"]


def test_pairs_of_one_env_see_the_scope_from_before_it():
    df = parse("FROM alpine\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n")
    assert df.env == {"abc": "bye", "def": "hello", "ghi": "bye"}


# ---------------------------------------------------------------- ENV, LABEL, ARG

def test_env_forms():
    s = stage('ENV K=V K2="v 2" K3=a\\ b\nENV LEGACY some value with spaces\nENV Q "quoted"\n')
    assert s[0].pairs == [("K", "V"), ("K2", "v 2"), ("K3", "a b")]
    assert s[1].pairs == [("LEGACY", "some value with spaces")]
    assert s[2].pairs == [("Q", "quoted")]
    assert parse("FROM alpine\nENV E=\n").env == {"E": ""}


def test_label_forms_honour_quotes():
    df = parse('FROM alpine\nLABEL a=b "com.x.y"="v 1" c=\'$NOT\'\nLABEL legacy x y\n'
               "MAINTAINER Jane <j@x.org>\n")
    assert df.labels == {"a": "b", "com.x.y": "v 1", "c": "$NOT", "legacy": "x y",
                         "maintainer": "Jane <j@x.org>"}
    last = df.steps()[-1]
    assert isinstance(last, d.LabelStep) and last.keyword == "MAINTAINER"


def test_arg_default_and_build_arg_override():
    text = "FROM alpine\nARG V=1.0\nARG NODEF\nWORKDIR /v$V/$NODEF\n"
    s = steps(text)
    assert (s[1].name, s[1].value) == ("V", "1.0")
    assert (s[2].name, s[2].value) == ("NODEF", None)
    assert s[3].path == "/v1.0/"
    s = steps(text, build_args={"V": "2.0", "NODEF": "x"})
    assert (s[1].value, s[2].value, s[3].path) == ("2.0", "x", "/v2.0/x")


def test_several_args_on_one_line_are_one_step_each_and_see_each_other():
    s = stage("ARG A=1 B=${A}2\n")
    assert [(x.name, x.value, x.line) for x in s] == [("A", "1", 2), ("B", "12", 2)]


def test_an_arg_is_not_visible_before_it_is_declared():
    s = stage("WORKDIR /$V\nARG V=x\nWORKDIR /$V\n", build_args={"V": "given"})
    assert s[0].path == "/"
    assert s[2].path == "/given"


def test_global_args_are_for_from_until_redeclared():
    text = ("ARG BASE=alpine\nARG VER=3.19\nFROM $BASE:$VER\n"
            "WORKDIR /a/$VER\nARG VER\nWORKDIR /b/$VER\nARG BASE=own\nWORKDIR /c/$BASE\n")
    df = parse(text)
    s = df.steps()
    assert df.base_image == "alpine:3.19"
    assert s[1].path == "/a/"  # not in scope in the stage
    assert s[3].path == "/b/3.19"  # redeclared without a default: the global value
    assert s[5].path == "/c/own"  # redeclared with a default: its own default
    assert df.meta_args == {"BASE": "alpine", "VER": "3.19"}
    df = parse(text, build_args={"VER": "3.20", "BASE": "busybox"})
    s = df.steps()
    assert df.base_image == "busybox:3.20"
    assert (s[3].path, s[5].path) == ("/b/3.20", "/c/busybox")


def test_global_args_see_earlier_global_args_and_platform_args():
    df = parse("ARG REPO=library\nARG IMG=${REPO}/alpine\nFROM $IMG\nARG TARGETARCH\n")
    assert df.base_image == "library/alpine"
    assert df.args["TARGETARCH"] == d.PLATFORM_ARGS["TARGETARCH"]
    assert df.unused_build_args == []
    # A --build-arg beats the inherited global value when the stage declares the ARG.
    df = parse("FROM alpine\nARG TARGETARCH\n", build_args={"TARGETARCH": "riscv64"})
    assert df.args == {"TARGETARCH": "riscv64"}


def test_env_overrides_an_earlier_arg_and_a_later_arg_overrides_env_for_substitution():
    df = parse("FROM alpine\nARG V=arg\nENV V=env\nWORKDIR /$V\n", build_args={"V": "cli"})
    assert df.workdir == "/env"
    df = parse("FROM alpine\nENV V=env\nARG V\nWORKDIR /$V\n", build_args={"V": "cli"})
    assert df.workdir == "/cli"
    assert df.env == {"V": "env"}  # the image's environment keeps the ENV value


def test_unused_build_args_exclude_declared_and_proxy_args():
    df = parse("ARG USED_BEFORE\nFROM alpine\nARG USED\n",
               build_args={"USED": "1", "USED_BEFORE": "2", "EXTRA": "3", "HTTP_PROXY": "p"})
    assert df.unused_build_args == ["EXTRA"]
    assert df.proxy_args == {"HTTP_PROXY": "p"}
    assert any("EXTRA" in w for w in df.warnings)


def test_from_with_a_blank_name_and_a_stage_name():
    e = error("ARG IMG\nFROM $IMG\n")
    assert e.line == 2 and e.message == "base name ($IMG) should not be blank"
    df = parse("FROM alpine AS Build\n")
    assert (df.stage_name, df.steps()[0].stage_name) == ("build", "build")
    assert "invalid name for build stage" in error("FROM alpine AS 1x\n").message


# ---------------------------------------------------------------- RUN, CMD, ENTRYPOINT, SHELL

def test_exec_form_and_shell_form():
    s = stage('RUN ["apk", "add", "x y"]\nRUN apk add curl\nCMD ["nginx", "-g", "daemon off;"]\n'
              "CMD nginx -g 'daemon off;'\nENTRYPOINT [\"/entry\"]\nENTRYPOINT exec /entry\n")
    assert (s[0].argv, s[0].shell_form) == (["apk", "add", "x y"], False)
    assert (s[1].argv, s[1].shell_form) == (["/bin/sh", "-c", "apk add curl"], True)
    assert s[2].argv == ["nginx", "-g", "daemon off;"]
    assert s[3].argv == ["/bin/sh", "-c", "nginx -g 'daemon off;'"]
    assert s[4].argv == ["/entry"]
    assert s[5].argv == ["/bin/sh", "-c", "exec /entry"]


def test_malformed_json_is_shell_form_as_in_docker():
    s = stage("CMD [\"unclosed\"\nRUN [not json] && true\nCMD ['single']\nCMD [\"a\"] extra\n")
    assert s[0].argv == ["/bin/sh", "-c", '["unclosed"']
    assert s[1].argv == ["/bin/sh", "-c", "[not json] && true"]
    assert s[2].argv == ["/bin/sh", "-c", "['single']"]
    assert s[3].argv == ["/bin/sh", "-c", '["a"] extra']
    assert parse('FROM alpine\nCMD ["a"]\n').instructions[1].exec_form == ["a"]
    assert parse("FROM alpine\nCMD [\"a\"\n").instructions[1].exec_form is None
    assert stage("CMD []\n")[0].argv == []


def test_shell_instruction_changes_later_shell_forms_only():
    s = stage('RUN one\nSHELL ["/bin/bash", "-eo", "pipefail", "-c"]\nRUN two\nCMD three\n'
              'RUN ["four"]\n')
    assert s[0].argv == ["/bin/sh", "-c", "one"]
    assert isinstance(s[1], d.ShellStep) and s[1].argv == ["/bin/bash", "-eo", "pipefail", "-c"]
    assert s[2].argv == ["/bin/bash", "-eo", "pipefail", "-c", "two"]
    assert s[3].argv == ["/bin/bash", "-eo", "pipefail", "-c", "three"]
    assert s[4].argv == ["four"]


def test_entrypoint_clears_cmd_unless_the_file_set_one():
    assert parse("FROM alpine\nENTRYPOINT [\"e\"]\n").cmd is None
    df = parse("FROM alpine\nCMD [\"c\"]\nENTRYPOINT [\"e\"]\n")
    assert (df.cmd, df.entrypoint) == (["c"], ["e"])


def test_heredocs_are_refused_clearly():
    e = error("FROM alpine\nRUN <<EOF\necho hi\nEOF\n")
    assert e.line == 2 and "heredocs are not supported" in e.message
    assert stage("RUN echo $((1<<2)) && cat<<x\n")[0].shell_form  # no heredoc word


# ---------------------------------------------------------------- COPY, ADD

def test_copy_and_add_forms():
    s = stage('COPY a b /dst/\nCOPY ["with space", "other file", "/d st/"]\n'
              "COPY --chown=1000:1000 --chmod=0644 src dst\nADD https://x/y.tgz /opt/\n")
    assert (s[0].sources, s[0].dest, s[0].chown, s[0].chmod) == (["a", "b"], "/dst/", None, None)
    assert (s[1].sources, s[1].dest) == (["with space", "other file"], "/d st/")
    assert (s[2].chown, s[2].chmod, s[2].keyword) == ("1000:1000", "0644", "COPY")
    assert (s[3].is_add, s[3].keyword, s[3].sources) == (True, "ADD", ["https://x/y.tgz"])
    ins = parse("FROM alpine\nCOPY --chown=1:2 a b\n").instructions[1]
    assert ins.flags == {"chown": "1:2"} and ins.args == "a b" and ins.words() == ["a", "b"]


def test_chmod_must_be_octal():
    e = error("FROM alpine\nCOPY --chmod=u+x a b\n")
    assert e.line == 2 and "chmod" in e.message


# ---------------------------------------------------------------- WORKDIR, USER, EXPOSE, VOLUME

def test_workdir_relative_paths_resolve_against_the_previous_workdir():
    s = stage("WORKDIR rel\nWORKDIR /abs\nWORKDIR sub\nWORKDIR ../up/./x\nWORKDIR /again\n")
    assert [x.path for x in s] == ["/rel", "/abs", "/abs/sub", "/abs/up/x", "/again"]


def test_steps_resolve_against_the_base_image():
    df = parse("FROM golang\nWORKDIR $GOPATH/src\nWORKDIR app\nRUN go build\n")
    assert df.steps()[1].path == "/src"
    s = df.steps(base_env=["PATH=/usr/bin", "GOPATH=/go"], base_workdir="/go",
                 base_shell=["/bin/bash", "-c"])
    assert [s[1].path, s[2].path] == ["/go/src", "/go/src/app"]
    assert s[3].argv == ["/bin/bash", "-c", "go build"]
    assert parse("FROM x\nWORKDIR y\n").steps(base_workdir="/base")[1].path == "/base/y"


def test_user_name_and_group():
    assert stage("USER app:staff\n")[0].user == "app:staff"
    assert parse("FROM alpine\nUSER 1000\n").user == "1000"


def test_expose_is_normalized():
    s = stage("EXPOSE 80 443/tcp 53/udp 8080/TCP\nEXPOSE 7000-7002/udp\n")
    assert sorted(s[0].ports) == ["443/tcp", "53/udp", "80/tcp", "8080/tcp"]
    assert s[1].ports == ["7000/udp", "7001/udp", "7002/udp"]
    assert stage('ENV P="80 81/udp"\nEXPOSE $P\n')[1].ports == ["80/tcp", "81/udp"]


@pytest.mark.parametrize("spec,message", [
    ("abc", "invalid containerPort: abc"),
    ("80/xyz", "invalid proto: xyz"),
    ("70000", "invalid containerPort: 70000"),
    ("90-80", "invalid containerPort: 90-80"),
])
def test_expose_errors(spec, message):
    e = error(f"FROM alpine\nRUN x\nEXPOSE {spec}\n")
    assert e.line == 3 and e.message == message


def test_volume_forms():
    s = stage('VOLUME ["/a", "/b c"]\nVOLUME /d /e\n')
    assert s[0].paths == ["/a", "/b c"]
    assert s[1].paths == ["/d", "/e"]
    assert error('FROM alpine\nVOLUME ["/a", " "]\n').message == (
        "VOLUME specified can not be an empty string")


# ---------------------------------------------------------------- the rest

def test_stopsignal():
    assert stage("STOPSIGNAL SIGQUIT\n")[0].signal == "SIGQUIT"
    assert stage("STOPSIGNAL 9\n")[0].signal == "9"
    assert parse("FROM alpine\nSTOPSIGNAL term\n").stop_signal == "term"
    assert error("FROM alpine\nSTOPSIGNAL SIGNOPE\n").message == "Invalid signal: SIGNOPE"


def test_healthcheck_and_onbuild_are_recorded_without_effect():
    df = parse("FROM alpine\nHEALTHCHECK --interval=30s --retries=3 CMD curl -f http://x/\n"
               "ONBUILD COPY . /app\nHEALTHCHECK NONE\n")
    s = df.steps()
    assert [type(x) for x in s[1:]] == [d.NoopStep] * 3
    assert [x.keyword for x in s[1:]] == ["HEALTHCHECK", "ONBUILD", "HEALTHCHECK"]
    assert df.onbuild == ["COPY . /app"]
    assert df.instructions[2].trigger.keyword == "COPY"
    assert df.instructions[1].exec_form is None and df.instructions[1].parts[0] == "CMD"


@pytest.mark.parametrize("line,message", [
    ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
    ("HEALTHCHECK WGET x", 'Unknown type "WGET" in HEALTHCHECK (try CMD)'),
    ("HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"),
    ("HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
    ("HEALTHCHECK --retries=-1 CMD x", "--retries cannot be negative (-1)"),
    ("HEALTHCHECK --interval=1ns CMD x", 'Interval "interval" cannot be less than 1ms'),
])
def test_healthcheck_and_onbuild_errors(line, message):
    assert error(f"FROM alpine\n{line}\n").message == message


def test_from_platform_only_for_the_host():
    assert parse("FROM --platform=$BUILDPLATFORM alpine\n").base_image == "alpine"
    e = error("FROM --platform=linux/mips64 alpine\n")
    assert e.line == 1 and "not supported" in e.message


def test_step_texts_are_substituted_and_tell_different_steps_apart():
    s = stage('ENV A="1 B=2"\nENV A=1 B=2\nARG V=x\nCOPY "a" b\nWORKDIR $V\n',
              build_args={"V": "y"})
    assert s[0].text != s[1].text
    assert s[0].text == 'ENV A="1 B=2"' and s[1].text == "ENV A=1 B=2"
    assert s[2].text == "ARG V=y"
    assert s[3].text == "COPY a b"
    assert s[4].text == "WORKDIR /y"
    assert stage("RUN echo hi\n")[0].text == "RUN /bin/sh -c echo hi"
    assert stage('RUN ["echo", "hi"]\n')[0].text == 'RUN ["echo", "hi"]'
    assert all(x.line for x in s)


def test_instruction_records_the_source():
    df = parse("FROM alpine\nCOPY --chown=0:0 \\\n  a b\n")
    ins = df.instructions[1]
    assert (ins.keyword, ins.line, ins.end_line) == ("COPY", 2, 3)
    assert ins.original == "COPY --chown=0:0   a b"
    assert ins.args == "a b"
    assert ins.exec_form is None and not ins.is_exec_form
    env = parse("FROM a\nENV X=1 Y='2'\n").instructions[1]
    assert env.pairs() == [("X", "1"), ("Y", "'2'")]
    arg = parse("ARG A B=2\nFROM a\n").instructions[0]
    assert arg.arg_decls() == [("A", None), ("B", "2")]


def test_steps_are_typed_and_start_with_from():
    s = steps("ARG X=1\nFROM alpine\nRUN true\n")
    assert isinstance(s[0], d.FromStep) and s[0].image == "alpine" and s[0].line == 2
    assert isinstance(s[1], d.RunStep)
    assert all(isinstance(x, d.Step) for x in s)


# ---------------------------------------------------------------- robustness

_ALPHABET = st.sampled_from(list("FROMRUNCOPYADDENVARGLABELWORKDIRSHELL fromrun\n\n\n \t\\`#$"
                                 "{}[]\"',:=-+?%/*.0123!@\r\x0b\x00é"))
_WORDS = st.sampled_from([
    "FROM alpine\n", "FROM $X\n", "ARG X=alpine\n", "RUN echo hi\n", 'CMD ["a", "b"]\n',
    "CMD [1]\n", "COPY a b\n", "COPY a\n", "ENV A=1\n", "ENV A\n", "EXPOSE 80\n",
    "EXPOSE x\n", "WORKDIR ${A:-/x}\n", "WORKDIR ${\n", "# escape=`\n", "\\\n", "`\n",
    "LABEL a=b\n", "ONBUILD ONBUILD x\n", "HEALTHCHECK --retries=x CMD y\n", "USER\n",
    "VOLUME []\n", "SHELL x\n", "STOPSIGNAL x\n", "FROM a AS b\n", "FORM\n", "\n", "# c\n",
    "RUN <<EOF\n", "COPY --from=x a b\n", "ADD --chmod=9 a b\n", "ENV ${X:?}=1\n",
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(_ALPHABET, max_size=200), st.lists(_WORDS, max_size=12).map("".join),
                 st.text(max_size=100)),
       st.dictionaries(st.sampled_from(["X", "A", "B"]), st.text(max_size=5), max_size=2))
def test_random_text_never_raises_anything_but_dockerfile_error(text, build_args):
    try:
        df = parse(text, build_args=build_args)
    except DockerfileError as e:
        assert "\n" not in str(e)
        assert e.line >= 0
        return
    assert isinstance(df.steps()[0], d.FromStep)
    assert df.steps(base_env={"A": "1"}, base_workdir="/w")[0].image == df.base_image
