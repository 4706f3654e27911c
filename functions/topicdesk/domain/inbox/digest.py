"""The weekly stats digest (issue 15, item 6) in each operators' group's "Stats" topic.

The scheduled function (an EventBridge rule, weekly) queues one ``DigestJob`` per group onto
the updates queue; the consumer runs it, so the post goes through the shared limiter like
every send. The job computes the stats from the group's inbox records
(``topicdesk.domain.inbox.stats``), opens the "Stats" topic the first time (its thread kept
on the group's inbox item), and posts the digest once (steps: a retried record posts nothing
twice; its deduplication id, the period's end, keeps a repeated schedule from posting twice).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from topicdesk.domain.errors import RateLimited, TopicMissing
from topicdesk.domain.inbox.jobs import QueuedJob
from topicdesk.domain.inbox.ports import InboxStore, InboxTelegram
from topicdesk.domain.inbox.stats import STATS_TOPIC_NAME, compute, digest
from topicdesk.domain.steps import Steps

JOB_FIELD = "inbox_digest"
WEEK_SECONDS = 7 * 86400.0


@dataclass(frozen=True)
class DigestJob(QueuedJob, field=JOB_FIELD, group="stats", ints=1):
    """The stats of one group for [since, until), until on the hour (a retried schedule
    queues the same job, taken once)."""

    chat_id: int
    since: float
    until: float


class StatsTopics(Protocol):
    """Where each group's "Stats" topic is (its thread id, once made)."""

    def stats_thread(self, chat_id: int) -> int | None: ...

    def set_stats_thread(self, chat_id: int, thread_id: int) -> None: ...


class Digests:
    def __init__(
        self,
        store: InboxStore,
        topics: StatsTopics,
        telegram: InboxTelegram,
        backlog: Callable[[int], float] | None = None,
    ):
        """``backlog``: as for nudges, each send waits for a slot nothing relayed wants."""
        self._store = store
        self._topics = topics
        self._telegram = telegram
        self._backlog = backlog

    def _wait_for_a_free_slot(self, chat_id: int) -> None:
        busy = self._backlog(chat_id) if self._backlog is not None else 0.0
        if busy > 0:
            raise RateLimited(max(busy, 5.0), key=f"stats#{chat_id}")

    async def run(self, job: DigestJob, steps: Steps) -> None:
        text = digest(compute(self._store.conversations(job.chat_id), job.since, job.until))
        thread = await self._thread(job.chat_id, steps, fresh=False)
        try:
            await steps.once("digest", lambda: self._post(job.chat_id, text, thread))
        except TopicMissing:  # someone deleted the Stats topic: a new one
            thread = await self._thread(job.chat_id, steps, fresh=True)
            await steps.once("digest", lambda: self._post(job.chat_id, text, thread))

    async def _post(self, chat_id: int, text: str, thread: int) -> int:
        self._wait_for_a_free_slot(chat_id)
        return await self._telegram.send_text(chat_id, text, thread_id=thread)

    async def _create(self, chat_id: int) -> int:
        self._wait_for_a_free_slot(chat_id)
        return await self._telegram.create_topic(chat_id, STATS_TOPIC_NAME)

    async def _thread(self, chat_id: int, steps: Steps, *, fresh: bool) -> int:
        known = None if fresh else self._topics.stats_thread(chat_id)
        if known is not None:
            return known
        step = "stats_topic_again" if fresh else "stats_topic"
        thread: int = await steps.once(step, lambda: self._create(chat_id))
        self._topics.set_stats_thread(chat_id, thread)
        return thread
