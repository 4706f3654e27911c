"""The benchmark's surroundings: the stack's AWS resources on moto (in-process) and the Bot API
emulator in its own process on loopback (so its CPU is never counted as the code's, and it
does not share the code's GIL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.telegram_emulator import DEFAULT_TOKEN, EmulatorClient, EmulatorError

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
WEBHOOK_SECRET = "bench-webhook-secret_0123456789"  # noqa: S105 (a fixed local test value)

# What Lambda would have in its environment, minus the per-run names (queues, tables).
BASE_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "STAGE": "bench",
    "POWERTOOLS_SERVICE_NAME": "topicdesk-bench",
    "POWERTOOLS_METRICS_NAMESPACE": "Topicdesk/bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "MAX_ATTEMPTS": "5",
    # Flood limits out of the way: the benchmark measures the code, not Telegram's pace.
    "LIMIT_BOT_PER_SECOND": "1000",
    "LIMIT_CHAT_PER_SECOND": "1000",
    "LIMIT_GROUP_PER_MINUTE": "60000",
    "LIMIT_PERSON_BURST": "100000",
    "LIMIT_PERSON_INTERVAL_SECONDS": "1",
    "GREETING": "Welcome to support!",
}


@dataclass
class MotoWorld:
    sqs: Any
    dynamodb: Any
    """The low-level DynamoDB client (for scans after the run)."""
    updates_url: str
    updates_arn: str
    env: dict[str, str]
    tables: tuple[str, ...]


def _table(dynamodb: Any, name: str, keys: list[tuple[str, str]], ttl: str) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
    )


@contextmanager
def moto_world(*, bot_token: str, operator_chat_id: int, api_url: str) -> Iterator[MotoWorld]:
    """The stack's queues, tables and secrets (as infra/ builds them) on moto, in-process."""
    import boto3
    from moto import mock_aws

    from local.moto_fixes import fix_fifo_redelivery_order

    fix_fifo_redelivery_order()
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        secrets = boto3.client("secretsmanager", region_name=REGION)
        dlq_url = sqs.create_queue(
            QueueName="topicdesk-bench-dead-letters.fifo", Attributes={"FifoQueue": "true"}
        )["QueueUrl"]
        updates_url = sqs.create_queue(
            QueueName="topicdesk-bench-updates.fifo",
            Attributes={"FifoQueue": "true", "VisibilityTimeout": "180"},
        )["QueueUrl"]
        updates_arn = sqs.get_queue_attributes(QueueUrl=updates_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        tables = ("topicdesk-bench-data", "topicdesk-bench-limits", "topicdesk-bench-idempotency")
        _table(dynamodb, tables[0], [("pk", "HASH"), ("sk", "RANGE")], "expires_at")
        _table(dynamodb, tables[1], [("pk", "HASH")], "expires_at")
        _table(dynamodb, tables[2], [("id", "HASH")], "expiration")
        secrets.create_secret(Name="topicdesk-bench-bot-token", SecretString=bot_token)
        secrets.create_secret(Name="topicdesk-bench-webhook-secret", SecretString=WEBHOOK_SECRET)
        env = {
            **BASE_ENV,
            "UPDATES_QUEUE_URL": updates_url,
            "DEAD_LETTER_QUEUE_URL": dlq_url,
            "DATA_TABLE": tables[0],
            "LIMITS_TABLE": tables[1],
            "IDEMPOTENCY_TABLE": tables[2],
            "BOT_TOKEN_SECRET_NAME": "topicdesk-bench-bot-token",
            "WEBHOOK_SECRET_NAME": "topicdesk-bench-webhook-secret",
            "OPERATOR_CHAT_IDS": str(operator_chat_id),
            "TELEGRAM_API_URL": api_url,
        }
        yield MotoWorld(sqs, dynamodb, updates_url, updates_arn, env, tables)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Emulator:
    base_url: str
    token: str
    client: EmulatorClient
    process: subprocess.Popen[bytes]


@contextmanager
def emulator_process(ready_timeout: float = 30.0) -> Iterator[Emulator]:
    """``python -m local.telegram_emulator`` on a free loopback port, flood limits off;
    stopped by its pid when the block ends."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "local.telegram_emulator",
            "--port",
            str(port),
            "--no-seed",
            "--no-limits",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    client = EmulatorClient(base_url, DEFAULT_TOKEN)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the emulator exited with code {process.returncode}")
            try:
                client.info()
                break
            except (OSError, EmulatorError):
                if time.monotonic() > deadline:
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.05)
        client.set_limits(enabled=False)
        yield Emulator(base_url, DEFAULT_TOKEN, client, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
