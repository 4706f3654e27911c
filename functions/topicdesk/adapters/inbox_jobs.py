"""The inbox's refresh job, queued in the updates queue (``topicdesk.domain.inbox.refresh``)."""

from __future__ import annotations

import uuid

from topicdesk.adapters.aws import SqsUpdateQueue
from topicdesk.domain.inbox.refresh import job_body, job_group


class SqsInboxJobs:
    def __init__(self, queue: SqsUpdateQueue) -> None:
        self._queue = queue

    def enqueue(self, chat_id: int) -> None:
        # A fresh deduplication id: the store already makes sure one run at a time is queued,
        # and a run queued within 5 minutes of the last must not be taken for a duplicate.
        self._queue.enqueue(
            job_body(chat_id),
            group_id=job_group(chat_id),
            deduplication_id=f"inbox-{chat_id}-{uuid.uuid4().hex}",
        )
