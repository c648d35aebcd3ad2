"""The rehearsal fleet's life cycle: `releaseflow local up`, `status` and `down`."""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import ClientError, EndpointConnectionError
from ruamel.yaml import YAML

from releaseflow.errors import UsageError
from releaseflow.publish import publish_documents
from releaseflow.readings import check as check_readings
from releaseflow.rehearsal.endpoint.foreign import FOREIGN_TAG
from releaseflow.rehearsal.harness import provision
from releaseflow.rehearsal.harness.app_repo import build_remote, git
from releaseflow.rehearsal.harness.fleet_record import (
    OFFLINE_AFTER,
    FleetRecord,
    HostRecord,
    LoadBalancerRecord,
    RehearsalError,
    forget,
    recorded,
)
from releaseflow.rehearsal.harness.haproxy import LoadBalancer
from releaseflow.rehearsal.host import services
from releaseflow.sources import checkout, resolve_root

REGION = "us-east-1"
FLEET_TAG = ("releaseflow:fleet", "local")
# The role `deploy --at` names in its schedules; the rehearsal does not check roles.
SCHEDULER_ROLE_ARN = "arn:aws:iam::123456789012:role/releaseflow-SchedulerRole"
TARGET_GROUP = "releaseflow-local"
# Short, so that a rehearsal deploy's drains take seconds, not ELB's default five minutes.
DEREGISTRATION_DELAY = 2
# Binaries the rehearsal runs; all come from the Debian packages `make system-packages` installs.
REQUIRED = ("git", "ruby", "bundle", "haproxy", "unshare", "runuser", "useradd")
# What `up` and the endpoint create in the state dir, apart from the logs. A new endpoint starts with
# an empty moto, so executions kept by an old one would name documents and hosts that are gone.
STALE = (
    "hosts",
    "db",
    "postgres",
    "haproxy",
    "remote.git",
    "releaseflow.yaml",
    "endpoint.json",
    "executions",
    "moto-journal.jsonl",
)
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
Progress = Callable[[str], None]


@dataclass(frozen=True)
class HostStatus:
    """One host as `releaseflow local status` reports it."""

    instance_id: str
    port: int
    revision: str
    serving: str
    running: bool
    lb_state: str
    # web, or worker: its service is the job worker and it is in no target group (lb_state "none").
    role: str = "web"


@dataclass(frozen=True)
class FleetStatus:
    """The whole rehearsal: where to reach it and how each host is doing."""

    endpoint_url: str
    lb_url: str
    hosts: tuple[HostStatus, ...]
    aws_readings: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "endpoint_url": self.endpoint_url,
            "lb_url": self.lb_url,
            "hosts": [asdict(h) for h in self.hosts],
            "aws_readings": dict(self.aws_readings),
        }


def default_state_dir() -> Path:
    """.rehearsal/ at the repository root (git-ignored)."""
    return repo_root() / ".rehearsal"


def repo_root() -> Path:
    """The checkout releaseflow runs from (for .rehearsal/ and build/), else the current directory."""
    return checkout() or Path.cwd()


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def up(
    state_dir: Path,
    hosts: int = 3,
    app_repo: Path | None = None,
    revision: str | None = None,
    db: str = "sqlite",
    progress: Progress = lambda line: None,
    timeout: float = 180,
    offline_after: float = OFFLINE_AFTER,
    aws_readings: dict[str, str] | None = None,
    foreign_instances: int = 0,
    shimmed_ruby_hosts: int = 0,
    worker_hosts: int = 0,
) -> FleetStatus:
    """Bring up endpoint, hosts, database and load balancer; return once every host is healthy.

    `offline_after` and `aws_readings` (the open readings the endpoint plays, default: each one's
    default) go to the endpoint (and to the one restart_endpoint starts). `foreign_instances` online
    managed nodes of another fleet are registered before this fleet's, with heartbeats the endpoint
    fakes. The last `shimmed_ruby_hosts` hosts have Ruby's tools only through version-manager shims
    on the app user's profile PATH (provision.SHIMMED_RUBY_MARKER). The last `worker_hosts` hosts are
    worker hosts: tagged releaseflow:role=worker, running the app's job worker (provision.WORKER_SERVICE)
    instead of puma, in no target group. When it fails half-way it stops what it started; the logs stay in
    STATE/logs.
    """
    aws_readings = check_readings(aws_readings or {})
    _check_system()
    state_dir = state_dir.resolve()
    if recorded(state_dir) or (state_dir / "endpoint.pid").exists():
        raise UsageError(f"a rehearsal already runs in {state_dir}: run `releaseflow local down` first")
    _prepare_state_dir(state_dir)
    try:
        return _bring_up(
            state_dir,
            hosts,
            app_repo,
            revision,
            db,
            progress,
            timeout,
            offline_after,
            aws_readings,
            foreign_instances,
            shimmed_ruby_hosts,
            worker_hosts,
        )
    except BaseException:
        progress("failed: stopping what was started")
        down(state_dir, progress)
        raise


