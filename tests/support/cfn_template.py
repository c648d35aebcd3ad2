"""template.yaml evaluated as CloudFormation would for given parameters: the intrinsic functions it uses."""

from __future__ import annotations

import re
from pathlib import Path

from cfnlint.decode.cfn_yaml import load

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


def template() -> dict:
    """template.yaml as cfn-lint reads it (intrinsic functions as `Fn::` keys)."""
    return load(str(TEMPLATE))


PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}
NO_VALUE = object()


def resolve(node, parameters: dict, conditions: dict):
    """Evaluate the intrinsic functions template.yaml's conditions and alarm policy use, as CloudFormation does."""
    if isinstance(node, list):
        return [v for v in (resolve(item, parameters, conditions) for item in node) if v is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) != 1 or not next(iter(node)).startswith(("Fn::", "Ref", "Condition")):
        resolved = {key: resolve(value, parameters, conditions) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}
    [(function, argument)] = node.items()
    if function == "Ref":
        return NO_VALUE if argument == "AWS::NoValue" else {**PSEUDO, **parameters}[argument]
    if function == "Condition":
        return conditions[argument]
    if function == "Fn::If":
        name, then, otherwise = argument
        return resolve(then if conditions[name] else otherwise, parameters, conditions)
    if function == "Fn::Sub":
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {
            **PSEUDO,
            **parameters,
            **{k: resolve(v, parameters, conditions) for k, v in variables.items()},
        }
        return re.sub(r"\$\{([^}]+)\}", lambda match: values[match.group(1)], text)
    args = resolve(argument, parameters, conditions)
    operations = {
        "Fn::Join": lambda: args[0].join(args[1]),
        "Fn::Split": lambda: args[1].split(args[0]),
        "Fn::Select": lambda: args[1][int(args[0])],
        "Fn::Equals": lambda: args[0] == args[1],
        "Fn::Not": lambda: not args[0],
        "Fn::And": lambda: all(args),
    }
    return operations[function]()


def conditions(template: dict, parameters: dict) -> dict:
    """template.yaml's conditions for `parameters`, each evaluated when first asked for."""

    class Conditions(dict):
        def __missing__(self, name):  # only the conditions asked for, which need only the parameters given
            return resolve(template["Conditions"][name], parameters, self)

    return Conditions()
