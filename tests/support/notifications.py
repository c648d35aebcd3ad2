"""template.yaml's deploy notifications, stood up on a rehearsal endpoint: its EventBridge rule, with the
template's own pattern and transformer, delivering to an SQS queue (moto does not deliver EventBridge to
SNS, so the queue stands in for the topic's subscriber)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from cfn_template import conditions, resolve, template

RULE = "deploy-notifications"


def notification_rule(prefix: str) -> dict:
    """DeployStatusRule's properties as CloudFormation makes them with notifications on and `prefix`."""
    parameters = {"EnableNotifications": "true", "NotificationEmail": "", "DocumentPrefix": prefix}
    loaded = template()
    # The topic's Ref is its ARN; the queue stands in for it.
    topic = {"DeployNotificationsTopic": "arn:aws:sns:us-east-1:123456789012:deploys"}
    properties = loaded["Resources"]["DeployStatusRule"]["Properties"]
    return resolve(properties, {**parameters, **topic}, conditions(loaded, parameters))


@contextmanager
def notifications_queue(sqs, events, prefix: str) -> Iterator[str]:
    """The URL of a queue that receives what the template's rule sends for `prefix`; removed after."""
    url = sqs.create_queue(QueueName=RULE)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = notification_rule(prefix)
    events.put_rule(Name=RULE, EventPattern=json.dumps(rule["EventPattern"]))
    [target] = rule["Targets"]
    events.put_targets(
        Rule=RULE, Targets=[{"Id": target["Id"], "Arn": arn, "InputTransformer": target["InputTransformer"]}]
    )
    try:
        yield url
    finally:
        events.remove_targets(Rule=RULE, Ids=[target["Id"]])
        events.delete_rule(Name=RULE)
        sqs.delete_queue(QueueUrl=url)


def messages(sqs, url: str) -> list[str]:
    """Every message the queue holds now, in order."""
    found = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages"
    ):
        found += [json.loads(message["Body"]) for message in batch]
    return found
