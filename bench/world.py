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

from topicdesk.contract import Env

from devkit.telegram_emulator import DEFAULT_TOKEN, EmulatorClient, EmulatorError
from infra.definitions import create_queues, create_tables

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
WEBHOOK_SECRET = "bench-webhook-secret_0123456789"  # noqa: S105 (a fixed local test value)
MAX_RECEIVE_COUNT = 30  # cdk.json's maxReceiveCount (the webhook benchmark never reaches it)

# What Lambda would have in its environment, minus the per-run names (queues, tables).
BASE_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    Env.STAGE: "bench",
    "POWERTOOLS_SERVICE_NAME": "topicdesk-bench",
    "POWERTOOLS_METRICS_NAMESPACE": "Topicdesk/bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    Env.MAX_ATTEMPTS: "5",
    # Flood limits out of the way: the benchmark measures the code, not Telegram's pace.
    Env.LIMIT_BOT_PER_SECOND: "1000",
    Env.LIMIT_CHAT_PER_SECOND: "1000",
    Env.LIMIT_GROUP_PER_MINUTE: "60000",
    Env.LIMIT_PERSON_BURST: "100000",
    Env.LIMIT_PERSON_INTERVAL_SECONDS: "1",
    Env.GREETING: "Welcome to support!",
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


@contextmanager
def moto_world(*, bot_token: str, operator_chat_id: int, api_url: str) -> Iterator[MotoWorld]:
    """The stack's queues, tables and secrets (as infra/ builds them) on moto, in-process."""
    import boto3
    from moto import mock_aws

    from devkit.moto import patch_sqs_receive

    patch_sqs_receive()
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        secrets = boto3.client("secretsmanager", region_name=REGION)
        # The stack's queues and tables, from infra's own definitions.
        queues = create_queues(
            sqs,
            lambda suffix: f"topicdesk-bench-{suffix}.fifo",
            max_receive_count=MAX_RECEIVE_COUNT,
        )
        updates_url, updates_arn = queues.updates_url, queues.updates_arn
        names = create_tables(dynamodb, lambda suffix: f"topicdesk-bench-{suffix}")
        tables = (names.data, names.limits, names.idempotency)
        secrets.create_secret(Name="topicdesk-bench-bot-token", SecretString=bot_token)
        secrets.create_secret(Name="topicdesk-bench-webhook-secret", SecretString=WEBHOOK_SECRET)
        env = {
            **BASE_ENV,
            Env.UPDATES_QUEUE_URL: updates_url,
            Env.DEAD_LETTER_QUEUE_URL: queues.dead_letter_url,
            Env.DATA_TABLE: tables[0],
            Env.LIMITS_TABLE: tables[1],
            Env.IDEMPOTENCY_TABLE: tables[2],
            Env.BOT_TOKEN_SECRET_NAME: "topicdesk-bench-bot-token",
            Env.WEBHOOK_SECRET_NAME: "topicdesk-bench-webhook-secret",
            Env.OPERATOR_CHAT_IDS: str(operator_chat_id),
            Env.TELEGRAM_API_URL: api_url,
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
    """``python -m devkit.telegram_emulator`` on a free loopback port, flood limits off;
    stopped by its pid when the block ends."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "devkit.telegram_emulator",
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
