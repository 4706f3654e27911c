"""The webhook handler on real Function URL events, with SQS and Secrets Manager on moto."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError
from topicdesk.adapters.aws import SECRET_RECHECK_SECONDS, CachedSecret
from topicdesk.handlers import webhook

from devkit.lambda_runtime import FakeLambdaContext, function_url_event
from tests.support.aws_world import WEBHOOK_SECRET, AwsWorld, aws_world

SECRET_HEADER = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsWorld]:
    with aws_world(bot_token="1:x", operator_chat_ids=[-100]) as world:
        for key, value in world.env.items():
            monkeypatch.setenv(key, value)
        parameters.clear_caches()
        webhook.service.cache_clear()
        yield world
        webhook.service.cache_clear()


def post(body: Any, headers: dict[str, str] | None = None, method: str = "POST") -> dict[str, Any]:
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    event = function_url_event(
        method=method,
        body=raw,
        headers=SECRET_HEADER if headers is None else headers,
        source_ip="203.0.113.9",
    )
    return webhook.handler(event, FakeLambdaContext("webhook"))  # type: ignore[no-any-return]


def message_update(update_id: int, chat_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 0,
            "chat": {"id": chat_id, "type": "private"},
            "text": "hi",
        },
    }


def test_valid_update_is_queued_with_chat_group_and_update_id_dedup(world: AwsWorld) -> None:
    answer = post(message_update(100, 42))
    assert answer["statusCode"] == 200
    messages = world.sqs.receive_message(
        QueueUrl=world.updates_url, AttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert len(messages) == 1
    assert messages[0]["Attributes"]["MessageGroupId"] == "42"
    assert messages[0]["Attributes"]["MessageDeduplicationId"] == "100"
    assert json.loads(messages[0]["Body"]) == message_update(100, 42)


def test_the_same_update_twice_is_queued_once(world: AwsWorld) -> None:
    assert post(message_update(5, 1))["statusCode"] == 200
    assert post(message_update(5, 1))["statusCode"] == 200
    assert world.queue_count(world.updates_url) == 1


def test_base64_body(world: AwsWorld) -> None:
    event = function_url_event(method="POST", body=None, headers=SECRET_HEADER)
    event["body"] = base64.b64encode(json.dumps(message_update(9, 3)).encode()).decode()
    event["isBase64Encoded"] = True
    assert webhook.handler(event, FakeLambdaContext())["statusCode"] == 200
    assert world.queue_count(world.updates_url) == 1


@pytest.mark.parametrize(
    ("body", "headers", "method", "status"),
    [
        (message_update(1, 1), {}, "POST", 401),
        (message_update(1, 1), {"X-Telegram-Bot-Api-Secret-Token": "nope"}, "POST", 401),
        (message_update(1, 1), None, "GET", 405),
        ("{oops", None, "POST", 400),
        ({"no": "update_id"}, None, "POST", 400),
        ({"update_id": 1, "message": {"text": "x" * 300_000}}, None, "POST", 413),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_queued(
    world: AwsWorld, body: Any, headers: dict[str, str] | None, method: str, status: int
) -> None:
    answer = post(body, headers, method)
    assert answer["statusCode"] == status
    assert json.loads(answer["body"])["ok"] is False
    assert world.queue_count(world.updates_url) == 0


def test_refusals_log_the_source_ip_but_never_the_secret(
    world: AwsWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    post(message_update(1, 1), {"X-Telegram-Bot-Api-Secret-Token": "guess-" + WEBHOOK_SECRET})
    post(message_update(2, 1))
    refused = [r for r in caplog.records if r.getMessage() == "request refused"]
    assert [getattr(r, "source_ip", None) for r in refused] == ["203.0.113.9"]
    everything = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert WEBHOOK_SECRET not in everything


def test_sqs_failure_answers_500_so_telegram_retries(
    world: AwsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = webhook.service()

    def broken(**kwargs: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage"
        )

    monkeypatch.setattr(service.queue._client, "send_message", broken)  # type: ignore[attr-defined]
    assert post(message_update(1, 1))["statusCode"] == 500


def test_unreadable_secret_answers_500(world: AwsWorld) -> None:
    world.secrets.delete_secret(
        SecretId="topicdesk-test-webhook-secret", ForceDeleteWithoutRecovery=True
    )
    parameters.clear_caches()
    assert post(message_update(1, 1))["statusCode"] == 500
    assert world.queue_count(world.updates_url) == 0


def test_a_rotated_secret_is_accepted_once_the_kept_one_is_old_enough(world: AwsWorld) -> None:
    """After ``make ops ARGS='webhook set'`` rotates the secret, Telegram sends the new one at
    once; a warm container refuses it only while its kept value is younger than
    ``SECRET_RECHECK_SECONDS`` (not the whole cache time), and the old one is refused after."""
    assert post(message_update(1, 1))["statusCode"] == 200
    rotated = "rotated-" + WEBHOOK_SECRET
    world.secrets.put_secret_value(SecretId="topicdesk-test-webhook-secret", SecretString=rotated)
    new_header = {"X-Telegram-Bot-Api-Secret-Token": rotated}
    assert post(message_update(2, 1), headers=new_header)["statusCode"] == 401  # kept: fresh
    kept = webhook.service().secret
    assert isinstance(kept, CachedSecret)
    kept._read_at -= SECRET_RECHECK_SECONDS  # as if the value were read 30 s ago
    assert post(message_update(3, 1), headers=new_header)["statusCode"] == 200
    assert post(message_update(4, 1))["statusCode"] == 401


def test_the_trace_id_reaches_sqs_without_the_xray_sdk(
    world: AwsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The webhook makes no Powertools Tracer (its cold start): Lambda's active tracing sets
    ``_X_AMZN_TRACE_ID`` and botocore itself sends it with SendMessage, so SQS hands the trace
    on to the consumer (``AWSTraceHeader``)."""
    trace_id = "Root=1-6750a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "topicdesk-test-webhook")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", trace_id)
    sent: list[str | None] = []

    def record(request: Any, **kwargs: Any) -> None:
        sent.append(request.headers.get("X-Amzn-Trace-Id"))

    client = webhook.service().queue._client  # type: ignore[attr-defined]
    client.meta.events.register_first("before-send.sqs.SendMessage", record)
    assert post(message_update(7, 42))["statusCode"] == 200
    assert [value.decode() if isinstance(value, bytes) else value for value in sent] == [trace_id]
