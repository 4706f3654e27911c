"""The operations CLI against moto and the emulator (the stage's outputs faked in)."""

from __future__ import annotations

import io
import json
import time

import pytest
from topicdesk.adapters.dynamodb import DynamoDeadLetterArchive
from topicdesk.contract import Env, Output
from topicdesk.domain.model import DeadLetter

import ops.__main__ as ops_cli
from ops.resources import OpsError, StageResources
from tests.integration.test_erase import assert_erased, conversation
from tests.support.aws_world import WEBHOOK_SECRET
from tests.support.pipeline import Pipeline


@pytest.fixture
def stage(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> StageResources:
    aws = pipeline.aws
    resources = StageResources(
        stage="test",
        outputs={
            Output.WEBHOOK_URL: "https://example.invalid/webhook/",
            Output.UPDATES_QUEUE_URL: aws.updates_url,
            Output.DEAD_LETTER_QUEUE_URL: aws.dlq_url,
            Output.PARKING_QUEUE_URL: aws.parking_url,
            Output.DATA_TABLE_NAME: aws.env[Env.DATA_TABLE],
            Output.LIMITS_TABLE_NAME: aws.env[Env.LIMITS_TABLE],
            Output.BOT_TOKEN_SECRET_NAME: aws.env[Env.BOT_TOKEN_SECRET_NAME],
            Output.WEBHOOK_SECRET_NAME: aws.env[Env.WEBHOOK_SECRET_NAME],
        },
        endpoint_url=None,
        telegram_api_url=pipeline.emulator.base_url,
    )
    monkeypatch.setattr(ops_cli, "resolve", lambda name: resources)
    monkeypatch.setattr(ops_cli, "_stage_config_value", lambda stage, name: 40)
    return resources


def run(*argv: str, token: str = "") -> tuple[int, str]:
    out = io.StringIO()
    code = ops_cli.run(["--stage", "test", *argv], out, read_token=lambda: token)
    return code, out.getvalue()


def archive(pipeline: Pipeline) -> DynamoDeadLetterArchive:
    return DynamoDeadLetterArchive(pipeline.aws.dynamodb.Table(pipeline.aws.env[Env.DATA_TABLE]))


def dead(update_id: int, chat: int, text: str, age: float = 0.0) -> DeadLetter:
    body = json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": chat, "type": "private", "first_name": "Anna"},
                "from": {"id": chat, "is_bot": False, "first_name": "Anna"},
                "text": text,
            },
        }
    )
    now = time.time() - age
    return DeadLetter(
        str(update_id),
        body,
        update_id,
        chat,
        "TransientFailure: boom",
        5,
        now,
        now,
        now,
        group_id=str(chat),
    )


def test_webhook_set_info_delete(pipeline: Pipeline, stage: StageResources) -> None:
    assert run("webhook", "set")[0] == 0
    info = pipeline.client.bot_api("getWebhookInfo")
    assert info["url"] == "https://example.invalid/webhook/"
    code, out = run("webhook", "info")
    assert code == 0 and "url: https://example.invalid/webhook/" in out
    assert WEBHOOK_SECRET not in out
    assert run("webhook", "delete")[0] == 0
    assert pipeline.client.bot_api("getWebhookInfo")["url"] == ""


def test_dlq_list_replay_keeps_chat_order_and_the_pipeline_delivers(
    pipeline: Pipeline, stage: StageResources
) -> None:
    anna = int(pipeline.client.create_user("Anna", username="anna")["user_id"])
    first = pipeline.client.send_as_user(anna, "one")
    second = pipeline.client.send_as_user(anna, "two")
    store = archive(pipeline)
    for sent, text in ((second, "two"), (first, "one")):
        letter = dead(sent["message_id"] + 1000, anna, text)
        # the archived body carries the person's real message ids so copyMessage finds them
        body = json.loads(letter.body)
        body["message"]["message_id"] = sent["message_id"]
        store.archive(DeadLetter(**{**letter.__dict__, "body": json.dumps(body)}))
    code, out = run("dlq", "list")
    assert code == 0 and "2 archived dead letter(s)" in out and "TransientFailure" in out
    code, out = run("dlq", "replay", "--all")
    assert code == 0 and "replayed 2" in out
    assert store.list() == []
    pipeline.process()
    assert pipeline.topic_texts(pipeline.topic_of("Anna"))[1:] == ["one", "two"]


def test_a_replayed_dead_letter_is_relayed_after_later_messages(
    pipeline: Pipeline, stage: StageResources
) -> None:
    """A later message moved the session's mark (``relayed_up_to``) past the dead one: the
    replay is still relayed (it finds the record the replay writes and resumes from it,
    instead of taking the mark for "handled")."""
    anna = int(pipeline.client.create_user("Anna", username="anna")["user_id"])
    pipeline.client.send_as_user(anna, "one")
    (lost,) = pipeline.fetch_updates()  # dead-lettered: never reached the webhook
    pipeline.client.send_as_user(anna, "two")
    pipeline.run()
    letter = dead(lost["update_id"], anna, "one")
    archive(pipeline).archive(DeadLetter(**{**letter.__dict__, "body": json.dumps(lost)}))
    assert run("dlq", "replay", "--all")[0] == 0
    pipeline.process()
    assert pipeline.topic_texts(pipeline.topic_of("Anna"))[1:] == ["two", "one"]


