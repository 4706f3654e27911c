"""Queues, event source mappings and the Lambda functions (dev and prod)."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match
from topicdesk.contract import Env

from tests.infra.infra_synth import Synth

FUNCTIONS = {
    # function: (handler module, memory MB, timeout s)
    "webhook": ("webhook", 256, 10),
    "consumer": ("consumer", 512, 30),
    "dlq-processor": ("dlq_processor", 256, 30),
    "webhook-registration": ("webhook_registration", 128, 90),
    "inbox-schedule": ("inbox_schedule", 256, 50),
}


def props(resource: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = resource["Properties"]
    return properties


def test_updates_queue_is_fifo_encrypted_without_content_dedup(real: Synth) -> None:
    _, queue = real.queue("updates")
    p = props(queue)
    assert p["QueueName"] == f"topicdesk-{real.stage}-updates.fifo"
    assert p["FifoQueue"] is True
    assert p["ContentBasedDeduplication"] is False  # the webhook sets the dedup id
    assert p["SqsManagedSseEnabled"] is True
    assert p["DeduplicationScope"] == "messageGroup"
    assert p["FifoThroughputLimit"] == "perMessageGroupId"


def test_visibility_timeout_is_six_times_the_consumer_timeout(real: Synth) -> None:
    _, consumer = real.function("consumer")
    _, queue = real.queue("updates")
    assert props(consumer)["Timeout"] == 30
    assert props(queue)["VisibilityTimeout"] == 180
    assert props(queue)["VisibilityTimeout"] >= 6 * props(consumer)["Timeout"]
    _, dlq_processor = real.function("dlq-processor")
    _, dlq = real.queue("dead-letters")
    assert props(dlq)["VisibilityTimeout"] >= 6 * props(dlq_processor)["Timeout"]


def test_redrive_to_the_fifo_dlq_is_the_backstop(real: Synth) -> None:
    dlq_id, _ = real.queue("dead-letters")
    _, queue = real.queue("updates")
    redrive = props(queue)["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert redrive["maxReceiveCount"] == real.config.max_receive_count == 1000
    assert redrive["maxReceiveCount"] >= 5
    # The consumer dead-letters genuine failures itself; SQS must not beat it to it.
    assert redrive["maxReceiveCount"] >= 2 * real.config.limits.max_attempts


def test_dlq_is_fifo_encrypted_and_keeps_14_days(real: Synth) -> None:
    _, dlq = real.queue("dead-letters")
    p = props(dlq)
    assert p["QueueName"] == f"topicdesk-{real.stage}-dead-letters.fifo"
    assert (p["FifoQueue"], p["ContentBasedDeduplication"], p["SqsManagedSseEnabled"]) == (
        True,
        False,
        True,
    )
    assert p["MessageRetentionPeriod"] == 14 * 24 * 3600
    # What the DLQ processor fails on 10 times is parked, never dropped.
    parking_id, parking = real.queue("parked")
    assert p["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [parking_id, "Arn"]},
        "maxReceiveCount": 10,
    }
    assert props(parking)["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert props(parking)["FifoQueue"] is True


def test_every_queue_refuses_plain_http(real: Synth) -> None:
    queue_ids = {real.queue(name)[0] for name in ("updates", "dead-letters", "parked")}
    covered = set()
    for policy in real.resources("AWS::SQS::QueuePolicy").values():
        statements = props(policy)["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )
        covered.update(queue["Ref"] for queue in props(policy)["Queues"])
    assert covered == queue_ids


def test_queues_follow_the_stage_removal_policy(dev: Synth, prod: Synth) -> None:
    for suffix in ("updates", "dead-letters", "parked"):
        assert dev.queue(suffix)[1]["DeletionPolicy"] == "Delete"
        assert prod.queue(suffix)[1]["DeletionPolicy"] == "Retain"


def assert_event_source(real: Synth, function: str, queue: str, **more: Any) -> None:
    """``function`` consumes the ``queue`` in batches of 10 and reports each failed record."""
    function_id, _ = real.function(function)
    queue_id, _ = real.queue(queue)
    real.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": function_id},
            "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            **more,
        },
    )


def test_consumer_event_source(real: Synth) -> None:
    assert_event_source(
        real,
        "consumer",
        "updates",
        ScalingConfig={"MaximumConcurrency": real.config.consumer_max_concurrency},
    )
    assert real.config.consumer_max_concurrency == {"dev": 5, "prod": 50}[real.stage]


def test_dlq_processor_event_source_consumes_only_the_dlq(real: Synth) -> None:
    mappings = real.resources("AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 2
    assert_event_source(real, "dlq-processor", "dead-letters")


def test_functions_run_python_312_on_arm64_with_tracing(real: Synth) -> None:
    functions = real.resources("AWS::Lambda::Function")
    assert len(functions) == len(FUNCTIONS)
    for name, (module, memory, timeout) in FUNCTIONS.items():
        _, function = real.function(name)
        p = props(function)
        assert p["Runtime"] == "python3.12"
        assert p["Architectures"] == ["arm64"]
        assert p["Handler"] == f"topicdesk.handlers.{module}.handler"
        assert (p["MemorySize"], p["Timeout"]) == (memory, timeout), name
        assert p["TracingConfig"] == {"Mode": "Active"}


def test_one_code_asset_for_every_function(real: Synth) -> None:
    keys = {
        props(function)["Code"]["S3Key"]
        for function in real.resources("AWS::Lambda::Function").values()
    }
    assert len(keys) == 1


def test_powertools_environment(real: Synth) -> None:
    for name in FUNCTIONS:
        _, function = real.function(name)
        env = props(function)["Environment"]["Variables"]
        assert env[Env.STAGE] == real.stage
        assert env["POWERTOOLS_SERVICE_NAME"] == f"topicdesk-{name}"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == f"Topicdesk/{real.stage}"
        assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"


def test_consumer_environment_matches_the_contract(real: Synth) -> None:
    _, consumer = real.function("consumer")
    env = props(consumer)["Environment"]["Variables"]
    refs = {
        Env.UPDATES_QUEUE_URL: {"Ref": real.queue("updates")[0]},
        Env.DEAD_LETTER_QUEUE_URL: {"Ref": real.queue("dead-letters")[0]},
        Env.DATA_TABLE: {"Ref": real.table("data")[0]},
        Env.LIMITS_TABLE: {"Ref": real.table("limits")[0]},
        Env.IDEMPOTENCY_TABLE: {"Ref": real.table("idempotency")[0]},
    }
    for key, value in refs.items():
        assert env[key] == value, key
    limits = real.config.limits
    assert env[Env.BOT_TOKEN_SECRET_NAME] == f"topicdesk/{real.stage}/bot-token"
    assert env[Env.TELEGRAM_API_URL] == "https://api.telegram.org"
    assert env[Env.OPERATOR_CHAT_IDS] == ",".join(map(str, real.config.operator_chat_ids))
    assert env[Env.GREETING] == real.config.greeting
    assert env[Env.MAX_ATTEMPTS] == str(limits.max_attempts) == "5"
    assert env[Env.LIMIT_MAX_WAIT_SECONDS] == "3.5"
    assert env[Env.RETRY_BASE_SECONDS] == "5"
    assert env[Env.LIMIT_BOT_PER_SECOND] == "28"
    assert env[Env.LIMIT_CHAT_PER_SECOND] == "0.95"
    assert env[Env.LIMIT_GROUP_PER_MINUTE] == "19"
    assert env[Env.LIMIT_PERSON_BURST] == "8"
    assert env[Env.LIMIT_PERSON_INTERVAL_SECONDS] == "8"
    assert env[Env.FLOOD_POLICY] == "hold"
    assert env[Env.LIMIT_COUNT_EACH_MESSAGE] == "true"  # strict by default
    assert Env.WEBHOOK_SECRET_NAME not in env


def test_dlq_processor_and_webhook_environment(real: Synth) -> None:
    _, processor = real.function("dlq-processor")
    env = props(processor)["Environment"]["Variables"]
    assert env[Env.DATA_TABLE] == {"Ref": real.table("data")[0]}
    assert env[Env.BOT_TOKEN_SECRET_NAME] == f"topicdesk/{real.stage}/bot-token"
    assert env[Env.OPERATOR_CHAT_IDS] == ",".join(map(str, real.config.operator_chat_ids))
    # Its notices and alerts spend the same shared limiter as the consumer.
    _, consumer = real.function("consumer")
    consumer_env = props(consumer)["Environment"]["Variables"]
    for name in (Env.LIMITS_TABLE, Env.LIMIT_BOT_PER_SECOND, Env.LIMIT_CHAT_PER_SECOND):
        assert env[name] == consumer_env[name]
    for name in (Env.LIMIT_GROUP_PER_MINUTE, Env.LIMIT_COUNT_EACH_MESSAGE):
        assert env[name] == consumer_env[name]
    assert Env.WEBHOOK_SECRET_NAME not in env
    _, webhook = real.function("webhook")
    env = props(webhook)["Environment"]["Variables"]
    assert env[Env.UPDATES_QUEUE_URL] == {"Ref": real.queue("updates")[0]}
    assert env[Env.WEBHOOK_SECRET_NAME] == f"topicdesk/{real.stage}/webhook-secret"
    assert Env.BOT_TOKEN_SECRET_NAME not in env


def test_log_groups_are_constructs_with_the_stage_retention(real: Synth) -> None:
    expected_days = {"dev": 14, "prod": 90}[real.stage]
    for name in FUNCTIONS:
        function_id, function = real.function(name)
        group_id = props(function)["LoggingConfig"]["LogGroup"]["Ref"]
        group = real.body["Resources"][group_id]
        assert props(group)["LogGroupName"] == f"/aws/lambda/topicdesk-{real.stage}-{name}"
        assert props(group)["RetentionInDays"] == expected_days
        assert group["DeletionPolicy"] == ("Retain" if real.stage == "prod" else "Delete")
        # Created only after the role's policy exists (no redundant DependsOn on the role).
        assert function["DependsOn"] == [
            logical
            for logical, policy in real.resources("AWS::IAM::Policy").items()
            if {"Ref": real.role_of(name)} in props(policy)["Roles"]
        ], function_id


def test_webhook_function_url_and_reserved_concurrency(real: Synth) -> None:
    webhook_id, webhook = real.function("webhook")
    assert props(webhook)["ReservedConcurrentExecutions"] == (
        real.config.webhook_reserved_concurrency
    )
    real.template.resource_count_is("AWS::Lambda::Url", 1)
    real.template.has_resource_properties(
        "AWS::Lambda::Url",
        {"AuthType": "NONE", "TargetFunctionArn": {"Fn::GetAtt": [webhook_id, "Arn"]}},
    )
    real.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunctionUrl",
            "FunctionName": {"Fn::GetAtt": [webhook_id, "Arn"]},
            "FunctionUrlAuthType": "NONE",
            "Principal": "*",
        },
    )
    # Only the webhook is reachable from outside: no other function has a permission.
    for permission in real.resources("AWS::Lambda::Permission").values():
        if props(permission)["Principal"] == "events.amazonaws.com":
            continue  # the inbox's own schedule rules (test_infra_inbox_schedules)
        assert props(permission)["FunctionName"] == {"Fn::GetAtt": [webhook_id, "Arn"]}


def test_names_carry_the_stage(real: Synth) -> None:
    named = [
        *(props(r)["FunctionName"] for r in real.resources("AWS::Lambda::Function").values()),
        *(props(r)["QueueName"] for r in real.resources("AWS::SQS::Queue").values()),
        *(props(r)["TableName"] for r in real.resources("AWS::DynamoDB::Table").values()),
        *(props(r)["AlarmName"] for r in real.resources("AWS::CloudWatch::Alarm").values()),
        *(props(r)["TopicName"] for r in real.resources("AWS::SNS::Topic").values()),
    ]
    assert named
    assert all(name.startswith(f"topicdesk-{real.stage}-") for name in named), named
    secrets = [props(r)["Name"] for r in real.resources("AWS::SecretsManager::Secret").values()]
    assert all(name.startswith(f"topicdesk/{real.stage}/") for name in secrets)


def test_dev_and_prod_templates_differ_only_where_intended(dev: Synth, prod: Synth) -> None:
    assert dev.template.to_json() != prod.template.to_json()
    dev.template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Delete"})
    prod.template.has_resource(
        "AWS::DynamoDB::Table",
        {"DeletionPolicy": "Retain", "Properties": Match.object_like({})},
    )
