"""The conformance register: every AWS operation releaseflow calls or serves, what AWS documents for it,
what the rehearsal does about it, and the test that proves it.

The operations are collected from the code, never listed by hand: the product modules' and the runbook
scripts' calls on their clients (their syntax trees), the runbooks' API steps and what aws:runCommand makes
Automation call, and what the rehearsal endpoint serves or calls itself. For each operation the register
has the constraints botocore's service model gives the input members we pass (complete by construction)
and the hand-written entries of devtools/conformance.yaml (the behaviour we rely on, its source, the test).
`make docs` writes docs/conformance.md from both; tests/unit/test_conformance.py fails on an operation
without an entry, an entry for an operation nobody calls or serves, and a test name that does not exist.
"""

from __future__ import annotations

import ast
import functools
import html
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import botocore.session
from botocore import xform_name
from ruamel.yaml import YAML

from devtools import generated
from releaseflow.documents import load_document
from releaseflow.rehearsal.endpoint.model_check import compiled

ROOT = Path(__file__).resolve().parents[1]
REGISTER = ROOT / "devtools" / "conformance.yaml"
DOC = ROOT / "docs" / "conformance.md"
PACKAGE = ROOT / "tooling" / "releaseflow"
REHEARSAL = PACKAGE / "rehearsal"
ENDPOINT_SERVER = REHEARSAL / "endpoint" / "server.py"
RUNBOOKS = ROOT / "automation"
TESTS = ROOT / "tests"

# The services releaseflow talks to, and the names its modules give their clients (`self._ssm`,
# `counted.ssm` and `client("ssm")` count as well: the last name of the receiver decides).
SERVICES = ("ssm", "ec2", "elbv2", "scheduler", "cloudwatch", "logs")
CLIENT_NAMES = {
    "ssm": "ssm",
    "_ssm": "ssm",
    "ec2": "ec2",
    "elb": "elbv2",
    "elbv2": "elbv2",
    "scheduler": "scheduler",
    "cloudwatch": "cloudwatch",
    "logs": "logs",
    "counted": "ssm",  # follow.py's Metered SSM client
}
# The runbook actions that call the API their inputs name.
API_ACTIONS = ("aws:executeAwsApi", "aws:waitForAwsResourceProperty", "aws:assertAwsResourceProperty")
# Inputs of those actions that are the action's own, not the API's.
ACTION_INPUTS = {"Service", "Api", "PropertySelector", "DesiredValues"}
# What Automation itself calls for an aws:runCommand step: send, follow, and cancel on timeout or cancel.
RUN_COMMAND_APIS = ("SendCommand", "ListCommands", "ListCommandInvocations", "CancelCommand")
# The API reference page of an operation, by service.
REFERENCE = {
    "ssm": "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_{}.html",
    "ec2": "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_{}.html",
    "elbv2": "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_{}.html",
    "scheduler": "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_{}.html",
    "cloudwatch": "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_{}.html",
    "logs": "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_{}.html",
}
# What the rehearsal does about a constraint: the first words of an entry's `rehearsal`.
VERDICTS = ("enforces", "client-side", "passes to moto", "not enforced", "not applicable")
NOT_ENFORCED = "not enforced"
CLIENT_SIDE = "client-side: botocore's parameter validation refuses it before any request (boto3, AWS CLI)"
MOTO = "passes to moto: moto's own checks, if any"
NO_TEST = "none yet"
# The endpoint checks each SSM request it answers itself against botocore's model (model_check.py).
MODEL_CHECKED = "enforces: the endpoint checks the request against botocore's model (endpoint/model_check.py)"
MODEL_UNREADABLE = "not enforced: a Java pattern Python's re cannot read (Unicode classes)"
MODEL_TEST = "tests/harness/test_endpoint_model_check.py::test_the_endpoint_refuses_what_the_model_forbids"
# How much of a member's documentation the register quotes.
QUOTE_CHARS = 240


class RegisterError(Exception):
    """The register's source is malformed."""


