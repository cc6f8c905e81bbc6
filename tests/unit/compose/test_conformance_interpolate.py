"""Conformance: the Compose Specification's interpolation section (and compose-go's
template package, which docker compose uses), one rule per case."""

from __future__ import annotations

import pytest

from runtime.compose.errors import ComposeError
from runtime.compose.interpolate import interpolate

ENV = {"FOO": "foo", "EMPTY": "", "B": "bee"}


@pytest.mark.parametrize("text,out", [
    # "Interpolation can also be nested": a default may hold another substitution.
    ("${UNSET-${FOO}}", "foo"),
    ("${UNSET:-${FOO}}", "foo"),
    ("${FOO:-${BAR:-${ZOT:-qix}}}", "foo"),
    ("${NO:-${BAR:-${ZOT:-qix}}}", "qix"),
    ("${FOO:+${B}}", "bee"),
    # compose-go matches braces with nesting: a default may hold braces.
    ('${JSON:-{"json":1}}', '{"json":1}'),
    ('${JSON:-{"a":{"b":2}}} tail', '{"a":{"b":2}} tail'),
    # "$$" is a literal "$".
    ("$$", "$"), ("$${FOO}", "${FOO}"), ("a$$b", "a$b"),
    # A "$" that starts no name, no "{" and no "$" is not a substitution: kept.
    ("^regex$", "^regex$"), ("a $ string", "a $ string"), ("$1 $-", "$1 $-"), ("$", "$"),
    # The six forms: unset vs empty.
    ("${EMPTY-d}", ""), ("${EMPTY:-d}", "d"), ("${EMPTY+a}", "a"), ("${EMPTY:+a}", ""),
    ("${EMPTY?e}", ""), ("$FOO.${FOO}", "foo.foo"),
])
def test_resolves(text, out):
    assert interpolate(text, ENV, "x", []) == out


def test_required_message_is_itself_interpolated_without_stray_brace():
    with pytest.raises(ComposeError) as e:
        interpolate("${A?${B}}", ENV, "x")
    assert str(e.value) == "x: required variable A is missing a value: bee"
    with pytest.raises(ComposeError) as e:
        interpolate("${EMPTY:?need {it}}", ENV, "x")
    assert str(e.value) == "x: required variable EMPTY is missing a value: need {it}"


@pytest.mark.parametrize("text", ["${", "${FOO", "${1X}", "${FOO!x}", "${}"])
def test_invalid_braced_forms_refused(text):
    with pytest.raises(ComposeError) as e:
        interpolate(text, ENV, "x")
    assert "invalid interpolation format" in str(e.value) and "\n" not in str(e.value)


def test_unused_default_is_not_evaluated():
    assert interpolate("${FOO:-${NEED?x}}", ENV, "x") == "foo"
