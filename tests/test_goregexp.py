"""Go regexps with Go's meaning: the translation SSM's allowedPattern checks rely on."""

import pytest

from releaseflow.goregexp import compile_go, match_string, translate


@pytest.mark.parametrize(
    ("go", "python"),
    [
        ("^a$", r"^a\Z"),
        (r"^a\z", r"^a\Z"),
        ("[$]x", "[$]x"),
        ("[]$]$", r"[]$]\Z"),
        ("[^]$]$", r"[^]$]\Z"),
        (r"\$$", r"\$\Z"),
        ("(?m)^a$", "(?m)^a$"),
    ],
)
def test_translation(go, python):
    """Only `$` outside classes and escapes, and `\\z`, become Python's end-of-text `\\Z`."""
    assert translate(go) == python


def test_posix_classes_become_ranges():
    """[[:alnum:]] exists only in Go; it becomes a Python range inside the class."""
    assert translate("^[[:alnum:]_]+$") == r"^[0-9A-Za-z_]+\Z"


def test_match_string_is_unanchored_and_refuses_a_final_newline():
    """MatchString finds a match anywhere, and Go's `$` does not match before a last newline."""
    assert match_string("[a-z]+", "main; rm -rf /")
    assert match_string("^[a-f0-9]+$", "abc")
    assert not match_string("^[a-f0-9]+$", "abc\n")


def test_patterns_that_do_not_compile():
    """A pattern Python cannot compile is None, and matches nothing."""
    assert compile_go("([a-z]") is None
    assert not match_string("([a-z]", "abc")