@dataclass(frozen=True)
class Use:
    """One place that calls or serves an operation; `members` the input members it passes (None: any)."""

    service: str
    operation: str
    where: str
    members: frozenset[str] | None = None
    served: bool = False


# --- botocore's models ---------------------------------------------------------------------------


@functools.cache
def service_model(service: str):
    return botocore.session.get_session().get_service_model(service)


@functools.cache
def operations(service: str) -> dict[str, str]:
    """The service's operations, snake_case name -> API name."""
    return {xform_name(name): name for name in service_model(service).operation_names}


def service_of(operation: str) -> str:
    """The one service among SERVICES that has an operation of this API name."""
    found = [service for service in SERVICES if operation in operations(service).values()]
    if len(found) != 1:
        raise RegisterError(f"{operation}: in {found or 'none'} of {SERVICES}")
    return found[0]


# --- collecting the operations -------------------------------------------------------------------


def _receiver(node: ast.expr) -> str | None:
    """The service a call's receiver is a client of: `ssm`, `self._ssm`, `ssm.poll()`, `client("ssm")`."""
    while isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id == "client":
            argument = node.args[0] if node.args else None
            value = argument.value if isinstance(argument, ast.Constant) else None
            return value if value in SERVICES else None
        if not isinstance(node.func, ast.Attribute):
            return None
        node = node.func.value
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    return CLIENT_NAMES.get(name)


def _keywords(call: ast.Call) -> frozenset[str] | None:
    if any(keyword.arg is None for keyword in call.keywords):
        return None  # **kwargs: any member
    return frozenset(keyword.arg for keyword in call.keywords)


def _constant(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def module_uses(path: Path, where: str | None = None, clients: bool = True) -> list[Use]:
    """The operations a module calls, read from its syntax tree.

    - `X.method(...)` on a client (CLIENT_NAMES) where `method` is an operation of X's service;
    - `X.get_paginator("method")`, with the members of the `.paginate(...)` chained on it;
    - `aws("service", "Operation", {...})`: the rehearsal's calls through boto3 clients of its own;
    - `{"Service": "ssm", "Api": "Operation", ...}` and `{"action": "aws:runCommand", ...}`: a runbook
      step the module builds (the probe's).

    Without `clients`, only the last two: the rehearsal's `self.elbv2` is its own service, not a client.
    """
    where = where or path.relative_to(ROOT).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[Use] = []
    paginated: dict[int, ast.Call] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "paginate"
            and isinstance(node.func.value, ast.Call)
        ):
            paginated[id(node.func.value)] = node
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = {_constant(key): value for key, value in zip(node.keys, node.values, strict=True)}
            service, api = _constant(keys.get("Service")), _constant(keys.get("Api"))
            if service in SERVICES and api in operations(service).values():
                members = frozenset(key for key in keys if key and key not in ACTION_INPUTS)
                found.append(Use(service, api, where, members))
            if _constant(keys.get("action")) == "aws:runCommand":
                found += [Use("ssm", name, f"{where} (aws:runCommand)") for name in RUN_COMMAND_APIS]
            continue
        if not isinstance(node, ast.Call):
            continue
        first, second = (_constant(node.args[i]) if len(node.args) > i else None for i in (0, 1))
        if first in SERVICES and second in operations(first).values():
            request = node.args[2] if len(node.args) > 2 else None
            members = None
            if isinstance(request, ast.Dict) and all(_constant(key) for key in request.keys):
                members = frozenset(_constant(key) for key in request.keys)
            found.append(Use(first, second, where, members))
            continue
        if not clients or not isinstance(node.func, ast.Attribute):
            continue
        service = _receiver(node.func.value)
        if service is None:
            continue
        method = node.func.attr
        if method == "get_paginator":
            method = first
            paginate = paginated.get(id(node))
            members = _keywords(paginate) if paginate is not None else None
            if method in operations(service) and members is not None:
                # The paginator passes its token on from the second page.
                token = _paginator_token(service, operations(service)[method])
                members = members | ({token} if token else set())
        else:
            members = _keywords(node)
        if method in operations(service):
            found.append(Use(service, operations(service)[method], where, members))
    return found


