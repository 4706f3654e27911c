"""The step record: a record that fails at any step and comes back does each remaining step
once, never redoes a completed one and never skips one.

Each test drives the relay (or the broadcast service) the way the consumer does: one ``Steps``
loaded from a shared step log per attempt, flushed when the attempt fails (a crash does not
flush), then the next attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest
from topicdesk.domain.broadcast import Broadcast, BroadcastJob, BroadcastService
from topicdesk.domain.errors import (
    RateLimited,
    RecipientBlocked,
    StorageUnavailable,
    TransientFailure,
)
from topicdesk.domain.model import ChatMessage
from topicdesk.domain.relay import Relay
from topicdesk.domain.steps import FINISHED, Steps

from tests.support.fakes import (
    FakeClock,
    FakeMetrics,
    FakeTelegram,
    InMemorySessions,
    InMemoryStepLog,
)
from tests.support.relay_world import ANNA, GROUP, hello, relay_world, said_in_group

KEY = "update#1"


class Crash(BaseException):
    """The function died (timeout, out of memory): nothing after this point ran."""


class CrashingLog(InMemoryStepLog):
    """A step log whose ``crash_on``-th write never happens: the process died first."""

    def __init__(self, crash_on: int | None = None) -> None:
        super().__init__()
        self.crash_on = crash_on

    def save(self, key: str, steps: dict[str, Any]) -> None:
        if self.crash_on is not None and self.writes + 1 == self.crash_on:
            self.crash_on = None
            self.writes += 1
            raise Crash
        super().save(key, steps)


def attempts(
    log: InMemoryStepLog,
    work: Callable[[Steps], Awaitable[None]],
    *,
    tries: int = 5,
    deferred: bool = False,
) -> int:
    """Run ``work`` until it succeeds, as the consumer would; returns the attempts it took.
    ``deferred``: as the consumer runs a Telegram update (``runtime.work``): records written
    before the next step or with the finished marker, a finished unit not run again."""
    for attempt in range(1, tries + 1):
        steps = Steps.load(log, KEY, sleep=_no_sleep, deferred=deferred)
        if steps.finished:
            return attempt
        try:
            asyncio.run(work(steps))
            if deferred:
                asyncio.run(steps.finish())
        except Crash:
            continue  # died: nothing flushed
        except Exception:
            asyncio.run(steps.flush())
            continue
        return attempt
    raise AssertionError("never succeeded")


async def _no_sleep(_: float) -> None:
    return None


def make_relay(telegram: FakeTelegram) -> tuple[Relay, InMemorySessions]:
    w = relay_world(telegram=telegram)
    return w.relay, w.sessions


def answer(thread: int, message_id: int, text: str = "hello Anna") -> ChatMessage:
    return said_in_group(text, message_id, thread=thread)


# A person's first message: topic, card, copy. Each Telegram call may fail.
FIRST_MESSAGE_CALLS = ("create_topic", "send_text", "copy_message")


@pytest.mark.parametrize("deferred", [False, True], ids=["immediate", "deferred"])
@pytest.mark.parametrize("failing", FIRST_MESSAGE_CALLS)
@pytest.mark.parametrize("error", [RateLimited(3.0), TransientFailure("502")], ids=["429", "5xx"])
def test_a_refusal_before_any_step_resumes_and_does_every_step_once(
    failing: str, error: Exception, deferred: bool
) -> None:
    """A 429 or a 5xx before a step is also one *after* the steps before it."""
    telegram = FakeTelegram()
    relay, _ = make_relay(telegram)
    telegram.fail(failing, error)
    log = InMemoryStepLog()
    work = partial(relay.private_messages, [hello()])
    assert attempts(log, work, deferred=deferred) == 2
    assert [len(telegram.acted(method)) for method in FIRST_MESSAGE_CALLS] == [1, 1, 1]


@pytest.mark.parametrize("failing", FIRST_MESSAGE_CALLS)
def test_a_timeout_after_telegram_acted_repeats_only_that_step(failing: str) -> None:
    """The one duplicate the Bot API cannot rule out: the call's answer never came."""
    telegram = FakeTelegram()
    relay, _ = make_relay(telegram)
    telegram.fail_after(failing, TransientFailure("timed out"))
    log = InMemoryStepLog()
    attempts(log, lambda steps: relay.private_messages([hello()], steps))
    done = {method: len(telegram.acted(method)) for method in FIRST_MESSAGE_CALLS}
    assert done == {method: 2 if method == failing else 1 for method in FIRST_MESSAGE_CALLS}