def _bring_up(
    state_dir: Path,
    hosts: int,
    app_repo: Path | None,
    revision: str | None,
    db: str,
    progress: Progress,
    timeout: float,
    offline_after: float,
    aws_readings: dict[str, str],
    foreign_instances: int,
    shimmed_ruby_hosts: int = 0,
    worker_hosts: int = 0,
) -> FleetStatus:
    user = provision.ensure_app_user()
    if worker_hosts > hosts:
        raise UsageError(f"{worker_hosts} worker hosts are more than the {hosts} hosts")

    progress("starting the local AWS endpoint")
    endpoint_url = start_endpoint(state_dir, offline_after=offline_after, aws_readings=aws_readings)
    ec2, elbv2, ssm = (client(name, endpoint_url) for name in ("ec2", "elbv2", "ssm"))
    # Publishing needs only the endpoint, so it runs while the hosts are provisioned (about 5 s of a 20-s
    # up). A failed up stops the endpoint, and with it a publish still running.
    progress("publishing documents/ and automation/ to the endpoint, while the hosts are provisioned")
    publishing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish")
    published = publishing.submit(publish_documents, ssm, resolve_root())
    publishing.shutdown(wait=False)

    progress("building the app's git remote")
    remote = build_remote(state_dir, app_repo, revision)
    _chown(remote.path, user)
    progress(f"revisions: {', '.join(remote.revisions)}; hosts start at {remote.start}")

    database_url = _start_database(state_dir, db, user, progress)
    if foreign_instances:
        progress(f"registering {foreign_instances} managed nodes of another fleet, listed first")
        run_foreign_instances(ec2, foreign_instances)
    instance_ids = run_instances(ec2, hosts)
    ports = {instance_id: free_port() for instance_id in instance_ids}
    roots = {instance_id: state_dir / "hosts" / instance_id for instance_id in instance_ids}
    shimmed = set(instance_ids[len(instance_ids) - shimmed_ruby_hosts :] if shimmed_ruby_hosts else ())
    workers = instance_ids[len(instance_ids) - worker_hosts :] if worker_hosts else []
    if workers:
        ec2.create_tags(
            Resources=workers, Tags=[{"Key": provision.ROLE_TAG[0], "Value": provision.ROLE_TAG[1]}]
        )
    web = [instance_id for instance_id in instance_ids if instance_id not in workers]
    # The first host of each kind is provisioned; the others of its kind launch from it, as from an image.
    images: dict[bool, Path] = {}
    for instance_id in instance_ids:
        ruby = ", Ruby through shims" if instance_id in shimmed else ""
        ruby += ", worker" if instance_id in workers else ""
        image = images.get(instance_id in shimmed)
        how = f"a copy of {image.name}" if image else "clone, bundle install --local, build"
        progress(f"provisioning {instance_id} (port {ports[instance_id]}{ruby}): {how}")
        provision.provision_host(
            roots[instance_id],
            remote.path,
            remote.start,
            ports[instance_id],
            database_url,
            shimmed=instance_id in shimmed,
            image=image,
            worker=instance_id in workers,
        )
        images.setdefault(instance_id in shimmed, roots[instance_id])
    progress(f"preparing the shared database from {instance_ids[0]} (rails db:prepare)")
    provision.migrate(roots[instance_ids[0]])
    progress("starting puma (the worker on worker hosts) on every host, and its agent")
    agent_pids = {}
    for instance_id in instance_ids:
        worker = instance_id in workers
        provision.start_service(roots[instance_id], provision.WORKER_SERVICE if worker else provision.SERVICE)
        agent_pids[instance_id] = provision.start_agent(
            roots[instance_id], endpoint_url, state_dir / "logs" / f"agent-{instance_id}.log"
        )
        (roots[instance_id] / "agent.pid").write_text(f"{agent_pids[instance_id]}\n")

    progress("starting haproxy")
    balancer = LoadBalancer(state_dir)
    # Worker hosts serve no request: neither HAProxy nor the target group knows them.
    lb_url = balancer.start({instance_id: ports[instance_id] for instance_id in web}, free_port())
    target_group_arn = _target_group(ec2, elbv2, web)

    try:
        published.result()
    except ClientError as error:
        # The endpoint refused a document, as AWS would (under --aws-readings strict, for instance).
        raise RehearsalError(f"publishing documents/ and automation/ was refused: {error}") from error

    FleetRecord(
        hosts=tuple(
            HostRecord(
                instance_id,
                ports[instance_id],
                roots[instance_id],
                agent_pids[instance_id],
                "worker" if instance_id in workers else "web",
            )
            for instance_id in instance_ids
        ),
        lb=LoadBalancerRecord(lb_url, balancer.pid, target_group_arn),
        endpoint_url=endpoint_url,
        offline_after=offline_after,
        aws_readings=aws_readings,
        foreign_instances=foreign_instances,
        revisions=tuple(remote.revisions),
        start=remote.start,
        db=db,
        database_url=database_url,
    ).save(state_dir)
    _write_config(
        state_dir / "releaseflow.yaml",
        target_group_arn,
        expect_revision=app_repo is None,
        workers=bool(workers),
    )
    progress("waiting until every host is healthy behind the load balancer")
    return _wait_healthy(state_dir, timeout)


