"""`make ops ARGS="stats --since 7d"` against moto: the inbox's stats of each operators' group
from its records (issue 15, item 6)."""

from __future__ import annotations

import io
import time

import pytest
from topicdesk.adapters.dynamodb.inbox import DynamoInboxStore
from topicdesk.contract import Env, Output
from topicdesk.domain.inbox import Conversation, Event, Owner
from topicdesk.domain.inbox.state import apply

import ops.__main__ as ops_cli
from ops.resources import OpsError, StageResources
from tests.support.pipeline import Pipeline

DAY = 86400.0


@pytest.fixture
def stage(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> StageResources:
    aws = pipeline.aws
    resources = StageResources(
        stage="test",
        outputs={Output.DATA_TABLE_NAME: aws.env[Env.DATA_TABLE]},
        endpoint_url=None,
        telegram_api_url=pipeline.emulator.base_url,
    )
    monkeypatch.setattr(ops_cli, "resolve", lambda name: resources)
    chats = (pipeline.operator_chat_id,)
    monkeypatch.setattr(ops_cli, "_stage_config_value", lambda stage, name: chats)
    return resources


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = ops_cli.run(["--stage", "test", *argv], out)
    return code, out.getvalue()


def test_stats_since_7d(pipeline: Pipeline, stage: StageResources) -> None:
    store = DynamoInboxStore(pipeline.aws.dynamodb.Table(pipeline.aws.env[Env.DATA_TABLE]))
    now = time.time()
    chat = pipeline.operator_chat_id
    bob = Owner(501, "Bob")
    for user, opened, answer_after, closed_after in [
        (1, now - 2 * DAY, 60.0, 3600.0),
        (2, now - DAY, 600.0, None),
        (3, now - 3600, None, None),
        (4, now - 10 * DAY, 30.0, 120.0),  # before the period
    ]:
        record = apply(
            Conversation(chat, user, thread_id=user, name=f"P{user}"), Event.PERSON_WROTE, opened
        )
        if answer_after is not None:
            record = apply(record, Event.OPERATOR_ANSWERED, opened + answer_after)
        if closed_after is not None:
            record = apply(record, Event.CLOSED, opened + closed_after)
        assert store.save(record.with_changes(owner=bob if user != 3 else None), 0)
    code, out = run("stats", "--since", "7d")
    assert code == 0
    assert f"operators' group {chat}" in out
    assert "opened 3 · closed 1 · unanswered now 1" in out
    assert "first response p50 1 min, p90 10 min" in out
    assert "• Bob: opened 2 · closed 1" in out and "• nobody: opened 1" in out
    code, out = run("stats", "--since", "30d")
    assert "opened 4 · closed 2" in out
    with pytest.raises(OpsError, match="not a period"):
        run("stats", "--since", "a while")
