"""Unanswered nudges (issue 15, item 4): a person's message that waited longer than the
stage's SLA, counted in business time, gets one nudge in its topic, mentioning the owner.

Two halves:
- ``Sweep`` (a small Lambda on a ``rate(1 minute)`` EventBridge rule) reads each operators'
  group's conversations (one query per group), and queues a nudge job onto the updates FIFO
  queue for each wait that is due and not nudged yet. The job's deduplication id is the wait
  itself (group, person, ``waiting_since``): a sweep a minute later queues no second copy
  while the first is still in the queue's five-minute deduplication window, and the job
  checks the record anyway.
- ``Nudges`` (in the consumer, so the nudge is sent through the shared limiter and its steps,
  as every send) re-reads the record: if the wait was answered meanwhile (the state moved
  on, or ``waiting_since`` changed), it does nothing; else it posts the nudge once (a step: a
  retried record does not post it again) and notes the wait as nudged (``nudged_for``, a
  conditional write), so no later sweep queues it again.

Why a sweep and not a one-shot EventBridge Scheduler schedule per wait: see README ("The
inbox at a glance"): a wait usually ends well before its SLA, and a schedule per wait costs a
create and a delete per answer; the sweep costs the same whatever the traffic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from topicdesk.domain.errors import RateLimited
from topicdesk.domain.inbox.display import wait_text
from topicdesk.domain.inbox.hours import ALWAYS, BusinessHours
from topicdesk.domain.inbox.jobs import QueuedJob
from topicdesk.domain.inbox.ports import InboxStore
from topicdesk.domain.inbox.service import InboxContended
from topicdesk.domain.inbox.state import Conversation, Owner
from topicdesk.domain.ports import Clock
from topicdesk.domain.steps import Steps

JOB_FIELD = "inbox_nudge"
COME_BACK_SECONDS = 5.0
"""The soonest a deferred nudge comes back (a busy group is asked again no sooner)."""
WRITE_ATTEMPTS = 8
NUDGE_TEXT = "⏰ Waiting for an answer for {wait} (business time)."


@dataclass(frozen=True)
class Sla:
    """How long a person may wait, in business time, before operators are nudged."""

    minutes: float = 15.0
    hours: BusinessHours = ALWAYS

    def due_at(self, waiting_since: float) -> float | None:
        """When a wait begun at ``waiting_since`` is due a nudge (None: never)."""
        return self.hours.add(waiting_since, self.minutes * 60)


@dataclass(frozen=True)
class NudgeJob(QueuedJob, field=JOB_FIELD, group="nudge", ints=2):
    """One wait to nudge about: the group, the person, and when the wait began."""

    chat_id: int
    user_id: int
    since: float


def due(record: Conversation, sla: Sla, now: float) -> bool:
    """A nudge is due: the person waits on us, past the SLA, and this wait was not nudged."""
    since = record.waiting_since
    if not record.waiting_on_us or since is None or record.thread_id is None:
        return False
    if record.nudged_for == since:
        return False
    due_at = sla.due_at(since)
    return due_at is not None and due_at <= now


def due_jobs(records: Iterable[Conversation], sla: Sla, now: float) -> list[NudgeJob]:
    """The nudges due among a group's records, longest wait first."""
    jobs = [
        NudgeJob(r.chat_id, r.user_id, r.waiting_since)
        for r in records
        if due(r, sla, now) and r.waiting_since is not None
    ]
    return sorted(jobs, key=lambda job: (job.since, job.user_id))


def nudge_text(waited: float) -> str:
    return NUDGE_TEXT.format(wait=wait_text(waited))


class NudgeQueue(Protocol):
    def enqueue_nudge(self, job: NudgeJob) -> None: ...


class NudgeTelegram(Protocol):
    async def send_mention(
        self, chat_id: int, thread_id: int, text: str, mention: Owner | None
    ) -> int:
        """A message in a topic; ``mention``: an operator named (and notified) after it."""
        ...


@dataclass(frozen=True)
class Sweep:
    """The scheduled half: queue a job for every nudge due in the stage's groups."""

    store: InboxStore
    queue: NudgeQueue
    sla: Sla
    clock: Clock
    chats: Sequence[int]

    def run(self) -> int:
        """Queue the nudges due now; how many were queued."""
        now = self.clock.now()
        queued = 0
        for chat_id in self.chats:
            for job in due_jobs(self.store.conversations(chat_id), self.sla, now):
                self.queue.enqueue_nudge(job)
                queued += 1
        return queued


@dataclass(frozen=True)
class Nudges:
    """The consumer's half: post a queued nudge if its wait still needs it, once."""

    store: InboxStore
    telegram: NudgeTelegram
    sla: Sla
    clock: Clock
    backlog: Callable[[int], float] | None = None
    """Seconds of sends already waiting for a group's slot in the shared limiter: a nudge
    waits (its record deferred) until nothing relayed is waiting, so a burst of nudges (many
    waits due at opening time) delays a relayed message by one slot at most."""

    async def run(self, job: NudgeJob, steps: Steps) -> bool:
        """True when the nudge is (or was already) posted; False when the wait needs none;
        ``RateLimited`` while the group's slot is wanted by relayed messages."""
        record = self.store.get(job.chat_id, job.user_id)
        posted = steps.done("nudge")
        if not posted and (record is None or not self._wanted(record, job)):
            return False  # answered (or closed) meanwhile, or nudged by an earlier job
        busy = self.backlog(job.chat_id) if self.backlog is not None and not posted else 0.0
        if busy > 0:
            raise RateLimited(max(busy, COME_BACK_SECONDS), key=f"nudge#{job.chat_id}")
        if record is not None and record.thread_id is not None and not posted:
            text = nudge_text(self.sla.hours.business_seconds(job.since, self.clock.now()))
            thread = record.thread_id
            await steps.once(
                "nudge",
                lambda: self.telegram.send_mention(job.chat_id, thread, text, record.owner),
            )
        self._mark(job)
        return True

    def _wanted(self, record: Conversation, job: NudgeJob) -> bool:
        return record.waiting_since == job.since and due(record, self.sla, self.clock.now())

    def _mark(self, job: NudgeJob) -> None:
        """Note the wait as nudged (a conditional write; a rival write makes us re-read)."""
        for _ in range(WRITE_ATTEMPTS):
            record = self.store.get(job.chat_id, job.user_id)
            if record is None or record.nudged_for == job.since:
                return
            if self.store.save(record.with_changes(nudged_for=job.since), record.version):
                return
        # Failing the record retries it: its steps know the nudge is posted already.
        raise InboxContended(f"nudge of {job.chat_id}/{job.user_id} not noted")