def status(state_dir: Path) -> FleetStatus:
    """Every host's checkout, the commit its puma serves, and its ELBv2 state on the endpoint."""
    fleet = FleetRecord.load(state_dir)
    endpoint = _read_json(state_dir / "endpoint.json")
    lb_states = _lb_states(endpoint["url"], fleet.lb.target_group_arn)
    hosts = []
    for host in fleet.hosts:
        root = host.root
        service = provision.WORKER_SERVICE if host.role == "worker" else provision.SERVICE
        pid_file = root / "run" / f"{service}.pid"
        running = pid_file.exists() and services.alive(int(pid_file.read_text()))
        commit_file = root / "run" / f"{service}.commit"
        hosts.append(
            HostStatus(
                instance_id=host.instance_id,
                port=host.port,
                revision=git(host.app, "rev-parse", "HEAD"),
                serving=commit_file.read_text().strip() if running and commit_file.exists() else "",
                running=running,
                lb_state=lb_states.get(host.instance_id, "none" if host.role == "worker" else "unknown"),
                role=host.role,
            )
        )
    return FleetStatus(
        endpoint_url=endpoint["url"],
        lb_url=fleet.lb.url,
        hosts=tuple(hosts),
        aws_readings=check_readings(fleet.aws_readings),
    )


def env(state_dir: Path) -> dict[str, str]:
    """The environment that points boto3, the AWS CLI and `releaseflow deploy` at the rehearsal."""
    endpoint = _read_json(state_dir / "endpoint.json")
    return {
        "AWS_ENDPOINT_URL": endpoint["url"],
        "AWS_REGION": endpoint.get("region", REGION),
        "AWS_DEFAULT_REGION": endpoint.get("region", REGION),
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        "RELEASEFLOW_CONFIG": str(state_dir.resolve() / "releaseflow.yaml"),
        "RELEASEFLOW_ENVIRONMENT": "local",
    }


