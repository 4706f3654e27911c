"""The refresh job of one operators' group: topic labels and the queue overview brought up to
date, coalesced (the rules and their reasons: ``topicdesk.domain.inbox.display``).

It is a record of the updates queue (group ``inbox#<chat>``), queued by a change the topic or
the overview shows, at most one queued at a time (``Inbox.schedule``). What it may not do yet
(a label not stable, an overview refreshed less than a minute ago, the group's slot busy) it
does when it comes back: it raises ``RateLimited`` and the consumer defers it like any record
the limiter refused. Every call it makes spends the group's budget in the shared limiter.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from topicdesk.domain.errors import (
    MessageGone,
    NotModified,
    RateLimited,
    RejectedByTelegram,
    TopicMissing,
)
from topicdesk.domain.inbox.display import (
    EDITS_PER_RUN,
    QUEUE_TOPIC_NAME,
    label,
    label_due,
    overview,
    overview_due,
)
from topicdesk.domain.inbox.ports import GroupInbox, InboxStore, InboxTelegram
from topicdesk.domain.inbox.service import SCHEDULE_STALE_SECONDS
from topicdesk.domain.inbox.state import Conversation
from topicdesk.domain.ports import Clock

logger = logging.getLogger(__name__)

JOB_FIELD = "inbox_refresh"
COME_BACK_SECONDS = 5.0
"""The soonest a deferred run comes back (a busy group is asked again no sooner)."""


def job_body(chat_id: int) -> str:
    """The refresh job's queue record: ``{"inbox_refresh": <operators' group>}``."""
    return json.dumps({JOB_FIELD: chat_id})


def job_group(chat_id: int) -> str:
    """Its queue group: its own, so its deferrals hold back no conversation."""
    return f"inbox#{chat_id}"


def job_chat(body: str) -> int | None:
    """The group of a refresh job's body; None for any other body."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    chat = data.get(JOB_FIELD) if isinstance(data, dict) else None
    return chat if isinstance(chat, int) and not isinstance(chat, bool) else None


class InboxRefresh:
    def __init__(
        self,
        store: InboxStore,
        telegram: InboxTelegram,
        clock: Clock,
        backlog: Callable[[int], float] | None = None,
    ) -> None:
        """``backlog``: seconds of sends already queued for a group in the shared limiter
        (the refresh only takes a slot nothing relayed is waiting for)."""
        self._store = store
        self._telegram = telegram
        self._clock = clock
        self._backlog = backlog

    async def run(self, chat_id: int) -> None:
        """Do what is due; raise ``RateLimited`` to come back for the rest."""
        # From here on, any change queues another run: nothing read below can miss it.
        self._store.clear_schedule(chat_id)
        now = self._clock.now()
        waits: list[float] = []
        edits = 0
        for record in sorted(self._store.conversations(chat_id), key=lambda r: r.changed_at):
            due = label_due(record, now)
            if due is None:
                continue
            if due > 0 or edits >= EDITS_PER_RUN:
                waits.append(due)
                continue
            busy = self._busy(chat_id)
            if busy:
                waits.append(busy)
                break
            await self._label(record, now)
            edits += 1
        group = self._store.group(chat_id)
        due = overview_due(group.dirty, group.refreshed_at, now)
        if due is not None:
            busy = self._busy(chat_id) if due == 0 else 0.0
            if due > 0 or busy:
                waits.append(max(due, busy))
            else:
                try:
                    await self._overview(group, now)
                except BaseException:
                    # A 429 or an outage: the record comes back, and the overview is still
                    # to be refreshed then.
                    self._store.mark_dirty(chat_id)
                    raise
        if waits:
            self._come_back(chat_id, min(waits))

    def _busy(self, chat_id: int) -> float:
        """Seconds of relayed sends queued for the group (0: its next slot is free)."""
        return self._backlog(chat_id) if self._backlog is not None else 0.0

    def _come_back(self, chat_id: int, wait: float) -> None:
        if not self._store.claim_schedule(chat_id, self._clock.now(), SCHEDULE_STALE_SECONDS):
            return  # another run was queued meanwhile: it does the rest
        raise RateLimited(max(wait, COME_BACK_SECONDS), key=f"inbox#{chat_id}")

    async def _label(self, record: Conversation, now: float) -> None:
        wanted = label(record)
        assert wanted is not None and record.thread_id is not None
        try:
            await self._telegram.edit_topic(record.chat_id, record.thread_id, wanted)
        except NotModified:
            pass  # it shows it already (a run that ended before noting it)
        except (TopicMissing, RejectedByTelegram) as error:
            # Gone (the relay recreates it on the next message) or refused: noted as shown
            # so the job does not try again and again; the next change sets it.
            logger.warning("topic label not set: %s", error)
        self._store.mark_shown(record.chat_id, record.user_id, wanted, now)

    async def _overview(self, group: GroupInbox, now: float) -> None:
        chat_id = group.chat_id
        self._store.overview_refreshed(chat_id, now)  # a change after this marks it again
        text = overview(chat_id, self._store.conversations(chat_id), now)
        if group.overview_message_id is not None:
            try:
                await self._telegram.edit_counted(chat_id, group.overview_message_id, text)
                return
            except NotModified:
                return
            except MessageGone:
                pass  # deleted by someone: posted again below, and pinned
        thread = group.queue_thread
        message_id: int | None = None
        if thread is not None:
            try:
                message_id = await self._telegram.send_text(chat_id, text, thread_id=thread)
            except TopicMissing:
                thread = None
        if thread is None or message_id is None:
            thread = await self._telegram.create_topic(chat_id, QUEUE_TOPIC_NAME)
            self._store.set_overview(chat_id, thread, None)
            message_id = await self._telegram.send_text(chat_id, text, thread_id=thread)
        self._store.set_overview(chat_id, thread, message_id)
        await self._telegram.pin(chat_id, message_id)
