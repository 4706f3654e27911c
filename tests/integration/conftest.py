"""Integration fixtures: the Bot API emulator and moto, wired through the real handlers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from topicdesk.handlers import consumer, dlq_processor, webhook

from devkit.telegram_emulator.testing import RunningEmulator, telegram_emulator  # noqa: F401
from tests.support.aws_world import aws_world
from tests.support.pipeline import Pipeline, start_pipeline


@pytest.fixture
def pipeline(
    telegram_emulator: RunningEmulator,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Pipeline]:
    # Flood limits are exercised by their own tests; here they would only slow things down.
    telegram_emulator.client.set_limits(enabled=False)
    group = telegram_emulator.client.create_forum_group("Support", operator_names=["Olga"])
    with aws_world(
        bot_token=telegram_emulator.token,
        operator_chat_ids=[int(group["chat_id"])],
        telegram_api_url=telegram_emulator.base_url,
    ) as aws:
        yield start_pipeline(telegram_emulator, aws, monkeypatch, group)
        for runtime in (consumer.runtime, dlq_processor.runtime, webhook.service):
            runtime.cache_clear()
