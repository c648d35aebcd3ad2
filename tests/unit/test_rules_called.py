"""E215 across documents: values a runbook passes to a validated Command document fit its types."""

from releaseflow.documents import parse_document
from releaseflow.validation import validate_documents

COMMAND = """\
schemaVersion: '2.2'
description: Restarts services.
parameters:
  Services:
    type: StringList
    default: [puma]
  Unit:
    type: String
    default: puma
mainSteps:
  - name: Restart
    action: aws:runShellScript
    inputs:
      runCommand: [systemctl restart puma]
"""

RUNBOOK = """\
schemaVersion: '0.3'
description: Passes a list where one value is expected.
parameters:
  Services:
    type: StringList
    default: [puma]
mainSteps:
  - name: Restart
    action: aws:runCommand
    inputs:
      DocumentName: app-Restart
      InstanceIds: [i-0123456789abcdef0]
      Parameters:
        Services: '{{ Services }}'
        Unit: '{{ Services }}'
"""


def test_a_list_passed_to_a_string_parameter_of_a_validated_command_document():
    """A StringList parameter passed to a String one is E215; the same list to a StringList is fine."""
    documents = [
        parse_document(COMMAND, "documents/app-Restart.yaml"),
        parse_document(RUNBOOK, "automation/app-Deploy.yaml"),
    ]
    findings = [str(f) for f in validate_documents(documents) if f.code == "E215"]
    assert findings == [
        "automation/app-Deploy.yaml:15: E215 step 'Restart': Parameters 'Unit': {{ Services }} is a "
        "StringList, which does not fit a String (app-Restart declares it String)"
    ]


def test_aws_owned_parameter_tables_are_well_formed():
    """Every recorded AWS-owned document names its source, uses SSM types, and requires only what it lists."""
    from releaseflow.rules._aws_owned import OWNED_PARAMETERS, is_aws_owned
    from releaseflow.ssm import shape_of

    problems = [
        name
        for name, owned in OWNED_PARAMETERS.items()
        if not is_aws_owned(name)
        or not owned.source.startswith("https://")
        or any(shape_of(kind) is None for kind in owned.types.values())
        or not set(owned.required) <= set(owned.types)
    ]
    assert problems == []
