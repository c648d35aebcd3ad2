"""The --config and --environment options several commands share, with one default each."""

from __future__ import annotations

import os

from releaseflow.config import ENVIRONMENT_VARIABLE, configured_path


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