def down(state_dir: Path, progress: Progress = lambda line: None) -> None:
    """Stop everything `up` started, from the pid files it left; idempotent, and works after a crash."""
    state_dir = state_dir.resolve()
    for host_root in sorted((state_dir / "hosts").glob("*")):
        if stop_recorded(host_root / "agent.pid", "releaseflow.rehearsal.host.agent"):
            progress(f"stopped the agent of {host_root.name}")
        # A systemctl job still under way first: it would start a unit again once stopped.
        for pid_file in sorted((host_root / "run").glob(f"{services.JOB_PREFIX}*.pid")):
            stop_recorded(pid_file, "releaseflow.rehearsal.host.services")
        for pid_file in sorted((host_root / "run").glob("*.pid")):
            if stop_recorded(pid_file, ""):
                progress(f"stopped {pid_file.stem} on {host_root.name}")
    if (state_dir / "haproxy" / "lb.json").exists():
        LoadBalancer(state_dir).stop()
        (state_dir / "haproxy" / "lb.json").unlink()
        progress("stopped haproxy")
    if stop_recorded(state_dir / "endpoint.pid", "releaseflow.rehearsal.endpoint.server"):
        progress("stopped the endpoint")
    (state_dir / "endpoint.json").unlink(missing_ok=True)
    if (state_dir / "postgres" / "data" / "postmaster.pid").exists():
        try:
            _pg(state_dir, "pg_ctl", "-D", str(state_dir / "postgres" / "data"), "-m", "fast", "-w", "stop")
            progress("stopped postgres")
        except RehearsalError:
            # A postmaster.pid left by a crash names no running server: nothing to stop.
            progress("postgres was not running")
    forget(state_dir)


def _check_system() -> None:
    missing = [tool for tool in REQUIRED if shutil.which(tool, path=_system_path()) is None]
    if missing:
        raise RehearsalError(f"missing {', '.join(missing)}: run `make system-packages` (as root)")
    if os.geteuid() != 0:
        raise RehearsalError("the rehearsal creates a user and mount namespaces: run it as root")


def _system_path() -> str:
    return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _prepare_state_dir(state_dir: Path) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    # Nothing runs here (up checked): what a previous rehearsal left would only confuse this one.
    for name in STALE:
        path = state_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    state_dir.chmod(0o755)
    # The app user reaches the shared database and the git remote through the state dir's path.
    for parent in state_dir.parents:
        if not os.stat(parent).st_mode & 0o001:
            raise RehearsalError(
                f"{parent} is not searchable by other users, so the app user cannot reach {state_dir}: "
                "choose another --state-dir"
            )
    (state_dir / "logs").mkdir(exist_ok=True)


def restart_endpoint(state_dir: Path, progress: Progress = lambda line: None, timeout: float = 60) -> str:
    """Restart only the endpoint, on the port the agents and clients know; return once every agent is back.

    The new endpoint replays STATE/moto-journal.jsonl, so documents, instance ids and the target group
    are as before, and keeps the --offline-after of `up`; executions that were running are restored as
    Failed.
    """
    state_dir = state_dir.resolve()
    fleet = FleetRecord.load(state_dir)
    if stop_recorded(state_dir / "endpoint.pid", "releaseflow.rehearsal.endpoint.server"):
        progress("stopped the endpoint")
    url = fleet.endpoint_url
    progress(f"starting the endpoint again on {url}")
    port = int(url.rsplit(":", 1)[1])
    start_endpoint(state_dir, port, fleet.offline_after, aws_readings=fleet.aws_readings)
    progress("waiting until every agent polls the new endpoint")
    ssm = client("ssm", url)
    wanted = set(fleet.instance_ids)
    deadline = time.monotonic() + timeout
    while True:
        answer = ssm.describe_instance_information(Filters=[{"Key": "PingStatus", "Values": ["Online"]}])[
            "InstanceInformationList"
        ]
        if wanted <= {info["InstanceId"] for info in answer}:
            return url
        if time.monotonic() > deadline:
            raise RehearsalError(f"agents not back after {timeout:.0f} s: see {state_dir / 'logs'}")
        time.sleep(0.2)


