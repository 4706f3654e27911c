"""The three handlers wired as AWS wires them: emulator -> webhook -> SQS -> consumer -> DLQ."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from topicdesk.handlers import consumer, dlq_processor, webhook

from devkit.lambda_runtime import (
    BatchOutcome,
    FakeLambdaContext,
    SqsEventSource,
    function_url_event,
)
from devkit.telegram_emulator.testing import RunningEmulator
from tests.support.aws_world import WEBHOOK_SECRET, AwsWorld


@dataclass
class Pipeline:
    emulator: RunningEmulator
    aws: AwsWorld
    operator_chat_id: int
    operator_id: int
    offset: int = 0
    webhook_answers: list[int] = field(default_factory=list)
    outcomes: list[BatchOutcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        aws = self.aws
        self.updates = self._source(aws.updates_url, aws.updates_arn, consumer.handler, "consumer")
        self.dead_letters = self._source(
            aws.dlq_url, aws.dlq_arn, dlq_processor.handler, "dlq-processor"
        )

    def _source(
        self, url: str, arn: str, handler: Callable[..., Any], function: str
    ) -> SqsEventSource:
        """The event source mapping of the queue at ``url`` to ``function``'s ``handler``."""
        return SqsEventSource(
            sqs=self.aws.sqs, queue_url=url, queue_arn=arn, handler=handler, function_name=function
        )

    @property
    def client(self) -> Any:
        return self.emulator.client

    def post_update(self, update: dict[str, Any]) -> int:
        """Telegram's webhook call, through the webhook handler."""
        event = function_url_event(
            method="POST",
            body=json.dumps(update),
            headers={
                "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
                "content-type": "application/json",
            },
        )
        status = int(webhook.handler(event, FakeLambdaContext("webhook"))["statusCode"])
        self.webhook_answers.append(status)
        return status

    def fetch_updates(self) -> list[dict[str, Any]]:
        updates: list[dict[str, Any]] = self.client.bot_api(
            "getUpdates", offset=self.offset, timeout=0
        )
        if updates:
            self.offset = updates[-1]["update_id"] + 1
        return updates

    def deliver(self) -> list[dict[str, Any]]:
        """Every pending update from the emulator into the webhook (confirmed only on 200)."""
        updates = self.fetch_updates()
        for update in updates:
            assert self.post_update(update) == 200
        return updates

    def process(self, max_batches: int = 50) -> list[BatchOutcome]:
        outcomes = self.updates.drain(max_batches)
        self.outcomes.extend(outcomes)
        return outcomes

    def run(self, rounds: int = 5) -> None:
        """Deliver and process until quiet (the bot's own actions can cause new updates)."""
        for _ in range(rounds):
            delivered = self.deliver()
            processed = self.process()
            if not delivered and not processed:
                return

    # ---------------------------------------------------------------- reading results

    def topics(self) -> list[dict[str, Any]]:
        return [t for t in self.client.topics(self.operator_chat_id) if not t.get("deleted")]

    def topic_of(self, name_part: str) -> int:
        matches = [t for t in self.topics() if name_part in t["name"]]
        assert len(matches) == 1, self.topics()
        return int(matches[0]["message_thread_id"])

    def topic_texts(self, thread_id: int) -> list[str]:
        return [
            m.get("text") or m.get("caption") or f"<{kind_of(m)}>"
            for m in self.client.transcript(self.operator_chat_id, thread_id)
            if "forum_topic_created" not in m
        ]

    def find_in_topic(self, thread_id: int, text: str) -> dict[str, Any]:
        return next(
            m
            for m in self.client.transcript(self.operator_chat_id, thread_id)
            if m.get("text") == text
        )

    def private_texts(self, user_id: int) -> list[str]:
        return [
            m.get("text") or m.get("caption") or f"<{kind_of(m)}>"
            for m in self.client.transcript(user_id)
        ]


def kind_of(message: dict[str, Any]) -> str:
    for kind in ("photo", "document", "video", "voice", "sticker", "audio", "animation"):
        if kind in message:
            return kind
    return "other"


def start_pipeline(
    emulator: RunningEmulator, aws: AwsWorld, monkeypatch: pytest.MonkeyPatch, group: dict[str, Any]
) -> Pipeline:
    for key, value in aws.env.items():
        monkeypatch.setenv(key, value)
    parameters.clear_caches()
    webhook.service.cache_clear()
    consumer.runtime.cache_clear()
    dlq_processor.runtime.cache_clear()
    return Pipeline(
        emulator=emulator,
        aws=aws,
        operator_chat_id=int(group["chat_id"]),
        operator_id=int(group["operators"][0]),
    )


def cold_start_consumer(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """The consumer's next invocation is a cold start that reads these settings."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    consumer.runtime.cache_clear()
