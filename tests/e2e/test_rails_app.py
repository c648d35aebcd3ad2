"""A typical Rails app deploys as shipped, on one fleet for the module: the bundled app's page links its
fingerprinted stylesheet (sprockets), one host's app user finds Ruby only through a version manager's
shims on its profile PATH (rbenv-style), and the app's own hooks (.releaseflow/hooks) run on every host."""

from __future__ import annotations

import re
import time
import urllib.request
from datetime import UTC, datetime

import pytest

from releaseflow.rehearsal.harness import provision
from releaseflow.rehearsal.harness.app_repo import push_commit
from scenarios import (
    Sampling,
    assert_fleet_consistent,
    client,
    deploy,
    execution_id,
    fleet_fixture,
    served,
    snapshot,
    wait_for_execution_end,
)

pytestmark = pytest.mark.rehearsal

# Two hosts, the second (in id order, so not the migration host) with Ruby's tools only through shims.
rehearsal = fleet_fixture(hosts=2, shimmed_ruby_hosts=1)
STYLESHEET = re.compile(r'href="(/assets/application-[0-9a-f]+\.css)"')
# What the deploy test leaves for the rollback test.
deployed: dict[str, str] = {}


def page_and_stylesheet(lb_url: str) -> tuple[str, str]:
    """GET /styled through the load balancer, then the stylesheet it links: (the page's revision, the CSS)."""
    with urllib.request.urlopen(f"{lb_url}/styled", timeout=5) as response:
        revision = response.headers["X-Revision"]
        html = response.read().decode()
    link = STYLESHEET.search(html)
    assert link, html
    with urllib.request.urlopen(f"{lb_url}{link.group(1)}", timeout=5) as response:
        return revision, response.read().decode()


class PageWatcher(Sampling):
    """Loads the page and its stylesheet through the load balancer, in a thread, until stopped; keeps what
    each load saw (the page's revision, the stylesheet's revision comment) and every failure."""

    interval = 0.1

    def __init__(self, lb_url: str, revisions: tuple[str, ...]):
        self.lb_url = lb_url
        self.number = {revision: str(index + 1) for index, revision in enumerate(revisions)}
        self.seen: list[tuple[str, str]] = []
        self.failures: list[str] = []

    def sample(self) -> None:
        try:
            revision, css = page_and_stylesheet(self.lb_url)
        except Exception as error:  # every failure is the finding
            self.failures.append(repr(error))
            return
        found = re.search(r"revision (\d+)", css)
        self.seen.append((self.number.get(revision, revision), found.group(1) if found else css))


def test_the_page_and_its_stylesheet_load_through_the_rollout_and_a_shimmed_host_deploys(rehearsal):
    """During and after the deploy of revision 2 (a new stylesheet) every page through the load balancer
    finds its own revision's stylesheet; the host whose `bundle` is only on the app user's profile PATH
    deploys like the other."""
    shimmed = [i for i in rehearsal.instance_ids if provision.shimmed_ruby(rehearsal.host_root(i))]
    assert len(shimmed) == 1
    first, second = rehearsal.revisions
    assert page_and_stylesheet(rehearsal.lb_url)[0] == first
    started = time.monotonic()
    with PageWatcher(rehearsal.lb_url, rehearsal.revisions) as watcher:
        result = deploy(rehearsal, "--revision", second)
    print(f"deploy of revision 2 took {time.monotonic() - started:.1f} s; {len(watcher.seen)} page loads")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    deployed["execution"] = execution_id(result.stdout)
    assert_fleet_consistent(rehearsal.state_dir, second)
    assert served(rehearsal, shimmed[0]) == second
    assert watcher.failures == []
    assert {page for page, _ in watcher.seen} == {"1", "2"}
    assert all(page == css for page, css in watcher.seen), watcher.seen
    revision, css = page_and_stylesheet(rehearsal.lb_url)
    assert revision == second and "revision 2" in css


def test_after_a_rollback_the_old_pages_find_their_stylesheet(rehearsal):
    """RollbackFleet puts revision 1 back: through it and after, every page finds its own stylesheet."""
    if "execution" not in deployed:
        pytest.skip("the deploy test did not deploy")
    ssm = client(rehearsal, "ssm")
    role = ssm.get_automation_execution(AutomationExecutionId=deployed["execution"])["AutomationExecution"][
        "Parameters"
    ]["AutomationAssumeRole"]
    with PageWatcher(rehearsal.lb_url, rehearsal.revisions) as watcher:
        rollback = ssm.start_automation_execution(
            DocumentName="releaseflow-RollbackFleet",
            Parameters={"ExecutionId": [deployed["execution"]], "AutomationAssumeRole": role},
        )["AutomationExecutionId"]
        ended = wait_for_execution_end(rehearsal, rollback)
    assert ended["AutomationExecutionStatus"] == "Success", ended.get("FailureMessage")
    first = rehearsal.revisions[0]
    assert_fleet_consistent(rehearsal.state_dir, first)
    assert watcher.failures == []
    assert all(page == css for page, css in watcher.seen), watcher.seen
    revision, css = page_and_stylesheet(rehearsal.lb_url)
    assert revision == first and "revision 1" in css


