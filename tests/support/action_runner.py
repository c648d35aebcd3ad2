"""action.yml's steps run as GitHub's runner runs a composite action: expressions, `if:`, the runner's files.

Only what action.yml uses is supported, and anything else fails loudly (`Unsupported`): expressions
are a context path (`inputs.x`, `github.a.b`, `steps.ID.outputs.NAME`) or one `==`/`!=` comparison of
a path with a quoted string; `uses:` steps are stood in by callables the test gives, by action name.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
PATH = r"[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*"
COMPARISON = re.compile(rf"^({PATH})\s*(==|!=)\s*'((?:[^']|'')*)'$")
# GitHub's `shell: bash`: https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-syntax
BASH = ("bash", "--noprofile", "--norc", "-eo", "pipefail")
# What a step of action.yml may say; continue-on-error, working-directory, timeout-minutes are not run.
STEP_KEYS = {"name", "id", "if", "shell", "run", "env", "uses", "with"}
# The multi-line form of GITHUB_OUTPUT and GITHUB_ENV: NAME<<DELIMITER, the lines, DELIMITER.
HEREDOC = re.compile(r"^([^=<\s]+)<<(\S+)$")


class Unsupported(Exception):
    """action.yml uses an expression, a shell or a `uses:` this runner does not implement."""


@dataclass
class StepResult:
    """One step as the job log shows it: skipped or run, its exit code and output."""

    name: str
    skipped: bool
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Run:
    """The whole action's run: every step, the action's outputs, the job summary."""

    steps: list[StepResult]
    outputs: dict[str, str]
    summary: str

    @property
    def failed(self) -> StepResult | None:
        return next((step for step in self.steps if step.returncode != 0), None)

    @property
    def log(self) -> str:
        return "\n".join(
            f"--- {step.name} (exit {step.returncode}, {step.seconds:.1f} s){' skipped' if step.skipped else ''}\n"
            f"{step.stdout}{step.stderr}"
            for step in self.steps
        )


# A stand-in for a `uses:` step: given its evaluated `with:` and the job's environment, it returns
# what it adds to the environment and to PATH, as the real action does through GITHUB_ENV/GITHUB_PATH.
StandIn = Callable[[dict[str, str], Mapping[str, str]], tuple[dict[str, str], list[str]]]


def evaluate(expression: str, contexts: Mapping[str, object]) -> str | bool:
    """The value of the inside of one `${{ }}`: a context path, or a comparison of one with a string."""
    text = expression.strip()
    compared = COMPARISON.match(text)
    if compared:
        left = _lookup(compared.group(1), contexts)
        right = compared.group(3).replace("''", "'")
        # GitHub compares strings ignoring case.
        equal = str(left).casefold() == right.casefold()
        return equal if compared.group(2) == "==" else not equal
    if re.fullmatch(PATH, text):
        return _lookup(text, contexts)
    raise Unsupported(f"expression not supported by the test runner: ${{{{ {text} }}}}")


def interpolate(value: object, contexts: Mapping[str, object]) -> str:
    """A `with:`, `env:` or `run:` value with each `${{ }}` replaced by its value (booleans as GitHub writes them)."""
    text = "" if value is None else str(value)

    def one(match: re.Match) -> str:
        result = evaluate(match.group(1), contexts)
        return ("true" if result else "false") if isinstance(result, bool) else result

    return EXPRESSION.sub(one, text)


def condition(text: str | None, contexts: Mapping[str, object]) -> bool:
    """An `if:`: absent means success(), which holds while no earlier step failed (the caller checks that)."""
    if text is None:
        return True
    inner = EXPRESSION.fullmatch(text.strip())
    result = evaluate(inner.group(1) if inner else text, contexts)
    if not isinstance(result, bool):
        raise Unsupported(f"if: {text!r} is not a comparison")
    return result


def _lookup(path: str, contexts: Mapping[str, object]) -> str:
    head, *rest = path.split(".")
    if head not in contexts:
        raise Unsupported(f"context {head!r} not supported by the test runner (in {path})")
    value: object = contexts[head]
    if head == "inputs" and (len(rest) != 1 or rest[0] not in value):
        raise Unsupported(f"{path}: not an input action.yml declares")
    if head == "steps" and (len(rest) != 3 or rest[0] not in value or rest[1] != "outputs"):
        raise Unsupported(f"{path}: not steps.<an id action.yml declares>.outputs.<name>")
    for name in rest:
        # A missing property is null, which GitHub writes as '' (e.g. an output a skipped step never set).
        value = value.get(name) if isinstance(value, Mapping) else None
    if value is not None and not isinstance(value, str):
        raise Unsupported(f"{path} is not a string")
    return value or ""


def parse_file_commands(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV lines: NAME=value, or NAME<<DELIMITER ... DELIMITER."""
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if not line.strip():
            continue
        heredoc = HEREDOC.match(line)
        if heredoc:
            name, delimiter, body = heredoc.group(1), heredoc.group(2), []
            for part in lines:
                if part == delimiter:
                    break
                body.append(part)
            else:
                raise ValueError(f"{name}<<{delimiter}: no closing delimiter")
            values[name] = "\n".join(body)
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"not a file command: {line!r}")
        values[name] = value
    return values


