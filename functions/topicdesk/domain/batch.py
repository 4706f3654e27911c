"""Planning one SQS batch: which records ride along with an earlier one, and how long failed
records stay invisible before they come back."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from topicdesk.domain.errors import RateLimited
from topicdesk.domain.routing import is_topic_group, parse_update

MAX_BACKOFF_SECONDS = 300
FIRST_BACKOFF_SECONDS = 5
ALBUM_SETTLE_SECONDS = 1.5
"""The parts of an album arrive as separate updates (separate webhook calls, possibly
separate batches). A run that ends in an album part enqueued less than this long ago, with
nothing after it in the batch, waits for the rest (a deferral, not a failure): mature bots
wait about a second for an album's parts too."""


class AlbumIncomplete(RateLimited):
    """The record's run ends in an album part that just arrived: wait a moment for the rest
    of the album (a deferral, not a failure), so the album is relayed whole."""

    KEY = "album"

    def __init__(self, wait: float) -> None:
        super().__init__(wait, key=self.KEY)


class RecordView(NamedTuple):
    """What the planner needs of an SQS record."""

    message_id: str
    group_id: str
    body: str
    sent_at: float = 0.0
    """When the webhook enqueued it (SQS ``SentTimestamp``, seconds)."""
    receive_count: int = 1


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


def _album_of(update: Mapping[str, Any]) -> str | None:
    message = update.get("message")
    if not isinstance(message, Mapping):
        return None
    album = message.get("media_group_id")
    return album if isinstance(album, str) else None


def _rides_along(head: Mapping[str, Any], later: Mapping[str, Any]) -> bool:
    """Whether ``later`` can be relayed in one call with ``head``: a person's consecutive
    plain messages (one copyMessages into the topic), or the parts of an operator's album."""
    if _plain_private_message(head):
        return _plain_private_message(later)
    album = _album_of(head)
    return album is not None and _album_of(later) == album


class BatchPlan:
    """For each record, the records that directly follow it in its message group and can be
    relayed together with it (consecutive plain private messages of one person; the parts of
    an album an operator sent)."""

    def __init__(self, records: Sequence[RecordView]) -> None:
        self.updates: dict[str, dict[str, Any] | None] = {
            record.message_id: parse_update(record.body) for record in records
        }
        self._sent_at = {record.message_id: record.sent_at for record in records}
        self._receives = {record.message_id: record.receive_count for record in records}
        self._order = [record.message_id for record in records]
        self._groups = {record.message_id: record.group_id for record in records}
        by_group: dict[str, list[str]] = {}
        for record in records:
            by_group.setdefault(record.group_id, []).append(record.message_id)
        self._followers: dict[str, list[dict[str, Any]]] = {}
        self._run_end: dict[str, str] = {}
        self._group_last: set[str] = {ids[-1] for ids in by_group.values()}
        for ids in by_group.values():
            for position, message_id in enumerate(ids):
                update = self.updates[message_id]
                if update is None:
                    continue
                run: list[dict[str, Any]] = []
                end = message_id
                for later_id in ids[position + 1 :]:
                    later = self.updates[later_id]
                    if later is None or not _rides_along(update, later):
                        break
                    run.append(later)
                    end = later_id
                self._followers[message_id] = run
                self._run_end[message_id] = end

    def followers(self, message_id: str) -> list[dict[str, Any]]:
        return self._followers.get(message_id, [])

    def others_behind(self, message_id: str) -> bool:
        """Whether a record of another conversation comes after this one in the batch (and
        would wait while this one sleeps)."""
        if message_id not in self._groups:
            return False
        position = self._order.index(message_id)
        group = self._groups[message_id]
        return any(self._groups[later] != group for later in self._order[position + 1 :])

    def album_wait(self, message_id: str, now: float) -> float:
        """Seconds to wait for more parts of an album before relaying this record's run: >0
        when the run ends in an album part that is the last record of its group in this
        batch, and either it was enqueued less than ``ALBUM_SETTLE_SECONDS`` ago (the rest
        may still be on its way) or it was never waited for (received once: the rest may be
        in the queue, cut off this batch). Bounded: once waited for and settled, it goes."""
        end = self._run_end.get(message_id)
        if end is None or end not in self._group_last:
            return 0.0
        last = self.updates.get(end)
        if last is None or _album_of(last) is None:
            return 0.0
        fresh = self._sent_at.get(end, 0.0) + ALBUM_SETTLE_SECONDS - now
        if self._receives.get(end, 1) <= 1:
            return max(fresh, 1.0)
        return max(0.0, fresh)


R = TypeVar("R", bound=Mapping[str, Any])


def answers_first(records: Sequence[R]) -> list[R]:
    """The batch's records with operators' topics first: an answer to a person needs no slot
    of the busy group, so it must not wait behind records that do (people's messages into
    their topics). Order within each conversation is kept (a stable sort by conversation
    kind); SQS FIFO orders only within a group, so across groups any order is allowed."""

    def kind(record: R) -> int:
        group = record.get("attributes", {}).get("MessageGroupId", "")
        return 0 if is_topic_group(str(group)) else 1

    return sorted(records, key=kind)


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
        if not error.booked:
            # Back no sooner than asked: nothing is booked for it, and back early it would
            # only be deferred again (a person's pace spun a flood through 30 receives).
            return max(1, math.ceil(remaining))
        return max(0, math.floor(remaining))
    exponent = max(0, receive_count - 1)
    return int(min(MAX_BACKOFF_SECONDS, first_backoff * 2**exponent))
