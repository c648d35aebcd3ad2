"""A query-protocol form (ELBv2's) read into the request structure botocore's model describes, so the
endpoint checks it as it checks a JSON request."""

from __future__ import annotations

from releaseflow.rehearsal.endpoint.model_check import query_request


def test_a_query_form_is_read_member_by_member_as_the_model_describes():
    """`Targets.member.N.Port` becomes the Nth target's integer port; member 10 is not taken for member 1."""
    form = {
        "Action": "DescribeTargetHealth",
        "TargetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/1",
        "Targets.member.1.Id": "i-1",
        "Targets.member.1.Port": "80",
        "Include.member.1": "All",
    }
    assert query_request("elbv2", "DescribeTargetHealth", form) == {
        "TargetGroupArn": form["TargetGroupArn"],
        "Targets": [{"Id": "i-1", "Port": 80}],
        "Include": ["All"],
    }
    only_tenth = {"TargetGroupArn": "x", "Targets.member.10.Id": "i-10"}
    assert "Targets" not in query_request("elbv2", "DescribeTargetHealth", only_tenth)
