"""Unanswered nudges and the away message (issue 15, items 4 and 5): a nudge is due once per
wait, after the SLA in business time, cancelled by an answer, posted once even when its
record is retried; the away message once per conversation, outside business hours only."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from topicdesk.domain.errors import RateLimited, RecipientBlocked
from topicdesk.domain.inbox import Conversation, Event, Owner
from topicdesk.domain.inbox.away import Away, away_due
from topicdesk.domain.inbox.hours import parse_hours
from topicdesk.domain.inbox.nudges import NudgeJob, Nudges, Sla, Sweep, due
from topicdesk.domain.inbox.service import InboxContended
from topicdesk.domain.inbox.state import apply
from topicdesk.domain.model import Person, Session
from topicdesk.domain.steps import Steps

from tests.support.fakes import FakeClock, FakeTelegram, InMemoryStepLog
from tests.support.inbox_fakes import InMemoryInbox

CHAT = -1001234567890
ANN = Person(7, "Ann", "Lee")
BOB = Owner(501, "Bob")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE = parse_hours(
    {
        "timeZone": "America/New_York",
        "weekly": {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    }
)
TUESDAY_10 = datetime(2026, 12, 1, 10, 0, tzinfo=NEW_YORK).timestamp()
FRIDAY_1650 = datetime(2026, 12, 4, 16, 50, tzinfo=NEW_YORK).timestamp()
MONDAY_0905 = datetime(2026, 12, 7, 9, 5, tzinfo=NEW_YORK).timestamp()
SLA = Sla(15, OFFICE)


@dataclass
class NudgeTelegram(FakeTelegram):
    async def send_mention(
        self, chat_id: int, thread_id: int, text: str, mention: Owner | None
    ) -> int:
        self._record(
            "send_mention", chat_id=chat_id, thread_id=thread_id, text=text, mention=mention
        )
        return self._id()


@dataclass
class Queue:
    jobs: list[NudgeJob] = field(default_factory=list)

    def enqueue_nudge(self, job: NudgeJob) -> None:
        self.jobs.append(job)


@dataclass
class World:
    clock: FakeClock
    store: InMemoryInbox = field(default_factory=InMemoryInbox)
    telegram: NudgeTelegram = field(default_factory=NudgeTelegram)
    queue: Queue = field(default_factory=Queue)
    log: InMemoryStepLog = field(default_factory=InMemoryStepLog)

    def event(self, event: Event, owner: Owner | None = None) -> Conversation:
        stored = self.store.get(CHAT, ANN.user_id)
        record = stored or Conversation(CHAT, ANN.user_id, thread_id=11, name="Ann Lee")
        changed = apply(record, event, self.clock.now()).with_changes(owner=owner)
        assert self.store.save(changed, record.version)
        return changed

    def sweep(self) -> list[NudgeJob]:
        self.queue.jobs.clear()
        Sweep(self.store, self.queue, SLA, self.clock, [CHAT]).run()
        return list(self.queue.jobs)

    def deliver(self, job: NudgeJob, key: str = "job") -> bool:
        nudges = Nudges(self.store, self.telegram, SLA, self.clock)
        steps = Steps.load(self.log, key)
        return asyncio.run(nudges.run(job, steps))

    @property
    def nudges(self) -> list[dict[str, object]]:
        return self.telegram.called("send_mention")


def test_a_wait_is_nudged_once_after_the_sla() -> None:
    world = World(FakeClock(TUESDAY_10))
    world.event(Event.PERSON_WROTE, owner=BOB)
    world.clock.current += 14 * 60
    assert world.sweep() == []
    world.clock.current += 60
    [job] = world.sweep()
    assert job == NudgeJob(CHAT, ANN.user_id, TUESDAY_10)
    assert world.deliver(job) is True
    [nudge] = world.nudges
    assert nudge["thread_id"] == 11 and nudge["mention"] == BOB
    assert "15 min" in str(nudge["text"])
    # Later sweeps queue nothing, and a duplicate job posts nothing.
    world.clock.current += 3600
    assert world.sweep() == []
    assert world.deliver(job, key="duplicate") is False
    assert len(world.nudges) == 1


def test_an_answer_cancels_the_nudge_and_a_new_wait_gets_its_own() -> None:
    world = World(FakeClock(TUESDAY_10))
    world.event(Event.PERSON_WROTE)
    world.clock.current += 16 * 60
    [job] = world.sweep()
    world.event(Event.OPERATOR_ANSWERED)  # answered while the job was in the queue
    assert world.deliver(job) is False
    assert world.nudges == [] and world.sweep() == []
    world.clock.current += 60
    world.event(Event.PERSON_WROTE)  # a new wait
    world.clock.current += 15 * 60
    [again] = world.sweep()
    assert again.since == world.clock.current - 15 * 60
    assert world.deliver(again, key="again") is True
    assert len(world.nudges) == 1 and world.nudges[0]["mention"] is None


def test_a_closed_conversation_is_not_nudged() -> None:
    world = World(FakeClock(TUESDAY_10))
    world.event(Event.PERSON_WROTE)
    world.event(Event.CLOSED)
    world.clock.current += 3600
    assert world.sweep() == []


def test_nudges_wait_for_opening_time() -> None:
    world = World(FakeClock(FRIDAY_1650))
    record = world.event(Event.PERSON_WROTE)
    world.clock.current = FRIDAY_1650 + 3600 * 24  # Saturday: 10 business minutes so far
    assert world.sweep() == [] and not due(record, SLA, world.clock.now())
    world.clock.current = MONDAY_0905 - 1
    assert world.sweep() == []
    world.clock.current = MONDAY_0905
    [job] = world.sweep()
    assert world.deliver(job)
    assert "15 min" in str(world.nudges[0]["text"])  # business time, not the weekend's


def test_a_retried_record_does_not_post_its_nudge_again() -> None:
    world = World(FakeClock(TUESDAY_10))
    world.event(Event.PERSON_WROTE)
    world.clock.current += 20 * 60
    [job] = world.sweep()
    real_save = world.store.save
    world.store.save = lambda record, expected_version: False  # type: ignore[method-assign]
    with pytest.raises(InboxContended, match="not noted"):
        world.deliver(job)  # the record fails (and is retried) after the nudge went out
    world.store.save = real_save  # type: ignore[method-assign]
    assert world.deliver(job) is True  # the retry: same record, same steps
    assert len(world.nudges) == 1
    assert world.store.get(CHAT, ANN.user_id).nudged_for == job.since  # type: ignore[union-attr]


def test_nudge_jobs_round_trip_and_junk_is_not_one() -> None:
    job = NudgeJob(CHAT, 7, 1234.5)
    assert NudgeJob.parse(job.body()) == job
    assert job.group == f"nudge#{CHAT}" and str(CHAT) in job.dedup_id
    for junk in ("", "[]", '{"inbox_nudge": [1, 2]}', '{"inbox_nudge": [true, 2, 3]}', "{"):
        assert NudgeJob.parse(junk) is None


# ---------------------------------------------------------------------- the away message


def session() -> Session:
    return Session(ANN, CHAT, thread_id=11)


def away_world(at: float) -> tuple[World, Away]:
    world = World(FakeClock(at))
    return world, Away(world.store, world.telegram, OFFICE, world.clock, "We're away.")


def test_the_away_message_is_sent_once_per_conversation_out_of_hours() -> None:
    world, away = away_world(FRIDAY_1650 + 3600)
    world.event(Event.PERSON_WROTE)
    assert asyncio.run(away.person_wrote(session(), Steps.load(world.log, "u1")))
    world.event(Event.PERSON_WROTE)
    assert not asyncio.run(away.person_wrote(session(), Steps.load(world.log, "u2")))
    assert world.telegram.called("send_text") == [
        {"chat_id": ANN.user_id, "text": "We're away.", "thread_id": None, "reply_to": None}
    ]
    # A retried record of the first message sends nothing again.
    assert asyncio.run(away.person_wrote(session(), Steps.load(world.log, "u1")))
    assert len(world.telegram.called("send_text")) == 1
    # A new conversation (after /close) is told again.
    world.event(Event.CLOSED)
    world.clock.current += 60
    world.event(Event.PERSON_WROTE)
    assert asyncio.run(away.person_wrote(session(), Steps.load(world.log, "u3")))
    assert len(world.telegram.called("send_text")) == 2


def test_no_away_message_within_hours() -> None:
    world, away = away_world(TUESDAY_10)
    record = world.event(Event.PERSON_WROTE)
    assert not away_due(record, OFFICE, TUESDAY_10)
    assert not asyncio.run(away.person_wrote(session(), Steps.load(world.log, "u1")))
    assert world.telegram.called("send_text") == []


def test_a_person_who_blocked_the_bot_is_not_told_again_and_again() -> None:
    world, away = away_world(FRIDAY_1650 + 3600)
    world.event(Event.PERSON_WROTE)
    world.telegram.fail("send_text", RecipientBlocked("blocked"))
    assert asyncio.run(away.person_wrote(session(), Steps.load(world.log, "u1")))
    record = world.store.get(CHAT, ANN.user_id)
    assert record is not None and record.away_for == record.opened_at


def test_a_nudge_waits_while_relayed_messages_want_the_groups_slot() -> None:
    world = World(FakeClock(TUESDAY_10))
    world.event(Event.PERSON_WROTE)
    world.clock.current += 20 * 60
    [job] = world.sweep()
    busy = [6.0]
    nudges = Nudges(world.store, world.telegram, SLA, world.clock, lambda chat: busy[0])
    with pytest.raises(RateLimited) as deferred:
        asyncio.run(nudges.run(job, Steps.load(world.log, "busy")))
    assert deferred.value.retry_after == 6.0 and world.nudges == []
    busy[0] = 0.0  # the relayed messages went out: the nudge takes the next free slot
    assert asyncio.run(nudges.run(job, Steps.load(world.log, "busy")))
    assert len(world.nudges) == 1


@dataclass
class Tats:
    """The shared limiter's TATs (``DynamoTatStore.backlog``'s answer: seconds to the key's
    next free slot)."""

    tat: dict[str, float] = field(default_factory=dict)

    def backlog(self, key: str, now: float) -> float:
        return max(0.0, self.tat.get(key, 0.0) - now)


def test_the_groups_backlog_is_what_waits_behind_the_send_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from topicdesk.composition import inbox as wiring
    from topicdesk.domain.limiter import LimitSettings

    monkeypatch.setattr(wiring, "time", SimpleNamespace(time=lambda: 1000.0))
    settings = LimitSettings(bot_per_second=28, chat_per_second=0.95, group_per_minute=20)
    tats = Tats()
    backlog = wiring.slot_backlog(tats, settings)  # type: ignore[arg-type]  # a duck TAT store
    assert backlog(CHAT) == 0.0  # idle
    # One send reserved the next slot (3 s apart at 20 a minute): nobody waits behind it.
    tats.tat[f"group#{CHAT}"] = 1002.5
    assert backlog(CHAT) == 0.0
    # Three more queued behind it: 9 s of relayed sends wait.
    tats.tat[f"group#{CHAT}"] = 1012.0
    assert backlog(CHAT) == 9.0
