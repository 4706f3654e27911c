"""Each function's role allows what its job needs and nothing else (dev and prod)."""

from __future__ import annotations

from typing import Any

from tests.infra.infra_synth import Synth

XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
SECRET_READ = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
SQS_SEND = {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
SQS_CONSUME = {
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueUrl",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
}


def ref_id(resource: Any) -> str | None:
    """The logical id a policy resource points at (Ref or GetAtt ...Arn)."""
    if isinstance(resource, dict):
        if "Ref" in resource:
            return str(resource["Ref"])
        if "Fn::GetAtt" in resource:
            return str(resource["Fn::GetAtt"][0])
    return None


def grants(real: Synth, function: str) -> dict[str | None, set[str]]:
    """Logical id of each resource (None for '*' or other) -> actions allowed on it."""
    by_resource: dict[str | None, set[str]] = {}
    for action, resource in real.allowed(function):
        by_resource.setdefault(ref_id(resource), set()).add(action)
    return by_resource


def assert_common(real: Synth, function: str, table: dict[str | None, set[str]]) -> None:
    """Every role: write to its own log group; X-Ray is the only '*' resource."""
    _, resource = real.function(function)
    log_group = resource["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert table.pop(log_group) == LOGS
    assert table.pop(None) == XRAY


def own_grants(real: Synth, function: str) -> dict[str | None, set[str]]:
    """The function's grants besides those every role holds (checked by ``assert_common``)."""
    table = grants(real, function)
    assert_common(real, function, table)
    return table


def test_webhook_only_sends_to_the_updates_queue_and_reads_its_secret(real: Synth) -> None:
    assert own_grants(real, "webhook") == {
        real.queue("updates")[0]: SQS_SEND,
        real.secret("webhook-secret")[0]: SECRET_READ,
    }


def test_consumer_cannot_read_the_webhook_secret(real: Synth) -> None:
    table = own_grants(real, "consumer")
    assert real.secret("webhook-secret")[0] not in table
    assert table.pop(real.secret("bot-token")[0]) == SECRET_READ
    # Consumes the updates queue (incl. ChangeMessageVisibility for deferrals) and queues
    # /broadcast jobs onto it.
    assert table.pop(real.queue("updates")[0]) == SQS_CONSUME | SQS_SEND
    # Sends to the DLQ (its own failure budget), never reads from it.
    assert table.pop(real.queue("dead-letters")[0]) == SQS_SEND
    tables = {real.table(name)[0] for name in ("data", "limits", "idempotency")}
    assert set(table) == tables
    for actions in table.values():
        assert all(action.startswith("dynamodb:") for action in actions)
        assert "dynamodb:PutItem" in actions and "dynamodb:ConditionCheckItem" in actions
        assert not {"dynamodb:DeleteTable", "dynamodb:CreateTable", "dynamodb:*"} & actions


def test_dlq_processor_only_consumes_the_dlq(real: Synth) -> None:
    table = own_grants(real, "dlq-processor")
    # The archive and step records; the shared limiter (its notices are paced too).
    for name in ("data", "limits"):
        actions = table.pop(real.table(name)[0])
        assert actions and all(action.startswith("dynamodb:") for action in actions)
    assert table == {
        real.queue("dead-letters")[0]: SQS_CONSUME,
        real.secret("bot-token")[0]: SECRET_READ,
    }
    # Replay is the ops CLI's job: no way back into the updates queue.
    assert not any(action == "sqs:SendMessage" for action, _ in real.allowed("dlq-processor"))


def test_webhook_registration_only_reads_the_two_secrets(real: Synth) -> None:
    assert own_grants(real, "webhook-registration") == {
        real.secret("bot-token")[0]: SECRET_READ,
        real.secret("webhook-secret")[0]: SECRET_READ,
    }


def test_no_wildcard_actions_and_no_managed_policies(real: Synth) -> None:
    for function in ("webhook", "consumer", "dlq-processor", "webhook-registration"):
        for action, resource in real.allowed(function):
            assert "*" not in action, (function, action)
            if resource == "*":
                assert action in XRAY, (function, action)
    for role in real.resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
        statement = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement == [
            {
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
            }
        ]


def test_secrets_reach_lambdas_by_name_only(real: Synth) -> None:
    names = {props["Name"] for props in (r["Properties"] for r in real.resources(SECRET).values())}
    for function in real.resources("AWS::Lambda::Function").values():
        env = function["Properties"]["Environment"]["Variables"]
        for key, value in env.items():
            if key.endswith("_SECRET_NAME"):
                assert value in names
            # No value is resolved from a secret at deploy time.
            assert "resolve:secretsmanager" not in str(value)


SECRET = "AWS::SecretsManager::Secret"
