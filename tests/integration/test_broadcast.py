"""Broadcast from the operators' group through the queue: confirmation by a second admin,
skips, content frozen at /confirm, /cancel, two groups at once, and the final count with who
asked and who confirmed (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from topicdesk.adapters.dynamodb import DynamoBroadcastRepository
from topicdesk.contract import Env
from topicdesk.domain.broadcast import Actor, Broadcast
from topicdesk.handlers import consumer, dlq_processor, webhook

from devkit.lambda_runtime import SqsEventSource
from devkit.telegram_emulator.testing import RunningEmulator, telegram_emulator  # noqa: F401
from tests.support.aws_world import aws_world
from tests.support.pipeline import Pipeline, start_pipeline

STARTED = "📣 Broadcast started: "
FINISHED = "📣 Broadcast finished: "


def people(pipeline: Pipeline, *names: str) -> dict[str, int]:
    """People who wrote to the bot (so they have a session and are on the roster)."""
    client = pipeline.client
    made = {name: int(client.create_user(name, username=name.lower())["user_id"]) for name in names}
    for user in made.values():
        client.send_as_user(user, "hello")
    pipeline.run()
    return made


def member(pipeline: Pipeline, name: str, status: str, group: int | None = None) -> int:
    """A member of the operators' group: an ``administrator`` or a plain ``member``."""
    client = pipeline.client
    user = int(client.create_user(name)["user_id"])
    client.set_member(group or pipeline.operator_chat_id, user, status=status)
    return user


def notes(pipeline: Pipeline, group: int | None = None) -> list[str]:
    return [
        str(m.get("text", ""))
        for m in pipeline.client.transcript(group or pipeline.operator_chat_id)
    ]


def answer_to(pipeline: Pipeline, message_id: int, group: int | None = None) -> str:
    [note] = [
        m
        for m in pipeline.client.transcript(group or pipeline.operator_chat_id)
        if (m.get("reply_to_message") or {}).get("message_id") == message_id
    ]
    return str(note.get("text", ""))


def say(pipeline: Pipeline, user: int, text: str, reply_to: int | None = None, **kw: Any) -> int:
    group = kw.get("group") or pipeline.operator_chat_id
    sent = pipeline.client.send_as_operator(group, None, user, text, reply_to_message_id=reply_to)
    return int(sent["message_id"])


def ask(pipeline: Pipeline, user: int, text: str, reply_to: int | None = None) -> int:
    """``user`` asks for a broadcast in General; returns the bot's question's id."""
    asked = say(pipeline, user, text, reply_to)
    pipeline.run()
    [question] = [
        m
        for m in pipeline.client.transcript(pipeline.operator_chat_id)
        if (m.get("reply_to_message") or {}).get("message_id") == asked
    ]
    assert str(question["text"]).startswith("📣 Send this to ")
    return int(question["message_id"])


def test_broadcast_reaches_every_active_person_and_reports(pipeline: Pipeline) -> None:
    client, group, op = pipeline.client, pipeline.operator_chat_id, pipeline.operator_id
    folks = people(pipeline, "Anna", "Ben", "Carla")
    client.block_bot(folks["Ben"])
    pipeline.run()

    client.send_as_operator(group, None, op, "/broadcast Maintenance tonight at 22:00")
    pipeline.run()
    question = client.transcript(group)[-1]
    assert "Send this to 3 people" in question["text"]
    # Nothing is sent before the confirmation.
    assert all("Maintenance" not in t for u in folks.values() for t in pipeline.private_texts(u))

    # Olga is the group's only admin: she may confirm her own request.
    client.send_as_operator(group, None, op, "/confirm", reply_to_message_id=question["message_id"])
    pipeline.run()
    for name in ("Anna", "Carla"):
        assert pipeline.private_texts(folks[name])[-1] == "Maintenance tonight at 22:00"
    assert "Maintenance tonight at 22:00" not in pipeline.private_texts(folks["Ben"])
    texts = notes(pipeline)
    assert any(n.startswith(f"{STARTED}3 people") for n in texts)
    [finished] = [n for n in texts if n.startswith(FINISHED)]
    assert "2 delivered, 1 skipped" in finished
    assert f"Asked by Olga ({op}); confirmed by Olga ({op})." in finished
    # A repeated /confirm does not send it again.
    sent_before = len(client.calls("sendMessage"))
    client.send_as_operator(group, None, op, "/confirm", reply_to_message_id=question["message_id"])
    pipeline.run()
    assert len(client.calls("sendMessage")) == sent_before


