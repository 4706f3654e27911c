"""What ``make bench-limits`` runs on: moto's server, Bot API emulators, consumer pools.

* AWS: one moto server (``devkit.moto.start_server``, a subprocess on loopback stopped by
  its pid); every run gets its own queues, limits table, idempotency table and bot-token
  secret, shaped as the stack makes them (docs/architecture.md).
* Telegram: ``python -m devkit.telegram_emulator`` subprocesses on loopback (``--port 0``), one
  per lane, so their CPU and GIL are not the consumers' and each lane's 429s, violations and
  call log are its own. Limits on: 30/s per bot, 1/s per private chat (burst 3), 20/min per
  group, all times the run's scale.
* Consumers: ``devkit.lambda_runtime``'s ``LocalRuntime`` with one SQS mapping of
  ``max_concurrency=K``: K spawned processes (each its own Lambda environment running
  ``bench.limits.consumer.handler``) fed by K pollers, batch size 10, partial batch failures.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from topicdesk.contract import DATA_TABLE, Env

from devkit.lambda_runtime.functions import FunctionError, FunctionSpec
from devkit.lambda_runtime.runtime import LocalRuntime, MappingSpec
from devkit.moto import DUMMY_CREDENTIALS, REGION
from devkit.telegram_emulator import EmulatorClient
from infra.definitions import DATA, create_queues, create_table, create_tables

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
HANDLER = "bench.limits.consumer.handler"
# SQS's redrive backstop in the benchmark's runs (the deployed stages take cdk.json's
# maxReceiveCount); every other queue and table attribute is infra's (infra/definitions.py).
MAX_RECEIVE_COUNT = 15
CONSUMER_TIMEOUT_SECONDS = 30.0
EMULATOR_NICENESS = -10
COLD_STARTS = threading.BoundedSemaphore(4)
"""Consumer cold starts under way at once, over every lane."""

# Topicdesk's own limits (cdk.json limits.*): Telegram's documented ones less a margin.
TOPICDESK_BOT_PER_SECOND = 28.0
TOPICDESK_CHAT_PER_SECOND = 0.95
TOPICDESK_GROUP_PER_MINUTE = 19.0


class BenchError(RuntimeError):
    """Something the benchmark needs did not come up."""


# ----------------------------------------------------------------------------- AWS on moto


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far; 0 if it cannot be read (not Linux,
    or gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Aws:
    endpoint: str
    sqs: Any
    dynamodb: Any
    """boto3 DynamoDB resource."""
    secrets: Any
    pid: int = 0
    """The moto server's process."""

    @classmethod
    def connect(cls, endpoint: str, pid: int = 0) -> Aws:
        config = Config(max_pool_connections=64, retries={"max_attempts": 5, "mode": "standard"})
        kwargs: dict[str, Any] = {
            "endpoint_url": endpoint,
            "region_name": REGION,
            "aws_access_key_id": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "config": config,
        }
        return cls(
            endpoint=endpoint,
            sqs=boto3.client("sqs", **kwargs),
            dynamodb=boto3.resource("dynamodb", **kwargs),
            secrets=boto3.client("secretsmanager", **kwargs),
            pid=pid,
        )

    def create_data_table(self, name: str) -> None:
        """The stack's data table (infra's definition)."""
        create_table(self.dynamodb, name, DATA.layout)

    def queue_arn(self, url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def queue_depth(self, url: str) -> int:
        """Messages still in a queue: visible, in flight (incl. deferred) and delayed."""
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
            "Attributes"
        ]
        return sum(
            int(attributes.get(name, 0))
            for name in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )


@dataclass(frozen=True)
class RunStack:
    """One run's share of the stack (names carry the run's name)."""

    name: str
    updates_url: str
    updates_arn: str
    dlq_url: str
    data_table: str
    limits_table: str
    idempotency_table: str
    bot_token_secret: str


