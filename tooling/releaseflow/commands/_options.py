"""Options several commands share: --config and --environment with one default each, instance ids."""

from __future__ import annotations

import argparse
import os

from releaseflow.config import ENVIRONMENT_VARIABLE, configured_path
from releaseflow.ssm import is_instance_id


def add_environment(parser, help: str | None = None) -> None:
    """--environment, by default $RELEASEFLOW_ENVIRONMENT; `help` says what the command uses it for."""
    parser.add_argument(
        "--environment",
        default=os.environ.get(ENVIRONMENT_VARIABLE),
        help=help and f"{help} (default: ${ENVIRONMENT_VARIABLE})",
    )


def add_config(parser, help: str | None = "deploy configuration", **options) -> None:
    """--config, by default $RELEASEFLOW_CONFIG, else releaseflow.yaml; `help` says what the file is to it."""
    parser.add_argument(
        "--config",
        default=configured_path(),
        help=help and f"{help} (default: $RELEASEFLOW_CONFIG, else releaseflow.yaml)",
        **options,
    )


def instance_id(text: str) -> str:
    """An argparse type: one instance id, as SSM accepts it (i-, then 8 or 17 characters; mi- for hybrid)."""
    if not is_instance_id(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an instance id "
            "(i- followed by 8 or 17 letters or digits, e.g. i-0123456789abcdef0)"
        )
    return text


def instance_ids(text: str) -> list[str]:
    """An argparse type: comma-separated instance ids, each as `instance_id` takes it; at least one."""
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if not ids:
        raise argparse.ArgumentTypeError("no instance id given")
    return [instance_id(part) for part in ids]
