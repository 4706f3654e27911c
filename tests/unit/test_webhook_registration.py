"""The webhook registration custom resource against a fake Bot API and CloudFormation.

One HTTP server on 127.0.0.1 plays both Telegram (`/bot<token>/<method>`) and the
pre-signed S3 URL CloudFormation gives for the response (`PUT /cfn-response`). The
secrets live in moto's in-process Secrets Manager. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws
from topicdesk.contract import ALLOWED_UPDATES, Env
from topicdesk.handlers import webhook_registration
from topicdesk.handlers.webhook_registration import Property

TOKEN = "123456789:AAH-fake_token_for_tests_0123456789abcdef"
SECRET = "S3cretLettersAndDigits0123456789"
FUNCTION_URL = "https://abc123.lambda-url.us-east-1.on.aws/"
ALLOWED = list(ALLOWED_UPDATES)
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret"
TOKEN_NAME = "topicdesk/test/bot-token"
SECRET_NAME = "topicdesk/test/webhook-secret"


@dataclass
class Recorded:
    method: str
    path: str
    body: Any


@dataclass
class FakeServer:
    """Telegram answers by method name; CloudFormation's responses are collected."""

    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    telegram: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def telegram_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith("/bot")]

    def responses(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path.startswith("/cfn-response")]

    def answer(self, method: str, *replies: tuple[int, dict[str, Any]]) -> None:
        self.telegram[method] = list(replies)


def serve(fake: FakeServer) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _read(self) -> Any:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                return json.loads(raw or b"{}")
            except ValueError:
                return raw.decode()

        def do_PUT(self) -> None:
            fake.requests.append(Recorded("PUT", self.path, self._read()))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            fake.requests.append(Recorded("POST", self.path, self._read()))
            method = self.path.rsplit("/", 1)[-1]
            replies = fake.telegram.get(method) or [(200, {"ok": True, "result": True})]
            status, body = replies.pop(0) if len(replies) > 1 else replies[0]
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    state = FakeServer()
    server = serve(state)
    monkeypatch.setenv(Env.TELEGRAM_API_URL, state.url)
    monkeypatch.setenv(Env.BOT_TOKEN_SECRET_NAME, TOKEN_NAME)
    monkeypatch.setenv(Env.WEBHOOK_SECRET_NAME, SECRET_NAME)
    monkeypatch.setenv(Env.STAGE, "test")
    monkeypatch.setattr(webhook_registration.time, "sleep", lambda seconds: None)
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def secrets() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(Name=TOKEN_NAME, SecretString=TOKEN)
        client.create_secret(Name=SECRET_NAME, SecretString=SECRET)
        yield client


def event(
    fake: FakeServer, request_type: str, url: str = FUNCTION_URL, **extra: Any
) -> dict[str, Any]:
    properties = {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:topicdesk-test-x",
        Property.WEBHOOK_URL: url,
        Property.ALLOWED_UPDATES: ALLOWED,
        Property.MAX_CONNECTIONS: "40",
        Property.WEBHOOK_SECRET_ARN: f"{SECRET_ARN}:w-AbCdEf",
        Property.BOT_TOKEN_SECRET_ARN: f"{SECRET_ARN}:b-AbCdEf",
        Property.REVISION: "1",
    }
    properties.update(extra.pop("properties", {}))
    return {
        "RequestType": request_type,
        "ResponseURL": f"{fake.url}/cfn-response?X-Amz-Signature=abc",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/topicdesk-test/1",
        "RequestId": "request-1",
        "LogicalResourceId": "WebhookRegistrationResource",
        "ResourceType": "Custom::TelegramWebhook",
        "ResourceProperties": properties,
        **extra,
    }


CONTEXT = SimpleNamespace(log_stream_name="2026/11/21/[$LATEST]0123")


def run(fake: FakeServer, request: dict[str, Any]) -> dict[str, Any]:
    webhook_registration.handler(request, CONTEXT)
    [response] = fake.responses()
    assert response["RequestId"] == request["RequestId"]
    assert response["StackId"] == request["StackId"]
    assert response["LogicalResourceId"] == request["LogicalResourceId"]
    return response


def test_create_points_the_webhook_at_the_function_url(fake: FakeServer, secrets: Any) -> None:
    response = run(fake, event(fake, "Create"))
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == "telegram-webhook-test"
    assert response["Data"]["Status"].startswith(f"REGISTERED: {FUNCTION_URL}")
    [call] = fake.telegram_calls()
    assert call.path == f"/bot{TOKEN}/setWebhook"
    assert call.body == {
        "url": FUNCTION_URL,
        "secret_token": SECRET,
        "allowed_updates": ALLOWED,
        "max_connections": 40,
    }


def test_a_token_not_filled_in_yet_succeeds_with_instructions(
    fake: FakeServer, secrets: Any
) -> None:
    secrets.put_secret_value(SecretId=TOKEN_NAME, SecretString="REPLACE-ME: put-secret-value")
    response = run(fake, event(fake, "Create"))
    assert response["Status"] == "SUCCESS"
    status = response["Data"]["Status"]
    assert status.startswith(f"NOT REGISTERED: the bot token secret {TOKEN_NAME} is not filled in")
    assert "put-secret-value" in status and "webhookRegistrationRevision" in status
    assert fake.telegram_calls() == []