@pytest.mark.parametrize("deferred", [False, True], ids=["immediate", "deferred"])
@pytest.mark.parametrize("crash_on", [1, 2, 3])
def test_a_crash_after_a_recorded_step_never_redoes_it(crash_on: int, deferred: bool) -> None:
    """Write ``crash_on`` of the step record dies with the process: the step it was to
    record is done again (in doubt), every step recorded before it is not. Deferred, the
    session keeps the topic and the card (a retry finds them there), so the record is
    written once, with the copy and the finished marker, after the message map: a crash on
    it repeats nothing (the retry finds the message relayed)."""
    telegram = FakeTelegram()
    relay, _ = make_relay(telegram)
    log = CrashingLog(crash_on)
    attempts(log, partial(relay.private_messages, [hello()]), deferred=deferred)
    done = [len(telegram.acted(method)) for method in FIRST_MESSAGE_CALLS]
    expected = [1, 1, 1]
    if not deferred:
        expected[crash_on - 1] = 2
    assert done == expected


def test_a_deferred_record_of_a_relayed_message_is_never_written() -> None:
    """An update's record (``runtime.work``) on the common path: the topic and the card are
    kept by the session, and the count's write marks the message relayed in the session
    (``relayed_up_to``), which ends any later copy as the finished marker would: the record
    is not written at all, for a first message as for a later one. A copy delivered again
    past SQS's dedup window does nothing at all (not even the bookkeeping: the person's
    message count stays)."""
    telegram = FakeTelegram()
    world = relay_world(telegram=telegram)
    relay, sessions = world.relay, world.sessions
    first, later = InMemoryStepLog(), InMemoryStepLog()
    assert attempts(first, partial(relay.private_messages, [hello()]), deferred=True) == 1
    second = partial(relay.private_messages, [hello(message_id=2)])
    assert attempts(later, second, deferred=True) == 1
    assert (first.writes, later.writes) == (0, 0)
    counted = sessions.items[ANNA.user_id]["messages_in"]
    acted = len(telegram.acted("copy_message"))
    for log, again in ((first, [hello()]), (later, [hello(message_id=2)])):
        # Another container (no memory of what it relayed), on the same stores: the copy of
        # message 2 stops at the session's mark, the older 1 at its link in the message map.
        other = relay_world(telegram=telegram, sessions=sessions, messages=world.messages).relay
        assert attempts(log, partial(other.private_messages, again), deferred=True) == 1
    assert (first.writes, later.writes) == (0, 0)
    assert len(telegram.acted("copy_message")) == acted == 2
    assert sessions.items[ANNA.user_id]["messages_in"] == counted == 2


def test_a_record_written_before_the_copy_is_finished_with_the_marker() -> None:
    """A record that was written (an attempt failed after the topic and the card, which it
    flushed) makes a later copy resume instead of asking the session: it is finished with
    the marker."""
    telegram = FakeTelegram()
    relay, _ = make_relay(telegram)
    telegram.fail("copy_message", RateLimited(3.0))
    log = InMemoryStepLog()
    assert attempts(log, partial(relay.private_messages, [hello()]), deferred=True) == 2
    assert log.records[KEY][FINISHED] is True and "copy#1" in log.records[KEY]
    assert Steps.load(log, KEY).finished
    assert len(telegram.acted("copy_message")) == 1


