"""One Lambda function the Topicdesk way: own role, own log group, arm64, X-Ray, Powertools env."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from topicdesk.contract import Env

from infra.bundling import ARCHITECTURE, RUNTIME
from infra.config import LOG_RETENTION_DAYS, StageConfig
from infra.definitions import FunctionSpec
from infra.nag import acknowledge

if TYPE_CHECKING:  # both use removal_policy below
    from infra.secrets import Secrets
    from infra.storage import Storage

HANDLER_PACKAGE = "topicdesk.handlers"

# RetentionDays lists CloudWatch's periods in ascending order, like LOG_RETENTION_DAYS.
_RETENTION = dict(
    zip(
        LOG_RETENTION_DAYS,
        [days for days in logs.RetentionDays if days is not logs.RetentionDays.INFINITE],
        strict=True,
    )
)


def env_list(values: Iterable[int]) -> str:
    """A list of ids as the functions' settings read it (``1,2,3``)."""
    return ",".join(str(value) for value in values)


def removal_policy(config: StageConfig) -> cdk.RemovalPolicy:
    return cdk.RemovalPolicy.RETAIN if config.protect_data else cdk.RemovalPolicy.DESTROY


@dataclass(frozen=True)
class FunctionProps:
    """What every function of the stage is built from besides its own settings: the stage's
    config, the one code bundle (``infra.bundling.lambda_code``), and the tables and secrets
    the functions are granted."""

    config: StageConfig
    code: lambda_.Code
    storage: Storage
    secrets: Secrets


@dataclass(frozen=True)
class PipelineProps(FunctionProps):
    """What the parts around the pipeline are built from: they feed its updates queue, and the
    widget pushes operators' answers through its consumer."""

    updates_queue: sqs.IQueue
    consumer: TopicdeskFunction

    @classmethod
    def of(
        cls, props: FunctionProps, updates_queue: sqs.IQueue, consumer: TopicdeskFunction
    ) -> PipelineProps:
        return cls(props.config, props.code, props.storage, props.secrets, updates_queue, consumer)


class TopicdeskFunction(Construct):
    """A function whose role holds only what is granted to it.

    The role starts empty except for writing to the function's own log group
    (instead of the AWSLambdaBasicExecutionRole managed policy, which allows
    writing to every log group); X-Ray tracing adds its two actions.
    """

    def __init__(
        self,
        scope: Construct,
        props: FunctionProps,
        spec: FunctionSpec,
        environment: Mapping[str, str],
        *,
        reserved_concurrent_executions: int | None = None,
    ) -> None:
        super().__init__(scope, spec.construct_id)
        config = props.config
        function, description = spec.function, spec.description
        self.service_name = config.service_name(function)
        self.function_name = config.name(function)
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=f"/aws/lambda/{self.function_name}",
            retention=_RETENTION[config.log_retention_days],
            removal_policy=removal_policy(config),
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{self.function_name}: {description}",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=self.function_name,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=props.code,
            handler=f"{HANDLER_PACKAGE}.{function.replace('-', '_')}.handler",
            memory_size=spec.memory_size,
            timeout=cdk.Duration.seconds(spec.timeout_seconds),
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=reserved_concurrent_executions,
            environment={
                Env.STAGE: config.stage,
                "POWERTOOLS_SERVICE_NAME": self.service_name,
                "POWERTOOLS_METRICS_NAMESPACE": config.metrics_namespace,
                "POWERTOOLS_LOG_LEVEL": config.log_level,
                **environment,
            },
        )
        self._depend_on_policy_only()
        acknowledge(
            self,
            "AwsSolutions-IAM5[Resource::*]",
            "Active X-Ray tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, "
            "which support no resource-level permissions (resource must be *). Every other "
            "statement of this role names its resources.",
        )
        acknowledge(
            self,
            "AwsSolutions-L1",
            f"Pinned to {RUNTIME.name} on purpose: the dependencies are bundled as "
            f"cp{RUNTIME.name.removeprefix('python').replace('.', '')} wheels (infra/bundling.py) "
            "and docs/architecture.md fixes the runtime; moving up is a deliberate change of "
            "RUNTIME, which also rebuilds the bundle.",
        )

    def _depend_on_policy_only(self) -> None:
        """CDK makes the function DependsOn its role and the role's policy; the role is
        already implied by `Role: Fn::GetAtt` (cfn-lint W3005). Keep only the policy,
        so the function never runs before its permissions exist."""
        policy = self.role.node.try_find_child("DefaultPolicy")
        if policy is None or not isinstance(policy, iam.Policy):
            raise RuntimeError(f"{self.function_name}: expected the role's default policy")
        resource = self.function.node.default_child
        if not isinstance(resource, cdk.CfnResource):
            raise RuntimeError(f"{self.function_name}: expected a CfnFunction")
        policy_resource = policy.node.default_child
        if not isinstance(policy_resource, cdk.CfnResource):
            raise RuntimeError(f"{self.function_name}: expected a CfnPolicy")
        resource.add_override("DependsOn", [cdk.Stack.of(self).get_logical_id(policy_resource)])
