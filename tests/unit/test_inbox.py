"""The inbox (issue 15): the state machine, ownership's conditional writes, the coalescing of
topic labels and of the queue overview."""

from __future__ import annotations

import asyncio

import pytest
from topicdesk.domain.errors import MessageGone, RateLimited, TopicMissing
from topicdesk.domain.inbox import Conversation, Event, Inbox, InboxRefresh, Owner, State
from topicdesk.domain.inbox.display import (
    OVERVIEW_GAP,
    STABLE_SECONDS,
    TOPIC_EDIT_GAP,
    label,
    label_due,
    overview,
    overview_due,
    topic_link,
)
from topicdesk.domain.inbox.refresh import job_body, job_chat, job_group
from topicdesk.domain.inbox.state import apply
from topicdesk.domain.model import Person, Session

from tests.support.fakes import FakeClock
from tests.support.inbox_fakes import InboxFakeTelegram, InMemoryInbox, InMemoryJobs

CHAT = -1001234567890
ANN = Person(7, "Ann", "Lee")
BOB = Owner(501, "Bob")
EVE = Owner(502, "Eve")


def run(flow: Event, *more: Event, start: float = 100.0) -> Conversation:
    record = Conversation(CHAT, 7, thread_id=11, name="Ann Lee")
    for offset, event in enumerate((flow, *more)):
        record = apply(record, event, start + offset * 10)
    return record


# ---------------------------------------------------------------------- the state machine


def test_a_first_message_makes_a_new_conversation_waiting_since_it() -> None:
    record = run(Event.PERSON_WROTE, Event.PERSON_WROTE)
    assert record.state is State.NEW
    assert record.waiting_since == 100.0  # the wait began with the first unanswered message
    assert record.opened_at == 100.0 and record.last_person_at == 110.0


def test_an_answer_ends_the_wait_and_records_the_first_response_once() -> None:
    record = run(Event.PERSON_WROTE, Event.OPERATOR_ANSWERED, Event.PERSON_WROTE)
    assert record.state is State.WAITING_US
    assert record.waiting_since == 120.0
    assert record.first_response_at == 110.0
    record = apply(record, Event.OPERATOR_ANSWERED, 200.0)
    assert record.state is State.WAITING_PERSON and record.waiting_since is None
    assert record.first_response_at == 110.0


def test_close_resolves_and_a_new_message_begins_a_new_conversation() -> None:
    record = run(Event.PERSON_WROTE, Event.OPERATOR_ANSWERED, Event.CLOSED)
    assert record.state is State.CLOSED and record.resolved_at == 120.0
    assert apply(record, Event.CLOSED, 500.0) == record
    again = apply(record.with_changes(owner=BOB), Event.PERSON_WROTE, 900.0)
    assert again.state is State.NEW and again.opened_at == 900.0
    assert again.first_response_at is None and again.resolved_at is None
    assert again.owner == BOB  # the owner stays with the person


def test_reopen_follows_who_wrote_last() -> None:
    answered = run(Event.PERSON_WROTE, Event.OPERATOR_ANSWERED, Event.CLOSED, Event.REOPENED)
    assert answered.state is State.WAITING_PERSON and answered.resolved_at is None
    unanswered = run(Event.PERSON_WROTE, Event.CLOSED, Event.REOPENED)
    assert unanswered.state is State.NEW and unanswered.waiting_since == 120.0
    assert run(Event.PERSON_WROTE, Event.REOPENED).state is State.NEW  # not closed: no-op


def test_an_operator_writing_first_or_after_close_changes_no_state() -> None:
    assert run(Event.OPERATOR_ANSWERED).state is None
    closed = run(Event.PERSON_WROTE, Event.CLOSED, Event.OPERATOR_ANSWERED)
    assert closed.state is State.CLOSED and closed.first_response_at is None


# ---------------------------------------------------------------------- ownership


def session(thread: int = 11) -> Session:
    return Session(ANN, CHAT, thread_id=thread)


def inbox() -> tuple[Inbox, InMemoryInbox, InMemoryJobs, FakeClock]:
    store, jobs, clock = InMemoryInbox(), InMemoryJobs(), FakeClock(1000.0)
    return Inbox(store, jobs, clock), store, jobs, clock


def test_claim_race_one_owner_the_other_told_who() -> None:
    service, store, _, _ = inbox()
    service.event(session(), Event.PERSON_WROTE)
    # Eve's claim lands between Bob's read and Bob's write.
    store.before_save.append(lambda: service.claim(session(), EVE))
    bob = service.claim(session(), BOB)
    assert not bob.done and bob.owner == EVE
    assert store.get(CHAT, 7).owner == EVE  # type: ignore[union-attr]
    assert service.claim(session(), EVE).done  # claiming one's own again is fine