def _paginator_token(service: str, operation: str) -> str | None:
    loader = botocore.session.get_session().get_component("data_loader")
    model = service_model(service)
    pages = loader.load_service_model(service, "paginators-1", model.api_version)["pagination"]
    token = pages.get(operation, {}).get("input_token")
    return token if isinstance(token, str) else None


def unattributed_calls(path: Path) -> list[str]:
    """`X.method(...)` calls whose method is an operation of a service but whose receiver is no client we
    know: a client named otherwise would be missed, so the test wants this empty (or explained)."""
    names = {name for service in SERVICES for name in operations(service)}
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in names
            and _receiver(node.func.value) is None
        ):
            found.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno}: {ast.unparse(node.func)}")
    return found


def client_services(path: Path) -> set[str]:
    """The services a module makes clients of: `client("x")`, `boto3.client("x")`, `fleet.client("x")`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and node.args:
            function = node.func
            name = function.id if isinstance(function, ast.Name) else getattr(function, "attr", None)
            if name == "client" and _constant(node.args[0]):
                found.add(_constant(node.args[0]))
    return found


def product_modules() -> list[Path]:
    """The package's modules outside the rehearsal, runbook scripts included."""
    return sorted(path for path in PACKAGE.rglob("*.py") if REHEARSAL not in path.parents)


def rehearsal_modules() -> list[Path]:
    """The endpoint and the engine: what they serve, and what they call through their own clients."""
    return sorted([*(REHEARSAL / "endpoint").glob("*.py"), *(REHEARSAL / "engine").rglob("*.py")])


def runbook_uses() -> list[Use]:
    """The runbooks' API steps, and what Automation calls for their aws:runCommand steps."""
    found = []
    for path in sorted(RUNBOOKS.glob("*.yaml")):
        document = load_document(path)
        for _, step in document.steps():
            inputs = step.get("inputs") or {}
            where = f"automation/{path.name}: {step['name']}"
            if step["action"] in API_ACTIONS:
                members = frozenset(inputs) - ACTION_INPUTS
                found.append(Use(inputs["Service"], inputs["Api"], where, members))
            elif step["action"] == "aws:runCommand":
                for operation in RUN_COMMAND_APIS:
                    members = frozenset(inputs) if operation == "SendCommand" else None
                    found.append(Use("ssm", operation, f"{where} (aws:runCommand)", members))
    return found


