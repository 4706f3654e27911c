"""`stats --since 7d`: the inbox's stats (issue 15) for each operators' group of the stage,
from its inbox records (``topicdesk.domain.inbox.stats``), the same text as the weekly
digest in the group's "Stats" topic."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TextIO

from topicdesk.adapters.dynamodb.inbox import DynamoInboxStore
from topicdesk.contract import Output
from topicdesk.domain.inbox.stats import compute, digest, period_seconds

from ops.resources import OpsError, StageResources


def inbox_stats(
    resources: StageResources,
    out: TextIO,
    since: str,
    chats: Sequence[int],
    now: float | None = None,
) -> int:
    try:
        seconds = period_seconds(since)
    except ValueError as error:
        raise OpsError(str(error)) from None
    table = resources.resource("dynamodb").Table(resources.output(Output.DATA_TABLE_NAME))
    store = DynamoInboxStore(table)
    until = time.time() if now is None else now
    for chat_id in chats:
        stats = compute(store.conversations(chat_id), until - seconds, until)
        out.write(f"operators' group {chat_id}\n{digest(stats)}\n\n")
    return 0