def test_assign_and_unassign_are_conditional_on_the_owner_seen() -> None:
    service, store, _, _ = inbox()
    service.event(session(), Event.PERSON_WROTE)
    assert service.assign(session(), BOB, expected=None).done
    stale = service.assign(session(), EVE, expected=None)  # saw no owner; Bob took it since
    assert not stale.done and stale.owner == BOB
    assert not service.unassign(session(), expected=EVE).done
    assert service.unassign(session(), expected=BOB).done
    assert store.get(CHAT, 7).owner is None  # type: ignore[union-attr]


def test_changes_the_topic_shows_queue_one_refresh_job() -> None:
    service, store, jobs, _ = inbox()
    service.event(session(), Event.PERSON_WROTE)
    service.event(session(), Event.PERSON_WROTE)
    service.claim(session(), BOB)
    assert jobs.queued == [CHAT]  # one queued run serves them all
    assert store.group(CHAT).dirty


# ---------------------------------------------------------------------- display and coalescing


def test_label_carries_state_and_owner_within_telegram_s_limit() -> None:
    record = run(Event.PERSON_WROTE).with_changes(owner=BOB)
    assert label(record) == "🆕 Ann Lee · Bob"
    long = record.with_changes(name="x" * 200)
    assert len(label(long) or "") == 128 and (label(long) or "").endswith(" · Bob")


def test_a_label_waits_until_the_state_is_stable_and_then_for_the_topic_s_gap() -> None:
    record = run(Event.PERSON_WROTE)  # changed at 100
    assert label_due(record, 101.0) == pytest.approx(STABLE_SECONDS - 1)
    assert label_due(record, 100.0 + STABLE_SECONDS) == 0
    shown = record.with_changes(shown=label(record), shown_at=110.0)
    assert label_due(shown, 500.0) is None
    flipped = apply(shown, Event.OPERATOR_ANSWERED, 120.0)
    assert label_due(flipped, 131.0) == pytest.approx(110.0 + TOPIC_EDIT_GAP - 131.0)


def test_the_overview_is_refreshed_at_most_once_a_minute_and_only_when_dirty() -> None:
    assert overview_due(False, 0.0, 1000.0) is None
    assert overview_due(True, 990.0, 1000.0) == pytest.approx(OVERVIEW_GAP - 10)
    assert overview_due(True, 900.0, 1000.0) == 0


def test_the_overview_lists_what_waits_on_us_oldest_first_with_links() -> None:
    old = run(Event.PERSON_WROTE, start=0.0).with_changes(owner=BOB)
    young = Conversation(CHAT, 8, thread_id=12, name="Cy")
    young = apply(young, Event.PERSON_WROTE, 3000.0)
    done = apply(run(Event.PERSON_WROTE), Event.OPERATOR_ANSWERED, 5.0).with_changes(user_id=9)
    text = overview(CHAT, [young, done, old], 3600.0)
    assert text.startswith("📋 Waiting on us: 2")
    assert text.index("Ann Lee") < text.index("Cy")
    assert "1 h 00 min" in text and "· Bob" in text and "10 min" in text
    assert topic_link(CHAT, 12) == "https://t.me/c/1234567890/12"
    assert topic_link(CHAT, 12) in text


# ---------------------------------------------------------------------- the refresh job


def refresh_world(
    backlog: float = 0.0,
) -> tuple[Inbox, InMemoryInbox, InboxFakeTelegram, FakeClock, InboxRefresh]:
    service, store, _, clock = inbox()
    telegram = InboxFakeTelegram()
    return service, store, telegram, clock, InboxRefresh(store, telegram, clock, lambda _: backlog)


def test_a_quick_back_and_forth_costs_one_topic_edit_and_shows_the_last_state() -> None:
    service, _, telegram, clock, refresh = refresh_world()
    service.event(session(), Event.PERSON_WROTE)
    with pytest.raises(RateLimited):  # the label is not stable yet: comes back for it
        asyncio.run(refresh.run(CHAT))
    assert telegram.called("edit_topic") == [] and len(telegram.called("pin")) == 1
    for event in (Event.OPERATOR_ANSWERED, Event.PERSON_WROTE, Event.OPERATOR_ANSWERED):
        clock.current += 2
        service.event(session(), event)
    clock.current += STABLE_SECONDS
    with pytest.raises(RateLimited) as deferred:  # the overview changed, refreshed 16 s ago
        asyncio.run(refresh.run(CHAT))
    assert deferred.value.retry_after == pytest.approx(OVERVIEW_GAP - 16)
    clock.current += OVERVIEW_GAP
    asyncio.run(refresh.run(CHAT))  # nothing left to do: no RateLimited
    names = [call["name"] for call in telegram.called("edit_topic")]
    assert names == ["🟢 Ann Lee"]
    assert len(telegram.called("edit_counted")) == 1 and len(telegram.called("pin")) == 1