@functools.cache
def answered_operations(path: Path = ENDPOINT_SERVER) -> frozenset[str]:
    """The SSM operations the endpoint answers itself (its `ssm_operations` table), each request checked
    against botocore's model first (model_check.py); the others it passes on to moto."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return frozenset(
        _constant(key)
        for node in ast.walk(tree)
        if isinstance(node, ast.AnnAssign | ast.Assign) and isinstance(node.value, ast.Dict)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Attribute) and target.attr == "ssm_operations"
        for key in node.value.keys
    )


def served_uses(path: Path = ENDPOINT_SERVER) -> list[Use]:
    """The operations the endpoint answers with handlers of its own (before or instead of moto).

    Read from server.py: the keys of its `ssm_operations` table, the `(SSM, operation)` keys of its
    `routes` table, the operations it compares a request's operation with, and the `*_ACTIONS` tuples
    it routes by (ELBv2, the EC2 power actions).
    """
    where = f"{path.relative_to(ROOT).as_posix()} (served)"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # The SSM operations are read as such (the JSON protocol's target names its service); the others
    # are looked up among SERVICES.
    ssm: set[str] = set(answered_operations(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple) and len(node.elts) == 2:
            service, operation = node.elts
            if isinstance(service, ast.Name) and service.id == "SSM" and _constant(operation):
                ssm.add(_constant(operation) or "")
        if isinstance(node, ast.Compare):
            for value in [node.left, *node.comparators]:
                items = value.elts if isinstance(value, ast.Tuple) else [value]
                for item in items:
                    text = _constant(item) or ""
                    if re.fullmatch(r"AmazonSSM\.[A-Z][A-Za-z]+", text) or (
                        isinstance(node.left, ast.Name) and node.left.id == "operation"
                    ):
                        ssm.add(text.removeprefix("AmazonSSM."))
    for module in (REHEARSAL / "endpoint").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Tuple)
                and any(isinstance(t, ast.Name) and t.id.endswith("ACTIONS") for t in node.targets)
            ):
                names |= {_constant(item) for item in node.value.elts}
    known = {name for service in SERVICES for name in operations(service).values()}
    served = [
        Use("ssm", name, where, None, True) for name in sorted(ssm) if name in operations("ssm").values()
    ]
    others = sorted(name for name in names - {None} - ssm if name in known)
    return served + [Use(service_of(name), name, where, None, True) for name in others]


def collect() -> list[Use]:
    """Every use of every operation: product, runbooks, rehearsal."""
    found = [*runbook_uses(), *served_uses()]
    for path in product_modules():
        found += module_uses(path)
    for path in rehearsal_modules():
        found += module_uses(path, clients=False)
    return found


def by_operation(uses: Iterable[Use]) -> dict[str, list[Use]]:
    """`service:Operation` -> its uses, sorted by key."""
    grouped: dict[str, list[Use]] = {}
    for use in uses:
        grouped.setdefault(f"{use.service}:{use.operation}", []).append(use)
    return dict(sorted(grouped.items()))


# --- the register ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Constraint:
    """One row of the register."""

    operation: str
    constraint: str
    quote: str
    source: str
    rehearsal: str
    test: str
    generated: bool = False

    @property
    def not_enforced(self) -> bool:
        return self.rehearsal.startswith(NOT_ENFORCED)


def load_register(path: Path = REGISTER) -> dict[str, dict]:
    """devtools/conformance.yaml: `service:Operation` -> {default, members, entries}."""
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise RegisterError(f"{path.name}: a mapping of service:Operation")
    for operation, entry in data.items():
        for item in entry.get("entries", []):
            missing = {"constraint", "quote", "source", "rehearsal", "test"} - set(item)
            if missing:
                raise RegisterError(f"{operation}: an entry lacks {sorted(missing)}")
            _verdict(operation, item["rehearsal"])
        if "default" in entry:
            _verdict(operation, entry["default"])
    return data


def _verdict(operation: str, text: str) -> None:
    if not text.startswith(VERDICTS):
        raise RegisterError(f"{operation}: rehearsal {text!r} starts with none of {VERDICTS}")


def _text(documentation: str) -> str:
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", documentation or "")).split())
    text = re.sub(r" ([.,;:)])", r"\1", text)
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 3].rstrip() + "..."


def model_constraints(service: str, operation: str, members: frozenset[str] | None) -> list[tuple]:
    """(member path, constraint, documentation, client-side) for the input members passed (all of them when
    `members` is None), nested members included: what botocore's client checks itself (required, and
    min of a string, list or number) in one row, the rest of min/max/pattern/enum in another."""
    rows: list[tuple] = []
    shape = service_model(service).operation_model(operation).input_shape
    if shape is None:
        return rows

    def walk(shape, path: str, documentation: str, required: bool, seen: tuple) -> None:
        if shape.name in seen:
            return
        metadata = shape.metadata
        kind = {"string": "length", "list": "items", "map": "entries"}.get(shape.type_name, "value")
        checked, other = (["required"] if required else []), []
        if metadata.get("min"):  # a minimum of 0 constrains nothing
            (other if shape.type_name == "map" else checked).append(f"{kind} min {metadata['min']}")
        if "max" in metadata:
            other.append(f"{kind} max {metadata['max']}")
        if "pattern" in metadata:
            other.append(f"pattern `{metadata['pattern']}`")
        if metadata.get("enum"):
            other.append("one of " + ", ".join(f"`{value}`" for value in metadata["enum"]))
        quote = _text(documentation or shape.documentation)
        for facts, client_side in ((checked, True), (other, False)):
            if facts:
                rows.append((path, "; ".join(facts), quote, client_side))
        seen = (*seen, shape.name)
        if shape.type_name == "structure":
            for name, member in shape.members.items():
                walk(member, f"{path}.{name}", member.documentation, name in shape.required_members, seen)
        elif shape.type_name == "list":
            walk(shape.member, f"{path}[]", "", False, seen)
        elif shape.type_name == "map":
            walk(shape.key, f"{path}{{key}}", "", False, seen)
            walk(shape.value, f"{path}{{value}}", "", False, seen)

    for name, member in shape.members.items():
        if members is None or name in members:
            walk(member, name, member.documentation, name in shape.required_members, (shape.name,))
    return rows


def register_rows(uses: dict[str, list[Use]], register: dict[str, dict]) -> list[Constraint]:
    """The register's rows: for each operation, its botocore constraints, then its hand-written entries."""
    rows = []
    for key, operation_uses in uses.items():
        service, operation = key.split(":")
        entry = register.get(key, {})
        served = any(use.served for use in operation_uses)
        members = None
        if not served and all(use.members is not None for use in operation_uses):
            members = frozenset().union(*(use.members for use in operation_uses))
        default = entry.get("default") or (NOT_ENFORCED if served else MOTO)
        overrides = entry.get("members") or {}
        source = f"botocore's {service} model"
        checked = service == "ssm" and operation in answered_operations()
        for path, constraint, quote, client_side in model_constraints(service, operation, members):
            override = {} if client_side else _override(overrides, path)
            verdict, test = (CLIENT_SIDE, NO_TEST) if client_side else (default, NO_TEST)
            if checked and not client_side:
                verdict, test = _model_checked(constraint)
            rows.append(
                Constraint(
                    key,
                    f"`{path}` {constraint}",
                    quote,
                    source,
                    override.get("rehearsal", verdict),
                    _test_cell(override.get("test", test)),
                    generated=True,
                )
            )
        for item in entry.get("entries", []):
            rows.append(
                Constraint(
                    key,
                    item["constraint"],
                    item["quote"],
                    item["source"],
                    item["rehearsal"],
                    _test_cell(item["test"]),
                )
            )
    return rows


