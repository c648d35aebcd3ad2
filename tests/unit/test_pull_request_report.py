"""`releaseflow local report`'s verdict on a pull request's rehearsal, from the executions and the hosts (pure)."""

from __future__ import annotations

from releaseflow.execution import Invocation, Snapshot
from releaseflow.rehearsal.harness.fleet import HostStatus
from releaseflow.rehearsal.pull_request import judge

BASE, HEAD = "b" * 40, "h" * 40
HOSTS = ("i-0a", "i-0b")


def _deploy(
    revision: str, failed: dict[tuple[str, str], str] | None = None, migrations=("i-0a",)
) -> Snapshot:
    """A releaseflow-Deploy execution of `revision`: a Migrate on `migrations`, restart and health check on every host."""
    failed = failed or {}
    runs = [("Migrate", host) for host in migrations]
    runs += [(phase, host) for host in HOSTS for phase in ("RestartServices", "HealthCheck")]
    invocations = tuple(
        Invocation(f"c-{phase}-{host}", host, f"releaseflow-{phase}", failed.get((phase, host), "Success"))
        for phase, host in runs
    )
    status = "Failed" if failed else "Success"
    return Snapshot(
        f"e-{revision[0]}", "releaseflow-Deploy", status, {"Revision": [revision]}, invocations=invocations
    )


def _hosts(revision: str = BASE, lb_state: str = "healthy") -> list[HostStatus]:
    return [HostStatus(host, 8000 + n, revision, revision, True, lb_state) for n, host in enumerate(HOSTS)]


def test_a_good_rehearsal_passes_naming_the_migration_host():
    """One migration, every host restarted and healthy on the head, every host back on the base: passed."""
    verdict = judge(_deploy(HEAD), _deploy(BASE), _hosts(), HEAD, BASE)
    assert verdict.passed, verdict.markdown
    assert verdict.markdown.startswith(f"### ✅ Rehearsal of `{HEAD[:12]}` over `{BASE[:12]}`: passed\n")
    assert "- ✅ The migration ran once, on `i-0a`." in verdict.markdown
    assert (
        f"| `i-0a` (migrate) | Success | Success, Success | `{BASE[:12]}`, `{BASE[:12]}`, healthy |"
        in verdict.markdown
    )
    assert f"| `i-0b` | - | Success, Success | `{BASE[:12]}`, `{BASE[:12]}`, healthy |" in verdict.markdown


def test_a_failed_migration_fails_and_says_the_base_was_not_deployed_again():
    """The head's migration failed: failed, the migration line names the host and its status, no base deploy."""
    head = _deploy(HEAD, failed={("Migrate", "i-0a"): "Failed"})
    verdict = judge(head, None, _hosts(), HEAD, BASE)
    assert not verdict.passed
    assert "- ❌ The migration did not run exactly once with success: `i-0a` Failed." in verdict.markdown
    assert f"- ❌ The base `{BASE[:12]}` was not deployed again" in verdict.markdown


def test_two_migrations_a_failed_health_check_or_a_host_left_on_the_head_each_fail_it():
    """Each broken promise alone fails the verdict, naming the host."""
    twice = judge(_deploy(HEAD, migrations=HOSTS), _deploy(BASE), _hosts(), HEAD, BASE)
    assert not twice.passed and "`i-0a` Success, `i-0b` Success" in twice.markdown
    unhealthy = judge(
        _deploy(HEAD, failed={("HealthCheck", "i-0b"): "Failed"}), _deploy(BASE), _hosts(), HEAD, BASE
    )
    assert not unhealthy.passed and "Not restarted on the head or not healthy: `i-0b`." in unhealthy.markdown
    left = judge(_deploy(HEAD), _deploy(BASE), _hosts(HEAD), HEAD, BASE)
    assert not left.passed and f"Not back on the base `{BASE[:12]}`: `i-0a`, `i-0b`." in left.markdown
    draining = judge(_deploy(HEAD), _deploy(BASE), _hosts(lb_state="draining"), HEAD, BASE)
    assert not draining.passed
