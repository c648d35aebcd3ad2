"""The conformance register covers every AWS operation the code calls or serves, and names only tests that exist."""

import pytest

from devtools import conformance
from devtools.conformance import (
    RegisterError,
    Use,
    by_operation,
    client_services,
    collect,
    defined_tests,
    function_of,
    load_register,
    model_constraints,
    module_uses,
    named_tests,
    product_modules,
    register_rows,
    served_uses,
    unattributed_calls,
)

USES = by_operation(collect())
REGISTER = load_register()


def test_every_operation_called_or_served_has_a_hand_written_entry():
    """Each operation collected from the code, the runbooks and the endpoint has entries in conformance.yaml."""
    missing = [key for key in USES if not REGISTER.get(key, {}).get("entries")]
    assert missing == [], f"add entries to devtools/conformance.yaml for {missing}"


def test_no_entry_for_an_operation_nobody_calls_or_serves():
    """An entry whose operation the code no longer calls or serves is stale."""
    stale = sorted(set(REGISTER) - set(USES))
    assert stale == [], f"remove from devtools/conformance.yaml: {stale}"


def test_every_named_test_exists():
    """Every test the register names is a function defined under tests/."""
    named = named_tests(REGISTER)
    assert named, "the register names no test at all"
    unknown = sorted(name for name in named if function_of(name) not in defined_tests())
    assert unknown == []


def test_every_member_override_names_a_constraint_of_the_model():
    """A `members:` key is the path of a max/pattern/enum constraint botocore gives that operation."""
    for key, entry in REGISTER.items():
        service, operation = key.split(":")
        paths = {
            path for path, _, _, client_side in model_constraints(service, operation, None) if not client_side
        }
        assert set(entry.get("members") or {}) <= paths, key


def test_the_collection_finds_each_kind_of_caller():
    """Product modules, runbook scripts, runbook steps, aws:runCommand, the endpoint's table and its own calls."""
    places = {key: {use.where for use in uses} for key, uses in USES.items()}
    assert "tooling/releaseflow/schedules.py" in places["scheduler:CreateSchedule"]
    assert "tooling/releaseflow/runbook_scripts/drain_batch.py" in places["elbv2:DeregisterTargets"]
    assert "automation/releaseflow-Deploy.yaml: AwaitRollback" in places["ssm:GetAutomationExecution"]
    assert any(place.endswith("(aws:runCommand)") for place in places["ssm:CancelCommand"])
    assert (
        "tooling/releaseflow/rehearsal/endpoint/server.py (served)"
        in places["ssm:DescribeInstanceInformation"]
    )
    assert "tooling/releaseflow/rehearsal/endpoint/alarm_monitor.py" in places["cloudwatch:DescribeAlarms"]
    assert "tooling/releaseflow/probe.py" in places["ssm:DescribeDocument"]  # a step the probe builds
    assert "tooling/releaseflow/probe.py (aws:runCommand)" in places["ssm:SendCommand"]
    assert any("releaseflow-RollbackFleet.yaml" in place for place in places["ssm:SendCommand"])


def test_the_endpoints_routing_table_is_served():
    """server.py's SSM table, the target it compares with, and the ELBv2 and EC2 power actions it routes."""
    served = {f"{use.service}:{use.operation}" for use in served_uses()}
    assert {
        "ssm:SendCommand",
        "ssm:StartAutomationExecution",
        "ssm:ListTagsForResource",
        "ssm:CreateDocument",
        "elbv2:RegisterTargets",
        "elbv2:DescribeTargetHealth",
        "ec2:StopInstances",
    } <= served


def test_no_product_call_looks_like_an_operation_on_an_unknown_client():
    """A client the collector does not know by name would hide its calls: none in the product modules."""
    assert [call for path in product_modules() for call in unattributed_calls(path)] == []


def test_every_client_the_product_makes_is_of_a_service_the_collector_reads():
    """A client of a service outside SERVICES would have its calls missed: the product makes none."""
    made = set().union(*(client_services(path) for path in product_modules()))
    assert made and made <= set(conformance.SERVICES), made - set(conformance.SERVICES)


def test_the_collector_finds_direct_and_paginated_calls_only_on_clients(tmp_path):
    """A direct call, a paginator (with the paginator's token), `client("x").op()`, a `(service, Api)` call
    and a step dict count; a call on another object, or of a method that is no operation, does not."""
    module = tmp_path / "m.py"
    module.write_text(
        "def handler(events, context, *, ssm=None, elb=None):\n"
        "    ssm.get_paginator('list_commands').paginate(CommandId='x')\n"
        "    elb.register_targets(TargetGroupArn='x', Targets=[])\n"
        "    self._ssm.get_document(**request)\n"
        "    client('scheduler').get_schedule(Name='n')\n"
        "    aws('cloudwatch', 'DescribeAlarms', {'AlarmNames': ['a']})\n"
        "    step = {'Service': 'ec2', 'Api': 'DescribeInstances', 'InstanceIds': ['i-1']}\n"
        "    json.dumps(ssm)\n"
        "    self.commands.send_command(request)\n"
        "    ssm.meta.events.register('x', print)\n"
    )
    found = {(use.service, use.operation, use.members) for use in module_uses(module, "m.py")}
    assert found == {
        ("ssm", "ListCommands", frozenset({"CommandId", "NextToken"})),
        ("elbv2", "RegisterTargets", frozenset({"TargetGroupArn", "Targets"})),
        ("ssm", "GetDocument", None),
        ("scheduler", "GetSchedule", frozenset({"Name"})),
        ("cloudwatch", "DescribeAlarms", frozenset({"AlarmNames"})),
        ("ec2", "DescribeInstances", frozenset({"InstanceIds"})),
    }