def _model_checked(constraint: str) -> tuple[str, str]:
    """What the endpoint's model check does about a constraint of an SSM operation it answers itself."""
    patterns = re.findall(r"pattern `(.*?)`(?:;|$)", constraint)
    if any(compiled(pattern) is None for pattern in patterns):
        return MODEL_UNREADABLE, NO_TEST
    return MODEL_CHECKED, MODEL_TEST


def _override(overrides: dict[str, dict], path: str) -> dict:
    """The override of a member path: its own, else the nearest enclosing member's marked `nested`."""
    if path in overrides:
        return overrides[path]
    enclosing = [
        key
        for key, value in overrides.items()
        if value.get("nested") and path[len(key) : len(key) + 1] in (".", "[", "{") and path.startswith(key)
    ]
    return overrides[max(enclosing, key=len)] if enclosing else {}


def _test_cell(test: str | list[str]) -> str:
    return "; ".join(test) if isinstance(test, list) else test


def named_tests(register: dict[str, dict]) -> set[str]:
    """Every test the register names (a bare name, or PATH::NAME[PARAMS])."""
    named = {MODEL_TEST}
    for entry in register.values():
        items = [*entry.get("entries", []), *(entry.get("members") or {}).values()]
        for item in items:
            tests = item.get("test", NO_TEST)
            for test in tests if isinstance(tests, list) else [tests]:
                if test != NO_TEST:
                    named.add(test)
    return named


def function_of(name: str) -> str:
    """The function a test reference names: `tests/x.py::test_y[z]` -> `test_y`."""
    return name.split("::")[-1].split("[")[0]


