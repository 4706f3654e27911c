"""The inbox's wiring (issue 15): its DynamoDB store, the refresh job's queue, the refresh
itself with the group's backlog in the shared limiter."""

from __future__ import annotations

import time
from typing import Any

from topicdesk.adapters.aws import SqsUpdateQueue
from topicdesk.adapters.dynamodb.inbox import DynamoInboxStore
from topicdesk.adapters.inbox_jobs import SqsInboxJobs
from topicdesk.adapters.rate_limiter import DynamoTatStore
from topicdesk.adapters.telegram_inbox import InboxTelegramGateway
from topicdesk.domain.inbox import Inbox, InboxRefresh
from topicdesk.domain.limiter import LimitSettings, rules_for
from topicdesk.domain.ports import Clock


def inbox_parts(
    *,
    table: Any,
    sqs: Any,
    queue_url: str,
    gateway: InboxTelegramGateway,
    limits: DynamoTatStore,
    gcra: LimitSettings,
    clock: Clock,
) -> tuple[Inbox, InboxRefresh]:
    """The relay's ``Inbox`` and the refresh its job runs (``topicdesk.runtime.inbox``)."""
    store = DynamoInboxStore(table)

    def backlog(chat_id: int) -> float:
        """Seconds of sends already waiting for the group's slot (its messages' key)."""
        return limits.backlog(rules_for(chat_id, 1, gcra)[0].key, time.time())

    inbox = Inbox(store, SqsInboxJobs(SqsUpdateQueue(sqs, queue_url)), clock)
    refresh = InboxRefresh(store, gateway, clock, backlog)
    return inbox, refresh
