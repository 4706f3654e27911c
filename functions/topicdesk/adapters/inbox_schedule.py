"""The inbox's scheduled jobs onto the updates FIFO queue (nudges, the weekly digest), and
where each group's "Stats" topic is (on the group's inbox item, ``INBOX#<chat>``/``GROUP``)."""

from __future__ import annotations

from typing import Any

from topicdesk.adapters.aws import SqsUpdateQueue
from topicdesk.adapters.dynamodb import common
from topicdesk.adapters.dynamodb.inbox import group_key
from topicdesk.domain.inbox.digest import DigestJob
from topicdesk.domain.inbox.nudges import NudgeJob


class SqsInboxSchedule:
    def __init__(self, queue: SqsUpdateQueue) -> None:
        self._queue = queue

    def enqueue_nudge(self, job: NudgeJob) -> None:
        # The deduplication id is the wait: a sweep a minute later queues no second copy.
        self._queue.enqueue(job.body(), group_id=job.group, deduplication_id=job.dedup_id)

    def enqueue_digest(self, job: DigestJob) -> None:
        self._queue.enqueue(job.body(), group_id=job.group, deduplication_id=job.dedup_id)


class DynamoStatsTopics:
    def __init__(self, table: Any) -> None:
        self._table = table

    def stats_thread(self, chat_id: int) -> int | None:
        with common.storage_errors():
            item = self._table.get_item(Key=group_key(chat_id)).get("Item") or {}
        return common.as_optional_int(item.get("stats_thread"))

    def set_stats_thread(self, chat_id: int, thread_id: int) -> None:
        with common.storage_errors():
            self._table.update_item(
                Key=group_key(chat_id),
                UpdateExpression="SET stats_thread = :thread",
                ExpressionAttributeValues={":thread": thread_id},
            )
