"""The local Lambda runtime: processes per function, URL events, SQS event source semantics."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devkit.lambda_runtime import SqsEventSource
from devkit.lambda_runtime.functions import (
    FunctionError,
    FunctionPool,
    FunctionSpec,
    FunctionTimeout,
)
from devkit.lambda_runtime.runtime import LocalRuntime
from devkit.lambda_runtime.sqs_source import BatchOutcome

CODE = Path(__file__).parent / "local_code"


def spec(handler: str, timeout: float = 10.0) -> FunctionSpec:
    return FunctionSpec(
        name=handler,
        handler=f"sample_handlers.{handler}",
        environment={"SAMPLE_STAGE": "unit"},
        code_dir=CODE,
        timeout_seconds=timeout,
    )


def test_a_function_runs_in_its_own_environment_and_errors_are_function_errors() -> None:
    pool = FunctionPool(spec("environment"), 1)
    try:
        result = pool.invoke({})
        assert result["stage"] == "unit" and 0 < result["remaining"] <= 10_000
    finally:
        pool.stop()
    boom = FunctionPool(spec("explode"), 1)
    try:
        with pytest.raises(FunctionError, match="kaboom"):
            boom.invoke({})
    finally:
        boom.stop()


def test_every_invocation_logs_lambdas_report_line(tmp_path: Path) -> None:
    log = tmp_path / "function.log"
    pool = FunctionPool(
        FunctionSpec(
            name="environment",
            handler="sample_handlers.environment",
            environment={"SAMPLE_STAGE": "unit"},
            code_dir=CODE,
            memory_mb=256,
            log_path=log,
        ),
        1,
    )
    try:
        pool.invoke({})
        pool.invoke({})
    finally:
        pool.stop()
    reports = [line for line in log.read_text().splitlines() if line.startswith("REPORT ")]
    assert len(reports) == 2
    fields = dict(part.split(": ", 1) for part in reports[0].split("\t"))
    assert fields["Memory Size"] == "256 MB"
    used = int(fields["Max Memory Used"].removesuffix(" MB"))
    assert 5 < used < 256  # an interpreter with the handler imported, within the function's size


def test_a_timeout_stops_the_instance_and_the_next_call_is_a_cold_start() -> None:
    pool = FunctionPool(spec("slow", timeout=0.5), 1)
    try:
        with pytest.raises(FunctionTimeout):
            pool.invoke({})
    finally:
        pool.stop()


@pytest.fixture
def queue() -> Iterator[tuple[Any, str, str]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(
            QueueName="q.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "60"}
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        yield sqs, url, arn


def send(sqs: Any, url: str, body: str, group: str, dedup: str) -> None:
    sqs.send_message(
        QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup
    )


def poll_once(queue: tuple[Any, str, str], handler: str) -> BatchOutcome:
    """One poll of ``queue`` by an event source feeding one instance of the test ``handler``."""
    sqs, url, arn = queue
    pool = FunctionPool(spec(handler), 1)
    try:
        return SqsEventSource(
            sqs=sqs, queue_url=url, queue_arn=arn, handler=pool, function_name=handler
        ).poll_once()
    finally:
        pool.stop()


def test_partial_batch_failures_stay_and_the_rest_is_deleted(queue: tuple[Any, str, str]) -> None:
    sqs, url, _ = queue
    for i, body in enumerate(["ok", "fail", "ok"]):
        send(sqs, url, body, f"g{i}", str(i))
    outcome = poll_once(queue, "partial")
    assert (outcome.received, outcome.succeeded, outcome.failed) == (3, 2, 1)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"


def test_an_exception_returns_the_whole_batch(queue: tuple[Any, str, str]) -> None:
    sqs, url, _ = queue
    send(sqs, url, "a", "g", "1")
    send(sqs, url, "b", "g", "2")
    outcome = poll_once(queue, "explode")
    assert outcome.failed == 2 and outcome.function_error and "kaboom" in outcome.function_error
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "2"


def test_function_url_server_round_trip(queue: tuple[Any, str, str]) -> None:
    sqs, _, _ = queue
    runtime = LocalRuntime(sqs=sqs, functions={"url": spec("url")}, mappings=[], url_function="url")
    runtime.start()
    try:
        request = urllib.request.Request(runtime.url + "hook", data=b'{"x": 1}', method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 201
            assert answer.headers["x-method"] == "POST"
            assert json.loads(answer.read()) == {"x": 1}
    finally:
        runtime.stop()


def test_a_deferred_group_comes_back_in_order(queue: tuple[Any, str, str]) -> None:
    """moto (fixed in devkit/moto/patches.py) must redeliver a FIFO group first-message-first when
    all its messages become visible at once, as after the consumer defers a whole group."""
    sqs, url, _ = queue
    for i in range(3):
        send(sqs, url, f"m{i}", "g", str(i))
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in first] == ["m0", "m1", "m2"]
    for message in first:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=1
        )
    time.sleep(1.2)  # the deferral runs out (unfixed moto then delivers only "m2")
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in again] == ["m0", "m1", "m2"]