def test_without_clients_only_explicit_service_calls_count(tmp_path):
    """In the rehearsal, `self.elbv2.describe_target_health(form)` is its own service, not a client call."""
    module = tmp_path / "m.py"
    module.write_text(
        "self.elbv2.describe_target_health(form)\nself.aws('scheduler', 'DeleteSchedule', {})\n"
    )
    assert [(use.service, use.operation) for use in module_uses(module, "m.py", clients=False)] == [
        ("scheduler", "DeleteSchedule")
    ]


def test_an_unknown_client_name_calling_an_operation_is_reported(tmp_path, monkeypatch):
    """`sched.create_schedule(...)` on a name the collector does not know is reported, not silently skipped."""
    monkeypatch.setattr(conformance, "ROOT", tmp_path)
    module = tmp_path / "m.py"
    module.write_text("sched.create_schedule(Name='n')\nhosts.items()\n")
    assert unattributed_calls(module) == ["m.py:1: sched.create_schedule"]


def test_model_constraints_are_read_from_botocore():
    """SendCommand's InstanceIds: at most 50 (to enforce) and each id's pattern; DocumentName required."""
    rows = {(path, constraint) for path, constraint, _, _ in model_constraints("ssm", "SendCommand", None)}
    assert ("InstanceIds", "items max 50") in rows
    assert ("DocumentName", "required") in rows
    assert any(path == "InstanceIds[]" and constraint.startswith("pattern") for path, constraint in rows)


def test_only_the_members_passed_are_listed_for_an_operation_only_called():
    """Called with Name alone, DeleteSchedule lists Name's constraints and not ClientToken's."""
    paths = {path for path, *_ in model_constraints("scheduler", "DeleteSchedule", frozenset({"Name"}))}
    assert paths == {"Name"}


def test_rows_say_what_the_rehearsal_does_and_served_defaults_are_not_enforced():
    """An unlisted constraint of an SSM operation the endpoint answers itself is enforced by its model
    check; of one it only intercepts, "not enforced"; of a called one, "passes to moto"; what botocore's
    client checks itself is "client-side"."""
    uses = {
        "ssm:StopAutomationExecution": [Use("ssm", "StopAutomationExecution", "x", None, served=True)],
        "ssm:CreateDocument": [Use("ssm", "CreateDocument", "x", None, served=True)],
        "ssm:DeleteDocument": [Use("ssm", "DeleteDocument", "y", frozenset({"Name"}))],
    }
    rows = {(row.operation, row.constraint): row.rehearsal for row in register_rows(uses, {})}
    assert rows[("ssm:StopAutomationExecution", "`AutomationExecutionId` length max 36")] == (
        conformance.MODEL_CHECKED
    )
    created = {
        constraint: verdict
        for (operation, constraint), verdict in rows.items()
        if operation == "ssm:CreateDocument"
    }
    assert created and {verdict for verdict in created.values() if not verdict.startswith("client-side")} == {
        "not enforced"
    }
    assert rows[("ssm:DeleteDocument", "`Name` pattern `^[a-zA-Z0-9_\\-.]{3,128}$`")] == conformance.MOTO
    assert rows[("ssm:DeleteDocument", "`Name` required")].startswith("client-side")


def test_a_rehearsal_verdict_outside_the_vocabulary_is_refused(tmp_path):
    """An entry whose rehearsal text starts with none of the verdicts is a RegisterError."""
    path = tmp_path / "register.yaml"
    path.write_text(
        "ssm:SendCommand:\n  entries:\n    - {constraint: c, quote: q, source: s, rehearsal: maybe, test: none yet}\n"
    )
    with pytest.raises(RegisterError, match="maybe"):
        load_register(path)


def test_test_references_name_their_function():
    """`path::name[params]` and a bare name both resolve to the function name."""
    assert function_of("tests/e2e/x.py::test_y[after]") == "test_y"
    assert function_of("test_z") == "test_z"


def test_the_register_document_is_current():
    """docs/conformance.md equals what `make docs` writes now."""
    assert conformance.DOC.read_text(encoding="utf-8") == conformance.register_text(), "run `make docs`"


def test_a_nested_override_covers_the_members_inside_unless_they_have_their_own():
    """`nested: true` on a member refused whole applies to its inner members; an inner override wins."""
    uses = {"ssm:StartAutomationExecution": [Use("ssm", "StartAutomationExecution", "x", None, served=True)]}
    register = {
        "ssm:StartAutomationExecution": {
            "members": {
                "TargetMaps": {"nested": True, "rehearsal": "enforces: refused"},
                "TargetMaps[]{key}": {"rehearsal": "not applicable: inner"},
                "Targets": {"rehearsal": "enforces: refused"},
            }
        }
    }
    rows = {row.constraint: row.rehearsal for row in register_rows(uses, register)}
    assert rows["`TargetMaps[]` entries min 1; entries max 20"] == "enforces: refused"
    assert rows["`TargetMaps[]{key}` length max 50"] == "not applicable: inner"
    # Targets' override is not nested: the endpoint's model check covers the members inside.
    assert rows["`Targets[].Values` items max 50"] == conformance.MODEL_CHECKED