def test_update_keeps_the_physical_id_and_sets_the_new_url(fake: FakeServer, secrets: Any) -> None:
    new_url = "https://def456.lambda-url.us-east-1.on.aws/"
    request = event(
        fake,
        "Update",
        url=new_url,
        PhysicalResourceId="telegram-webhook-test",
        OldResourceProperties={Property.WEBHOOK_URL: FUNCTION_URL},
    )
    response = run(fake, request)
    assert (response["Status"], response["PhysicalResourceId"]) == (
        "SUCCESS",
        "telegram-webhook-test",
    )
    [call] = fake.telegram_calls()
    assert call.body["url"] == new_url


def test_delete_removes_our_webhook(fake: FakeServer, secrets: Any) -> None:
    fake.answer("getWebhookInfo", (200, {"ok": True, "result": {"url": FUNCTION_URL}}))
    response = run(fake, event(fake, "Delete", PhysicalResourceId="telegram-webhook-test"))
    assert response["Status"] == "SUCCESS"
    assert response["Data"]["Status"] == f"DELETED: webhook {FUNCTION_URL}"
    assert [c.path.rsplit("/", 1)[-1] for c in fake.telegram_calls()] == [
        "getWebhookInfo",
        "deleteWebhook",
    ]


def test_delete_leaves_a_webhook_that_points_elsewhere(fake: FakeServer, secrets: Any) -> None:
    other = "https://prod.example/hook"
    fake.answer("getWebhookInfo", (200, {"ok": True, "result": {"url": other}}))
    response = run(fake, event(fake, "Delete", PhysicalResourceId="telegram-webhook-test"))
    assert response["Status"] == "SUCCESS"
    assert "left alone" in response["Data"]["Status"]
    assert [c.path.rsplit("/", 1)[-1] for c in fake.telegram_calls()] == ["getWebhookInfo"]


def test_delete_never_fails_the_stack(fake: FakeServer, secrets: Any) -> None:
    fake.answer("getWebhookInfo", (502, {"ok": False, "error_code": 502, "description": "Bad"}))
    response = run(fake, event(fake, "Delete", PhysicalResourceId="telegram-webhook-test"))
    assert response["Status"] == "SUCCESS"
    assert response["Data"]["Status"].startswith("not deleted (Telegram getWebhookInfo failed")


def test_a_rejected_token_fails_the_deploy_with_the_reason(fake: FakeServer, secrets: Any) -> None:
    fake.answer(
        "setWebhook", (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    )
    response = run(fake, event(fake, "Create"))
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith("Telegram setWebhook failed (401): Unauthorized")
    assert len(fake.telegram_calls()) == 1  # a 4xx is not retried


def test_429_waits_retry_after_and_retries(
    fake: FakeServer, secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(webhook_registration.time, "sleep", slept.append)
    fake.answer(
        "setWebhook",
        (429, {"ok": False, "error_code": 429, "parameters": {"retry_after": 3}}),
        (200, {"ok": True, "result": True}),
    )
    response = run(fake, event(fake, "Create"))
    assert response["Status"] == "SUCCESS"
    assert slept == [3]
    assert len(fake.telegram_calls()) == 2


def test_unreachable_bot_api_fails_after_retries(
    fake: FakeServer, secrets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv(Env.TELEGRAM_API_URL, f"http://127.0.0.1:{closed_port}")
    response = run(fake, event(fake, "Create"))
    assert response["Status"] == "FAILED"
    assert "cannot reach the Bot API" in response["Reason"]


def test_a_missing_secret_fails_with_its_name(fake: FakeServer, secrets: Any) -> None:
    secrets.delete_secret(SecretId=SECRET_NAME, ForceDeleteWithoutRecovery=True)
    response = run(fake, event(fake, "Create"))
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith(f"cannot read secret {SECRET_NAME}: ResourceNotFound")


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({Property.MAX_CONNECTIONS: "0"}, "MaxConnections must be 1..100"),
        ({Property.ALLOWED_UPDATES: []}, "AllowedUpdates must name at least one update type"),
        ({Property.WEBHOOK_URL: "ftp://x"}, "WebhookUrl must be an http(s) URL"),
    ],
)
def test_bad_properties_fail(
    fake: FakeServer, secrets: Any, properties: dict[str, Any], reason: str
) -> None:
    response = run(fake, event(fake, "Create", properties=properties))
    assert response["Status"] == "FAILED"
    assert reason in response["Reason"]


def test_neither_token_nor_secret_is_logged_or_returned(
    fake: FakeServer, secrets: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # A server that echoes what it was given must not get the values into the response.
    fake.answer(
        "setWebhook",
        (400, {"ok": False, "error_code": 400, "description": f"bad: {TOKEN} {SECRET}"}),
    )
    response = run(fake, event(fake, "Create"))
    assert response["Status"] == "FAILED"
    assert "***" in response["Reason"]
    everything = json.dumps(response) + caplog.text
    assert TOKEN not in everything and SECRET not in everything
    assert TOKEN.split(":")[1] not in everything


def test_no_retry_when_only_the_time_to_answer_is_left(fake: FakeServer, secrets: Any) -> None:
    fake.answer("setWebhook", (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}))
    # 30 s left: the 25 s kept for answering CloudFormation leaves no room for a retry.
    context = SimpleNamespace(log_stream_name="s", get_remaining_time_in_millis=lambda: 30_000)
    webhook_registration.handler(event(fake, "Create"), context)
    [response] = fake.responses()
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith("Telegram setWebhook failed (502): Bad Gateway")
    assert len(fake.telegram_calls()) == 1