def create_stack(aws: Aws, name: str, bot_token: str, *, data_table: str | None = None) -> RunStack:
    """Queues, tables and the bot-token secret of one run; ``data_table`` shares an existing
    data table (the broadcast runs share their 3,000 sessions)."""
    queues = create_queues(
        aws.sqs, lambda suffix: f"{name}-{suffix}.fifo", max_receive_count=MAX_RECEIVE_COUNT
    )
    tables = create_tables(
        aws.dynamodb, lambda suffix: f"{name}-{suffix}", skip=(DATA,) if data_table else ()
    )
    secret = f"{name}/bot-token"
    aws.secrets.create_secret(Name=secret, SecretString=bot_token)
    return RunStack(
        name=name,
        updates_url=queues.updates_url,
        updates_arn=queues.updates_arn,
        dlq_url=queues.dead_letter_url,
        data_table=data_table or tables.data,
        limits_table=tables.limits,
        idempotency_table=tables.idempotency,
        bot_token_secret=secret,
    )


def write_sessions(aws: Aws, table: str, people: Iterable[int], operator_chat_id: int) -> None:
    """Sessions with a topic already (as ``attach_topic`` leaves them): what a broadcast reads."""
    now = Decimal(str(round(time.time(), 3)))
    with aws.dynamodb.Table(table).batch_writer() as batch:
        for index, user_id in enumerate(people):
            batch.put_item(
                Item={
                    DATA_TABLE.partition_key: f"PERSON#{user_id}",
                    DATA_TABLE.sort_key: "SESSION",
                    "user_id": user_id,
                    "first_name": f"Person {user_id}",
                    "last_name": "",
                    "username": "",
                    "language_code": "en",
                    "operator_chat_id": operator_chat_id,
                    "thread_id": 1_000 + index,
                    "status": "open",
                    "banned": False,
                    "blocked": False,
                    "card_posted": True,
                    "created_at": now,
                }
            )


def consumer_env(
    aws: Aws,
    stack: RunStack,
    *,
    api_url: str,
    operator_chat_id: int,
    limiter: str,
    scale: float,
) -> dict[str, str]:
    """The consumer's environment (docs/architecture.md), limits times ``scale``."""
    return {
        **DUMMY_CREDENTIALS,
        "AWS_ENDPOINT_URL": aws.endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        Env.STAGE: "bench",
        "POWERTOOLS_SERVICE_NAME": "topicdesk-consumer",
        "POWERTOOLS_METRICS_NAMESPACE": "Topicdesk/bench",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        Env.UPDATES_QUEUE_URL: stack.updates_url,
        Env.DEAD_LETTER_QUEUE_URL: stack.dlq_url,
        Env.DATA_TABLE: stack.data_table,
        Env.LIMITS_TABLE: stack.limits_table,
        Env.IDEMPOTENCY_TABLE: stack.idempotency_table,
        Env.BOT_TOKEN_SECRET_NAME: stack.bot_token_secret,
        Env.TELEGRAM_API_URL: api_url,
        Env.OPERATOR_CHAT_IDS: str(operator_chat_id),
        Env.GREETING: "Welcome to support!",
        Env.MAX_ATTEMPTS: "5",
        Env.RETRY_BASE_SECONDS: "5",
        Env.LIMIT_MAX_WAIT_SECONDS: "3.5",
        Env.LIMIT_BOT_PER_SECOND: f"{TOPICDESK_BOT_PER_SECOND * scale:g}",
        Env.LIMIT_CHAT_PER_SECOND: f"{TOPICDESK_CHAT_PER_SECOND * scale:g}",
        Env.LIMIT_GROUP_PER_MINUTE: f"{TOPICDESK_GROUP_PER_MINUTE * scale:g}",
        # The per-person pace and the new-people cap (60 topics an hour: a crowd of 60 would
        # wait in line at one per 116 s after the first 30) are product rules, not Telegram's:
        # out of the way here.
        Env.LIMIT_PERSON_BURST: "1000000",
        Env.LIMIT_PERSON_INTERVAL_SECONDS: "0.001",
        Env.LIMIT_NEW_TOPICS_PER_HOUR: "1000000",
        Env.FLOOD_POLICY: "hold",
        "BENCH_LIMITER": limiter,
        "BENCH_SCALE": f"{scale:g}",
    }


# ----------------------------------------------------------------------------- Telegram


