"""CloudFormation custom resource: point Telegram's webhook at the stage's Function URL.

Create/Update -> setWebhook(url, secret_token, allowed_updates, max_connections);
Delete -> deleteWebhook, but only while the webhook still points at this stack's URL.

A bot token that has not been filled in yet (the secret still holds the deploy-time
placeholder) is not an error: the resource succeeds and its `Status` attribute,
surfaced as a stack output, says what to do. Real failures (Telegram rejects the
token, cannot be reached) fail the deploy with a reason. Delete never fails: a
failing delete would block removing or rolling back the stack.

Standard library + boto3 only (this runs before anything else is configured).
Neither the token nor the webhook secret is ever logged or put into a response:
every outgoing message passes through `_redact`.

Resource properties (`Property`; strings, as CloudFormation sends them): WebhookUrl,
AllowedUpdates (list), MaxConnections (all required), and triggers that only make CloudFormation
call us again when they change (WebhookSecretArn, BotTokenSecretArn, Revision).
Environment (topicdesk.contract.Env): the bot token's and the webhook secret's secret names,
the Bot API URL, the stage. Telegram is called with the product's one stdlib Bot API client
(topicdesk.adapters.botapi_http); its token pattern says whether the token is filled in.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Final

import boto3

from topicdesk.adapters.botapi_http import BotApiClient, BotApiError, looks_like_token, redact
from topicdesk.contract import DEFAULT_TELEGRAM_API_URL, Env

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)
# botocore logs whole responses (GetSecretValue's included) at DEBUG: never let it.
for _noisy in ("botocore", "boto3", "urllib3"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

HTTP_TIMEOUT_SECONDS = 10.0
ATTEMPTS = 3
MAX_RETRY_AFTER_SECONDS = 10
# Time kept back for answering CloudFormation: a function that times out before it
# answers leaves the stack waiting for an hour.
RESPONSE_RESERVE_SECONDS = 25.0

SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

_secrets_seen: set[str] = set()
_deadline: float | None = None  # time.monotonic() by which Telegram calls must be over


class Property:
    """The custom resource's property names (infra/webhook_registration.py sets them)."""

    WEBHOOK_URL: Final = "WebhookUrl"
    ALLOWED_UPDATES: Final = "AllowedUpdates"
    MAX_CONNECTIONS: Final = "MaxConnections"
    TELEGRAM_API_URL: Final = "TelegramApiUrl"
    WEBHOOK_SECRET_ARN: Final = "WebhookSecretArn"  # noqa: S105 - a property name
    BOT_TOKEN_SECRET_ARN: Final = "BotTokenSecretArn"  # noqa: S105 - a property name
    REVISION: Final = "Revision"


class RegistrationError(Exception):
    """A failure whose message is safe to show (already redacted)."""


class TelegramError(RegistrationError):
    def __init__(self, method: str, code: int | None, description: str) -> None:
        self.code = code
        super().__init__(
            f"Telegram {method} failed"
            + (f" ({code})" if code is not None else "")
            + f": {description}"
        )


def handler(event: Mapping[str, Any], context: Any) -> None:
    global _deadline
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    _deadline = (
        time.monotonic() + remaining_ms() / 1000 - RESPONSE_RESERVE_SECONDS
        if callable(remaining_ms)
        else None
    )
    request_type = str(event.get("RequestType", ""))
    physical_id = str(
        event.get("PhysicalResourceId") or f"telegram-webhook-{os.environ.get(Env.STAGE, 'stage')}"
    )
    logger.info(
        "custom resource request",
        extra={"request_type": request_type, "logical_id": event.get("LogicalResourceId")},
    )
    try:
        properties = event.get("ResourceProperties") or {}
        if request_type in ("Create", "Update"):
            status = register(properties)
        elif request_type == "Delete":
            status = unregister(properties)
        else:
            raise RegistrationError(f"unknown RequestType {request_type!r}")
    except Exception as error:
        reason = _redact(str(error)) if isinstance(error, RegistrationError) else _unexpected(error)
        logger.error("webhook registration failed: %s", reason)
        send_response(event, context, "FAILED", physical_id, {}, reason)
        return
    status = _redact(status)
    logger.info("webhook registration: %s", status)
    send_response(event, context, "SUCCESS", physical_id, {"Status": status}, status)


def register(properties: Mapping[str, Any]) -> str:
    url = str(properties.get(Property.WEBHOOK_URL, "")).strip()
    if not url.startswith("https://") and not url.startswith("http://"):
        raise RegistrationError(f"WebhookUrl must be an http(s) URL, got {url!r}")
    token_name = _env(Env.BOT_TOKEN_SECRET_NAME)
    token = read_secret(token_name)
    if not looks_like_token(token):
        return (
            f"NOT REGISTERED: the bot token secret {token_name} is not filled in yet. Put the "
            f"token (aws secretsmanager put-secret-value --secret-id {token_name} "
            "--secret-string <token>) and deploy again with "
            "-c webhookRegistrationRevision=<a new value>."
        )
    secret_name = _env(Env.WEBHOOK_SECRET_NAME)
    secret = read_secret(secret_name)
    if not SECRET_SHAPE.match(secret):
        raise RegistrationError(
            f"the webhook secret in {secret_name} is not 1-256 characters of A-Za-z0-9_-"
        )
    allowed_updates = _allowed_updates(properties.get(Property.ALLOWED_UPDATES))
    max_connections = _max_connections(properties.get(Property.MAX_CONNECTIONS))
    call_telegram(
        token,
        "setWebhook",
        {
            "url": url,
            "secret_token": secret,
            "allowed_updates": allowed_updates,
            "max_connections": max_connections,
        },
    )
    return (
        f"REGISTERED: {url} (allowed_updates {','.join(allowed_updates)}, "
        f"max_connections {max_connections})"
    )


