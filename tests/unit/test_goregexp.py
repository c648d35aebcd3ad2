"""Go regexps as SSM evaluates allowedPattern: RE2 itself, with Go's MatchString (unanchored)."""

import pytest

from releaseflow.goregexp import AUTOMATION, compile_go, full_match, is_valid, match_string

# (pattern, value, MatchString's answer): what Go's regexp gives, where Python's re differs or
# where the earlier translation to re was wrong.
MATCHES = [
    (r"^\d+$", "123", True),
    (r"^\d+$", "١٢٣", False),  # Arabic-Indic digits: \d is ASCII-only in Go
    (r"^\w+$", "main", True),
    (r"^\w+$", "café", False),  # \w is [0-9A-Za-z_] in Go
    (r"^\s$", "\u00a0", False),  # no-break space is not \s in Go
    (r"^\s$", "\t", True),
    (r"^\p{L}+$", "café", True),
    (r"^\p{Lu}", "Élan", True),
    (r"^\Q1.0\E$", "1.0", True),
    (r"^\Q1.0\E$", "1x0", False),
    (r"(?U)^a+", "aaa", True),
    (r"^\x{41}$", "A", True),
    (r"^[[:alpha:]]+$", "abc", True),
    (r"^[[:^digit:]]+$", "abc", True),
    (r"^[a-f0-9]+$", "abc\n", False),  # Go's `$` does not match before a final newline
    (r"(?m)^main$", "main\nx", True),
    (r"^main\z", "main", True),
    (r"[a-z]+", "main; rm -rf /", True),  # unanchored: a match anywhere is enough
    (r"^[a-z]+$", "main; rm -rf /", False),
    (r"(?i)^MAIN$", "main", True),
    (r"^.$", "\n", False),  # `.` does not match a newline without (?s)
    (r"(?s)^.$", "\n", True),
    (r"^(?P<ref>[a-z]+)$", "main", True),
    (r"^é$", "é", True),  # matching is on characters, not bytes
]

# Patterns Go's regexp.Compile refuses, which SSM therefore refuses as an allowedPattern.
INVALID = [
    r"(?=main)",  # lookahead
    r"(?!main)",
    r"(?<=a)b",  # lookbehind
    r"(a)\1",  # backreference
    r"main\Z",  # \Z is Python's; Go has \z
    r"\C",  # C++ RE2 accepts any-byte \C, Go does not
    r"([a-z]",
    r"[\Q]\E]",  # \Q..\E is not allowed inside a class
    r"a{1001}",  # repeat count above 1000
]

# The Automation service reads more than Go (AWS's own runbooks are published with these patterns):
# (pattern, value, its answer).
AUTOMATION_MATCHES = [
    (r"^[a-z0-9-]{1,2048}$", "k" * 2048, True),  # AWS-EnableS3BucketKeys
    (r"^[a-z0-9-]{1,2048}$", "k" * 2049, False),
    (r"^(ab){1001}$", "ab" * 1001, True),
    (r"^(ab){1001}$", "ab" * 1000, False),
    (r"^(?!.*--)[a-z][a-z0-9-]{0,62}(?<!-)$", "web-cluster", True),  # ASR's Redshift cluster ids
    (r"^(?!.*--)[a-z][a-z0-9-]{0,62}(?<!-)$", "web--cluster", False),
    (r"^(?!.*--)[a-z][a-z0-9-]{0,62}(?<!-)$", "web-", False),
    (r"^\d+$", "١٢٣", False),  # RE2 where RE2 reads the pattern: \d stays ASCII
]


@pytest.mark.parametrize(("pattern", "value", "expected"), MATCHES)
def test_match_string_gives_gos_answer(pattern, value, expected):
    """MatchString gives Go's answer for each edge case, unanchored and ASCII-only for \\d \\w \\s."""
    assert match_string(pattern, value) is expected


@pytest.mark.parametrize("pattern", INVALID)
def test_patterns_go_refuses_do_not_compile(pattern):
    """A pattern Go's parser refuses does not compile, and matches nothing."""
    assert compile_go(pattern) is None
    assert not is_valid(pattern)
    assert not match_string(pattern, "main")


@pytest.mark.parametrize("pattern", [r"\Q\C\E", r"\\C", r"[\d]", r"a{1000}", r"\b\A", r"(?P<x>a)(?P<x>b)"])
def test_patterns_go_accepts_compile(pattern):
    """Quoted look-alikes of refused syntax, the limits themselves and repeated group names compile."""
    assert is_valid(pattern)


@pytest.mark.parametrize(("pattern", "value", "expected"), AUTOMATION_MATCHES)
def test_automation_reads_what_aws_runbooks_use(pattern, value, expected):
    """Runbook patterns with lookaround or repeats above 1000 compile for Automation and match as meant."""
    assert is_valid(pattern, AUTOMATION)
    assert match_string(pattern, value, AUTOMATION) is expected


@pytest.mark.parametrize("pattern", [r"^[a-z]{1,2048}$", r"(?=^.{3,63}$)[a-z.-]+"])
def test_what_automation_reads_the_agent_refuses(pattern):
    """The agent's Go regexp refuses them: in a Command document they fail every run."""
    assert not is_valid(pattern)
    assert not match_string(pattern, "abc")


def test_no_engine_reads_an_unbalanced_group():
    """A pattern no engine reads is invalid for Automation too."""
    assert not is_valid("([a-z]", AUTOMATION)


def test_full_match_needs_the_whole_value():
    """full_match (the deploy's stricter check) needs the whole value, where MatchString needs a part."""
    assert full_match("[a-f0-9]{7,40}", "abc1234")
    assert not full_match("[a-f0-9]{7,40}", "abc1234; reboot")
    assert match_string("[a-f0-9]{7,40}", "abc1234; reboot")
    assert not full_match("([a-z]", "a")