def test_a_busy_group_gets_no_inbox_edit() -> None:
    service, _, telegram, clock, refresh = refresh_world(backlog=3.0)
    service.event(session(), Event.PERSON_WROTE)
    clock.current += 100
    with pytest.raises(RateLimited) as deferred:
        asyncio.run(refresh.run(CHAT))
    assert telegram.calls == []
    assert deferred.value.retry_after >= 3.0


def test_the_overview_is_edited_not_reposted_and_recreated_when_deleted() -> None:
    service, store, telegram, clock, refresh = refresh_world()
    service.event(session(), Event.PERSON_WROTE)
    clock.current += 100
    asyncio.run(refresh.run(CHAT))
    assert [c["name"] for c in telegram.called("create_topic")] == ["Queue"]
    first = store.group(CHAT).overview_message_id
    service.event(session(12).__class__(Person(8, "Cy"), CHAT, thread_id=12), Event.PERSON_WROTE)
    clock.current += 30
    with pytest.raises(RateLimited) as deferred:  # refreshed 30 s ago
        asyncio.run(refresh.run(CHAT))
    assert deferred.value.retry_after == pytest.approx(30.0)
    clock.current += 30
    asyncio.run(refresh.run(CHAT))
    edits = telegram.called("edit_counted")
    assert len(edits) == 1 and edits[0]["message_id"] == first and "Cy" in edits[0]["text"]
    assert len(telegram.called("send_text")) == 1  # posted once
    # Someone deleted the Queue topic: the overview is posted again in a new one, pinned.
    service.event(session(), Event.OPERATOR_ANSWERED)
    clock.current += 120
    telegram.fail("edit_counted", MessageGone("message to edit not found"))
    telegram.fail("send_text", TopicMissing("message thread not found"))
    asyncio.run(refresh.run(CHAT))
    assert len(telegram.called("create_topic")) == 2
    assert store.group(CHAT).overview_message_id not in (None, first)
    assert len(telegram.acted("pin")) == 2


def test_the_refresh_job_s_record_is_told_apart_from_any_other_body() -> None:
    assert job_chat(job_body(CHAT)) == CHAT
    assert job_group(CHAT) == f"inbox#{CHAT}"
    for other in (
        '{"update_id": 5}',
        '{"inbox_refresh": true}',
        "[]",
        "not json",
        '{"inbox_refresh": "1"}',
    ):
        assert job_chat(other) is None


def test_an_overview_edit_refused_with_a_429_is_done_when_the_job_comes_back() -> None:
    service, store, telegram, clock, refresh = refresh_world()
    service.event(session(), Event.PERSON_WROTE)
    with pytest.raises(RateLimited):  # posted; the label is not stable yet
        asyncio.run(refresh.run(CHAT))
    service.event(session(), Event.OPERATOR_ANSWERED)
    clock.current += OVERVIEW_GAP
    telegram.fail("edit_counted", RateLimited(7.0))
    with pytest.raises(RateLimited):
        asyncio.run(refresh.run(CHAT))
    assert store.group(CHAT).dirty
    clock.current += OVERVIEW_GAP
    asyncio.run(refresh.run(CHAT))
    assert "Waiting on us: 0" in telegram.acted("edit_counted")[-1]["text"]


def test_a_recreated_topic_gets_its_label_again() -> None:
    service, _, telegram, clock, refresh = refresh_world()
    service.event(session(), Event.PERSON_WROTE)
    clock.current += OVERVIEW_GAP
    asyncio.run(refresh.run(CHAT))
    assert [c["thread_id"] for c in telegram.called("edit_topic")] == [11]
    service.event(session(thread=12), Event.PERSON_WROTE)  # deleted, recreated by the relay
    clock.current += STABLE_SECONDS
    with pytest.raises(RateLimited):  # the overview's link changed too: due in a minute
        asyncio.run(refresh.run(CHAT))
    assert [(c["thread_id"], c["name"]) for c in telegram.called("edit_topic")][-1] == (
        12,
        "🆕 Ann Lee",
    )
