"""Conformance cases for the Dockerfile parser, each naming the BuildKit rule it checks
(moby/buildkit frontend/dockerfile: parser/parser.go, shell/lex.go, instructions/)."""

from __future__ import annotations

import pytest

from runtime.image.dockerfile import DockerfileError, parse, substitute


def error(text: str) -> DockerfileError:
    with pytest.raises(DockerfileError) as info:
        parse(text)
    return info.value


# parser.go lineContinuationRegex `([^\\])\\[ \t]*$|^\\[ \t]*$`: the escape token continues
# a line only when it is not itself escaped.
def test_escaped_escape_at_end_of_line_is_not_a_continuation():
    df = parse("FROM alpine\nENV C trailing\\\\backslash\\\\\nUSER nobody\n")
    env = [s for s in df.steps() if s.keyword == "ENV"][0]
    assert env.pairs == [("C", "trailing\\backslash\\")]
    assert [s.keyword for s in df.steps()][-1] == "USER"


def test_single_escape_still_continues():
    df = parse("FROM alpine\nENV C a\\\n  b\n")
    assert [s for s in df.steps() if s.keyword == "ENV"][0].pairs == [("C", "a  b")]


def test_escaped_escape_with_backtick_escape_token():
    df = parse("# escape=`\nFROM alpine\nENV C x``\nUSER nobody\n")
    assert [s.keyword for s in df.steps()][-1] == "USER"


# instructions/parse.go parseHealthcheck: parseOptInterval returns 0 ("use the default")
# for 0, and --retries is refused only when negative.
@pytest.mark.parametrize("flag", ["--interval=0s", "--timeout=0s", "--start-period=0s",
                                  "--start-interval=0s", "--retries=0", "--interval=0"])
def test_healthcheck_zero_means_default(flag):
    parse(f"FROM alpine\nHEALTHCHECK {flag} CMD true\n")


def test_healthcheck_negative_retries_refused():
    assert error("FROM alpine\nHEALTHCHECK --retries=-2 CMD true\n").message == \
        "--retries cannot be negative (-2)"


# parser.go heredocsFromLine + shell/lex.go processPossibleHeredoc (BuildKit v0.22,
# moby/buildkit#5817): blanks after `<<` belong to the marker word; reHeredoc
# `^(\d*)<<(-?)\s*([^<]*)$`; SkipUnsetEnv keeps `$EOF` as the name. isobench refuses a
# heredoc with one line instead of reading its body as instructions.
@pytest.mark.parametrize("line", ["RUN <<  EOF", "RUN << -EOF", "RUN <<$EOF",
                                  "RUN <<-EOF", "RUN 3<<EOF", "RUN <<'EOF'",
                                  "RUN <<  EOF  > foo", "COPY << EOF /dest",
                                  "RUN echo $((1 << 2))"])
def test_heredoc_forms_are_recognised(line):
    e = error(f"FROM alpine\n{line}\nEOF\n")
    assert e.line == 2 and "heredocs are not supported" in e.message


# `<<-` then a blank: processPossibleHeredoc keeps only blanks right after `<<`, so `<<-`
# is a word of its own with an empty name: no heredoc, and the next line is an
# instruction (BuildKit: "unknown instruction").
@pytest.mark.parametrize("line", ["RUN <<- EOF", 'RUN "<<EOF"', "RUN ['<<EOF']",
                                  "RUN cat<<EOF"])
def test_not_heredocs(line):
    e = error(f"FROM alpine\n{line}\nbogus\n")
    assert e.line == 3 and e.message == "unknown instruction: bogus"


# shell/lex.go processDollar: with `:` only -, +, ? may follow; `${X:#p}`, `${X:%p}` are
# "unsupported modifier (:#) in substitution".
@pytest.mark.parametrize("word,mods", [("${FOO:#}", ":#"), ("${FOO:%%}", ":%"),
                                       ("${FOO:#a}", ":#"), ("${FOO:%a}", ":%"),
                                       ("${FOO:x}", ":x"), ("${FOO!}", "!")])
def test_unsupported_modifiers(word, mods):
    with pytest.raises(DockerfileError) as info:
        substitute(word, {"FOO": "abc"})
    assert f"unsupported modifier ({mods}) in substitution" in str(info.value)


@pytest.mark.parametrize("word,out", [("${FOO#a}", "bc"), ("${FOO%%c}", "ab"),
                                      ("${FOO:-x}", "abc"), ("${NO:+x}", ""),
                                      ("${FOO/b/B}", "aBc")])
def test_supported_modifiers(word, out):
    assert substitute(word, {"FOO": "abc"}) == out


# instructions/bflag.go Parse: `unknown flag: %s` with the flag as written (`--boo`).
def test_unknown_flag_named_as_written():
    assert error("FROM alpine\nMAINTAINER --boo x\n").message == "unknown flag: --boo"
