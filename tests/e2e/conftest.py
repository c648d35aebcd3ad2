"""End-to-end proofs: whole deploys on rehearsal fleets. Every test here is `slow` (`make test-fast` skips them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripted_agents import publish

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    # A conftest's hook sees every collected item, not only this folder's: mark only ours.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def published(endpoint_server):
    """The module's endpoint with the project's documents and runbooks created under their own names:
    for the scripted agents' modules (tests/support/scripted_agents.py)."""
    publish(endpoint_server)
    return endpoint_server
