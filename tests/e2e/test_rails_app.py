"""A typical Rails app deploys as shipped: a host whose app user finds Ruby only through a version
manager's shims on its profile PATH (rbenv-style), on one fleet for the module."""

from __future__ import annotations

import time

import pytest

from releaseflow.rehearsal.harness import provision
from scenarios import assert_fleet_consistent, deploy, fleet_fixture, served

pytestmark = pytest.mark.rehearsal

# Two hosts, the second (in id order, so not the migration host) with Ruby's tools only through shims.
rehearsal = fleet_fixture(hosts=2, aws_readings="default", shimmed_ruby_hosts=1)


def test_a_host_whose_ruby_is_only_on_the_app_users_profile_path_deploys(rehearsal):
    """The documents run the app user's commands with its login PATH: `bundle` reached through
    ~/.rbenv/shims deploys revision 2 on the shimmed host as on the other."""
    shimmed = [i for i in rehearsal.instance_ids if provision.shimmed_ruby(rehearsal.host_root(i))]
    assert len(shimmed) == 1
    second = rehearsal.revisions[1]
    started = time.monotonic()
    result = deploy(rehearsal, "--revision", second)
    print(f"deploy of revision 2 took {time.monotonic() - started:.1f} s")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert_fleet_consistent(rehearsal.state_dir, second)
    assert served(rehearsal, shimmed[0]) == second
