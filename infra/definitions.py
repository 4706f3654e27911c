"""The stack's tables, queues and functions as plain data, without CDK.

infra/storage.py, infra/pipeline.py and the function constructs synthesise them from these
definitions; tests and
benchmarks that need the stack's tables and queues on moto create them with
`create_tables` / `create_queues`, from the same definitions (never by hand). Key layouts
and TTL attributes come from the product's contract (``topicdesk.contract``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from topicdesk.contract import DATA_TABLE, IDEMPOTENCY_TABLE, LIMITS_TABLE, TableLayout

CONSUMER_TIMEOUT_SECONDS = 30
DLQ_PROCESSOR_TIMEOUT_SECONDS = 30
# AWS's advice for SQS event sources: visibility timeout >= 6x the function timeout,
# so a batch that is retried by the poller is not handed out twice.
VISIBILITY_FACTOR = 6
DAY_SECONDS = 86400


@dataclass(frozen=True)
class TableSpec:
    construct_id: str
    suffix: str
    """The physical name is `topicdesk-<stage>-<suffix>`."""
    layout: TableLayout


DATA = TableSpec("DataTable", "data", DATA_TABLE)
LIMITS = TableSpec("LimitsTable", "limits", LIMITS_TABLE)
IDEMPOTENCY = TableSpec("IdempotencyTable", "idempotency", IDEMPOTENCY_TABLE)
TABLES = (DATA, LIMITS, IDEMPOTENCY)


@dataclass(frozen=True)
class QueueSpec:
    """A FIFO queue: SQS-managed SSE, no content-based dedup (the webhook sets
    MessageDeduplicationId = update_id), dedup and throughput per message group (per chat)."""

    construct_id: str
    suffix: str
    """The physical name is `topicdesk-<stage>-<suffix>.fifo`."""
    visibility_seconds: int
    retention_seconds: int


PARKING_QUEUE = QueueSpec(
    "ParkingQueue",
    "parked",
    visibility_seconds=DLQ_PROCESSOR_TIMEOUT_SECONDS * VISIBILITY_FACTOR,
    retention_seconds=14 * DAY_SECONDS,
)
"""Where a dead update goes that the DLQ processor itself cannot handle (after
``DLQ_MAX_RECEIVES``): alarmed, listed and replayable by the ops CLI, never dropped."""
DLQ_MAX_RECEIVES = 10
DEAD_LETTER_QUEUE = QueueSpec(
    "DeadLetterQueue",
    "dead-letters",
    visibility_seconds=DLQ_PROCESSOR_TIMEOUT_SECONDS * VISIBILITY_FACTOR,
    retention_seconds=14 * DAY_SECONDS,  # the SQS maximum: time for on-call to replay
)
UPDATES_QUEUE = QueueSpec(
    "UpdatesQueue",
    "updates",
    visibility_seconds=CONSUMER_TIMEOUT_SECONDS * VISIBILITY_FACTOR,
    retention_seconds=4 * DAY_SECONDS,
)


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function's fixed facts; its environment and grants are its construct's."""

    construct_id: str
    function: str
    """`topicdesk-<stage>-<function>`, handler `topicdesk.handlers.<function, _ for ->`."""
    description: str
    memory_size: int
    timeout_seconds: int


WEBHOOK = FunctionSpec(
    "Webhook", "webhook", "Checks Telegram's POST and enqueues the update", 256, 10
)
CONSUMER = FunctionSpec(
    "Consumer",
    "consumer",
    "Relays queued Telegram updates between people and operators",
    512,
    CONSUMER_TIMEOUT_SECONDS,
)
DLQ_PROCESSOR = FunctionSpec(
    "DlqProcessor",
    "dlq-processor",
    "Archives dead updates, tells the person and the ops topic",
    256,
    DLQ_PROCESSOR_TIMEOUT_SECONDS,
)
INBOX_SCHEDULE = FunctionSpec(
    "Function",
    "inbox-schedule",
    "Queues the inbox's nudges every minute and its weekly stats digest",
    256,
    50,  # under the sweep's period (a minute): one sweep never overlaps the next
)
WIDGET = FunctionSpec(
    "Edge", "widget", "The widget's WebSocket routes: checks, paces and enqueues", 256, 10
)
WEBHOOK_REGISTRATION = FunctionSpec(
    "Handler",
    "webhook-registration",
    "Custom resource: setWebhook on deploy, deleteWebhook on delete",
    128,
    # Telegram calls with retries, then the answer to CloudFormation (the handler keeps 25 s
    # of this for the answer).
    90,
)


