"""`releaseflow config`: print the configuration's JSON Schema, or check releaseflow.yaml offline."""

from __future__ import annotations

import json

from releaseflow.commands._options import add_config
from releaseflow.config import load_config, load_environment, schema
from releaseflow.deploy import ParameterRefused, check_parameters, runbook_parameters, start_request
from releaseflow.sources import resolve_root

NAME = "config"
ORDER = 50
HELP = "print releaseflow.yaml's JSON Schema, or check the file offline"
DESCRIPTION = """\
`releaseflow config schema` prints the JSON Schema releaseflow.yaml is checked against (point an
editor's YAML language server at it). `releaseflow config check` checks the file against it, then
every environment's parameter names and values against its runbook's source, without calling AWS:
what deploy would refuse, refused now."""
EPILOG = """\
exit codes: 0 the file is good (or the schema was printed); 2 the file is refused (the line names why)."""


def register(parser) -> None:
    parser.add_argument("action", choices=["schema", "check"], help="schema: print it; check: check the file")
    add_config(parser, "the configuration to check", dest="path")


def run(args) -> int:
    if args.action == "schema":
        print(json.dumps(schema(), indent=2))
        return 0
    names = list(load_config(args.path)["environments"])
    for name in names:
        environment = load_environment(args.path, name)
        root = resolve_root(None, environment.documents)
        # No revision: the empty value is dropped like every empty one, leaving the configured parameters.
        parameters = start_request(environment, "", {}, {}).parameters
        try:
            check_parameters(parameters, runbook_parameters(root, environment.runbook))
        except ParameterRefused as error:
            raise ParameterRefused(f"{args.path}: environment {name}: {error}") from error
    print(f"{args.path}: {len(names)} environment(s) good: {', '.join(names)}")
    return 0
