"""A plugin's whole stdout and stderr sent to CloudWatch Logs, named and cut as the SSM agent does."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger("releaseflow.rehearsal.host.agent")

# messageutil.go: with CloudWatchOutputEnabled and no group name, "/aws/ssm/" + the document's name.
DEFAULT_GROUP_PREFIX = "/aws/ssm/"
# cloudwatchlogsservice.go: an event holds whole lines up to MessageLengthThresholdInBytes (a longer
# line is cut at that size, bufio's ErrBufferFull), and one PutLogEvents call carries at most
# maxNumberOfEventsPerCall events.
EVENT_BYTES = 200 * 1000
EVENTS_PER_CALL = 4


@dataclass(frozen=True)
class OutputConfig:
    """SendCommand's CloudWatchOutputConfig as the agent reads it: the group, or none (disabled)."""

    group: str = ""

    @classmethod
    def from_request(cls, config: dict | None, document_name: str) -> OutputConfig:
        config = config or {}
        if str(config.get("CloudWatchOutputEnabled", "")).lower() != "true":
            return cls()
        group = config.get("CloudWatchLogGroupName") or DEFAULT_GROUP_PREFIX + document_name
        return cls(_clean_group_name(group))


def _clean_group_name(name: str) -> str:
    # messageutil.go cleanupLogGroupName: only the characters a log group name allows are kept.
    return "".join(c for c in name if c.isascii() and (c.isalnum() or c in "._-/#"))


def stream_name(command_id: str, instance_id: str, plugin_id: str, output: str) -> str:
    """`<CommandId>/<InstanceId>/<PluginID>/stdout|stderr`, ':' and '*' turned into '-'
    (messageutil.go generateCloudWatchLogStreamPrefix, runpluginutil.go, iohandler.go)."""
    prefix = f"{command_id}/{instance_id}/{plugin_id}".replace(":", "-").replace("*", "-")
    return f"{prefix}/{output}"


def events(data: bytes, clock: Callable[[], float] = time.time) -> list[dict]:
    """The log events of one output file: whole lines packed up to EVENT_BYTES, longer lines cut."""
    stamp = int(clock() * 1000)
    messages: list[bytes] = []
    current = b""
    for line in data.splitlines(keepends=True):
        while len(line) > EVENT_BYTES:
            if current:
                messages.append(current)
                current = b""
            cut = _char_boundary(line, EVENT_BYTES)
            messages.append(line[:cut])
            line = line[cut:]
        if len(current) + len(line) > EVENT_BYTES:
            messages.append(current)
            current = b""
        current += line
    if current:
        messages.append(current)
    return [{"timestamp": stamp, "message": m.decode("utf-8", "replace")} for m in messages]


def _char_boundary(data: bytes, limit: int) -> int:
    # Never cut inside a UTF-8 sequence (continuation bytes are 10xxxxxx).
    cut = limit
    while cut > 0 and data[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut or limit


def publish(
    logs, config: OutputConfig, command_id: str, instance_id: str, plugin_id: str, folder: Path
) -> None:
    """Send the plugin's `stdout` and `stderr` files in `folder` whole to the group; a stream only for
    output there is ("Log streams are only created when output data is available"). Failures are
    logged, never raised: like the agent, a command does not fail because its output could not go."""
    if not config.group:
        return
    try:
        logs.create_log_group(logGroupName=config.group)
    except (BotoCoreError, ClientError) as error:
        # Any refusal: the agent goes on (it checks the group exists; the upload then tells).
        if getattr(error, "response", {}).get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
            log.warning("CloudWatch output of %s: CreateLogGroup %s: %s", command_id, config.group, error)
    for output in ("stdout", "stderr"):
        try:
            data = (folder / output).read_bytes()
        except OSError:
            continue
        if not data:
            continue
        stream = stream_name(command_id, instance_id, plugin_id, output)
        try:
            logs.create_log_stream(logGroupName=config.group, logStreamName=stream)
            batch = events(data)
            for start in range(0, len(batch), EVENTS_PER_CALL):
                logs.put_log_events(
                    logGroupName=config.group,
                    logStreamName=stream,
                    logEvents=batch[start : start + EVENTS_PER_CALL],
                )
        except (BotoCoreError, ClientError) as error:  # logged, as the agent logs its upload errors
            log.warning("CloudWatch output %s/%s: %s", config.group, stream, error)