# --- The app's own hooks: a failing build changes no host; all three run where they belong -----------

HOOKS = {
    "build": (
        "#!/bin/sh\n"
        'echo "built $RELEASEFLOW_REVISION on $AWS_SSM_INSTANCE_ID as $(id -un), RAILS_ENV=$RAILS_ENV, '
        'bundle at $(command -v bundle)"\n'
    ),
    "before-switch": (
        "#!/bin/sh\n"
        'echo "switching $AWS_SSM_INSTANCE_ID to $RELEASEFLOW_REVISION from '
        '$(git -C "$RELEASEFLOW_APP_DIR" rev-parse HEAD)"\n'
    ),
    "after-restart": (
        "#!/bin/sh\n"
        'echo "restarted $AWS_SSM_INSTANCE_ID on $(git -C "$RELEASEFLOW_APP_DIR" rev-parse HEAD)"\n'
    ),
}
FAILING_BUILD = '#!/bin/sh\necho "scenario: the build hook found a problem" >&2\nexit 7\n'


def push_hooks(rehearsal, hooks: dict[str, str], message: str) -> str:
    """A commit on revision 1 with `hooks` (name -> text) as executable files in .releaseflow/hooks."""
    files = {f".releaseflow/hooks/{name}": text for name, text in hooks.items()}
    return push_commit(rehearsal.state_dir, files, message, executable=tuple(files))


def served_assets(rehearsal) -> dict[str, list[str]]:
    """Each host's served public/assets, as a sorted listing."""
    return {
        i: sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        for i in rehearsal.instance_ids
        for root in [rehearsal.host_root(i) / "app" / "public" / "assets"]
    }


def command_outputs(rehearsal, since: datetime) -> dict[tuple[str, str], str]:
    """(document, instance id) -> the output of each command sent since `since`: its stdout, then its
    stderr (where a hook's lines go)."""
    ssm = client(rehearsal, "ssm")
    found = {}
    for page in ssm.get_paginator("list_commands").paginate():
        for command in page["Commands"]:
            if command["RequestedDateTime"] < since:
                continue
            for instance in command["InstanceIds"]:
                answer = ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=instance)
                found[(command["DocumentName"], instance)] = (
                    answer["StandardOutputContent"] + answer["StandardErrorContent"]
                )
    return found


def test_a_failing_build_hook_fails_the_deploy_before_any_host_changes(rehearsal):
    """The revision's build hook exits 7 on every host: PrepareHosts fails naming it with its output,
    before the migration and before any host leaves the load balancer; no host restarted, switched or
    got the revision's assets."""
    before = snapshot(rehearsal)
    serving = {i: served(rehearsal, i) for i in rehearsal.instance_ids}
    assets = served_assets(rehearsal)
    broken = push_hooks(rehearsal, {"build": FAILING_BUILD}, "A build hook that fails")

    result = deploy(rehearsal, "--revision", broken)

    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert "failed step: PrepareHosts[1].PrepareChunk" in result.stdout
    assert "[build] scenario: the build hook found a problem" in result.stdout
    assert f"hook build failed: .releaseflow/hooks/build of {broken} exited 7" in result.stdout
    assert "No host was switched, so nothing was rolled back." in result.stdout
    steps = client(rehearsal, "ssm").describe_automation_step_executions(
        AutomationExecutionId=execution_id(result.stdout)
    )["StepExecutions"]
    assert not {"MigrateOnMigrationHost", "UpdateBatches", "DrainBatch"} & {s["StepName"] for s in steps}
    assert snapshot(rehearsal) == before
    assert {i: served(rehearsal, i) for i in rehearsal.instance_ids} == serving
    assert served_assets(rehearsal) == assets
    [revision] = set(serving.values())
    assert_fleet_consistent(rehearsal.state_dir, revision)


def test_a_revision_with_all_three_hooks_deploys_with_their_output_in_its_commands(rehearsal):
    """build, before-switch and after-restart each run on every host, as the app user in the app's
    environment (the shimmed host's hook finds bundle through the shims), at their point, and their
    output is in the output of the command that ran them."""
    shimmed = [i for i in rehearsal.instance_ids if provision.shimmed_ruby(rehearsal.host_root(i))]
    revision = push_hooks(rehearsal, HOOKS, "Hooks at build, before the switch and after the restart")
    since = datetime.now(UTC)

    result = deploy(rehearsal, "--revision", revision)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert_fleet_consistent(rehearsal.state_dir, revision)
    outputs = command_outputs(rehearsal, since)
    first = rehearsal.revisions[0]
    for host in rehearsal.instance_ids:
        build = outputs[("releaseflow-PrepareRevision", host)]
        assert f"[build] built {revision} on {host} as {provision.APP_USER}, RAILS_ENV=production" in build
        assert (provision.SHIMS in build) == (host in shimmed), build
        switch = outputs[("releaseflow-CheckoutRevision", host)]
        assert f"[before-switch] switching {host} to {revision} from {first}" in switch
        assert switch.index("hook before-switch: done") < switch.index("checked out")
        restart = outputs[("releaseflow-RestartServices", host)]
        assert f"[after-restart] restarted {host} on {revision}" in restart
        assert restart.index("restarting ") < restart.index("hook after-restart: done")
