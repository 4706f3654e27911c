"""The new-people guard against in-memory fakes: at most N new topics per group an hour, the
rest held in order (never lost), one note per burst; /start opens no topic."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest
from topicdesk.domain.errors import RateLimited
from topicdesk.domain.limiter import next_tat
from topicdesk.domain.model import ChatMessage, Person
from topicdesk.domain.relay import RelaySettings
from topicdesk.domain.relay.newcomers import (
    HOUR,
    LINE_HORIZON_SECONDS,
    NOTE_EDIT_EVERY_SECONDS,
    cap_rule,
)
from topicdesk.domain.steps import Steps

from tests.support.fakes import InMemoryStepLog, MemoryStore
from tests.support.relay_world import GROUP, relay_world


class MemoryLine:
    """``WaitingLine`` in memory (the DynamoDB one: ``adapters/waiting_line.py``)."""

    def __init__(self) -> None:
        self.until: dict[int, float] = {}
        self.notes: dict[int, tuple[int, float]] = {}
        self.places: dict[tuple[int, int], float] = {}

    def join(self, chat_id: int, until: float, now: float) -> bool:
        began = self.until.get(chat_id, 0.0) < now
        if began:
            self.notes.pop(chat_id, None)
        self.until[chat_id] = max(self.until.get(chat_id, 0.0), until)
        return began

    def remember_note(self, chat_id: int, message_id: int, now: float) -> None:
        self.notes[chat_id] = (message_id, now)

    def note_to_edit(self, chat_id: int, now: float, every: float) -> int | None:
        note = self.notes.get(chat_id)
        if note is None or note[1] > now - every:
            return None
        self.notes[chat_id] = (note[0], now)
        return note[0]

    def place_of(self, chat_id: int, user_id: int) -> float | None:
        return self.places.get((chat_id, user_id))

    def keep_place(self, chat_id: int, user_id: int, due: float) -> float | None:
        held = self.places.setdefault((chat_id, user_id), due)
        return None if held == due else held


class World:
    def __init__(self, per_hour: int) -> None:
        self.store, self.line, self.log = MemoryStore(), MemoryLine(), InMemoryStepLog()
        world = relay_world(
            RelaySettings(operator_chat_ids=(GROUP,), new_topics_per_hour=per_hour),
            new_topic_budget=self.store,
            waiting_line=self.line,
        )
        self.relay, self.sessions, self.telegram = world.relay, world.sessions, world.telegram
        self.metrics, self.clock = world.metrics, world.clock

    def write(
        self, person: Person, message_id: int, text: str = "hello", *, crash: bool = False
    ) -> bool:
        """One record of ``person``'s message, as the consumer runs it: True when it went
        through, False when it was held (its steps kept for the retry, as the worker does;
        ``crash``: the instance was killed, a timeout, before any of them was written)."""
        message = ChatMessage(
            chat_id=person.user_id, message_id=message_id, sender=person, kind="text", text=text
        )
        key = f"update#{person.user_id}:{message_id}"
        steps = Steps() if crash else Steps.load(self.log, key)  # killed: none of it written
        try:
            run(self.relay.private_messages([message], steps))
        except RateLimited as held:
            assert held.key == f"newtopics#{GROUP}"
            assert not held.booked  # back no sooner than its place: nothing is booked for it
            if not crash:
                run(steps.flush())
            return False
        return True

    def notes(self) -> list[dict[str, Any]]:
        return [
            c
            for c in self.telegram.called("send_text")
            if c["chat_id"] == GROUP and "waiting for a topic" in c["text"]
        ]

    def topics(self) -> int:
        return len(self.telegram.called("create_topic"))


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def person(n: int) -> Person:
    return Person(user_id=7000 + n, first_name=f"P{n}")


@pytest.mark.parametrize("per_hour", [1, 2, 5, 60, 61, 1000])
def test_the_rule_admits_at_most_n_in_any_hour(per_hour: int) -> None:
    rule = cap_rule(GROUP, per_hour)
    tat: float | None = None
    slots = []
    for _ in range(3 * per_hour + 5):  # everyone comes at once: their places in line
        tat, wait = next_tat(tat, 0.0, rule)
        slots.append(wait)
    for start in slots:
        assert sum(1 for s in slots if start <= s < start + HOUR) <= per_hour
    assert sum(1 for s in slots if s < HOUR) == per_hour  # and the cap is reached, not less
    assert slots[max(1, per_hour // 2) - 1] < 0.001  # half of them at once


def test_past_the_cap_new_people_wait_in_order_with_one_note() -> None:
    world = World(per_hour=4)  # 2 at once, then one each 20 minutes
    people = [person(n) for n in range(6)]
    went = [world.write(p, 1) for p in people]
    assert went == [True, True, False, False, False, False]
    assert world.topics() == 2
    notes = world.notes()
    # One note for the burst, in General (no ops topic yet), saying someone waits.
    assert len(notes) == 1 and notes[0]["thread_id"] is None
    assert "1 in line" in notes[0]["text"] and "4 new topics an hour" in notes[0]["text"]
    assert world.metrics.counts["NewPeopleWaiting"] == 4
    told = [c["chat_id"] for c in world.telegram.called("send_text") if c["chat_id"] > 0]
    assert told == [p.user_id for p in people[2:]]  # each waiting person told once

    # Their later messages wait behind their first in their own FIFO group (not here); a
    # retry of the first before its place goes nowhere and tells no one again.
    line = dict(world.store.tat)
    assert world.write(people[2], 1) is False
    assert world.store.tat == line  # it kept its place: nothing reserved again
    assert world.topics() == 2 and len(world.notes()) == 1
    assert len([c for c in world.telegram.called("send_text") if c["chat_id"] > 0]) == 4

    # Time passes: whoever comes back at their place gets their topic, in the order they came.
    order = []
    for _ in range(5):
        world.clock.current += 20 * 60
        for p in people[2:]:
            session = world.sessions.get(p.user_id)
            if (session is None or not session.has_topic) and world.write(p, 1):
                order.append(p.user_id)
    assert order == [p.user_id for p in people[2:]]
    assert world.topics() == 6


def test_a_person_takes_one_place_however_often_their_records_come_back() -> None:
    world = World(per_hour=2)  # one at once, then one each 30 minutes
    key = f"newtopics#{GROUP}"
    interval = cap_rule(GROUP, 2).interval
    assert world.write(person(0), 1)
    start = world.store.tat[key]
    # Their first record delivered 5 times, each attempt killed after its place was taken
    # and before the deferral wrote its steps; their second message comes before the first
    # got its topic (a follower, or the group's next record after a timeout).
    for _ in range(5):
        assert not world.write(person(1), 1, crash=True)
    assert not world.write(person(1), 2)
    assert not world.write(person(2), 1, crash=True)
    world.clock.current += NOTE_EDIT_EVERY_SECONDS
    assert not world.write(person(2), 1)
    assert world.store.tat[key] == pytest.approx(start + 2 * interval, abs=0.01)  # one place each
    # The note counts people: two wait, however many records of theirs came by.
    assert "2 in line" in world.telegram.called("edit_text")[-1]["text"]
    # At their place they go, in the order they came, and never queue again.
    world.clock.current += interval
    assert world.write(person(1), 1) and not world.write(person(2), 1)
    world.clock.current += interval
    assert world.write(person(2), 1)
    assert world.write(person(1), 3) and world.write(person(2), 2)
    assert world.store.tat[key] == pytest.approx(start + 2 * interval, abs=0.01)
    assert world.topics() == 3


def test_the_note_is_refreshed_at_most_once_a_minute_and_a_new_burst_gets_a_new_note() -> None:
    world = World(per_hour=2)  # one at once, then one each 30 minutes
    assert world.write(person(0), 1)
    assert not world.write(person(1), 1)  # the note: 1 in line
    assert not world.write(person(2), 1)  # within the minute: no edit
    assert world.telegram.called("edit_text") == []
    world.clock.current += NOTE_EDIT_EVERY_SECONDS
    assert not world.write(person(3), 1)
    edits = world.telegram.called("edit_text")
    assert len(edits) == 1 and "3 in line" in edits[0]["text"]
    assert edits[0]["message_id"] == world.line.notes[GROUP][0]
    assert len(world.notes()) == 1
    # Everyone served; the line empties; a later rush is a new burst with its own note.
    world.clock.current += 3 * HOUR
    for n in (1, 2, 3):
        assert world.write(person(n), 1)
    world.clock.current += 3 * HOUR
    assert world.write(person(4), 1)
    assert not world.write(person(5), 1)
    assert len(world.notes()) == 2


def test_the_note_goes_to_the_ops_topic_when_there_is_one() -> None:
    world = World(per_hour=1)
    world.sessions.set_ops_thread(GROUP, 77)
    assert world.write(person(0), 1)
    assert not world.write(person(1), 1)
    assert [n["thread_id"] for n in world.notes()] == [77]


def test_a_line_longer_than_the_queue_keeps_messages_is_not_held() -> None:
    world = World(per_hour=1)
    # Places up to the horizon are taken (a three-day rush): the next person is not held
    # past the queue's retention (a topic late is better than a message lost).
    world.store.tat[f"newtopics#{GROUP}"] = world.clock.now() + LINE_HORIZON_SECONDS + HOUR
    assert world.write(person(0), 1)
    assert world.topics() == 1
    assert world.metrics.counts["NewTopicCapOverflow"] == 1


def test_people_with_a_topic_are_never_held_by_the_cap() -> None:
    world = World(per_hour=1)
    assert world.write(person(0), 1)
    assert not world.write(person(1), 1)
    for message_id in range(2, 12):  # the first person goes on writing: no cap for them
        assert world.write(person(0), message_id)
    assert world.topics() == 1


def test_start_opens_no_topic_the_first_real_message_does() -> None:
    world = World(per_hour=60)
    assert world.write(person(0), 1, "/start")
    assert world.topics() == 0 and world.sessions.get(person(0).user_id) is None
    assert world.write(person(0), 2, "my order is late")
    assert world.topics() == 1


def test_an_edit_of_a_command_is_not_mirrored() -> None:
    world = World(per_hour=60)
    assert world.write(person(0), 1, "hello")
    edited = ChatMessage(
        chat_id=person(0).user_id, message_id=1, sender=person(0), kind="text", text="/close"
    )
    run(world.relay.private_edit(edited))
    assert world.telegram.called("edit_text") == []
    plain = ChatMessage(
        chat_id=person(0).user_id, message_id=1, sender=person(0), kind="text", text="hi!"
    )
    run(world.relay.private_edit(plain))
    assert len(world.telegram.called("edit_text")) == 1
