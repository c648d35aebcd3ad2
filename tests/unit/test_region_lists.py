"""The endpoint's region lists (releaseflow.rehearsal.endpoint.region_lists): botocore's own answers, read once."""

from __future__ import annotations

import boto3.session
import botocore.session

from releaseflow.rehearsal.endpoint import region_lists


def test_the_lists_are_what_botocore_answers_for_each_partition():
    """Every Session answers what a fresh botocore session reads from its data, per service and partition."""
    fresh = botocore.session.Session()
    for service, partition in (("ec2", "aws"), ("ec2", "aws-cn"), ("ssm", "aws-us-gov"), ("elbv2", "aws")):
        expected = fresh.get_available_regions(service, partition)
        assert expected, (service, partition)
        assert boto3.session.Session().get_available_regions(service, partition) == expected


def test_a_caller_changing_its_list_changes_no_other_callers():
    """moto extends the lists it is given: each call returns a list of its own."""
    first = boto3.session.Session().get_available_regions("ec2")
    first.append("moon-central-1")
    assert "moon-central-1" not in boto3.session.Session().get_available_regions("ec2")


def test_the_session_method_is_the_shared_one():
    assert boto3.session.Session.get_available_regions is region_lists.available_regions
