"""The inbox's wiring (issue 15): its DynamoDB store, the refresh job's queue, the refresh
itself with the group's backlog in the shared limiter."""

from __future__ import annotations

import time
from collections.abc import Callable
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
    inbox = Inbox(store, SqsInboxJobs(SqsUpdateQueue(sqs, queue_url)), clock)
    refresh = InboxRefresh(store, gateway, clock, slot_backlog(limits, gcra))
    return inbox, refresh


def slot_backlog(limits: DynamoTatStore, gcra: LimitSettings) -> Callable[[int], float]:
    """Seconds of sends already waiting for a group's slot (its messages' key): the inbox's
    own sends (labels, overview, nudges) take only a slot nothing relayed is waiting for.

    The key's TAT is when its next slot is free; up to one interval ahead, the one send that
    reserved it is on its way (often the inbox's own last send), and nobody waits behind it.
    Only what lies beyond that is a backlog: counting the send in flight too made every
    nudge after the first wait out a deferral (seen in ``make reliability ARGS="--only
    inbox-nudges"``: one nudge per 5.4 s whatever the group's rate)."""

    def backlog(chat_id: int) -> float:
        rule = rules_for(chat_id, 1, gcra)[0]
        return max(0.0, limits.backlog(rule.key, time.time()) - rule.interval)

    return backlog
