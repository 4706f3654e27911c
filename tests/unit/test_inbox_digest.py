"""The weekly stats digest and the scheduled function (issue 15, item 6): one digest job per
group, posted once in a "Stats" topic made the first time (again if deleted); the sweep's and
the digest's events; the consumer takes only its own job bodies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from topicdesk.domain.errors import RateLimited, TopicMissing
from topicdesk.domain.inbox import Conversation, Event
from topicdesk.domain.inbox.digest import WEEK_SECONDS, DigestJob, Digests
from topicdesk.domain.inbox.nudges import NudgeJob, Nudges, Sla, Sweep
from topicdesk.domain.inbox.state import apply
from topicdesk.domain.steps import Steps
from topicdesk.runtime.inbox_schedule import InboxScheduleRuntime, ScheduledInboxWork

from tests.support.fakes import FakeClock, FakeMetrics, InMemoryStepLog
from tests.support.inbox_fakes import InboxFakeTelegram, InMemoryInbox

CHAT = -100777
NOW = 1_800_000_000.0


@dataclass
class Topics:
    threads: dict[int, int] = field(default_factory=dict)

    def stats_thread(self, chat_id: int) -> int | None:
        return self.threads.get(chat_id)

    def set_stats_thread(self, chat_id: int, thread_id: int) -> None:
        self.threads[chat_id] = thread_id


@dataclass
class Queue:
    digests: list[DigestJob] = field(default_factory=list)
    nudges: list[NudgeJob] = field(default_factory=list)

    def enqueue_digest(self, job: DigestJob) -> None:
        self.digests.append(job)

    def enqueue_nudge(self, job: NudgeJob) -> None:
        self.nudges.append(job)


def world() -> tuple[InMemoryInbox, Topics, InboxFakeTelegram, InMemoryStepLog]:
    store = InMemoryInbox()
    record = apply(Conversation(CHAT, 1, thread_id=5, name="Ann"), Event.PERSON_WROTE, NOW - 600)
    record = apply(record, Event.OPERATOR_ANSWERED, NOW - 540)
    assert store.save(record, 0)
    return store, Topics(), InboxFakeTelegram(), InMemoryStepLog()


def test_the_digest_opens_the_stats_topic_once_and_posts_once() -> None:
    store, topics, telegram, log = world()
    digests = Digests(store, topics, telegram)
    job = DigestJob(CHAT, NOW - WEEK_SECONDS, NOW)
    asyncio.run(digests.run(job, Steps.load(log, job.dedup_id)))
    asyncio.run(digests.run(job, Steps.load(log, job.dedup_id)))  # the record retried
    [created] = telegram.called("create_topic")
    assert created["name"] == "Stats"
    [posted] = telegram.called("send_text")
    assert posted["thread_id"] == topics.threads[CHAT]
    assert "opened 1 · closed 0 · unanswered now 0" in str(posted["text"])
    assert "first response p50 1 min" in str(posted["text"])
    # Next week: the same topic.
    later = DigestJob(CHAT, NOW, NOW + WEEK_SECONDS)
    asyncio.run(digests.run(later, Steps.load(log, later.dedup_id)))
    assert len(telegram.called("create_topic")) == 1 and len(telegram.called("send_text")) == 2


def test_a_deleted_stats_topic_is_made_again() -> None:
    store, topics, telegram, log = world()
    topics.threads[CHAT] = 99
    telegram.fail("send_text", TopicMissing("gone"))
    job = DigestJob(CHAT, NOW - WEEK_SECONDS, NOW)
    asyncio.run(Digests(store, topics, telegram).run(job, Steps.load(log, job.dedup_id)))
    assert len(telegram.called("create_topic")) == 1
    assert topics.threads[CHAT] != 99
    sent = [c.args["thread_id"] for c in telegram.effects if c.method == "send_text"]
    assert sent == [topics.threads[CHAT]]


def test_digest_jobs_round_trip_and_junk_is_not_one() -> None:
    job = DigestJob(CHAT, NOW - WEEK_SECONDS, NOW)
    assert DigestJob.parse(job.body()) == job
    for junk in ("", "{}", '{"inbox_digest": [1, 2]}', '{"inbox_digest": ["x", 1, 2]}'):
        assert DigestJob.parse(junk) is None


def runtime(store: InMemoryInbox, queue: Queue) -> InboxScheduleRuntime:
    clock = FakeClock(NOW)
    sweep = Sweep(store, queue, Sla(5), clock, [CHAT, CHAT - 1])
    return InboxScheduleRuntime(sweep, queue, [CHAT, CHAT - 1], clock, FakeMetrics())


def test_the_scheduled_function_sweeps_or_queues_the_digests() -> None:
    store, queue = InMemoryInbox(), Queue()
    waiting = apply(Conversation(CHAT, 2, thread_id=6, name="Bo"), Event.PERSON_WROTE, NOW - 301)
    assert store.save(waiting, 0)
    assert runtime(store, queue).handle({"job": "sweep"}, None) == {"job": "sweep", "queued": 1}
    assert queue.nudges == [NudgeJob(CHAT, 2, NOW - 301)]
    assert runtime(store, queue).handle({"job": "digest"}, None)["queued"] == 2
    assert [job.chat_id for job in queue.digests] == [CHAT, CHAT - 1]
    assert all(job.until - job.since == WEEK_SECONDS for job in queue.digests)
    with pytest.raises(ValueError, match="unknown scheduled job"):
        runtime(store, queue).handle({"job": "other"}, None)


def test_the_consumer_takes_only_nudge_and_digest_bodies() -> None:
    store, topics, telegram, log = world()
    loop = asyncio.new_event_loop()
    try:
        work = ScheduledInboxWork(
            loop,
            Nudges(store, telegram, Sla(5), FakeClock(NOW)),  # type: ignore[arg-type]
            Digests(store, topics, telegram),
            log,
        )
        assert not work.take('{"update_id": 1}') and not work.take("junk")
        assert work.take(DigestJob(CHAT, NOW - WEEK_SECONDS, NOW).body())
        assert work.take(NudgeJob(CHAT, 1, NOW - 600).body())  # answered: nothing posted
        assert len(telegram.called("send_text")) == 1
    finally:
        loop.close()


def test_the_digest_waits_for_a_slot_nothing_relayed_wants() -> None:
    store, topics, telegram, log = world()
    busy = [4.0]
    digests = Digests(store, topics, telegram, lambda chat: busy[0])
    job = DigestJob(CHAT, NOW - WEEK_SECONDS, NOW)
    with pytest.raises(RateLimited) as deferred:
        asyncio.run(digests.run(job, Steps.load(log, job.dedup_id)))
    assert deferred.value.retry_after == 5.0 and telegram.calls == []
    busy[0] = 0.0
    asyncio.run(digests.run(job, Steps.load(log, job.dedup_id)))
    assert len(telegram.called("create_topic")) == 1 and len(telegram.called("send_text")) == 1