def test_a_plain_members_broadcast_is_refused(pipeline: Pipeline) -> None:
    folks = people(pipeline, "Anna")
    petr = member(pipeline, "Petr", "member")
    asked = say(pipeline, petr, "/broadcast Free coffee")
    pipeline.run()
    assert answer_to(pipeline, asked) == "⛔ /broadcast is for the group's admins."
    assert not any(n.startswith("📣 Send this to") for n in notes(pipeline))
    assert "Free coffee" not in pipeline.private_texts(folks["Anna"])


def test_a_second_admin_confirms_and_an_edit_of_the_source_afterwards_changes_nothing(
    pipeline: Pipeline,
) -> None:
    client, group, olga = pipeline.client, pipeline.operator_chat_id, pipeline.operator_id
    folks = people(pipeline, "Anna", "Ben")
    ivan = member(pipeline, "Ivan", "administrator")
    source = say(pipeline, olga, "Version 1: the office is closed on Friday")
    question = ask(pipeline, olga, "/broadcast", reply_to=source)

    own = say(pipeline, olga, "/confirm", question)
    pipeline.run()
    assert "another admin must confirm it (this group has 2 admins)" in answer_to(pipeline, own)
    assert all("Version" not in t for u in folks.values() for t in pipeline.private_texts(u))

    confirmed = say(pipeline, ivan, "/confirm", question)
    pipeline.deliver()
    pipeline.updates.poll_once()  # the /confirm alone: the content is frozen, the jobs queued
    assert any(n.startswith(f"{STARTED}2 people") for n in notes(pipeline))
    client.edit_as_operator(group, olga, source, "Version 2: the office is open on Friday")
    pipeline.run()  # the jobs, and the edit's update

    for user in folks.values():
        assert pipeline.private_texts(user)[-1] == "Version 1: the office is closed on Friday"
    frozen = [
        m
        for m in client.transcript(group)
        if (m.get("reply_to_message") or {}).get("message_id") == confirmed
        and m.get("text", "").startswith("Version")
    ]
    assert [m["text"] for m in frozen] == ["Version 1: the office is closed on Friday"]
    [finished] = [n for n in notes(pipeline) if n.startswith(FINISHED)]
    assert f"Asked by Olga ({olga}); confirmed by Ivan ({ivan})." in finished