class Emulator:
    """``python -m devkit.telegram_emulator`` in a subprocess on 127.0.0.1 (any free port)."""

    def __init__(self, scale: float, *, log_path: Path, ready_timeout: float = 30.0) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}  # devkit; it imports no product code
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our module
                [
                    sys.executable,
                    "-m",
                    "devkit.telegram_emulator",
                    "--port",
                    "0",
                    "--no-seed",
                    "--limits-scale",
                    f"{scale:g}",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        # Telegram's servers do not share our CPU: let the emulator run first when the box is
        # busy, so that its arrival times (the flood limits' clock) are not our scheduling
        # delays. Needs the right to raise a priority; without it, nothing changes.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self.process.pid, EMULATOR_NICENESS)
        try:
            info = self._read_info(ready_timeout)
        except BaseException:
            self.stop()
            raise
        self.base_url = str(info["base_url"])
        self.token = str(info["token"])
        self.bot_id = int(info["bot_id"])
        self.client = EmulatorClient(self.base_url, self.token, timeout=60.0)

    def _read_info(self, timeout: float) -> dict[str, Any]:
        found: dict[str, Any] = {}
        done = threading.Event()

        def read() -> None:
            assert self.process.stdout is not None
            lines: list[str] = []
            for raw in self.process.stdout:
                lines.append(raw.decode())
                with contextlib.suppress(ValueError):
                    found.update(json.loads("".join(lines)))
                    break
            done.set()

        threading.Thread(target=read, name="emulator-info", daemon=True).start()
        if not done.wait(timeout) or not found:
            raise BenchError(f"the emulator did not start within {timeout:.0f} s")
        return found

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


# ----------------------------------------------------------------------------- consumers


class Consumers:
    """K consumer environments and their pollers (one SQS mapping, ``max_concurrency=K``)."""

    def __init__(self, aws: Aws, stack: RunStack, env: dict[str, str], k: int, log: Path) -> None:
        self.k = k
        spec = FunctionSpec(
            name="consumer",
            handler=HANDLER,
            environment=env,
            code_dir=FUNCTIONS,
            code_package="topicdesk",  # the wrapper (bench.limits.consumer) runs the product's
            timeout_seconds=CONSUMER_TIMEOUT_SECONDS,
            log_path=log,
        )
        self.runtime = LocalRuntime(
            sqs=aws.sqs,
            functions={"consumer": spec},
            mappings=[
                MappingSpec(
                    function="consumer",
                    queue_url=stack.updates_url,
                    queue_arn=stack.updates_arn,
                    batch_size=10,
                    max_concurrency=k,
                )
            ],
            url_function=None,
        )
        self.pids: set[int] = set()

    def warm(self, timeout: float = 600.0) -> None:
        """Start all K environments (cold starts, getMe) before the clock starts. At most
        ``COLD_STARTS`` at once over all lanes (dozens of simultaneous cold starts on two cores
        run past the function's timeout); an instance that failed to start is tried again."""
        from bench.limits.consumer import WARM_EVENT

        pool = self.runtime.pools["consumer"]
        pids = self.pids
        failures: list[str] = []
        deadline = time.monotonic() + timeout
        lock = threading.Lock()

        def warm_one() -> None:
            with COLD_STARTS:
                try:
                    answer = pool.invoke(dict(WARM_EVENT))
                except FunctionError as error:
                    with lock:
                        failures.append(str(error))
                    return
            with lock:
                pids.add(int(answer["pid"]))

        while len(pids) < self.k and time.monotonic() < deadline:
            threads = [
                threading.Thread(target=warm_one, daemon=True) for _ in range(self.k - len(pids))
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(max(0.1, deadline - time.monotonic()))
        if len(pids) < self.k:
            last = f" (last failure: {failures[-1]})" if failures else ""
            raise BenchError(
                f"only {len(pids)} of {self.k} consumers started in {timeout:.0f} s{last}"
            )

    def start(self) -> None:
        self.runtime.start()

    def stop(self) -> None:
        """Stop the pollers, then every environment (each by its own process handle)."""
        self.runtime.stop()


def wait_until_drained(aws: Aws, url: str, deadline: float, poll: float = 0.5) -> bool:
    """True when the queue is empty (everything processed or dead-lettered) before
    ``deadline`` (time.monotonic)."""
    while time.monotonic() < deadline:
        if aws.queue_depth(url) == 0:
            return True
        time.sleep(poll)
    return aws.queue_depth(url) == 0