def test_a_follower_copied_with_its_head_writes_no_record() -> None:
    """A follower rode along in its head's copyMessages: its own record finds it relayed
    and does nothing, and writes nothing either (a later copy finds it relayed the same
    way); the head's record is not written either (the session's mark ends its copies)."""
    telegram = FakeTelegram()
    relay, _ = make_relay(telegram)
    asyncio.run(relay.private_messages([hello()]))  # the topic exists
    head, follower = InMemoryStepLog(), InMemoryStepLog()
    run = [hello(message_id=2), hello(message_id=3)]
    assert attempts(head, partial(relay.private_messages, run), deferred=True) == 1
    assert attempts(follower, partial(relay.private_messages, run[1:]), deferred=True) == 1
    assert (head.writes, follower.writes) == (0, 0)
    assert [len(c["message_ids"]) for c in telegram.acted("copy_messages")] == [2]


def test_a_deferred_step_is_recorded_before_the_next_step_acts() -> None:
    """Deferred, a step's record may wait, but never past the start of the next one."""
    log = InMemoryStepLog()
    steps = Steps(log, KEY, deferred=True)
    seen: list[dict[str, Any]] = []

    async def act(name: str) -> str:
        seen.append(log.load(KEY))
        return name

    async def run() -> None:
        await steps.once("one", partial(act, "one"))
        await steps.once("two", partial(act, "two"))
        steps.kept("two")  # kept elsewhere too: the next step need not wait for its write
        await steps.once("three", partial(act, "three"))

    asyncio.run(run())
    assert seen == [{}, {"one": "one"}, {"one": "one"}] and log.writes == 1
    asyncio.run(steps.finish())
    assert log.load(KEY) == {"one": "one", "two": "two", "three": "three", FINISHED: True}
    assert log.writes == 2


def test_a_step_record_that_cannot_be_written_does_not_fail_the_record() -> None:
    class Down(InMemoryStepLog):
        def save(self, key: str, steps: dict[str, Any]) -> None:
            raise StorageUnavailable("DynamoDB down")

    telegram = FakeTelegram()
    relay, _ = make_relay(telegram)
    assert attempts(Down(), lambda steps: relay.private_messages([hello()], steps)) == 1
    assert len(telegram.acted("copy_message")) == 1


class RefusingTexts(FakeTelegram):
    """Refuses the next ``times`` texts into ``chat_id`` with a 429 (nothing sent)."""

    def refuse(self, chat_id: int, times: int) -> None:
        self._refuse = (chat_id, times)

    async def send_text(
        self, chat_id: int, text: str, *, thread_id: int | None = None, reply_to: int | None = None
    ) -> int:
        target, times = getattr(self, "_refuse", (0, 0))
        if chat_id == target and times > 0:
            self._refuse = (target, times - 1)
            raise RateLimited(2.0)
        return await super().send_text(chat_id, text, thread_id=thread_id, reply_to=reply_to)


def test_close_tells_the_person_once_when_its_answer_meets_429s() -> None:
    telegram = RefusingTexts()
    relay, sessions = make_relay(telegram)
    asyncio.run(relay.private_messages([hello()]))
    thread = sessions.items[ANNA.user_id]["thread_id"]
    telegram.refuse(GROUP, 2)  # the ack in the topic, after the person was told
    log = InMemoryStepLog()
    assert (
        attempts(log, lambda steps: relay.group_messages([answer(thread, 70, "/close")], steps))
        == 3
    )
    assert len([c for c in telegram.acted("send_text") if c["chat_id"] == ANNA.user_id]) == 1
    assert len(telegram.acted("close_topic")) == 1
    acks = [c for c in telegram.acted("send_text") if c["chat_id"] == GROUP and c["reply_to"]]
    assert len(acks) == 1 and "Closed" in acks[0]["text"]


def test_a_blocked_person_is_tried_once_and_noted_once_across_429s() -> None:
    telegram = FakeTelegram()
    relay, sessions = make_relay(telegram)
    asyncio.run(relay.private_messages([hello()]))
    thread = sessions.items[ANNA.user_id]["thread_id"]
    telegram.fail("copy_message", RecipientBlocked("Forbidden: bot was blocked by the user"))
    telegram.fail("send_text", RateLimited(5.0), RateLimited(5.0))  # the note waits twice
    log = InMemoryStepLog()
    assert attempts(log, lambda steps: relay.group_messages([answer(thread, 71)], steps)) == 3
    tries = [c for c in telegram.calls if c.method == "copy_message" and c.args["chat_id"] > 0]
    assert len(tries) == 1  # never retried against the 403
    notes = [c for c in telegram.acted("send_text") if "Not delivered" in c["text"]]
    assert len(notes) == 1 and notes[0]["reply_to"] == 71
    assert sessions.items[ANNA.user_id]["blocked"] is True