def start_endpoint(
    state_dir: Path,
    port: int = 0,
    offline_after: float = OFFLINE_AFTER,
    timeout: float = 30,
    aws_readings: dict[str, str] | None = None,
) -> str:
    """Start the rehearsal endpoint on `port` (0: a free one), logging to STATE/logs; return its URL."""
    info = state_dir / "endpoint.json"
    info.unlink(missing_ok=True)
    with (state_dir / "logs" / "endpoint.log").open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "releaseflow.rehearsal.endpoint.server",
                "--state-dir",
                str(state_dir),
                "--port",
                str(port),
                "--offline-after",
                str(offline_after),
                "--aws-readings",
                json.dumps(check_readings(aws_readings or {})),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (state_dir / "endpoint.pid").write_text(f"{process.pid}\n")
    deadline = time.monotonic() + timeout
    while not info.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RehearsalError(f"the endpoint did not start: see {state_dir / 'logs' / 'endpoint.log'}")
        time.sleep(0.1)
    return json.loads(info.read_text())["url"]


def client(service: str, endpoint_url: str):
    """A boto3 client of the rehearsal endpoint (its region, dummy credentials)."""
    return boto3.client(service, endpoint_url=endpoint_url, region_name=REGION, **DUMMY_CREDENTIALS)


# The image the rehearsal's instances are launched from: the EC2 documentation's example id. moto launches
# from an id it does not know; looking one of its own up (DescribeImages) made it load its whole image
# catalogue, 0.7 s of the endpoint's CPU on every fleet brought up.
IMAGE_ID = "ami-0abcdef1234567890"


def run_instances(ec2, count: int) -> list[str]:
    """`count` moto instances tagged as the local fleet, named releaseflow-local-N; their sorted ids."""
    instance_ids = _launch(ec2, count, [{"Key": FLEET_TAG[0], "Value": FLEET_TAG[1]}])
    for number, instance_id in enumerate(instance_ids, 1):
        ec2.create_tags(
            Resources=[instance_id], Tags=[{"Key": "Name", "Value": f"releaseflow-local-{number}"}]
        )
    return instance_ids


def run_foreign_instances(ec2, count: int) -> list[str]:
    """`count` instances of another fleet whose agent heartbeats the endpoint fakes (no host behind them)."""
    return _launch(
        ec2, count, [{"Key": FLEET_TAG[0], "Value": "other"}, {"Key": FOREIGN_TAG, "Value": "true"}]
    )


def _launch(ec2, count: int, tags: list[dict]) -> list[str]:
    """`count` t3.micro moto instances of IMAGE_ID, tagged `tags`; their sorted ids."""
    reservation = ec2.run_instances(
        ImageId=IMAGE_ID,
        MinCount=count,
        MaxCount=count,
        InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    return sorted(instance["InstanceId"] for instance in reservation["Instances"])


def _target_group(ec2, elbv2, instance_ids: list[str]) -> str:
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = elbv2.create_target_group(
        Name=TARGET_GROUP,
        Protocol="HTTP",
        Port=80,
        VpcId=vpc,
        TargetType="instance",
        HealthCheckPath="/up",
        HealthCheckIntervalSeconds=5,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=2,
    )["TargetGroups"][0]
    arn = group["TargetGroupArn"]
    elbv2.modify_target_group_attributes(
        TargetGroupArn=arn,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(DEREGISTRATION_DELAY)}],
    )
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance_id} for instance_id in instance_ids])
    return arn


def _write_config(path: Path, target_group_arn: str, expect_revision: bool, workers: bool = False) -> None:
    # Only the bundled app prints its commit on /up; a stock app answers 200 and nothing more.
    config = {
        "environments": {
            "local": {
                "region": REGION,
                "runbook": "releaseflow-Deploy",
                # For `deploy --at`: the endpoint's Scheduler fires schedules as this role.
                "scheduler_role_arn": SCHEDULER_ROLE_ARN,
                "parameters": {
                    "FleetTagKey": FLEET_TAG[0],
                    "FleetTagValue": FLEET_TAG[1],
                    "AppDir": provision.APP_DIR,
                    "AppUser": provision.APP_USER,
                    "InstallCommand": provision.INSTALL_COMMAND,
                    "TargetGroupArn": target_group_arn,
                    # Required by the runbooks; the rehearsal runs them with its own credentials.
                    "AutomationAssumeRole": "arn:aws:iam::123456789012:role/releaseflow-AutomationRole",
                    "ExpectRevision": "true" if expect_revision else "false",
                    # The worker hosts' unit (the app's bin/worker), quieted, restarted and watched.
                    **({"WorkerServices": [provision.WORKER_SERVICE]} if workers else {}),
                },
            }
        }
    }
    with path.open("w") as stream:
        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style = False
        yaml.dump(config, stream)