def unregister(properties: Mapping[str, Any]) -> str:
    url = str(properties.get(Property.WEBHOOK_URL, "")).strip()
    try:
        token_name = _env(Env.BOT_TOKEN_SECRET_NAME)
        token = read_secret(token_name)
        if not looks_like_token(token):
            return "nothing to delete: the bot token was never filled in"
        info = call_telegram(token, "getWebhookInfo", {})
        current = info.get("url", "") if isinstance(info, Mapping) else ""
        if current != url:
            # Another stage (or a person) has pointed the bot elsewhere since: leave it.
            return "left alone: the webhook no longer points at this stack"
        call_telegram(token, "deleteWebhook", {"drop_pending_updates": False})
        return f"DELETED: webhook {url}"
    except Exception as error:
        reason = _redact(str(error)) if isinstance(error, RegistrationError) else _unexpected(error)
        return f"not deleted ({reason}); delete it by hand if the bot still points here"


def read_secret(name: str) -> str:
    client = boto3.client("secretsmanager")
    try:
        value = client.get_secret_value(SecretId=name)
    except Exception as error:
        code = getattr(error, "response", {}).get("Error", {}).get("Code", type(error).__name__)
        raise RegistrationError(f"cannot read secret {name}: {code}") from None
    text = str(value.get("SecretString", "")).strip()
    if text:
        _secrets_seen.add(text)
    return text


def call_telegram(token: str, method: str, payload: Mapping[str, Any]) -> Any:
    """POST a Bot API method; return `result` or raise a redacted TelegramError. 429s and
    5xx answers are retried (Retry-After honoured, capped) while time is left."""
    _secrets_seen.add(token)
    client = BotApiClient(
        token,
        os.environ.get(Env.TELEGRAM_API_URL) or DEFAULT_TELEGRAM_API_URL,
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return client.call(method, payload)
        except BotApiError as error:
            failure = TelegramError(method, error.code, _redact(error.description))
            wait: float
            if error.unreachable:
                wait = attempt
            elif error.code == 429 or (error.code or 0) >= 500:
                wait = min(error.retry_after or attempt, MAX_RETRY_AFTER_SECONDS)
            else:
                raise failure from None
            if not _may_retry(attempt, wait):
                raise failure from None
            time.sleep(wait)
    raise AssertionError("unreachable: the last attempt returns or raises")


def send_response(
    event: Mapping[str, Any],
    context: Any,
    status: str,
    physical_id: str,
    data: Mapping[str, str],
    reason: str,
) -> None:
    """PUT the result to CloudFormation's pre-signed URL (the cfn-response protocol)."""
    log_stream = getattr(context, "log_stream_name", "") or ""
    body = json.dumps(
        {
            "Status": status,
            "Reason": _redact(reason)[:1000]
            + (f" (log stream {log_stream})" if log_stream else ""),
            "PhysicalResourceId": physical_id,
            "StackId": event.get("StackId"),
            "RequestId": event.get("RequestId"),
            "LogicalResourceId": event.get("LogicalResourceId"),
            "NoEcho": False,
            "Data": {key: _redact(value)[:1000] for key, value in data.items()},
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's pre-signed S3 URL
        str(event["ResponseURL"]),
        data=body,
        headers={"Content-Type": "", "Content-Length": str(len(body))},
        method="PUT",
    )
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
                response.read()
            return
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            logger.warning("could not send the response (attempt %d): %s", attempt, error)
            if attempt < ATTEMPTS:
                time.sleep(attempt)
    logger.error("gave up sending the response to CloudFormation")


def _may_retry(attempt: int, wait: float) -> bool:
    """Another attempt fits: attempts left, and time for the wait plus one more call."""
    if attempt >= ATTEMPTS:
        return False
    return _deadline is None or time.monotonic() + wait + HTTP_TIMEOUT_SECONDS < _deadline


def _redact(text: str) -> str:
    return redact(text, _secrets_seen)


def _unexpected(error: BaseException) -> str:
    return _redact(f"unexpected {type(error).__name__}: {error}")


def _env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise RegistrationError(f"environment variable {name} is not set")
    return value


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _allowed_updates(value: Any) -> list[str]:
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, list):
        items = [str(part).strip() for part in value]
    else:
        raise RegistrationError(f"AllowedUpdates must be a list, got {value!r}")
    updates = [item for item in items if item]
    if not updates:
        # An empty list would mean "Telegram's default set", which is not what we subscribe to.
        raise RegistrationError("AllowedUpdates must name at least one update type")
    return updates


def _max_connections(value: Any) -> int:
    number = _int_or_none(value)
    if number is None or not 1 <= number <= 100:
        raise RegistrationError(f"MaxConnections must be 1..100, got {value!r}")
    return number
