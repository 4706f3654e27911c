"""Property tests: the real webhook handler on moto, started once per module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from topicdesk.handlers import webhook

from tests.support.webhook_world import WebhookWorld, aws_world


@pytest.fixture(scope="module")
def webhook_world() -> Iterator[WebhookWorld]:
    with (
        aws_world(bot_token="1:x", operator_chat_ids=[-100]) as aws,
        pytest.MonkeyPatch.context() as mp,
    ):
        for key, value in aws.env.items():
            mp.setenv(key, value)
        parameters.clear_caches()  # type: ignore[no-untyped-call]
        webhook.service.cache_clear()
        service = webhook.service()
        # These properties are about any update of any chat; which chats are served has its
        # own property (test_webhook_properties.py, "strangers").
        service.operator_chat_ids = frozenset()
        client = service.queue._client  # type: ignore[attr-defined]
        world = WebhookWorld(aws=aws, sqs_client=client)

        def record(params: dict[str, Any], **kwargs: Any) -> None:
            world.sent.append(dict(params))

        client.meta.events.register(
            "before-parameter-build.sqs.SendMessage", record, unique_id="property-record"
        )
        try:
            yield world
        finally:
            webhook.service.cache_clear()
            parameters.clear_caches()  # type: ignore[no-untyped-call]
