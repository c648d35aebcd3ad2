"""releaseflow.probe without AWS: it cleans up what it created, also when interrupted, and reports."""

from __future__ import annotations

import pytest

from releaseflow.probe import Observation, Probe, ProbeReport
from releaseflow.readings import DEFAULT, OPEN_READINGS, STRICT


class InterruptedSsm:
    """Accepts CreateDocument and DeleteDocument, then is interrupted at the first execution (Ctrl-C)."""

    def __init__(self):
        self.documents: set[str] = set()

    def create_document(self, Name, **kwargs):
        self.documents.add(Name)
        return {"DocumentDescription": {"Name": Name}}

    def delete_document(self, Name):
        self.documents.discard(Name)
        return {}

    def start_automation_execution(self, DocumentName):
        raise KeyboardInterrupt


def test_an_interrupted_probe_deletes_every_document_it_created():
    """Ctrl-C during the first probe execution still deletes the probe runbook it had published."""
    ssm = InterruptedSsm()
    probe = Probe(ssm, prefix="p-")
    with pytest.raises(KeyboardInterrupt):
        probe.run()
    assert ssm.documents == set() and probe.created == []


def test_keep_leaves_the_documents():
    """With keep the probe documents stay, for a look at them in the console."""
    ssm = InterruptedSsm()
    with pytest.raises(KeyboardInterrupt):
        Probe(ssm, prefix="p-", keep=True).run()
    [name] = ssm.documents
    assert name.startswith("p-") and name.endswith("-continue")


def test_report_is_ok_only_when_every_observed_reading_is_proven():
    """The runbooks are proven under default and strict (the suite's settings), so either is ok; a reading
    neither plays (wait_multiple_values=first) is a MISMATCH naming what is proven."""
    for setting in (DEFAULT, STRICT):
        proven = ProbeReport([Observation(name, setting[name], "") for name in OPEN_READINGS])
        assert proven.ok and proven.readings() == setting
    first = ProbeReport(
        [Observation(name, {**DEFAULT, "wait_multiple_values": "first"}[name], "") for name in OPEN_READINGS]
    )
    assert not first.ok
    assert (
        "wait_multiple_values          first             all or any                     MISMATCH"
        in first.table()
    )
    unknown = ProbeReport([Observation("failed_run_command_outputs", "", "needs a managed instance")])
    assert not unknown.ok and unknown.readings() == {}
    assert "failed_run_command_outputs: needs a managed instance" in unknown.table()
