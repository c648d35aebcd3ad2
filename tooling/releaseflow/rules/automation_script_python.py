"""aws:executeScript Python: the script compiles for its Runtime, and its Handler takes (events, context)."""

from __future__ import annotations

import ast
import sys
import warnings
from collections.abc import Iterator

from releaseflow.documents import Document
from releaseflow.findings import Finding
from releaseflow.rules._automation_spec import has_placeholder, is_automation, step_label, steps_of
from releaseflow.rules._common import finding
from releaseflow.rules._scripts import script_line

CODE = "E214"
SUMMARY = "aws:executeScript Python script compiles for its Runtime and defines its Handler"
WHY = (
    "The user guide (automation-action-executeScript): the Runtime's Python runs the Script and calls "
    "the function the Handler names with two arguments, `def handler(events, context)`. A syntax error, "
    "syntax newer than the Runtime, or a missing or mis-declared handler passes CreateDocument and "
    "fails the step when it runs. Checked with Python's own parser at the Runtime's version "
    "(ast.parse feature_version)."
)
SOURCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeScript.html"


def check(document: Document, context) -> Iterator[Finding]:
    if not is_automation(document):
        return
    for path, step, inputs in steps_of(document, "aws:executeScript"):
        version = _python_version(inputs.get("Runtime"))
        # With an Attachment, the script that runs is the attachment's (not checked here).
        script = inputs.get("Script") if "Attachment" not in inputs else None
        # The parser here knows no syntax newer than itself: a newer Runtime is not judged.
        if version is None or version > sys.version_info[:2] or not isinstance(script, str):
            continue
        label = f"step {step_label(step, path)}"
        script_path = (*path, "inputs", "Script")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SyntaxWarning)  # invalid escapes are warnings only
                tree = ast.parse(script, feature_version=version)
        except SyntaxError as error:
            line = script_line(document, script_path, error.lineno or 1)
            message = f"{label}: Script line {error.lineno}: {error.msg} (Runtime {inputs['Runtime']})"
            yield Finding(document.path, line, CODE, message)
            continue
        handler = inputs.get("Handler")
        if isinstance(handler, str) and not has_placeholder(handler):
            problem = _handler_problem(tree, handler)
            if problem:
                yield finding(document, CODE, (*path, "inputs", "Handler"), f"{label}: Handler {problem}")


def _python_version(runtime) -> tuple[int, int] | None:
    """(3, 11) for python3.11; None for PowerShell, placeholders and anything unknown."""
    if not isinstance(runtime, str) or not runtime.startswith("python3."):
        return None
    minor = runtime.removeprefix("python3.")
    return (3, int(minor)) if minor.isdigit() else None


def _handler_problem(tree: ast.Module, handler: str) -> str | None:
    """Why the module-level function `handler` cannot be called as handler(events, context), or None."""
    functions = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            functions[node.name] = node
        elif _binds(node, handler):
            return None  # bound some other way (assignment, import): its signature is not known here
    function = functions.get(handler)
    if function is None:
        defined = ", ".join(sorted(functions)) or "none"
        return f"{handler!r} is not a function defined at the script's top level (functions: {defined})"
    arguments = function.args
    positional = arguments.posonlyargs + arguments.args
    required = len(positional) - len(arguments.defaults)
    kw_required = [
        a.arg for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True) if d is None
    ]
    if required > 2 or (len(positional) < 2 and arguments.vararg is None) or kw_required:
        signature = ", ".join(a.arg for a in positional)
        return f"{handler}({signature}) cannot be called as {handler}(events, context)"
    return None


def _binds(node: ast.stmt, name: str) -> bool:
    """Whether a top-level statement other than a def binds `name`, also inside if/try/with blocks."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and inner.name == name:
            return True
        if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store) and inner.id == name:
            return True
        if isinstance(inner, ast.alias) and (inner.asname or inner.name).split(".")[0] == name:
            return True
    return False
