"""Emulated AWS (moto, in-process) with the stack's queues, tables and secrets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto import mock_aws
from topicdesk.contract import Env

from infra.definitions import create_queues, create_tables
from tests.support.leakcheck import register_secret

REGION = "us-east-1"
WEBHOOK_SECRET = register_secret("local-webhook-secret_ABC-123")
MAX_RECEIVE_COUNT = 50


@dataclass
class AwsWorld:
    sqs: Any
    dynamodb: Any
    secrets: Any
    updates_url: str
    updates_arn: str
    dlq_url: str
    dlq_arn: str
    parking_url: str
    env: dict[str, str]

    def queue_bodies(self, url: str) -> list[str]:
        """Every message in a queue (visible ones), without consuming them."""
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        count = int(attrs["ApproximateNumberOfMessages"])
        bodies: list[str] = []
        handles: list[str] = []
        while len(bodies) < count:
            answer = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            messages = answer.get("Messages", [])
            if not messages:
                break
            bodies.extend(m["Body"] for m in messages)
            handles.extend(m["ReceiptHandle"] for m in messages)
        for handle in handles:
            self.sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0
            )
        return bodies

    def queue_count(self, url: str) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )


@contextmanager
def aws_world(
    *, bot_token: str, operator_chat_ids: list[int], telegram_api_url: str = ""
) -> Iterator[AwsWorld]:
    register_secret(bot_token)
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        dynamodb = boto3.resource("dynamodb", region_name=REGION)
        secrets = boto3.client("secretsmanager", region_name=REGION)
        # The stack's queues and tables, from infra's own definitions.
        queues = create_queues(
            sqs, lambda suffix: f"topicdesk-test-{suffix}.fifo", max_receive_count=MAX_RECEIVE_COUNT
        )
        updates_url, updates_arn = queues.updates_url, queues.updates_arn
        dlq_url, dlq_arn = queues.dead_letter_url, queues.dead_letter_arn
        tables = create_tables(dynamodb, lambda suffix: f"topicdesk-test-{suffix}")
        secrets.create_secret(Name="topicdesk-test-bot-token", SecretString=bot_token)
        secrets.create_secret(Name="topicdesk-test-webhook-secret", SecretString=WEBHOOK_SECRET)
        env = {
            "AWS_DEFAULT_REGION": REGION,
            Env.STAGE: "test",
            "POWERTOOLS_SERVICE_NAME": "topicdesk-test",
            "POWERTOOLS_METRICS_NAMESPACE": "Topicdesk/test",
            "POWERTOOLS_TRACE_DISABLED": "true",
            Env.UPDATES_QUEUE_URL: updates_url,
            Env.DEAD_LETTER_QUEUE_URL: dlq_url,
            Env.MAX_ATTEMPTS: "5",
            # The shared limiter runs (its DynamoDB calls included) with room to spare; the
            # limits themselves are exercised by their own tests and the benchmark.
            Env.LIMIT_BOT_PER_SECOND: "1000",
            Env.LIMIT_CHAT_PER_SECOND: "1000",
            Env.LIMIT_GROUP_PER_MINUTE: "60000",
            Env.DATA_TABLE: tables.data,
            Env.LIMITS_TABLE: tables.limits,
            Env.IDEMPOTENCY_TABLE: tables.idempotency,
            Env.BOT_TOKEN_SECRET_NAME: "topicdesk-test-bot-token",
            Env.WEBHOOK_SECRET_NAME: "topicdesk-test-webhook-secret",
            Env.OPERATOR_CHAT_IDS: ",".join(str(c) for c in operator_chat_ids),
            Env.TELEGRAM_API_URL: telegram_api_url,
            Env.GREETING: "Welcome to support!",
        }
        yield AwsWorld(
            sqs=sqs,
            dynamodb=dynamodb,
            secrets=secrets,
            updates_url=updates_url,
            updates_arn=updates_arn,
            dlq_url=dlq_url,
            dlq_arn=dlq_arn,
            parking_url=queues.parking_url,
            env=env,
        )
