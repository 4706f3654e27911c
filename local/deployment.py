"""What was deployed to moto, read back the way Lambda would see it: each function's handler,
environment, timeout, memory and code (the zip CloudFormation points at), and each SQS event
source mapping."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topicdesk.contract import Output

from devkit.lambda_runtime.functions import FunctionSpec
from devkit.lambda_runtime.runtime import MappingSpec
from devkit.moto import REGION, client


@dataclass(frozen=True)
class ScheduleSpec:
    """An EventBridge rule as deployed: its schedule and the event it hands its function.
    Nothing plays EventBridge locally; a harness invokes the function as the rule would."""

    function: str
    expression: str
    event: Any


@dataclass(frozen=True)
class Deployment:
    functions: dict[str, FunctionSpec]
    mappings: list[MappingSpec]
    url_function: str | None
    schedules: tuple[ScheduleSpec, ...] = ()


def _stack(endpoint: str, stack_name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The deployed template, and each resource's physical id by its logical id."""
    cloudformation = client("cloudformation", endpoint)
    template = cloudformation.get_template(StackName=stack_name)["TemplateBody"]
    if isinstance(template, str):
        template = json.loads(template)
    resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in resources
        if r.get("PhysicalResourceId")
    }
    return template, physical


def _schedules(template: dict[str, Any], physical: dict[str, str]) -> tuple[ScheduleSpec, ...]:
    """The stack's scheduled rules whose targets are its functions (``Input``: the event)."""
    out = []
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") != "AWS::Events::Rule" or "ScheduleExpression" not in props:
            continue
        for target in props.get("Targets", []):
            arn = target.get("Arn")
            logical = arn.get("Fn::GetAtt", [None])[0] if isinstance(arn, dict) else None
            if logical in physical and isinstance(target.get("Input"), str):
                event = json.loads(target["Input"])
                out.append(ScheduleSpec(physical[logical], props["ScheduleExpression"], event))
    return tuple(out)


def _code_locations(
    template: dict[str, Any], physical: dict[str, str]
) -> dict[str, tuple[str, str]]:
    """function name -> (bucket, key) of its code, from the deployed template."""
    locations: dict[str, tuple[str, str]] = {}
    for logical, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Lambda::Function" or logical not in physical:
            continue
        code = resource.get("Properties", {}).get("Code", {})
        bucket, key = code.get("S3Bucket"), code.get("S3Key")
        if isinstance(bucket, str) and isinstance(key, str):
            locations[physical[logical]] = (bucket, key)
    return locations


def _unpack(endpoint: str, bucket: str, key: str, into: Path) -> Path:
    """Each distinct code zip once, like Lambda's per-version code cache."""
    target = into / key.removesuffix(".zip")
    if not (target / ".complete").exists():
        body = client("s3", endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            archive.extractall(target)
        (target / ".complete").touch()
    return target


def read_deployment(
    endpoint: str,
    outputs: dict[str, str],
    *,
    stack_name: str,
    code_root: Path,
    log_dir: Path,
    environment_overrides: dict[str, str],
) -> Deployment:
    lambdas = client("lambda", endpoint)
    sqs = client("sqs", endpoint)
    template, physical = _stack(endpoint, stack_name)
    schedules = _schedules(template, physical)
    names = [
        outputs[Output.WEBHOOK_FUNCTION_NAME],
        outputs[Output.CONSUMER_FUNCTION_NAME],
        outputs[Output.DLQ_PROCESSOR_FUNCTION_NAME],
        # The widget's WebSocket routes (a stage with widget projects).
        *([outputs[Output.WIDGET_FUNCTION_NAME]] if Output.WIDGET_FUNCTION_NAME in outputs else []),
        # What EventBridge rules invoke (the inbox's sweep, on a stage with the inbox).
        *dict.fromkeys(schedule.function for schedule in schedules),
    ]
    locations = _code_locations(template, physical)
    functions: dict[str, FunctionSpec] = {}
    mappings: list[MappingSpec] = []
    for name in names:
        config: dict[str, Any] = lambdas.get_function_configuration(FunctionName=name)
        if name not in locations:
            raise RuntimeError(f"no code location for {name} in the deployed template")
        code_dir = _unpack(endpoint, *locations[name], into=code_root)
        environment = {
            **config.get("Environment", {}).get("Variables", {}),
            # What Lambda itself puts in every environment.
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            # Local only: every AWS call goes to moto; no X-Ray daemon to send traces to.
            "AWS_ENDPOINT_URL": endpoint,
            "POWERTOOLS_TRACE_DISABLED": "true",
            **environment_overrides,
        }
        functions[name] = FunctionSpec(
            name=name,
            handler=str(config["Handler"]),
            environment=environment,
            code_dir=code_dir,
            timeout_seconds=float(config.get("Timeout", 3)),
            memory_mb=int(config.get("MemorySize", 128)),
            log_path=log_dir / f"{name}.log",
        )
        for mapping in lambdas.list_event_source_mappings(FunctionName=name).get(
            "EventSourceMappings", []
        ):
            arn = str(mapping["EventSourceArn"])
            queue_name = arn.rsplit(":", 1)[-1]
            scaling = mapping.get("ScalingConfig") or {}
            mappings.append(
                MappingSpec(
                    function=name,
                    queue_url=sqs.get_queue_url(QueueName=queue_name)["QueueUrl"],
                    queue_arn=arn,
                    batch_size=int(mapping.get("BatchSize", 10)),
                    max_concurrency=min(4, int(scaling.get("MaximumConcurrency", 2))),
                    enabled=mapping.get("State", "Enabled") != "Disabled",
                )
            )
    return Deployment(
        functions, mappings, url_function=outputs[Output.WEBHOOK_FUNCTION_NAME], schedules=schedules
    )
