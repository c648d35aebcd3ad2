"""`make runbooks`: writes automation/*.yaml from automation-src/, parameters.yaml and the script modules."""

# A runbook's source (automation-src/NAME.yaml) is the runbook itself, except that each
# aws:executeScript step reads `Script: <<module>>`. The generator writes there, as a YAML literal
# block, tooling/releaseflow/runbook_scripts/module.py made standalone, since aws:executeScript has
# only the standard library and boto3: its module docstring left out; each `from releaseflow.ssm
# import X` written as `X = <value>`; each definition imported from
# runbook_scripts.shared written out, its code without comments or docstrings (a runbook's content
# counts against SSM's 64 KB, and they stay in shared.py), with whatever of shared.py and ssm.py it uses.
# The module's own comment lines are left out too, and the docstrings of its functions but the
# handler's (the operator reads what the script does; the helpers' documentation stays in the
# module). Its `parameters: <<catalogue ...>>` marker becomes the block devtools/parameters.py writes
# from parameters.yaml. Everything else in the source is copied as it is. tests/unit/test_runbooks_current.py
# fails while automation/ differs from what this writes.

from __future__ import annotations

import ast
import importlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from devtools import generated, parameters
from releaseflow.errors import ReleaseflowError

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "automation-src"
TARGET = ROOT / "automation"
SCRIPTS = ROOT / "tooling" / "releaseflow" / "runbook_scripts"
PACKAGE = "releaseflow.runbook_scripts"
SHARED = f"{PACKAGE}.shared"
CONSTANTS = "releaseflow.ssm"
MARKER = re.compile(r"^(?P<indent> *)Script: <<(?P<name>[a-z_]+)>>$", re.MULTILINE)
# The first line of every script: where it comes from, and where its comments are.
HEADER = (
    "# tooling/releaseflow/runbook_scripts/{}.py with what it uses of ssm.py and shared.py written out"
    " (aws:executeScript runs a script alone, with boto3); the comments and docstrings are there."
)


class RunbooksError(ReleaseflowError):
    """A runbook source or script module the generator cannot turn into a standalone script."""


@dataclass(frozen=True)
class _Module:
    path: Path
    lines: list[str]
    tree: ast.Module

    @classmethod
    def load(cls, path: Path) -> _Module:
        text = path.read_text(encoding="utf-8")
        return cls(path, text.splitlines(), ast.parse(text, str(path)))

    def segment(self, node: ast.stmt) -> list[str]:
        """The node's lines, with the comment lines right above it."""
        start = node.lineno - 1
        while start > 0 and self.lines[start - 1].startswith("#"):
            start -= 1
        return self.lines[start : node.end_lineno]

    def bare(self, node: ast.stmt) -> list[str]:
        """The node's code alone: no comment lines, no docstrings. Written out into every script that uses
        it, its documentation stays in the module (a runbook's content counts against SSM's 64 KB)."""
        skipped = {
            line
            for inner in ast.walk(node)
            if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and inner.body
            and _is_docstring(inner.body[0])
            for line in range(inner.body[0].lineno - 1, inner.body[0].end_lineno or inner.body[0].lineno)
        }
        return [
            line
            for number, line in enumerate(self.lines[node.lineno - 1 : node.end_lineno], node.lineno - 1)
            if number not in skipped and not line.lstrip().startswith("#")
        ]


def _bound(node: ast.stmt) -> set[str]:
    """The names a top-level statement binds."""
    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return set()