@functools.cache
def defined_tests() -> frozenset[str]:
    """The names of the functions the tests tree defines."""
    pattern = re.compile(r"^\s*(?:async\s+)?def (test_\w+)\(", re.MULTILINE)
    return frozenset(
        name for path in TESTS.rglob("*.py") for name in pattern.findall(path.read_text(encoding="utf-8"))
    )


INTRO = """# Conformance register

<!-- Generated by `make docs` (devtools/conformance.py) from devtools/conformance.yaml and
     botocore's service models: edit those, not this file. -->

Every AWS operation releaseflow calls (the CLI and library, the runbooks' API steps, what
aws:runCommand makes Automation call, the runbook scripts) or the rehearsal endpoint serves, with
the constraints AWS documents for it, what the rehearsal does about each, and the test that proves
it. The operations are collected from the code (tests/unit/test_conformance.py), never listed by
hand; the rows marked *model* are botocore's constraints (required, min, max, pattern, enum) on the
input members we pass, all members for an operation the endpoint serves; the others are written in
devtools/conformance.yaml, with the behaviour the runbooks rely on (docs/aws-semantics.md).

The rehearsal column starts with one of: *enforces* (the endpoint or the engine refuses or plays
it), *client-side* (botocore's own parameter validation, which boto3 and the AWS CLI run before
sending, refuses it: `required`, and `min` of a string, list or number), *passes to moto* (the
endpoint hands the call to moto, whose own checks apply, if any), *not enforced*, *not applicable*.
"""

# --- the document --------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render(uses: dict[str, list[Use]], rows: list[Constraint]) -> str:
    gaps = [row for row in rows if row.not_enforced]
    hand_gaps = [row for row in gaps if not row.generated]
    lines = [
        INTRO,
        f"{len(uses)} operations, {len(rows)} constraints, {len(gaps)} not enforced by the rehearsal.",
        "",
        "## Known gaps",
        "",
        "Documented constraints the rehearsal does not enforce, so a call it accepts may be refused by AWS.",
        "Written by hand:",
        "",
    ]
    lines += [f"- {row.operation}: {_cell(row.constraint)} ({_cell(row.rehearsal)})" for row in hand_gaps]
    lines += [] if hand_gaps else ["- (none)"]
    lines += [
        "",
        "From botocore's model, on operations the endpoint answers itself (the rows marked *model* below):",
        "",
    ]
    model_gaps: dict[str, list[str]] = {}
    for row in gaps:
        if row.generated:
            model_gaps.setdefault(row.operation, []).append(_cell(row.constraint))
    for operation, constraints in model_gaps.items():
        lines.append(f"- {operation} ({len(constraints)}): " + "; ".join(constraints))
    lines += [] if model_gaps else ["- (none)"]
    lines += ["", "## Operations", ""]
    for key, operation_uses in uses.items():
        service, operation = key.split(":")
        lines += [f"### {key}", ""]
        places = sorted({use.where for use in operation_uses})
        lines += ["Called or served by: " + "; ".join(f"`{place}`" for place in places) + ".", ""]
        lines += [f"API reference: {REFERENCE[service].format(operation)}", ""]
        lines += [
            "| constraint | quote | source | the rehearsal | test |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in rows:
            if row.operation == key:
                constraint = f"*model* {row.constraint}" if row.generated else row.constraint
                lines.append(
                    "| "
                    + " | ".join(
                        _cell(value) for value in (constraint, row.quote, row.source, row.rehearsal, row.test)
                    )
                    + " |"
                )
        lines.append("")
    return "\n".join(lines)


def register_text() -> str:
    """docs/conformance.md as it should read now."""
    uses = by_operation(collect())
    return render(uses, register_rows(uses, load_register()))


def main(argv: list[str]) -> int:
    usage = "python -m devtools.conformance (rewrites docs/conformance.md)"
    return generated.main(argv, usage, lambda: {DOC: register_text()})


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
