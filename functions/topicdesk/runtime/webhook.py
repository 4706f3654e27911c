"""The webhook: check the request, enqueue the update, answer — in milliseconds.

No Telegram library here: the webhook's cold start stays small and its only job is durability.
An update is acknowledged (200) only after SQS accepted it; any failure to enqueue is a 500 so
that Telegram delivers it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from topicdesk.domain.errors import StorageUnavailable
from topicdesk.domain.routing import is_served
from topicdesk.domain.webhook import Accepted, Refused, decide

logger = Logger(child=True)


class UpdateQueue(Protocol):
    def enqueue(self, body: str, *, group_id: str, deduplication_id: str) -> str: ...


class WebhookMetrics(Protocol):
    def count(self, name: str, value: float = 1) -> None: ...

    def dimension(self, name: str, value: str) -> None: ...


@dataclass(frozen=True)
class FunctionUrlRequest:
    """The five fields of a Function URL event (payload 2.0) the webhook reads. Not Powertools'
    ``LambdaFunctionUrlEvent``: importing it imports all of Powertools' event data classes
    (about 60 ms of the webhook's cold start) for these five."""

    method: str
    headers: Mapping[str, str]
    body: str | None
    is_base64: bool
    source_ip: str

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> FunctionUrlRequest:
        http = event["requestContext"]["http"]
        return cls(
            method=http["method"],
            headers=event.get("headers") or {},
            body=event.get("body"),
            is_base64=bool(event.get("isBase64Encoded")),
            source_ip=http["sourceIp"],
        )


def _answer(status: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(payload),
    }


@dataclass
class WebhookService:
    queue: UpdateQueue
    secret: Callable[[], str]
    """Reads the webhook secret (kept for a while: ``adapters.aws.CachedSecret``)."""
    metrics: WebhookMetrics
    operator_chat_ids: frozenset[int] = frozenset()
    """The operators' groups: with private chats, the only chats served (empty: every chat,
    for tests that do not care)."""
    recheck_secret: Callable[[], bool] | None = None
    """After a wrong secret: read it again if the kept one is old enough; True when it
    changed (a rotation), and the request is checked once more with the new one."""

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """One Function URL event (as Lambda passes it) -> the HTTP answer."""
        request = FunctionUrlRequest.from_event(event)
        try:
            expected = self.secret()
        except StorageUnavailable:
            logger.exception("webhook secret unavailable")
            return _answer(500, {"ok": False, "error": "temporarily unavailable"})
        decision = self._decide(request, expected)
        if (
            isinstance(decision, Refused)
            and decision.reason == "secret"
            and self.recheck_secret is not None
            and self.recheck_secret()
        ):
            decision = self._decide(request, self.secret())
        if isinstance(decision, Refused):
            return self._refuse(request, decision)
        if self.operator_chat_ids and not is_served(decision.update, self.operator_chat_ids):
            # Answered 200 (Telegram must not retry it), never queued: a stranger's group or
            # channel cannot make the bot work, or spend the flood budget, for it.
            self.metrics.count("UpdatesFromStrangers")
            logger.info("update from a chat not served", extra={"type": decision.update_type})
            return _answer(200, {"ok": True})
        return self._enqueue(decision)

    @staticmethod
    def _decide(request: FunctionUrlRequest, expected: str) -> Accepted | Refused:
        return decide(
            method=request.method,
            headers=request.headers,
            body=request.body,
            is_base64=request.is_base64,
            expected_secret=expected,
        )

    def _refuse(self, request: FunctionUrlRequest, refused: Refused) -> dict[str, Any]:
        # No "reason" dimension: the alarm on bursts of refusals watches exactly {service}
        # (a metric with another dimension is another metric); the reason is in the log line.
        self.metrics.count("UpdatesRejected")
        # The source IP helps spot probes; neither the expected nor the presented secret is
        # ever logged.
        logger.warning(
            "request refused",
            extra={
                "status": refused.status,
                "reason": refused.reason,
                "source_ip": request.source_ip,
            },
        )
        return _answer(refused.status, {"ok": False, "error": refused.message})

    def _enqueue(self, accepted: Accepted) -> dict[str, Any]:
        logger.set_correlation_id(str(accepted.update_id))
        try:
            self.queue.enqueue(
                accepted.body,
                group_id=accepted.group_id,
                deduplication_id=str(accepted.update_id),
            )
        except StorageUnavailable:
            logger.exception("could not enqueue; Telegram will retry")
            self.metrics.count("UpdatesRejected")  # a burst of these alarms too
            self.metrics.count("UpdatesNotQueued")
            return _answer(500, {"ok": False, "error": "could not queue the update"})
        self.metrics.dimension("update_type", accepted.update_type)
        self.metrics.count("UpdatesReceived")
        logger.info("update queued", extra={"update_type": accepted.update_type})
        return _answer(200, {"ok": True})
