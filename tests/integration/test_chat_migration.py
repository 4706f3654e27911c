"""An operators' group that Telegram upgraded (migrate_to_chat_id): no retry can help, so the
update goes straight to the DLQ with a reason that says what to configure."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devkit.telegram_emulator.testing import RunningEmulator
from tests.support.aws_world import aws_world
from tests.support.pipeline import Pipeline, start_pipeline


@pytest.fixture
def migrated_pipeline(
    telegram_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Pipeline, int]]:
    client = telegram_emulator.client
    client.set_limits(enabled=False)
    group = client.create_group("Old operators", operator_names=["Olga"])
    upgraded = client.migrate_group(int(group["chat_id"]), forum=True)
    with aws_world(
        bot_token=telegram_emulator.token,
        operator_chat_ids=[int(group["chat_id"])],  # the stale id still configured
        telegram_api_url=telegram_emulator.base_url,
    ) as aws:
        yield (
            start_pipeline(telegram_emulator, aws, monkeypatch, group),
            int(upgraded["new_chat_id"]),
        )


def test_a_migrated_operators_group_sends_the_update_to_the_dlq_at_once(
    migrated_pipeline: tuple[Pipeline, int],
) -> None:
    pipeline, new_chat_id = migrated_pipeline
    anna = int(pipeline.client.create_user("Anna", username="anna")["user_id"])
    pipeline.client.send_as_user(anna, "hello?")
    pipeline.deliver()
    outcome = pipeline.updates.poll_once()
    assert outcome.failed == 0  # moved to the DLQ by the consumer, not retried
    pipeline.dead_letters.poll_once()
    table = pipeline.aws.dynamodb.Table("topicdesk-test-data")
    [dead] = table.query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": "DEAD"}
    )["Items"]
    assert str(new_chat_id) in dead["reason"] and "configure" in dead["reason"]
    assert "could not be delivered" in pipeline.private_texts(anna)[-1]
