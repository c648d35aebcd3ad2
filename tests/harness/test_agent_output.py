"""The agent's output cuts and timeout reading, as pure functions of the shell runner."""

import pytest

from releaseflow.rehearsal.host.shell_runner import execution_timeout, plugin_output, prefix

SUFFIX = "--output truncated--"


def test_prefix_keeps_shorter_text():
    """Text shorter than the limit is kept as it is."""
    assert prefix("a" * 99, 100) == "a" * 99


def test_prefix_cuts_at_the_limit_itself():
    """Like the agent's StringPrefix, text of exactly the limit is cut too, and the result is the limit long."""
    cut = prefix("a" * 100, 100)
    assert cut == "a" * (100 - len(SUFFIX)) + SUFFIX


def test_plugin_output_joins_stdout_and_stderr_with_the_error_title():
    """When both fit, Output is stdout, the error title and stderr; without stderr, no title."""
    assert plugin_output("out", "err") == "out\n----------ERROR-------\nerr"
    assert plugin_output("out", "") == "out"


def test_plugin_output_cuts_both_halves_when_both_are_long():
    """Long stdout and stderr each get half of the space, each with its own marker."""
    output = plugin_output("o" * 3000, "e" * 3000)
    half = (
        2500
        - len("\n----------ERROR-------\n")
        - len("\n---Error truncated----")
        - len("\n---Output truncated---")
    ) // 2
    assert output == (
        "o" * half
        + "\n---Output truncated---"
        + "\n----------ERROR-------\n"
        + "e" * half
        + "\n---Error truncated----"
    )


def test_plugin_output_cuts_stderr_when_stdout_is_short():
    """A short stdout is kept whole and stderr fills the rest up to 2500."""
    output = plugin_output("out", "e" * 5000)
    assert output.startswith("out\n----------ERROR-------\neee")
    assert output.endswith("\n---Error truncated----")
    assert len(output) == 2500


def test_plugin_output_cuts_stdout_when_stderr_is_short():
    """A short stderr is kept whole and stdout is cut to make room."""
    output = plugin_output("o" * 5000, "err")
    assert output.endswith("\n---Output truncated---\n----------ERROR-------\nerr")
    assert len(output) == 2500


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, 3600), (5, 5), ("600", 600), (7.9, 7), (4, 3600), (172801, 3600), ("soon", 3600), (True, 3600)],
)
def test_timeout_seconds_out_of_range_or_not_numeric_become_3600(value, seconds):
    """timeoutSeconds outside 5..172800 or not a number silently becomes 3600, as the agent reads it."""
    assert execution_timeout(value) == seconds