def test_self_confirm_when_the_stage_allows_it(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(Env.BROADCAST_SELF_CONFIRM, "true")
    consumer.runtime.cache_clear()  # a new cold start reads the setting
    olga = pipeline.operator_id
    folks = people(pipeline, "Anna")
    member(pipeline, "Ivan", "administrator")
    question = ask(pipeline, olga, "/broadcast Self-confirmed news")
    confirmed = say(pipeline, olga, "/confirm", question)
    pipeline.run()
    assert answer_to(pipeline, confirmed).startswith(f"{STARTED}1 people")
    assert pipeline.private_texts(folks["Anna"])[-1] == "Self-confirmed news"


def test_cancel_mid_broadcast_stops_it_and_reports_what_was_sent(pipeline: Pipeline) -> None:
    aws, olga = pipeline.aws, pipeline.operator_id
    folks = people(pipeline, "Anna", "Ben", "Carla")
    ivan = member(pipeline, "Ivan", "administrator")
    question = ask(pipeline, olga, "/broadcast Tonight's maintenance")
    say(pipeline, ivan, "/confirm", question)
    pipeline.deliver()
    pipeline.updates.poll_once()  # confirmed: three jobs queued
    one_at_a_time = SqsEventSource(
        sqs=aws.sqs,
        queue_url=aws.updates_url,
        queue_arn=aws.updates_arn,
        handler=consumer.handler,
        function_name="consumer",
        batch_size=1,
    )
    one_at_a_time.poll_once()  # one person's job
    # The other two jobs are still on their way (in flight: not visible for a while).
    held = aws.sqs.receive_message(
        QueueUrl=aws.updates_url, MaxNumberOfMessages=10, VisibilityTimeout=300
    )["Messages"]
    assert len(held) == 2
    cancel = say(pipeline, ivan, "/cancel")
    pipeline.run()
    report = answer_to(pipeline, cancel)
    assert report.startswith(f"🛑 Broadcast cancelled by Ivan ({ivan}): 1 delivered, 0 skipped")
    assert "; 2 not sent" in report
    assert f"Asked by Olga ({olga}); confirmed by Ivan ({ivan})." in report
    for message in held:  # the held jobs come back after the cancel
        aws.sqs.change_message_visibility(
            QueueUrl=aws.updates_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    pipeline.run()
    got = [u for u in folks.values() if "Tonight's maintenance" in pipeline.private_texts(u)]
    assert len(got) == 1
    assert not any(n.startswith(FINISHED) for n in notes(pipeline))
    assert aws.queue_count(aws.updates_url) == 0  # the held jobs were consumed, sending nothing


@pytest.fixture
def two_groups(
    telegram_emulator: RunningEmulator,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Pipeline, int, int]]:
    """Two operators' groups, each with its own sole admin."""
    client = telegram_emulator.client
    client.set_limits(enabled=False)
    first = client.create_forum_group("Support A", operator_names=["Olga"])
    second = client.create_forum_group("Support B", operator_names=["Mia"])
    with aws_world(
        bot_token=telegram_emulator.token,
        operator_chat_ids=[int(first["chat_id"]), int(second["chat_id"])],
        telegram_api_url=telegram_emulator.base_url,
    ) as aws:
        yield (
            start_pipeline(telegram_emulator, aws, monkeypatch, first),
            int(second["chat_id"]),
            int(second["operators"][0]),
        )
        for runtime in (consumer.runtime, dlq_processor.runtime, webhook.service):
            runtime.cache_clear()


def test_two_groups_broadcasts_at_once_never_collide(
    two_groups: tuple[Pipeline, int, int],
) -> None:
    pipeline, other, mia = two_groups
    client, first, olga = pipeline.client, pipeline.operator_chat_id, pipeline.operator_id
    folks = people(pipeline, "Anna", "Ben", "Carla")

    def last_id(group: int) -> int:
        return max(int(m["message_id"]) for m in client.transcript(group, include_deleted=True))

    # Message ids are per chat: level the two groups so both questions get the same number.
    while last_id(first) != last_id(other):
        low = min((first, other), key=last_id)
        say(pipeline, olga if low == first else mia, "(waiting)", group=low)
    say(pipeline, olga, "/broadcast News from A")
    say(pipeline, mia, "/broadcast News from B", group=other)
    pipeline.run()
    questions = {
        group: [m for m in client.transcript(group) if m.get("text", "").startswith("📣 Send")]
        for group in (first, other)
    }
    [qa], [qb] = questions[first], questions[other]
    assert qa["message_id"] == qb["message_id"]
    say(pipeline, olga, "/confirm", qa["message_id"])
    say(pipeline, mia, "/confirm", qb["message_id"], group=other)
    pipeline.run()
    for user in folks.values():
        got = pipeline.private_texts(user)
        assert got.count("News from A") == 1 and got.count("News from B") == 1
    for group, admin, name in ((first, olga, "Olga"), (other, mia, "Mia")):
        [finished] = [n for n in notes(pipeline, group) if n.startswith(FINISHED)]
        assert finished.startswith(f"{FINISHED}3 delivered")
        assert f"Asked by {name} ({admin}); confirmed by {name} ({admin})." in finished


def test_the_repository_creates_once_and_moves_only_from_allowed_states(
    pipeline: Pipeline,
) -> None:
    table = pipeline.aws.dynamodb.Table(pipeline.aws.env[Env.DATA_TABLE])
    repository = DynamoBroadcastRepository(table)
    olga, ivan = Actor(1, "Olga"), Actor(2, "Ivan")

    def request(chat: int, question: int, text: str) -> Broadcast:
        return Broadcast(
            f"{chat}_{question}", chat, None, None, text, "pending", 1.0, requested_by=olga
        )

    assert repository.create(request(-1001, 5, "A"))
    assert not repository.create(request(-1001, 5, "A again"))  # a redelivered /broadcast
    assert repository.create(request(-1002, 5, "B"))  # another group, the same question id
    assert [b.text for b in repository.active(-1001)] == ["A"]
    assert repository.start("-1001_5", 3, confirmed_by=ivan, frozen_message_id=9)
    assert not repository.start("-1001_5", 3, confirmed_by=ivan)  # confirmed once
    started = repository.get("-1001_5")
    assert started is not None
    assert (started.status, started.total, started.frozen_message_id) == ("running", 3, 9)
    assert (started.requested_by, started.confirmed_by) == (olga, ivan)
    assert repository.cancel("-1001_5", ivan)
    assert not repository.advance_progress("-1001_5", 10)  # a cancelled one never finishes
    assert not repository.cancel("-1001_5", ivan)
    assert repository.active(-1001) == []
    assert repository.get("-1002_5") is not None and repository.get("-1002_5").text == "B"
