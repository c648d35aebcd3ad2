"""A typical Rails app deploys as shipped, on one fleet for the module: the bundled app's page links its
fingerprinted stylesheet (sprockets), and one host's app user finds Ruby only through a version
manager's shims on its profile PATH (rbenv-style)."""

from __future__ import annotations

import re
import time
import urllib.request

import pytest

from releaseflow.rehearsal.harness import provision
from scenarios import (
    Sampling,
    assert_fleet_consistent,
    client,
    deploy,
    execution_id,
    fleet_fixture,
    served,
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