def _used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def literal(value) -> str:
    """Python source for a constant of releaseflow.ssm, the same on every run (sets sorted)."""
    if isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, frozenset | set):
        return "frozenset({" + ", ".join(literal(v) for v in sorted(value)) + "})"
    if isinstance(value, tuple):
        items = [literal(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise RunbooksError(f"{CONSTANTS}: a {type(value).__name__} cannot be written out as a literal")


def _imports(module: _Module) -> tuple[list[ast.stmt], dict[str, str], list[str]]:
    """A module's own imports, its constants from ssm (local name -> ssm name), its names from shared."""
    kept, constants, shared = [], {}, []
    for node in module.tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == CONSTANTS:
            constants |= {alias.asname or alias.name: alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module == SHARED:
            shared += [alias.name for alias in node.names if alias.asname is None]
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(name.split(".")[0] == "releaseflow" for name in names):
                raise RunbooksError(
                    f"{module.path}: only {CONSTANTS} and {SHARED} may be imported from the package"
                )
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                raise RunbooksError(f"{module.path}: a script runs as it is written, without __future__")
            kept.append(node)
    return kept, constants, shared


def _import_lines(nodes: list[ast.stmt]) -> list[str]:
    """The imports as isort groups them: the standard library, then boto3 and the rest."""
    groups: dict[bool, set[str]] = {True: set(), False: set()}
    for node in nodes:
        top = (node.module if isinstance(node, ast.ImportFrom) else node.names[0].name).split(".")[0]
        groups[top in sys.stdlib_module_names].add(ast.unparse(node))
    lines: list[str] = []
    for stdlib in (True, False):
        ordered = sorted(groups[stdlib], key=lambda line: (line.startswith("from "), line.split()[1]))
        if ordered and lines:
            lines.append("")
        lines += ordered
    return lines


def script_source(name: str) -> str:
    """runbook_scripts/name.py as one standalone script (see the comment at the top)."""
    module = _Module.load(SCRIPTS / f"{name}.py")
    shared = _Module.load(SCRIPTS / "shared.py")
    imports, constants, wanted = _imports(module)
    shared_imports, shared_constants, _ = _imports(shared)
    definitions = {
        bound: node for node in shared.tree.body if not _is_docstring(node) for bound in _bound(node)
    }
    missing = sorted(set(wanted) - set(definitions))
    if missing:
        raise RunbooksError(f"{shared.path}: no top-level {', '.join(missing)}")
    # What the module takes from shared, and what that uses of shared (its imports come separately).
    needed: set[int] = set()
    pending = [definitions[name] for name in wanted]
    while pending:
        node = pending.pop()
        if id(node) in needed or isinstance(node, ast.Import | ast.ImportFrom):
            continue
        needed.add(id(node))
        pending += [definitions[used] for used in _used(node) if used in definitions]
    chosen = [node for node in shared.tree.body if id(node) in needed]
    used = set().union(*(_used(node) for node in chosen)) if chosen else set()
    imports += [node for node in shared_imports if _bound(node) & used]
    constants |= {local: ssm_name for local, ssm_name in shared_constants.items() if local in used}
    parts = [[HEADER.format(name), *_import_lines(imports)]]
    inlined = _constants(constants) + [shared.bare(node) for node in chosen]
    # The module's own text but its docstring, its imports (written above, merged with shared's) and its
    # helpers' docstrings: a runbook's content, with its runtime parameters, counts against SSM's 64 KB.
    helper_docstrings = [
        inner.body[0]
        for inner in ast.walk(module.tree)
        if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and inner.name != "handler"
        and inner.body
        and _is_docstring(inner.body[0])
    ]
    skipped = {
        line
        for index, node in enumerate(module.tree.body)
        if (index == 0 and _is_docstring(node)) or isinstance(node, ast.Import | ast.ImportFrom)
        for line in range(node.lineno - 1, node.end_lineno or node.lineno)
    } | {
        line for node in helper_docstrings for line in range(node.lineno - 1, node.end_lineno or node.lineno)
    }
    # Comment lines stay in the module too (the handler's docstring says what the script does).
    body = "\n".join(
        line for n, line in enumerate(module.lines) if n not in skipped and not line.lstrip().startswith("#")
    ).strip("\n")
    parts += [*inlined, body.splitlines()]
    text = _join([part for part in parts if part])
    return re.sub(r"\n{4,}", "\n\n\n", text)


def _constants(constants: dict[str, str]) -> list[list[str]]:
    """Each ssm constant the script uses, `NAME = value` under ssm.py's comment for it."""
    if not constants:
        return []
    ssm = _Module.load(ROOT / "tooling" / "releaseflow" / "ssm.py")
    values = importlib.import_module(CONSTANTS)
    written = []
    for node in ssm.tree.body:
        for local, name in constants.items():
            if name in _bound(node) and isinstance(node, ast.Assign | ast.AnnAssign):
                written.append([f"{local} = {literal(getattr(values, name))}"])
    missing = set(constants.values()) - {line[-1].split(" = ")[0] for line in written}
    if missing:
        raise RunbooksError(f"{CONSTANTS} has no top-level assignment of {', '.join(sorted(missing))}")
    return written


def _join(parts: list[list[str]]) -> str:
    """Parts one after the other, as ruff formats a module: two blank lines around functions, one after the
    imports and before the module's own body, none between the constants written out."""
    text = "\n".join(parts[0])
    for index in range(1, len(parts)):
        previous, part = parts[index - 1], parts[index]
        code = [line for line in part if not line.startswith("#")]
        if _defines(previous) or (code and code[0].startswith(("def ", "class "))):
            blank = 2
        elif index in (1, len(parts) - 1):
            blank = 1
        else:
            blank = 0
        text += "\n" * (blank + 1) + "\n".join(part)
    return text + "\n"


def _defines(lines: list[str]) -> bool:
    return any(line.startswith(("def ", "class ")) for line in lines)


def runbook_text(source: str) -> str:
    """A runbook source with each `Script: <<name>>` replaced by that script as a literal block."""

    def script(match: re.Match) -> str:
        indent = match["indent"] + "  "
        lines = script_source(match["name"]).rstrip("\n").splitlines()
        return f"{match['indent']}Script: |-\n" + "\n".join(indent + line if line else "" for line in lines)

    return MARKER.sub(script, source)


def sources() -> list[Path]:
    return sorted(SOURCE.glob("*.yaml"))


def script_names() -> list[str]:
    """The script modules the runbook sources name, each once, sorted."""
    return sorted({match["name"] for path in sources() for match in MARKER.finditer(path.read_text())})


def generated_files() -> dict[Path, str]:
    """Every runbook in automation/ and the text it should have now."""
    if not sources():
        raise RunbooksError(f"{SOURCE} holds no runbook source")
    catalogue = parameters.load_catalogue()
    return {
        TARGET / path.name: runbook_text(
            parameters.expand(path.read_text(encoding="utf-8"), path.stem, catalogue)
        )
        for path in sources()
    }


def stale_files() -> list[Path]:
    """The runbooks whose text on disk differs from what would be generated now (or that are missing)."""
    return generated.stale(generated_files())


def main(argv: list[str]) -> int:
    usage = "python -m devtools.runbooks (regenerates automation/ from automation-src/)"
    # SyntaxError: a script module that does not parse.
    return generated.main(argv, usage, generated_files, (ReleaseflowError, OSError, SyntaxError))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
