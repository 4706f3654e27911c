"""The person's pace kept in their session (``topicdesk.domain.relay.pace``): checked in
memory, written with the count after the copy, alone only for effects no count follows."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest
from topicdesk.domain.errors import RateLimited, TransientFailure
from topicdesk.domain.model import ChatMessage, Person
from topicdesk.domain.relay import Pace, RelaySettings
from topicdesk.domain.routing import group_key
from topicdesk.domain.steps import Steps

from tests.support.fakes import InMemorySessions, InMemoryStepLog
from tests.support.relay_world import ANNA, GROUP, RelayWorld, relay_world

INTERVAL = 8.0


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


class WrittenSessions(InMemorySessions):
    """Sessions that note every write to a session item: (method, fields)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, dict[str, Any]]] = []

    def update(self, user_id: int, **fields: object) -> None:
        self.writes.append(("update", dict(fields)))
        super().update(user_id, **fields)

    def increment(self, user_id: int, counter: str, by: int = 1, **also: Any) -> None:
        self.writes.append(("increment", {"counter": counter, **also}))
        super().increment(user_id, counter, by, **also)


class OncePerPerson:
    """The greeting gate: one each (the day never ends here)."""

    def __init__(self) -> None:
        self.greeted: set[int] = set()

    def admit(self, user_id: int, now: float) -> float:
        if user_id in self.greeted:
            return 3600.0
        self.greeted.add(user_id)
        return 0.0


def world(burst: int = 2, policy: str = "hold") -> tuple[RelayWorld, WrittenSessions]:
    sessions = WrittenSessions()
    settings = RelaySettings(operator_chat_ids=(GROUP,), flood_policy=policy)
    pace = Pace(burst=burst, interval=INTERVAL)
    built = relay_world(settings, sessions=sessions, pace=pace, greetings=OncePerPerson())
    return built, sessions


def said(message_id: int, text: str = "hello", person: Person = ANNA) -> ChatMessage:
    return ChatMessage(person.user_id, message_id, person, "text", text)


def pace_of(sessions: InMemorySessions, person: Person = ANNA) -> float | None:
    session = sessions.get(person.user_id)
    assert session is not None
    return session.pace_tat


def test_the_pace_is_a_bucket_of_burst_refilled_one_per_interval() -> None:
    pace, now = Pace(burst=3, interval=INTERVAL), 1000.0
    tat: float | None = None
    for _ in range(3):
        wait, tat = pace.spend(tat, now)
        assert wait == 0.0
    assert tat == now + 3 * INTERVAL
    wait, kept = pace.spend(tat, now)
    assert (wait, kept) == (INTERVAL, tat)  # over it: nothing spent
    assert pace.spend(tat, now + INTERVAL) == (0.0, now + 4 * INTERVAL)
    assert pace.spend(tat, now + 1000) == (0.0, now + 1000 + INTERVAL)  # idle: full again


def test_a_message_on_an_existing_topic_costs_one_session_write_carrying_the_pace() -> None:
    built, sessions = world()
    built.open_topic()
    sessions.writes.clear()
    now = built.clock.now()
    built.clock.current += 100.0  # the first message's unit is long refilled
    run(built.relay.private_messages([said(2)]))
    assert [call["message_id"] for call in built.telegram.called("copy_message")] == [1, 2]
    # One write: the count, with its mark and the pace in it; no pace write of its own.
    assert sessions.writes == [
        ("increment", {"counter": "messages_in", "run": [2], "pace": now + 100 + INTERVAL})
    ]
    assert pace_of(sessions) == now + 100 + INTERVAL


def test_a_held_message_spends_nothing_and_goes_when_the_pace_allows() -> None:
    built, sessions = world(burst=1)
    built.open_topic()
    spent = pace_of(sessions)
    sessions.writes.clear()
    with pytest.raises(RateLimited) as held:
        run(built.relay.private_messages([said(2)]))
    assert held.value.retry_after == INTERVAL
    assert pace_of(sessions) == spent
    # The only write: when the person was asked to slow down (once per flood).
    assert [name for name, fields in sessions.writes] == ["update"]
    assert list(sessions.writes[0][1]) == ["slowdown_told_at"]
    built.clock.current += INTERVAL
    run(built.relay.private_messages([said(2)]))
    assert built.telegram.called("copy_message")[-1]["message_id"] == 2
    assert pace_of(sessions) == built.clock.now() + INTERVAL


def test_the_drop_policy_writes_no_pace_for_what_it_drops() -> None:
    built, sessions = world(burst=1, policy="drop")
    built.open_topic()
    spent = pace_of(sessions)
    run(built.relay.private_messages([said(2)]))
    session = sessions.get(ANNA.user_id)
    assert session is not None and session.dropped == 1 and session.pace_tat == spent


