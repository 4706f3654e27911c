"""The inbox's refresh job as a record of the updates queue (``topicdesk.domain.inbox``):
recognised by its body, run on the container's loop. A run that must come back later raises
``RateLimited``, which the batch policy turns into a deferral (not a failure)."""

from __future__ import annotations

import asyncio

from topicdesk.domain.inbox import InboxRefresh
from topicdesk.domain.inbox.refresh import job_chat
from topicdesk.runtime.inbox_schedule import ScheduledInboxWork


class InboxWork:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        refresh: InboxRefresh,
        scheduled: ScheduledInboxWork | None = None,
    ) -> None:
        self._loop = loop
        self._refresh = refresh
        self._scheduled = scheduled
        """Nudge and digest jobs (``topicdesk.runtime.inbox_schedule``)."""

    def take(self, body: str) -> bool:
        """Run ``body`` if it is a refresh, nudge or digest job; False for any other body."""
        chat_id = job_chat(body)
        if chat_id is None:
            return self._scheduled is not None and self._scheduled.take(body)
        self._loop.run_until_complete(self._refresh.run(chat_id))
        return True
