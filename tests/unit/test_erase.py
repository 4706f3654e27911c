"""Erasing a person (``topicdesk.domain.erase``) with fakes, and ``/forget``'s permission."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from topicdesk.domain.commands import COMMANDS, Registry, Role
from topicdesk.domain.commands.forget import forget_command
from topicdesk.domain.erase import (
    TOPIC_DELETED,
    TOPIC_GONE,
    TOPIC_NONE,
    PersonEraser,
    concerns,
)
from topicdesk.domain.errors import RejectedByTelegram, StorageUnavailable, TopicMissing
from topicdesk.domain.model import ChatMessage, DeadLetter, MessageRef, Person
from topicdesk.domain.relay import Relay, RelaySettings
from topicdesk.domain.steps import Steps

from tests.support import fakes

GROUP = -1001
ANNA, BEN, OLGA = (
    Person(user, name) for user, name in ((501, "Anna"), (502, "Ben"), (900, "Olga"))
)


class InMemoryPersonData:
    """``PersonData`` over the in-memory fakes the relay uses, plus limiter keys."""

    def __init__(
        self,
        sessions: fakes.InMemorySessions,
        messages: fakes.InMemoryMessageMap,
        archive: fakes.InMemoryArchive,
    ) -> None:
        self.sessions, self.messages, self.archive = sessions, messages, archive
        self.limiter: set[str] = set()
        self.fail_anchors = 0

    def topics_of(self, user_id: int) -> list[tuple[int, int]]:
        item = self.sessions.items.get(user_id)
        if item is None or item.get("thread_id") is None:
            return []
        return [(item["operator_chat_id"], item["thread_id"])]

    def erase_belongings(self, user_id: int) -> dict[str, int]:
        mine = [ref for ref in self.messages.links if ref.chat_id == user_id]
        for ref in mine:
            self.messages.links.pop(self.messages.links.pop(ref), None)
        keys = {f"person#{user_id}", f"greet#{user_id}", f"chat#{user_id}"} & self.limiter
        self.limiter -= keys
        return {"message_links": len(mine), "limiter_keys": len(keys)}

    def dead_letters(self) -> list[DeadLetter]:
        return list(self.archive.items.values())

    def erase_dead_letter(self, dead: DeadLetter) -> None:
        self.archive.items.pop(dead.archive_id, None)

    def anchors(self, user_id: int) -> dict[str, int]:
        topics = self.topics_of(user_id)
        return {
            "session": int(user_id in self.sessions.items),
            "topic_index": sum(1 for t in topics if t in self.sessions.topics),
        }

    def erase_anchors(self, user_id: int) -> dict[str, int]:
        if self.fail_anchors:
            self.fail_anchors -= 1
            raise StorageUnavailable("DynamoDB ProvisionedThroughputExceededException")
        found = self.anchors(user_id)
        for topic in self.topics_of(user_id):
            self.sessions.topics.pop(topic, None)
        self.sessions.items.pop(user_id, None)
        return found


def dead(archive_id: str, chat_id: int | None, update: dict[str, Any]) -> DeadLetter:
    return DeadLetter(archive_id, json.dumps(update), None, chat_id, "boom", 5, 0.0, 0.0, 0.0)


class World:
    def __init__(self, resolve: Role = Role.ADMIN) -> None:
        self.sessions, self.messages = fakes.InMemorySessions(), fakes.InMemoryMessageMap()
        self.archive, self.telegram = fakes.InMemoryArchive(), fakes.FakeTelegram()
        self.data = InMemoryPersonData(self.sessions, self.messages, self.archive)
        self.eraser = PersonEraser(data=self.data, telegram=self.telegram)
        self.posted: list[tuple[int, str]] = []

        async def post(chat_id: int, text: str) -> int:
            self.posted.append((chat_id, text))
            return 4242

        async def role(message: ChatMessage) -> Role:
            return resolve

        self.relay = Relay(
            sessions=self.sessions,
            messages=self.messages,
            telegram=self.telegram,
            settings=RelaySettings(operator_chat_ids=(GROUP,)),
            clock=fakes.FakeClock(),
            metrics=fakes.FakeMetrics(),
            commands=Registry((*COMMANDS, forget_command(self.eraser, post)), role),
        )
        for person in (ANNA, BEN):
            first = ChatMessage(person.user_id, 1, sender=person, kind="text", text="hi")
            asyncio.run(self.relay.private_messages([first]))
        self.thread = int(self.sessions.items[ANNA.user_id]["thread_id"])
        self.data.limiter |= {f"person#{ANNA.user_id}", f"greet#{ANNA.user_id}", "bot"}
        self.archive.archive(dead("7", ANNA.user_id, {"update_id": 7}))
        answer = {"chat": {"id": GROUP}, "message_thread_id": self.thread, "from": {"id": 900}}
        self.archive.archive(dead("8", GROUP, {"update_id": 8, "message": answer}))
        self.archive.archive(dead("9", BEN.user_id, {"update_id": 9}))

    def forget(self, message_id: int = 70) -> None:
        message = ChatMessage(
            chat_id=GROUP,
            message_id=message_id,
            sender=OLGA,
            kind="text",
            text="/forget",
            thread_id=self.thread,
            is_topic_message=True,
        )
        asyncio.run(self.relay.group_messages([message]))


def test_erase_removes_everything_about_the_person_and_nothing_else() -> None:
    world = World()
    erasure = asyncio.run(world.eraser.erase(ANNA.user_id))
    assert dict(erasure.counts()) == {
        "session": 1,
        "roster": 0,
        "topic_index": 1,
        "message_links": 1,
        "dead_letters": 2,
        "inbox": 0,
        "limiter_keys": 2,
        "other": 0,
    }
    assert erasure.topic == TOPIC_DELETED
    assert world.telegram.acted("delete_topic") == [{"chat_id": GROUP, "thread_id": world.thread}]
    assert ANNA.user_id not in world.sessions.items
    assert all(ref.chat_id != ANNA.user_id for ref in world.messages.links)
    assert set(world.archive.items) == {"9"}  # Ben's dead letter stays
    assert world.data.limiter == {"bot"}
    assert world.sessions.get(BEN.user_id) is not None
    assert "Erased user 501" in erasure.report() and "dead letters 2" in erasure.report()


def test_a_second_erase_finds_nothing_and_a_gone_topic_is_fine() -> None:
    world = World()
    asyncio.run(world.eraser.erase(ANNA.user_id))
    again = asyncio.run(world.eraser.erase(ANNA.user_id))
    assert again.nothing_left and again.total == 0 and again.topic == TOPIC_NONE
    assert "Nothing left to erase for user 501" in again.report()
    # The session survives but the topic was deleted by hand: not an error.
    world.telegram.failures["delete_topic"] = [TopicMissing("TOPIC_ID_INVALID")]
    ben = asyncio.run(world.eraser.erase(BEN.user_id))
    assert ben.topic == TOPIC_GONE and ben.removed["session"] == 1


def test_a_refused_topic_deletion_still_erases_the_data() -> None:
    world = World()
    world.telegram.failures["delete_topic"] = [RejectedByTelegram("not enough rights")]
    erasure = asyncio.run(world.eraser.erase(ANNA.user_id))
    assert erasure.topic.startswith("not deleted: not enough rights")
    assert ANNA.user_id not in world.sessions.items and not erasure.nothing_left


def test_an_interrupted_erase_resumes_without_deleting_or_counting_twice() -> None:
    world = World()
    log = fakes.InMemoryStepLog()
    world.data.fail_anchors = 1
    with pytest.raises(StorageUnavailable):
        asyncio.run(world.eraser.erase(ANNA.user_id, Steps.load(log, "u1")))
    assert ANNA.user_id in world.sessions.items  # the anchor is still there for the retry
    erasure = asyncio.run(world.eraser.erase(ANNA.user_id, Steps.load(log, "u1")))
    assert len(world.telegram.called("delete_topic")) == 1
    assert erasure.removed["message_links"] == 1 and erasure.removed["dead_letters"] == 2
    assert erasure.topic == TOPIC_DELETED and ANNA.user_id not in world.sessions.items


def test_which_dead_letters_concern_a_person() -> None:
    topics = {(GROUP, 77)}
    in_topic = {"message": {"chat": {"id": GROUP}, "message_thread_id": 77}}
    elsewhere = {"message": {"chat": {"id": GROUP}, "message_thread_id": 78}}
    job = {"kind": "topicdesk.broadcast", "broadcast_id": "b1", "user_id": 501}
    member = {"my_chat_member": {"chat": {"id": 501}, "from": {"id": 501}}}
    assert concerns(dead("a", 501, {}), 501, topics)
    assert concerns(dead("b", GROUP, in_topic), 501, topics)
    assert concerns(dead("c", None, job), 501, topics)
    assert concerns(dead("d", None, member), 501, topics)
    assert not concerns(dead("e", GROUP, elsewhere), 501, topics)
    assert not concerns(dead("f", 502, {"message": {"chat": {"id": 502}}}), 501, topics)
    assert not concerns(
        DeadLetter("g", "not json", None, None, "malformed", 1, 0, 0, 0), 501, topics
    )


def test_forget_by_an_admin_reports_in_the_ops_topic_and_never_recreates_the_topic() -> None:
    world = World()
    created = len(world.telegram.called("create_topic"))
    in_topic = len([c for c in world.telegram.called("send_text") if c.get("thread_id")])
    world.forget()
    assert ANNA.user_id not in world.sessions.items
    [(chat, text)] = world.posted
    assert chat == GROUP and "Erased user 501" in text and "asked by Olga" in text
    # Nothing was posted into (or created for) the deleted topic.
    assert len(world.telegram.called("create_topic")) == created
    assert len([c for c in world.telegram.called("send_text") if c.get("thread_id")]) == in_topic
    assert world.messages.peer(MessageRef(GROUP, 70)) == MessageRef(GROUP, 4242)


def test_forget_is_refused_for_an_agent_with_a_note() -> None:
    world = World(resolve=Role.AGENT)
    world.forget()
    [note] = [c for c in world.telegram.called("send_text") if c.get("reply_to") == 70]
    assert "/forget" in note["text"] and "admins" in note["text"]
    assert world.telegram.called("delete_topic") == [] and world.posted == []
    assert world.sessions.get(ANNA.user_id) is not None and len(world.archive.items) == 3
