"""The agent's output cuts, timeout reading and CloudWatch Logs events, as pure functions."""

import pytest

from releaseflow.rehearsal.host import cloudwatch_output
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


def test_log_events_pack_whole_lines_up_to_the_agents_threshold_and_cut_longer_lines():
    """Like the agent's getNextMessage: an event holds whole lines up to 200,000 bytes, a longer line is
    cut at that size, and joined the events are the output again."""
    line = "y" * 99 + "\n"
    long_line = "z" * 450_000 + "\n"
    text = line * 3000 + long_line + "end\n"
    events = cloudwatch_output.events(text.encode(), clock=lambda: 1.5)
    messages = [event["message"] for event in events]
    assert "".join(messages) == text
    assert all(len(m.encode()) <= cloudwatch_output.EVENT_BYTES for m in messages)
    assert messages[0] == line * 2000
    assert {event["timestamp"] for event in events} == {1500}


def test_log_stream_names_follow_the_agent_with_colons_and_stars_replaced():
    """`<CommandId>/<InstanceId>/<PluginID>/stdout`, ':' and '*' turned into '-' as runpluginutil does."""
    name = cloudwatch_output.stream_name("c-1", "i-0abc", "step:one*", "stderr")
    assert name == "c-1/i-0abc/step-one-/stderr"


def test_output_config_uses_the_named_group_or_the_documents_default_only_when_enabled():
    """Enabled without a name: /aws/ssm/<document>; disabled or absent: no group."""
    read = cloudwatch_output.OutputConfig.from_request
    assert (
        read({"CloudWatchLogGroupName": "/rf/commands", "CloudWatchOutputEnabled": True}, "d").group
        == "/rf/commands"
    )
    assert (
        read({"CloudWatchOutputEnabled": True}, "releaseflow-Migrate").group == "/aws/ssm/releaseflow-Migrate"
    )
    assert read({"CloudWatchLogGroupName": "/rf/commands", "CloudWatchOutputEnabled": False}, "d").group == ""
    assert read(None, "d").group == ""
