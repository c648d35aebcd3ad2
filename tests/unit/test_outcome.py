"""The host-outcome contract: each real document run prints at most one marker, which docs/CONTRACTS.md lists."""

from __future__ import annotations

from pathlib import Path

from document_outputs import outputs
from releaseflow import outcome

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "CONTRACTS.md"


def test_each_document_run_prints_the_one_marker_of_its_outcome():
    """Switched, not switched, rolled back, rollback failed: one marker each; checks and no-ops print none."""
    out = outputs()
    found = {
        name: [marker.outcome for marker in outcome.markers(run.output)]
        for name, run in vars(out).items()
        if not isinstance(run, str)
    }
    assert found == {
        "switched": [outcome.SWITCHED],
        "already_at": [outcome.NOT_SWITCHED],
        "unknown_revision": [],
        "check_only": [],
        "reverted": [outcome.ROLLED_BACK],
        "not_switched": [],
        "rollback_failed": [outcome.ROLLBACK_FAILED],
    }
    [switched] = outcome.markers(out.switched.output)
    assert (switched.fields["revision"], switched.fields["previous"]) == (out.new, out.old)


def test_a_line_that_only_mentions_a_marker_is_not_one():
    """Only a whole line starting with the marker counts: an app's own output quoting it does not."""
    text = "bundle: echo releaseflow-outcome: rolled-back revision=abc\nreleaseflow-outcome: unheard-of x=1\n"
    assert outcome.markers(text) == []


def test_contracts_list_every_outcome_marker():
    """docs/CONTRACTS.md names the marker and each outcome the classifier reads."""
    text = CONTRACTS.read_text()
    for name in outcome.OUTCOMES:
        assert f"{outcome.MARKER} {name}" in text, name
