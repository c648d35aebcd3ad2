"""In-process reads of moto's backends: documents, EC2 instances, target groups, Scheduler schedules."""

from __future__ import annotations

import json
from dataclasses import dataclass

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.elbv2.models import elbv2_backends
from moto.events.models import events_backends
from moto.scheduler.models import scheduler_backends
from moto.ssm.exceptions import InvalidDocument
from moto.ssm.models import ssm_backends

from releaseflow.rehearsal.endpoint.awsjson import ApiError
from releaseflow.rehearsal.endpoint.scheduler_service import Schedule


@dataclass(frozen=True)
class StoredDocument:
    """One version of an SSM document as moto stores it."""

    name: str
    version: str
    document_type: str
    content: dict
    # Sha256, as DescribeDocument reports it: SendCommand's DocumentHash is checked against it.
    hash: str = ""


@dataclass(frozen=True)
class Ec2Instance:
    """An EC2 instance in moto, as far as SSM targeting and instance information need it."""

    instance_id: str
    state: str
    tags: dict[str, str]


class MotoState:
    """Reads moto's backends for one account and region."""

    def __init__(self, region: str, account: str = DEFAULT_ACCOUNT_ID):
        self.region = region
        self.account = account

    def document(self, name: str, version: str | None) -> StoredDocument:
        """The version SSM would run: the default one when `version` is empty or `$DEFAULT`."""
        backend = ssm_backends[self.account][self.region]
        try:
            backend.describe_document(name, None, None)
        except InvalidDocument as error:
            raise ApiError("InvalidDocument", f"Document {name} does not exist.") from error
        try:
            found = backend.get_document(name, None if version == "$DEFAULT" else version, None, "JSON")
        except InvalidDocument as error:
            raise ApiError("InvalidDocumentVersion", f"Document {name} has no version {version}.") from error
        content = json.loads(found["Content"])
        digest = backend.describe_document(name, found["DocumentVersion"], None)["Hash"]
        return StoredDocument(name, found["DocumentVersion"], found["DocumentType"], content, digest)

    def instances(self) -> list[Ec2Instance]:
        """Every instance moto knows, with its tags."""
        backend = ec2_backends[self.account][self.region]
        return [
            Ec2Instance(
                instance.id, instance.state, {tag["key"]: tag["value"] for tag in instance.get_tags()}
            )
            for instance in backend.all_instances()
        ]

    def put_event(self, entry: dict) -> None:
        """Send one event to the default event bus: its rules and their targets see it, as on AWS."""
        events_backends[self.account][self.region].put_events([entry])

    def target_group(self, arn: str):
        """moto's target group object, or None when it does not exist."""
        return elbv2_backends[self.account][self.region].target_groups.get(arn)

    def schedules(self) -> list[Schedule]:
        """Every EventBridge Scheduler schedule, in every group."""
        backend = scheduler_backends[self.account][self.region]
        # Copies: moto's server threads may add or delete schedules while this reads them.
        groups = list(backend.schedule_groups.values())
        return [
            Schedule(
                arn=schedule.arn,
                group=group.name,
                name=schedule.name,
                expression=schedule.schedule_expression,
                timezone=schedule.schedule_expression_timezone or "UTC",
                state=schedule.state,
                target=dict(schedule.target),
                action_after_completion=schedule.action_after_completion or "NONE",
            )
            for group in groups
            for schedule in list(group.schedules.values())
        ]
