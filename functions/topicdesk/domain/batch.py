"""Planning one SQS batch: which records ride along with an earlier one, and how long failed
records stay invisible before they come back."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from topicdesk.domain.errors import RateLimited
from topicdesk.domain.routing import parse_update

MAX_BACKOFF_SECONDS = 300
FIRST_BACKOFF_SECONDS = 5


@dataclass(frozen=True)
class RecordView:
    """What the planner needs of an SQS record."""

    message_id: str
    group_id: str
    body: str


def _plain_private_message(update: Mapping[str, Any]) -> bool:
    """A new private message that is not a command: it may travel in a copyMessages run."""
    message = update.get("message")
    if not isinstance(message, Mapping):
        return False
    chat = message.get("chat")
    if not isinstance(chat, Mapping) or chat.get("type") != "private":
        return False
    text = message.get("text")
    return not (isinstance(text, str) and text.startswith("/"))


class BatchPlan:
    """For each record, the records that directly follow it in its message group and can be
    relayed together with it (consecutive plain private messages of one person)."""

    def __init__(self, records: Sequence[RecordView]) -> None:
        self.updates: dict[str, dict[str, Any] | None] = {
            record.message_id: parse_update(record.body) for record in records
        }
        by_group: dict[str, list[str]] = {}
        for record in records:
            by_group.setdefault(record.group_id, []).append(record.message_id)
        self._followers: dict[str, list[dict[str, Any]]] = {}
        for ids in by_group.values():
            for position, message_id in enumerate(ids):
                update = self.updates[message_id]
                if update is None or not _plain_private_message(update):
                    continue
                run: list[dict[str, Any]] = []
                for later_id in ids[position + 1 :]:
                    later = self.updates[later_id]
                    if later is None or not _plain_private_message(later):
                        break
                    run.append(later)
                self._followers[message_id] = run

    def followers(self, message_id: str) -> list[dict[str, Any]]:
        return self._followers.get(message_id, [])


def retry_delay(
    error: BaseException | None,
    receive_count: int,
    first_backoff: float = FIRST_BACKOFF_SECONDS,
    *,
    elapsed: float = 0.0,
) -> int:
    """How long a failed record stays invisible: ``retry_after`` for a 429, else a growing
    backoff (5 s, 10 s, 20 s ... capped at 5 minutes) by how often it was received.

    SQS hides in whole seconds. After Telegram's 429 the record comes back no sooner than
    ``retry_after`` (rounded up); after our own limiter's wait it comes back up to a second
    early (rounded down) and sleeps the rest for its booked slot: back late, it would find
    the slot gone. ``elapsed``: seconds since the error (the batch went on meanwhile); a
    wait counts from the error, not from when the retry is scheduled."""
    if isinstance(error, RateLimited):
        remaining = error.retry_after - max(0.0, elapsed)
        if error.by_telegram:
            return max(1, math.ceil(remaining))
        return max(0, math.floor(remaining))
    exponent = max(0, receive_count - 1)
    return int(min(MAX_BACKOFF_SECONDS, first_backoff * 2**exponent))
