"""`cdk deploy -c stage=local` to a moto server, then read the emulated account back.

Runs the real CDK CLI (with real bundling, from the .cache/ pip cache; only a cold
cache reaches PyPI) against moto started on 127.0.0.1 by local/moto_stage.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from topicdesk.contract import DATA_TABLE, IDEMPOTENCY_TABLE, LIMITS_TABLE, Env, Output

from devkit.moto import REGION, MotoServer, client
from local.moto_stage import deployed_local_stage
from local.widget_stage import read_websocket_api

pytestmark = pytest.mark.slow

PREFIX = "topicdesk-local"


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[MotoServer, dict[str, str]]]:
    workdir = tmp_path_factory.mktemp("local-stage")
    with deployed_local_stage(output_dir=workdir / "cdk.out", log_dir=workdir) as deployment:
        yield deployment
    server, _ = deployment
    assert server.process.poll() is not None, "moto must be stopped by its pid"


@pytest.fixture(scope="module")
def endpoint(deployed: tuple[MotoServer, dict[str, str]]) -> str:
    return deployed[0].endpoint


@pytest.fixture(scope="module")
def outputs(deployed: tuple[MotoServer, dict[str, str]]) -> dict[str, str]:
    return deployed[1]


def test_moto_listens_on_loopback_only(deployed: tuple[MotoServer, dict[str, str]]) -> None:
    server, _ = deployed
    assert server.host == "127.0.0.1"
    assert server.process.poll() is None


def test_stack_outputs(outputs: dict[str, str]) -> None:
    assert outputs[Output.DATA_TABLE_NAME] == f"{PREFIX}-data"
    assert outputs[Output.LIMITS_TABLE_NAME] == f"{PREFIX}-limits"
    assert outputs[Output.IDEMPOTENCY_TABLE_NAME] == f"{PREFIX}-idempotency"
    assert outputs[Output.BOT_TOKEN_SECRET_NAME] == "topicdesk/local/bot-token"
    assert outputs[Output.WEBHOOK_SECRET_NAME] == "topicdesk/local/webhook-secret"
    assert outputs[Output.CONSUMER_FUNCTION_NAME] == f"{PREFIX}-consumer"
    assert outputs[Output.UPDATES_QUEUE_URL].endswith(f"/{PREFIX}-updates.fifo")
    assert outputs[Output.DEAD_LETTER_QUEUE_URL].endswith(f"/{PREFIX}-dead-letters.fifo")
    assert outputs[Output.ALARM_TOPIC_ARN].endswith(f":{PREFIX}-alarms")
    assert outputs[Output.WEBHOOK_URL].startswith("https://")
    assert Output.WEBHOOK_REGISTRATION_STATUS not in outputs  # the local stage skips it


def test_queues_are_fifo_with_redrive(endpoint: str, outputs: dict[str, str]) -> None:
    sqs = client("sqs", endpoint)
    updates = sqs.get_queue_attributes(
        QueueUrl=outputs[Output.UPDATES_QUEUE_URL], AttributeNames=["All"]
    )
    dlq = sqs.get_queue_attributes(
        QueueUrl=outputs[Output.DEAD_LETTER_QUEUE_URL], AttributeNames=["All"]
    )
    updates, dlq = updates["Attributes"], dlq["Attributes"]
    for queue in (updates, dlq):
        assert queue["FifoQueue"] == "true"
        assert queue["ContentBasedDeduplication"] == "false"
        assert queue["SqsManagedSseEnabled"] == "true"
        assert queue["VisibilityTimeout"] == "180"
        assert "aws:SecureTransport" in queue["Policy"]
    assert json.loads(updates["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq["QueueArn"],
        "maxReceiveCount": 1000,
    }
    assert dlq["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    parked = sqs.get_queue_attributes(
        QueueUrl=outputs[Output.PARKING_QUEUE_URL], AttributeNames=["All"]
    )["Attributes"]
    assert json.loads(dlq["RedrivePolicy"]) == {
        "deadLetterTargetArn": parked["QueueArn"],
        "maxReceiveCount": 10,
    }


def test_sending_does_not_make_moto_run_the_consumer(
    endpoint: str, outputs: dict[str, str]
) -> None:
    # The local runtime drives the mappings; moto must leave the message untouched.
    sqs = client("sqs", endpoint)
    url = outputs[Output.UPDATES_QUEUE_URL]
    sqs.send_message(
        QueueUrl=url,
        MessageBody='{"update_id": 1}',
        MessageGroupId="42",
        MessageDeduplicationId="1",
    )
    [message] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])[
        "Messages"
    ]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_tables_have_their_keys_and_ttl(endpoint: str, outputs: dict[str, str]) -> None:
    dynamodb = client("dynamodb", endpoint)
    expected = {
        Output.DATA_TABLE_NAME: DATA_TABLE,
        Output.LIMITS_TABLE_NAME: LIMITS_TABLE,
        Output.IDEMPOTENCY_TABLE_NAME: IDEMPOTENCY_TABLE,
    }
    for output, layout in expected.items():
        keys = list(zip(layout.keys, ("HASH", "RANGE"), strict=False))
        ttl = layout.ttl_attribute
        name = outputs[output]
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == keys
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
            "TimeToLiveStatus": "ENABLED",
            "AttributeName": ttl,
        }
        backups = dynamodb.describe_continuous_backups(TableName=name)
        pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


def test_functions_and_their_code(endpoint: str, outputs: dict[str, str]) -> None:
    lambdas = client("lambda", endpoint)
    expected = {
        Output.WEBHOOK_FUNCTION_NAME: ("topicdesk.handlers.webhook.handler", 256, 10),
        Output.CONSUMER_FUNCTION_NAME: ("topicdesk.handlers.consumer.handler", 512, 30),
        Output.DLQ_PROCESSOR_FUNCTION_NAME: ("topicdesk.handlers.dlq_processor.handler", 256, 30),
        # cdk.json gives the local stage a demo widget project.
        Output.WIDGET_FUNCTION_NAME: ("topicdesk.handlers.widget.handler", 256, 10),
    }
    names = {f["FunctionName"] for f in lambdas.list_functions()["Functions"]}
    assert names == {outputs[key] for key in expected}
    for output, (handler, memory, timeout) in expected.items():
        config = lambdas.get_function(FunctionName=outputs[output])["Configuration"]
        assert (config["Handler"], config["MemorySize"], config["Timeout"]) == (
            handler,
            memory,
            timeout,
        )
        assert config["Runtime"] == "python3.12"
        assert config["CodeSize"] > 1_000_000  # functions/ plus the bundled dependencies
        env = config["Environment"]["Variables"]
        assert env[Env.STAGE] == "local"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Topicdesk/local"
    webhook = outputs[Output.WEBHOOK_FUNCTION_NAME]
    concurrency = lambdas.get_function_concurrency(FunctionName=webhook)
    assert concurrency["ReservedConcurrentExecutions"] == 2
    url = lambdas.get_function_url_config(FunctionName=webhook)
    assert (url["AuthType"], url["FunctionUrl"]) == ("NONE", outputs[Output.WEBHOOK_URL])


def test_event_source_mappings(endpoint: str, outputs: dict[str, str]) -> None:
    lambdas = client("lambda", endpoint)
    sqs = client("sqs", endpoint)

    def arn(output: str) -> str:
        attributes = sqs.get_queue_attributes(QueueUrl=outputs[output], AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    mappings = {
        m["FunctionArn"].rsplit(":", 1)[-1]: m
        for m in lambdas.list_event_source_mappings()["EventSourceMappings"]
    }
    assert set(mappings) == {f"{PREFIX}-consumer", f"{PREFIX}-dlq-processor"}
    consumer = mappings[f"{PREFIX}-consumer"]
    assert consumer["EventSourceArn"] == arn(Output.UPDATES_QUEUE_URL)
    assert consumer["BatchSize"] == 10
    assert consumer["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert consumer["ScalingConfig"] == {"MaximumConcurrency": 2}
    processor = mappings[f"{PREFIX}-dlq-processor"]
    assert processor["EventSourceArn"] == arn(Output.DEAD_LETTER_QUEUE_URL)
    assert processor["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_alarms_notify_the_topic(endpoint: str, outputs: dict[str, str]) -> None:
    alarms = {
        a["AlarmName"]: a for a in client("cloudwatch", endpoint).describe_alarms()["MetricAlarms"]
    }
    assert len(alarms) == 18  # 11, and the widget's 5 plus its function's errors and throttles
    for alarm in alarms.values():
        assert alarm["AlarmName"].startswith(f"{PREFIX}-")
        assert alarm["AlarmActions"] == [outputs[Output.ALARM_TOPIC_ARN]]
    dead_letters = alarms[f"{PREFIX}-dead-letters"]
    assert (dead_letters["Namespace"], dead_letters["MetricName"]) == (
        "Topicdesk/local",
        "DeadLetters",
    )
    assert dead_letters["Dimensions"] == [{"Name": "service", "Value": "topicdesk-dlq-processor"}]
    depth = alarms[f"{PREFIX}-dlq-depth"]
    assert depth["Dimensions"] == [{"Name": "QueueName", "Value": f"{PREFIX}-dead-letters.fifo"}]
    subscriptions = client("sns", endpoint).list_subscriptions_by_topic(
        TopicArn=outputs[Output.ALARM_TOPIC_ARN]
    )["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [
        ("email", "topicdesk-local@example.com")
    ]


def test_secrets(endpoint: str, outputs: dict[str, str]) -> None:
    secrets = client("secretsmanager", endpoint)
    webhook_secret = secrets.get_secret_value(SecretId=outputs[Output.WEBHOOK_SECRET_NAME])[
        "SecretString"
    ]
    assert re.fullmatch(r"[A-Za-z0-9]{64}", webhook_secret)
    token = secrets.get_secret_value(SecretId=outputs[Output.BOT_TOKEN_SECRET_NAME])["SecretString"]
    assert token.startswith("REPLACE-ME")


def test_deploy_log_is_kept(deployed: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    logs = list(Path(tmp_path_factory.getbasetemp()).glob("local-stage*/cdk-deploy.log"))
    assert logs and "topicdesk-local" in logs[0].read_text()


def test_the_widgets_websocket_api_is_deployed(endpoint: str, outputs: dict[str, str]) -> None:
    """moto's apigatewayv2 holds what the local stage plays (devkit/moto/websocket_api.py)."""
    spec = read_websocket_api(endpoint, outputs)
    assert spec is not None and spec.stage == "local"
    assert spec.route_selection_expression == "$request.body.action"
    assert set(spec.routes) == {"$connect", "$disconnect", "$default", "hello", "send"}
    assert {route.function for route in spec.routes.values()} == {
        outputs[Output.WIDGET_FUNCTION_NAME]
    }
    answered = {key for key, route in spec.routes.items() if route.return_response}
    assert answered == {"$default", "hello", "send"}
    assert outputs[Output.WIDGET_URL] == (
        f"wss://{spec.api_id}.execute-api.{REGION}.amazonaws.com/local"
    )
