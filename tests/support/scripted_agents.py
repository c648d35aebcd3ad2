"""The published runbooks on the rehearsal endpoint with scripted agents instead of Rails hosts.

Fast and real where it matters: moto and the endpoint answer every listing, lock and start the
runbooks' own scripts make, the engine runs the published runbooks, and each agent answers the
commands sent to its instance (Success, or Failed where a test says so, after a chosen delay, or once
the test releases it). No Ruby boots: a whole deploy costs the endpoint's work and little more.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/releaseflow-AutomationRole"
ENDED = ("Success", "Failed", "TimedOut", "Cancelled")
# The endpoint_server fixture's offline threshold for a module that imports this name. The scripted
# agents poll without waiting, a few threads for up to 210 instances: one round over them can outlast
# the suite's 1.5 s threshold on a busy machine, and a host lost between wait_online and PlanRollout
# fails the deploy. No test with scripted agents stops an agent to see it lost.
ENDPOINT_OFFLINE_AFTER = 30.0


class Agents:
    """Scripted agents for many instances: a few threads poll the endpoint for all of them.

    `outcome(document, instance)` gives the status a command ends with; `delay(document, instance)`
    the seconds it runs first; a command `hold(document, instance)` is true for runs (InProgress) until
    `release()`. Every command is recorded as (document, instance, parameters), and when it ran.
    """

    def __init__(self, endpoint, instance_ids, outcome=None, delay=None, hold=None, threads=4):
        self.endpoint = endpoint
        self.outcome = outcome or (lambda document, instance: "Success")
        self.delay = delay or (lambda document, instance: 0)
        self.hold = hold or (lambda document, instance: False)
        self.released = threading.Event()
        self.ran: list[tuple[str, str, dict]] = []
        self.times: dict[tuple[str, str], list[float]] = {}  # (document, instance) -> [started, ended]
        # (command id, instance) -> [started, ended] of every command, however many a document had.
        self.spans: dict[tuple[str, str], list[float]] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        ids = list(instance_ids)
        self.threads = [
            threading.Thread(target=self._loop, args=(ids[n::threads],), daemon=True) for n in range(threads)
        ]
        for thread in self.threads:
            thread.start()

    def _loop(self, instance_ids):
        while not self.stopped.is_set():
            for instance_id in instance_ids:
                polled = self.endpoint.agent("poll", {"instance_id": instance_id, "wait": 0})
                for command in polled["commands"]:
                    threading.Thread(target=self._answer, args=(instance_id, command), daemon=True).start()
            time.sleep(0.2)

    def _answer(self, instance_id, command):
        document, command_id = command["document_name"], command["command_id"]
        with self.lock:
            self.ran.append((document, instance_id, command["parameters"]))
            self.times[(document, instance_id)] = [time.monotonic()]
            self.spans[(command_id, instance_id)] = [time.monotonic()]
        if self.hold(document, instance_id):
            self.released.wait()
        time.sleep(self.delay(document, instance_id))
        status = self.outcome(document, instance_id)
        code = 0 if status == "Success" else 1
        plugin = {"name": "run", "status": status, "response_code": code, "output": "", "stdout": ""}
        base = {"instance_id": instance_id, "command_id": command_id}
        self.endpoint.agent("report", {**base, "status": status, "response_code": code, "plugins": [plugin]})
        with self.lock:
            self.times[(document, instance_id)].append(time.monotonic())
            self.spans[(command_id, instance_id)].append(time.monotonic())

    def sent(self, document):
        """The instances `document` reached, in the order the commands arrived."""
        with self.lock:
            return [instance for name, instance, _ in self.ran if name == document]

    def release(self):
        """Let the held commands, and every one held from now on, go on to their delay and outcome."""
        self.released.set()

    def stop(self):
        self.stopped.set()
        self.released.set()
        for thread in self.threads:
            thread.join(timeout=5)


def publish(endpoint) -> None:
    """Create the project's documents and runbooks on the endpoint under their own names."""
    ssm = endpoint.client("ssm")
    for folder, kind in (("documents", "Command"), ("automation", "Automation")):
        for path in sorted((ROOT / folder).glob("*.yaml")):
            ssm.create_document(
                Name=path.stem, Content=path.read_text(), DocumentType=kind, DocumentFormat="YAML"
            )


def launch(endpoint, count, fleet, tagged=(), workers=()):
    """`count` running instances tagged releaseflow:fleet=`fleet`; the `tagged` indexes migrate, the
    `workers` indexes are worker hosts (releaseflow:role=worker)."""
    ec2 = endpoint.client("ec2")
    ids = []
    for n in range(count):
        tags = [{"Key": "releaseflow:fleet", "Value": fleet}]
        if n in tagged:
            tags.append({"Key": "releaseflow:migrate", "Value": "true"})
        if n in workers:
            tags.append({"Key": "releaseflow:role", "Value": "worker"})
        [instance] = ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )["Instances"]
        ids.append(instance["InstanceId"])
    return ids


def start(endpoint, fleet, **parameters):
    """Start releaseflow-Deploy on `fleet` directly (no trigger, no lock check); its execution id."""
    given = {"Revision": "abc1234", "FleetTagValue": fleet, "AutomationAssumeRole": ROLE, **parameters}
    return endpoint.client("ssm").start_automation_execution(
        DocumentName="releaseflow-Deploy", Parameters={k: [v] for k, v in given.items()}
    )["AutomationExecutionId"]


def wait_online(endpoint, hosts, timeout=60):
    """Return once SSM lists every one of `hosts` Online (their agents have polled)."""
    ssm = endpoint.client("ssm")
    deadline = time.monotonic() + timeout
    while True:
        online = {
            info["InstanceId"]
            for n in range(0, len(hosts), 50)
            for page in ssm.get_paginator("describe_instance_information").paginate(
                Filters=[{"Key": "InstanceIds", "Values": hosts[n : n + 50]}]
            )
            for info in page["InstanceInformationList"]
            if info["PingStatus"] == "Online"
        }
        if online >= set(hosts):
            return
        assert time.monotonic() < deadline, f"not online after {timeout} s: {sorted(set(hosts) - online)}"
        time.sleep(0.2)


def wait_end(endpoint, execution_id, timeout=240):
    """The execution (GetAutomationExecution) once it ended."""
    ssm = endpoint.client("ssm")
    deadline = time.monotonic() + timeout
    while True:
        execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
        if execution["AutomationExecutionStatus"] in ENDED:
            return execution
        assert time.monotonic() < deadline, execution
        time.sleep(0.3)


def step(execution, name):
    """The step execution `name` of `execution` (the first, in a loop)."""
    return next(s for s in execution["StepExecutions"] if s["StepName"] == name)
