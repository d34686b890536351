"""Read template.yaml as CloudFormation does: short-form intrinsics, parameters and Globals.

The local stack and the tests take their queues, tables, secrets, functions, routes and schedules
from here, so that what runs locally cannot drift from what is deployed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns !Ref, !GetAtt, !Sub... into their long {"Fn::X": ...} form."""


def _intrinsic(name: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _tag in ("Ref", "Condition"):
    _CfnLoader.add_constructor(f"!{_tag}", _intrinsic(_tag))
for _tag in ("GetAtt", "Sub", "Join", "If", "Equals", "Not", "And", "Or", "Select", "Split",
             "FindInMap", "ImportValue", "GetAZs", "Base64", "Cidr"):
    _CfnLoader.add_constructor(f"!{_tag}", _intrinsic(f"Fn::{_tag}"))


@cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def resources_of_type(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == type_name}


def parameter_defaults(template: dict[str, Any]) -> dict[str, str]:
    return {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}


@dataclass(frozen=True)
class FunctionSpec:
    """A function as SAM would deploy it, with Globals merged in."""

    logical_id: str
    code_uri: str
    handler: str
    timeout: int
    environment: dict[str, Any]
    events: dict[str, dict[str, Any]]

    @property
    def app_path(self) -> Path:
        module, _, _ = self.handler.rpartition(".")
        return ROOT / self.code_uri / f"{module}.py"

    @property
    def handler_name(self) -> str:
        return self.handler.rpartition(".")[2]


def functions(template: dict[str, Any]) -> dict[str, FunctionSpec]:
    globals_fn = template.get("Globals", {}).get("Function", {})
    global_env = globals_fn.get("Environment", {}).get("Variables", {})
    specs = {}
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        props = resource["Properties"]
        env = copy.deepcopy(global_env)
        env.update(props.get("Environment", {}).get("Variables", {}))
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_uri=props["CodeUri"],
            handler=props["Handler"],
            timeout=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
            environment=env,
            events=props.get("Events", {}),
        )
    return specs