# ----------------------------------------------------------------------------- on moto


def key_schema(layout: TableLayout) -> list[dict[str, str]]:
    kinds = ("HASH", "RANGE")
    return [
        {"AttributeName": key, "KeyType": kind}
        for key, kind in zip(layout.keys, kinds, strict=False)
    ]


def attribute_definitions(layout: TableLayout) -> list[dict[str, str]]:
    return [{"AttributeName": key, "AttributeType": "S"} for key in layout.keys]


def create_table(dynamodb: Any, name: str, layout: TableLayout, *, ttl: bool = True) -> None:
    """One table as the stack makes it (keys, on-demand, TTL) on a boto3 DynamoDB client or
    resource (moto)."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=key_schema(layout),
        AttributeDefinitions=attribute_definitions(layout),
        BillingMode="PAY_PER_REQUEST",
    )
    if ttl:
        client = getattr(getattr(dynamodb, "meta", None), "client", dynamodb)
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": layout.ttl_attribute},
        )


@dataclass(frozen=True)
class Tables:
    data: str
    limits: str
    idempotency: str


def create_tables(
    dynamodb: Any,
    name: Callable[[str], str],
    *,
    ttl: bool = True,
    skip: tuple[TableSpec, ...] = (),
) -> Tables:
    """The stack's three tables, named ``name(suffix)``; ``skip`` leaves some out (a table
    shared with another run)."""
    for spec in TABLES:
        if spec not in skip:
            create_table(dynamodb, name(spec.suffix), spec.layout, ttl=ttl)
    return Tables(*(name(spec.suffix) for spec in TABLES))


@dataclass(frozen=True)
class Queues:
    updates_url: str
    updates_arn: str
    dead_letter_url: str
    dead_letter_arn: str
    parking_url: str


def queue_attributes(spec: QueueSpec) -> dict[str, str]:
    return {
        "FifoQueue": "true",
        "ContentBasedDeduplication": "false",
        "DeduplicationScope": "messageGroup",
        "FifoThroughputLimit": "perMessageGroupId",
        "VisibilityTimeout": str(spec.visibility_seconds),
        "MessageRetentionPeriod": str(spec.retention_seconds),
    }


def create_queues(sqs: Any, name: Callable[[str], str], *, max_receive_count: int) -> Queues:
    """The updates queue, its dead-letter queue and the parking queue as the stack makes them,
    named
    ``name(suffix)`` (a FIFO name: ends in .fifo), on a boto3 SQS client (moto)."""

    def arn(url: str) -> str:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    parking_url = sqs.create_queue(
        QueueName=name(PARKING_QUEUE.suffix), Attributes=queue_attributes(PARKING_QUEUE)
    )["QueueUrl"]
    parked = {"deadLetterTargetArn": arn(parking_url), "maxReceiveCount": DLQ_MAX_RECEIVES}
    dead_letter_url = sqs.create_queue(
        QueueName=name(DEAD_LETTER_QUEUE.suffix),
        Attributes={**queue_attributes(DEAD_LETTER_QUEUE), "RedrivePolicy": json.dumps(parked)},
    )["QueueUrl"]
    dead_letter_arn = arn(dead_letter_url)
    redrive = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receive_count}
    updates_url = sqs.create_queue(
        QueueName=name(UPDATES_QUEUE.suffix),
        Attributes={**queue_attributes(UPDATES_QUEUE), "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    return Queues(updates_url, arn(updates_url), dead_letter_url, dead_letter_arn, parking_url)