def run_action(
    action_dir: Path,
    workspace: Path,
    inputs: Mapping[str, str],
    github: Mapping[str, object],
    stand_ins: Mapping[str, StandIn],
    environment: Mapping[str, str],
    timeout: float = 600,
) -> Run:
    """Run `action_dir`/action.yml from `workspace` with `inputs` (its `with:`), as the runner does.

    `github` is the github context (sha, event, ...; action_path and workspace are added);
    `environment` the runner's own environment (PATH, HOME, ...), to which the runner's variables
    (GITHUB_*, RUNNER_TEMP, CI) are added. A failing step skips the rest, as success() does.
    """
    action = YAML(typ="safe", pure=True).load((action_dir / "action.yml").read_text())
    declared = action.get("inputs", {})
    unknown = set(inputs) - set(declared)
    if unknown:
        raise Unsupported(f"inputs action.yml does not declare: {sorted(unknown)}")
    steps = action["runs"]["steps"]
    step_outputs: dict[str, dict[str, dict[str, str]]] = {
        step["id"]: {"outputs": {}} for step in steps if "id" in step
    }
    github_context = {**github, "action_path": str(action_dir), "workspace": str(workspace)}
    contexts: dict[str, object] = {"github": github_context, "steps": step_outputs}
    resolved: dict[str, str] = {}
    contexts["inputs"] = resolved
    for name, spec in declared.items():
        value = inputs[name] if name in inputs else spec.get("default", "")
        resolved[name] = interpolate(value, {"github": github_context})
    results: list[StepResult] = []
    summary: list[str] = []
    with tempfile.TemporaryDirectory(prefix="rf-runner-") as temp:
        runner_temp = Path(temp) / "temp"
        runner_temp.mkdir()
        env = {
            **environment,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_ACTION_PATH": str(action_dir),
            "GITHUB_SHA": str(github.get("sha", "")),
            "GITHUB_EVENT_NAME": str(github.get("event_name", "")),
            "RUNNER_TEMP": str(runner_temp),
        }
        extra_path: list[str] = []
        for number, step in enumerate(steps):
            name = step.get("name") or step.get("uses") or f"step {number}"
            if set(step) - STEP_KEYS:
                raise Unsupported(
                    f"step {name!r}: {sorted(set(step) - STEP_KEYS)} not supported by the test runner"
                )
            failed = any(result.returncode != 0 for result in results)
            if failed or not condition(step.get("if"), contexts):
                results.append(StepResult(name, skipped=True))
                continue
            step_env = {**env, "PATH": os.pathsep.join([*extra_path, env["PATH"]])}
            if "uses" in step:
                action_name = step["uses"].split("@", 1)[0]
                if action_name not in stand_ins:
                    raise Unsupported(f"no stand-in for uses: {step['uses']}")
                with_values = {
                    key: interpolate(value, contexts) for key, value in step.get("with", {}).items()
                }
                added_env, added_path = stand_ins[action_name](with_values, step_env)
                env.update(added_env)
                # The runner puts the latest GITHUB_PATH entry first.
                extra_path[:0] = list(reversed(added_path))
                results.append(StepResult(name, skipped=False))
                continue
            if step.get("shell") != "bash":
                raise Unsupported(f"step {name!r}: shell {step.get('shell')!r} (only bash)")
            files = {
                key: Path(temp) / f"{key.lower()}-{number}"
                for key in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")
            }
            for path in files.values():
                path.write_text("")
            script = Path(temp) / f"step-{number}.sh"
            script.write_text(interpolate(step["run"], contexts))
            step_env.update({key: interpolate(value, contexts) for key, value in step.get("env", {}).items()})
            step_env.update({key: str(path) for key, path in files.items()})
            started = time.monotonic()
            done = subprocess.run(
                [*BASH, str(script)],
                cwd=workspace,
                env=step_env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            outputs = parse_file_commands(files["GITHUB_OUTPUT"].read_text())
            if "id" in step:
                step_outputs[step["id"]]["outputs"].update(outputs)
            env.update(parse_file_commands(files["GITHUB_ENV"].read_text()))
            extra_path[:0] = list(reversed(files["GITHUB_PATH"].read_text().splitlines()))
            summary.append(files["GITHUB_STEP_SUMMARY"].read_text())
            results.append(
                StepResult(
                    name,
                    False,
                    done.returncode,
                    done.stdout,
                    done.stderr,
                    outputs,
                    time.monotonic() - started,
                )
            )
    action_outputs = {
        name: interpolate(spec["value"], contexts) for name, spec in action.get("outputs", {}).items()
    }
    return Run(results, action_outputs, "".join(summary))
