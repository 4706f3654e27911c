"""What the infra tests share: one stage's synthesised template and lookups into it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template

from infra.config import StageConfig, load_stage_config
from tests.support import ROOT

STAGES = ("dev", "prod", "local")

Resource = dict[str, Any]


def cdk_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def stage_config(stage: str, **overrides: Any) -> StageConfig:
    context = {**cdk_context(), **overrides, "stage": stage}
    return load_stage_config(context.get)


@dataclass(frozen=True)
class Synth:
    """One stage's synthesised template, with lookups the tests share."""

    config: StageConfig
    body: dict[str, Any]
    path: Path

    @cached_property
    def template(self) -> Template:
        """The body, for CDK's assertions."""
        return Template.from_json(self.body)

    @property
    def stage(self) -> str:
        return self.config.stage

    def resources(self, type_: str) -> dict[str, Resource]:
        return {
            logical_id: resource
            for logical_id, resource in self.body["Resources"].items()
            if resource["Type"] == type_
        }

    def find(self, type_: str, predicate: Callable[[Resource], bool]) -> tuple[str, Resource]:
        found = [(k, r) for k, r in self.resources(type_).items() if predicate(r)]
        assert len(found) == 1, f"expected one {type_}, found {[k for k, _ in found]}"
        return found[0]

    def by_property(self, type_: str, name: str, value: Any) -> tuple[str, Resource]:
        return self.find(type_, lambda r: r.get("Properties", {}).get(name) == value)

    def function(self, function: str) -> tuple[str, Resource]:
        return self.by_property("AWS::Lambda::Function", "FunctionName", self.config.name(function))

    def queue(self, suffix: str) -> tuple[str, Resource]:
        return self.by_property("AWS::SQS::Queue", "QueueName", self.config.fifo_name(suffix))

    def table(self, suffix: str) -> tuple[str, Resource]:
        return self.by_property("AWS::DynamoDB::Table", "TableName", self.config.name(suffix))

    def secret(self, suffix: str) -> tuple[str, Resource]:
        return self.by_property(
            "AWS::SecretsManager::Secret", "Name", self.config.secret_name(suffix)
        )

    def role_of(self, function: str) -> str:
        _, resource = self.function(function)
        role_id: str = resource["Properties"]["Role"]["Fn::GetAtt"][0]
        return role_id

    def statements(self, function: str) -> list[dict[str, Any]]:
        """Every IAM statement the function's role holds (inline and attached policies)."""
        role_id = self.role_of(function)
        role = self.body["Resources"][role_id]["Properties"]
        assert not role.get("ManagedPolicyArns"), f"{function}: no managed policies expected"
        statements: list[dict[str, Any]] = []
        for policy in role.get("Policies", []):
            statements.extend(policy["PolicyDocument"]["Statement"])
        for resource in self.resources("AWS::IAM::Policy").values():
            if {"Ref": role_id} in resource["Properties"].get("Roles", []):
                statements.extend(resource["Properties"]["PolicyDocument"]["Statement"])
        return statements

    def allowed(self, function: str) -> list[tuple[str, Any]]:
        """(action, resource) pairs the function's role allows, flattened."""
        pairs: list[tuple[str, Any]] = []
        for statement in self.statements(function):
            assert statement["Effect"] == "Allow"
            actions = statement["Action"]
            resources = statement["Resource"]
            for action in actions if isinstance(actions, list) else [actions]:
                for resource in resources if isinstance(resources, list) else [resources]:
                    pairs.append((action, resource))
        return pairs