def test_an_answer_is_copied_once_when_its_receipt_meets_a_429() -> None:
    telegram = FakeTelegram()
    relay, sessions = make_relay(telegram)
    asyncio.run(relay.private_messages([hello()]))
    thread = sessions.items[ANNA.user_id]["thread_id"]
    telegram.fail("react", RateLimited(1.0))
    log = InMemoryStepLog()
    assert attempts(log, lambda steps: relay.group_messages([answer(thread, 72)], steps)) == 2
    assert len([c for c in telegram.acted("copy_message") if c["chat_id"] == ANNA.user_id]) == 1
    assert len(telegram.acted("react")) == 1


class Broadcasts:
    """Just enough of the broadcast repository for one job's steps."""

    def __init__(self, total: int) -> None:
        self.item = Broadcast("b1", GROUP, None, None, "news", "running", 0.0, total=total)
        self.claims: list[int] = []

    def create(self, broadcast: Broadcast) -> None:
        self.item = broadcast

    def get(self, broadcast_id: str) -> Broadcast | None:
        return self.item

    def start(self, broadcast_id: str, total: int) -> bool:
        return False

    def count(self, broadcast_id: str, outcome: str) -> Broadcast:
        from dataclasses import replace

        self.item = replace(self.item, **{outcome: getattr(self.item, outcome) + 1})
        return self.item

    def advance_progress(self, broadcast_id: str, step: int) -> bool:
        if step in self.claims:
            return False
        self.claims.append(step)
        return True


def broadcast_world(telegram: FakeTelegram) -> tuple[BroadcastService, Broadcasts]:
    sessions = InMemorySessions()
    sessions.items[ANNA.user_id] = {"person": ANNA, "operator_chat_id": GROUP, "thread_id": 5}
    repository = Broadcasts(total=1)
    service = BroadcastService(
        broadcasts=repository,
        roster=type("Roster", (), {"people": lambda self: [ANNA.user_id]})(),
        jobs=type("Jobs", (), {"enqueue_jobs": lambda self, jobs: None})(),
        sessions=sessions,
        telegram=telegram,
        clock=FakeClock(),
        metrics=FakeMetrics(),
    )
    return service, repository


def test_a_broadcast_job_counts_once_and_its_final_note_survives_a_429() -> None:
    telegram = RefusingTexts()
    service, repository = broadcast_world(telegram)
    job = BroadcastJob("b1", ANNA.user_id)
    telegram.refuse(GROUP, 2)  # the person's copy goes; the "finished" note meets two 429s
    log = InMemoryStepLog()
    run = lambda steps: service.deliver(job, steps)  # noqa: E731
    assert attempts(log, run) == 3
    assert repository.item.delivered == 1  # counted once
    finished = [c for c in telegram.acted("send_text") if "Broadcast finished" in c["text"]]
    assert len(finished) == 1
    assert [c["chat_id"] for c in telegram.acted("send_text")].count(ANNA.user_id) == 1


def test_a_job_given_up_counts_as_failed_so_the_broadcast_still_finishes() -> None:
    telegram = FakeTelegram()
    service, repository = broadcast_world(telegram)
    log = InMemoryStepLog()
    job = BroadcastJob("b1", ANNA.user_id)
    for _ in range(2):  # given up twice (a redelivery): counted once
        asyncio.run(service.give_up(job, Steps.load(log, job.step_key)))
    assert (repository.item.delivered, repository.item.failed) == (0, 1)
    [finished] = [c["text"] for c in telegram.acted("send_text")]
    assert "Broadcast finished: 0 delivered" in finished and "1 failed" in finished
