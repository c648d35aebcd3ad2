"""Java's Unicode classes in botocore's model patterns, written out so Python's `re` checks them as AWS does."""

from __future__ import annotations

import re

from releaseflow.rehearsal.endpoint.model_check import compiled
from releaseflow.rehearsal.endpoint.unicode_classes import translate

# ssm:StartAutomationExecution's Tags[].Key and Value (botocore's model).
TAG = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$"


def test_letters_separators_and_numbers_of_any_script_match_and_nothing_else():
    """\\p{L}, \\p{Z} and \\p{N} take every script's letters, spaces and digits; `*`, a tab or `!` are none."""
    tag = compiled(TAG)
    assert tag is not None
    for accepted in ("releaseflow:fleet", "Ünïcødé 123", "日本語", "no\u00a0break", "①", "a=b+c@d/e"):
        assert tag.search(accepted), accepted
    for refused in ("owner*", "tab\there", "hello!", "semi;colon"):
        assert not tag.search(refused), refused


def test_a_one_letter_class_is_the_whole_group_and_a_two_letter_one_its_category():
    """\\p{Z} takes the line separator U+2028; \\p{Zs} (space separators) does not."""
    assert re.fullmatch(translate(r"\p{Z}"), "\u2028")
    assert not re.fullmatch(translate(r"\p{Zs}"), "\u2028")
    assert re.fullmatch(translate(r"\p{Zs}"), "\u3000")


def test_brackets_and_escapes_around_a_class_keep_their_meaning():
    """A `]` first in a class is a member; an escaped `\\[` opens none; a negated class stays negated."""
    assert re.fullmatch(translate(r"[]\p{N}]+"), "]1]")
    assert re.fullmatch(translate(r"\[\p{L}"), "[a")
    assert not re.fullmatch(translate(r"[^\p{L}]"), "a")
    assert re.fullmatch(translate(r"[^\p{L}]"), "1")


def test_a_name_that_is_no_category_leaves_the_pattern_unchecked():
    """\\p{Xx} names nothing: the pattern cannot be read, and the endpoint says so rather than guessing."""
    assert translate(r"^\p{Xx}+$") is None
    assert compiled(r"^\p{Xx}+$") is None