def test_replay_of_one_and_of_an_unknown_id(pipeline: Pipeline, stage: StageResources) -> None:
    archive(pipeline).archive(dead(7, 1, "x"))
    assert run("dlq", "replay", "7")[0] == 0
    assert pipeline.aws.queue_count(pipeline.aws.updates_url) == 1
    with pytest.raises(OpsError, match="no dead letter"):
        run("dlq", "replay", "7")


def test_purge_older_than(pipeline: Pipeline, stage: StageResources) -> None:
    store = archive(pipeline)
    store.archive(dead(1, 1, "old", age=8 * 86400))
    store.archive(dead(2, 1, "new", age=60))
    code, out = run("dlq", "purge", "--older-than", "7d")
    assert code == 0 and "purged 1" in out
    assert [d.archive_id for d in store.list()] == ["2"]
    with pytest.raises(OpsError, match="older-than"):
        run("dlq", "purge", "--older-than", "seven days")


def test_sessions_show(pipeline: Pipeline, stage: StageResources) -> None:
    anna = int(pipeline.client.create_user("Anna", username="anna")["user_id"])
    pipeline.client.send_as_user(anna, "hi")
    pipeline.run()
    code, out = run("sessions", "show", str(anna))
    assert code == 0 and f"id: {anna}" in out and "messages from them: 1" in out
    with pytest.raises(OpsError, match="no session"):
        run("sessions", "show", "1")


def test_secrets_set_token(pipeline: Pipeline, stage: StageResources) -> None:
    with pytest.raises(OpsError, match="does not look like a bot token"):
        run("secrets", "set-token", token="nonsense")
    code, out = run("secrets", "set-token", token=pipeline.emulator.token)
    assert code == 0 and "token stored for @" in out
    assert pipeline.emulator.token not in out
    stored = pipeline.aws.secrets.get_secret_value(
        SecretId=pipeline.aws.env[Env.BOT_TOKEN_SECRET_NAME]
    )
    assert stored["SecretString"] == pipeline.emulator.token


def test_unpark_moves_parked_dead_updates_back_to_the_dlq(
    stage: StageResources, pipeline: Pipeline
) -> None:
    sqs = pipeline.aws.sqs
    for update_id in (1, 2):
        sqs.send_message(
            QueueUrl=pipeline.aws.parking_url,
            MessageBody=json.dumps({"update_id": update_id}),
            MessageGroupId="501",
            MessageDeduplicationId=f"parked-{update_id}",
        )
    code, out = run("dlq", "unpark")
    assert code == 0 and "moved 2" in out
    assert pipeline.aws.queue_count(pipeline.aws.parking_url) == 0
    bodies = sorted(pipeline.aws.queue_bodies(pipeline.aws.dlq_url))
    assert bodies == [json.dumps({"update_id": 1}), json.dumps({"update_id": 2})]


def test_ops_sessions_erase_reports_counts_and_a_second_run_finds_nothing(
    pipeline: Pipeline, stage: StageResources
) -> None:
    anna, ben, thread = conversation(pipeline)
    for user in (anna, ben):  # a dead update each that the DLQ processor could not handle
        pipeline.aws.sqs.send_message(
            QueueUrl=pipeline.aws.parking_url,
            MessageBody=json.dumps({"update_id": user, "message": {"chat": {"id": user}}}),
            MessageGroupId=str(user),
            MessageDeduplicationId=f"parked-{user}",
        )
    code, out = run("sessions", "erase", str(anna))
    assert code == 0, out
    assert [
        json.loads(b)["update_id"] for b in pipeline.aws.queue_bodies(pipeline.aws.parking_url)
    ] == [ben]
    assert out.startswith(f"🗑 Erased user {anna} everywhere")
    lines = dict(line.split(None, 1) for line in out.splitlines()[1:])
    assert lines["session"] == "1" and lines["topic_index"] == "1" and lines["roster"] == "1"
    # The limiter's keys of a person: their chat's and their greeting's (their pace is in
    # their session since 728b360).
    assert lines["dead_letters"] == "1" and lines["limiter_keys"] == "2"
    assert int(lines["message_links"]) >= 2 and lines["topic"] == "deleted"
    assert lines["parked"] == "1"
    assert_erased(pipeline, anna, ben, thread)
    code, again = run("sessions", "erase", str(anna))
    assert code == 0 and again.startswith(f"🗑 Nothing left to erase for user {anna}")
    assert all(line.split()[1] in ("0", "none") for line in again.splitlines()[1:]), again