def test_a_retried_record_writes_the_pace_its_first_attempt_admitted_once() -> None:
    """Admitted, then the copy failed: the admission is kept with the failed record and the
    retry neither checks the pace again nor loses the unit: it writes it with the count."""
    built, sessions = world(burst=1)
    built.open_topic()
    built.clock.current += INTERVAL  # one unit free again
    admitted_at = built.clock.now()
    log = InMemoryStepLog()
    built.telegram.fail("copy_message", TransientFailure("Telegram 502"))
    steps = Steps.load(log, "update#2", deferred=True)
    with pytest.raises(TransientFailure):
        run(built.relay.private_messages([said(2)], steps))
    run(steps.flush())  # what the runtime does with a failing record
    assert pace_of(sessions) == admitted_at  # nothing written yet: not sent
    built.clock.current += 3.0  # the retry, within the interval
    run(built.relay.private_messages([said(2)], Steps.load(log, "update#2", deferred=True)))
    assert [c["message_id"] for c in built.telegram.acted("copy_message")] == [1, 2]
    assert pace_of(sessions) == admitted_at + INTERVAL  # one unit, from the admission


def test_an_edit_spends_a_unit_on_the_session_and_one_with_nothing_to_mirror_none() -> None:
    built, sessions = world(burst=2)
    built.open_topic()
    first = pace_of(sessions)
    sessions.writes.clear()
    run(built.relay.private_edit(said(99, "never relayed (edited)")))
    assert sessions.writes == [] and built.metrics.counts["EditsNotMirrored"] == 1
    run(built.relay.private_edit(said(1, "hello (edited)")))
    assert len(built.telegram.called("edit_text")) == 1
    assert sessions.writes == [("update", {"pace_tat": (first or 0) + INTERVAL})]
    with pytest.raises(RateLimited):  # the bucket of two is empty: held, nothing spent
        run(built.relay.private_edit(said(1, "again")))
    assert len(sessions.writes) == 1


def test_a_greeting_is_paced_only_when_it_goes_out_and_a_new_person_has_no_pace() -> None:
    built, sessions = world(burst=2)
    ben = Person(user_id=502, first_name="Ben")
    run(built.relay.private_messages([said(1, "/start", ben)]))  # no session yet: greeted
    assert len(built.telegram.called("send_text")) == 1 and sessions.items == {}
    built.open_topic()  # Anna's first message: one unit spent with its count
    spent = pace_of(sessions)
    sessions.writes.clear()
    run(built.relay.private_messages([said(2, "/start")]))  # due: greeted, a unit alone
    assert sessions.writes == [("update", {"pace_tat": (spent or 0) + INTERVAL})]
    run(built.relay.private_messages([said(3, "/start")]))  # greeted today: nothing sent
    assert len(sessions.writes) == 1 and built.metrics.counts["GreetingsSkipped"] == 1


def test_every_record_that_spends_a_persons_pace_is_in_their_fifo_group() -> None:
    """Why the pace can live in the session, read and written without a condition: one
    record of a person's at a time, whichever instance takes it (routing.group_key)."""
    user = {"id": ANNA.user_id, "is_bot": False, "first_name": "Anna"}
    chat = {"id": ANNA.user_id, "type": "private", "first_name": "Anna"}
    message = {"message_id": 5, "date": 1, "chat": chat, "from": user, "text": "hi"}
    member = {"user": {"id": 1, "is_bot": True, "first_name": "Bot"}, "status": "kicked"}
    updates = [
        {"update_id": 1, "message": message},
        {"update_id": 2, "edited_message": {**message, "edit_date": 2}},
        {"update_id": 3, "callback_query": {"id": "q", "from": user, "message": message}},
        {
            "update_id": 4,
            "my_chat_member": {
                "chat": chat,
                "from": user,
                "date": 3,
                "old_chat_member": {**member, "status": "member"},
                "new_chat_member": member,
            },
        },
    ]
    assert {group_key(update) for update in updates} == {str(ANNA.user_id)}


def test_a_replayed_record_does_not_set_the_pace_back_behind_later_messages() -> None:
    """A dead letter replayed after the person's later messages: its kept admission is older
    than the pace they left, and the count's write keeps the later one."""
    built, sessions = world(burst=1)
    built.open_topic()
    built.clock.current += INTERVAL
    log = InMemoryStepLog()
    built.telegram.fail("copy_message", TransientFailure("Telegram 502"))
    steps = Steps.load(log, "update#2", deferred=True)
    with pytest.raises(TransientFailure):
        run(built.relay.private_messages([said(2)], steps))
    run(steps.flush())  # the record goes on failing until the DLQ takes it
    kept = Steps.load(log, "update#2", deferred=True)
    built.clock.current += 10 * INTERVAL
    run(built.relay.private_messages([said(3)]))  # later messages went on meanwhile
    later = pace_of(sessions)
    assert later is not None
    run(built.relay.private_messages([said(2)], kept))  # the replay
    assert built.telegram.called("copy_message")[-1]["message_id"] == 2
    assert pace_of(sessions) == later