def _wait_healthy(state_dir: Path, timeout: float) -> FleetStatus:
    deadline = time.monotonic() + timeout
    while True:
        current = status(state_dir)
        # A worker host is up when its worker runs; it has no load balancer state.
        if all(
            host.running if host.role == "worker" else host.lb_state == "healthy" for host in current.hosts
        ):
            return current
        if time.monotonic() > deadline:
            states = ", ".join(f"{host.instance_id} {host.lb_state}" for host in current.hosts)
            raise RehearsalError(
                f"hosts not healthy after {timeout:.0f} s ({states}): see {state_dir / 'logs'}"
            )
        time.sleep(0.5)


def _lb_states(endpoint_url: str, target_group_arn: str) -> dict[str, str]:
    try:
        health = client("elbv2", endpoint_url).describe_target_health(TargetGroupArn=target_group_arn)
    except EndpointConnectionError:
        # The endpoint died without cleaning up: the hosts can still be reported, their LB state not.
        return {}
    return {
        entry["Target"]["Id"]: entry["TargetHealth"]["State"] for entry in health["TargetHealthDescriptions"]
    }


def _start_database(state_dir: Path, db: str, user, progress: Progress) -> str:
    if db == "sqlite":
        directory = state_dir / "db"
        directory.mkdir(exist_ok=True)
        _chown(directory, user)
        return f"sqlite3:{directory / 'production.sqlite3'}"
    progress("starting postgresql")
    data = state_dir / "postgres" / "data"
    data.mkdir(parents=True, exist_ok=True)
    postgres = _pg_user()
    _chown(data.parent, postgres)
    _pg(state_dir, "initdb", "--auth=trust", "--username=postgres", "-D", str(data))
    port = free_port()
    options = f"-p {port} -k {data.parent} -c listen_addresses=127.0.0.1"
    log = state_dir / "logs" / "postgres.log"
    log.touch()
    _chown(log, postgres)
    _pg(state_dir, "pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
    role = f"CREATE ROLE {provision.APP_USER} LOGIN CREATEDB PASSWORD '{provision.APP_USER}'"
    _pg(state_dir, "psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-c", role)
    return f"postgres://{provision.APP_USER}:{provision.APP_USER}@127.0.0.1:{port}/releaseflow_production"


def _pg(state_dir: Path, tool: str, *args: str) -> None:
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not binaries:
        raise RehearsalError("postgresql is not installed: run `make system-packages` (as root)")
    result = subprocess.run(
        ["runuser", "-u", "postgres", "--", f"{binaries[-1]}/{tool}", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=state_dir,
    )
    if result.returncode != 0:
        raise RehearsalError(f"postgres {tool} failed: {(result.stderr or result.stdout).strip()[-1000:]}")


def _pg_user():
    try:
        return pwd.getpwnam("postgres")
    except KeyError as error:
        raise RehearsalError("no postgres user: run `make system-packages` (as root)") from error


def _chown(path: Path, user) -> None:
    subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(path)], check=True)


def stop_recorded(pid_file: Path, marker: str) -> bool:
    """Stop the process group a pid file names, if that process still runs; True if one was stopped."""
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    stopped = False
    # After a reboot the pid may belong to something else: only stop what looks like ours.
    if services.alive(pid) and marker in _cmdline(pid):
        services.terminate_group(pid, timeout=15)
        stopped = True
    pid_file.unlink(missing_ok=True)
    return stopped


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return ""


def _read_json(path: Path) -> dict:
    if not path.exists():
        raise RehearsalError(f"no rehearsal runs here ({path} is missing): run `releaseflow local up`")
    return json.loads(path.read_text())
