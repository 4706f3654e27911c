"""The real webhook handler on moto for property tests.

``WebhookWorld`` wraps ``aws_world`` (shared with the integration tests): the stack's queues
and secrets on moto in-process, the Lambda environment set for the module, the webhook's
cached service rebuilt on it, and every ``SendMessage`` the webhook makes recorded with its
parameters (so a property can check them against what real SQS accepts, which moto does not:
group and deduplication id characters and lengths, body characters).
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from topicdesk.handlers import webhook

from devkit.lambda_runtime import FakeLambdaContext, function_url_event
from devkit.moto.sqs import empty_queue
from tests.support.aws_world import WEBHOOK_SECRET, AwsWorld, aws_world

SQS_MAX_BODY_BYTES = 262_144
"""The SQS message size limit the stack was designed for (256 KiB; SQS has since raised it to
1 MiB). The webhook's own limit is below either."""
_SQS_ID_CHARACTERS = frozenset(string.ascii_letters + string.digits + string.punctuation)


def _sqs_body_character(ch: str) -> bool:
    code = ord(ch)
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def sqs_would_refuse(params: dict[str, Any]) -> list[str]:
    """Why real SQS would refuse this SendMessage to a FIFO queue (empty: it accepts it).

    From the SendMessage API reference: ``MessageGroupId`` and ``MessageDeduplicationId`` are
    1-128 characters of ``a-zA-Z0-9`` and ASCII punctuation; the body is at most 256 KiB and
    only #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF (others are refused
    with InvalidMessageContents, or in newer SQS replaced by U+FFFD: either way not the update).
    """
    problems: list[str] = []
    for name in ("MessageGroupId", "MessageDeduplicationId"):
        value = params.get(name)
        if not isinstance(value, str) or not 1 <= len(value) <= 128:
            problems.append(f"{name} length {len(value) if isinstance(value, str) else value}")
        elif not set(value) <= _SQS_ID_CHARACTERS:
            problems.append(f"{name} characters {sorted(set(value) - _SQS_ID_CHARACTERS)!r}")
    body = params.get("MessageBody", "")
    size = len(body.encode("utf-8", errors="surrogatepass"))
    if not 1 <= size <= SQS_MAX_BODY_BYTES:
        problems.append(f"MessageBody size {size}")
    refused = sorted({f"U+{ord(c):04X}" for c in body if not _sqs_body_character(c)})
    if refused:
        problems.append(f"MessageBody characters {refused}")
    return problems


@dataclass
class WebhookWorld:
    aws: AwsWorld
    sqs_client: Any
    """The boto3 client inside the webhook's service (the one its SendMessage calls use)."""
    sent: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        """Empty the queue (moto's deduplication forgets deleted messages) and the record."""
        empty_queue(self.aws.sqs, self.aws.updates_url)
        self.sent.clear()
        assert self.queued() == 0

    def queued(self) -> int:
        return self.aws.queue_count(self.aws.updates_url)

    def messages(self) -> list[dict[str, Any]]:
        answer = self.aws.sqs.receive_message(
            QueueUrl=self.aws.updates_url,
            AttributeNames=["All"],
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
        )
        return list(answer.get("Messages", []))

    def post(
        self,
        *,
        method: str,
        headers: dict[str, str],
        body: str | bytes | None,
        is_base64: bool = False,
        raw_case: bool = False,
    ) -> dict[str, Any]:
        event = function_url_event(
            method=method, body=body, headers=headers, source_ip="203.0.113.7"
        )
        if is_base64:
            assert not isinstance(body, bytes)
            event["body"], event["isBase64Encoded"] = body, True
        if raw_case:
            event["headers"] = dict(headers)
        answer: dict[str, Any] = webhook.handler(event, FakeLambdaContext("webhook"))
        return answer

    @contextmanager
    def sqs_failing(self, error: Exception) -> Iterator[None]:
        """Every SendMessage fails with ``error`` before it reaches the queue."""

        def fail(**kwargs: Any) -> None:
            raise error

        self.sqs_client.meta.events.register_first(
            "before-call.sqs.SendMessage", fail, unique_id="property-sqs-failure"
        )
        try:
            yield
        finally:
            self.sqs_client.meta.events.unregister(
                "before-call.sqs.SendMessage", unique_id="property-sqs-failure"
            )


__all__ = ["WEBHOOK_SECRET", "AwsWorld", "WebhookWorld", "aws_world", "sqs_would_refuse"]
