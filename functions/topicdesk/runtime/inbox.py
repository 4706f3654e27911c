"""The inbox's refresh job as a record of the updates queue (``topicdesk.domain.inbox``):
recognised by its body, run on the container's loop. A run that must come back later raises
``RateLimited``, which the batch policy turns into a deferral (not a failure)."""

from __future__ import annotations

import asyncio

from topicdesk.domain.inbox import InboxRefresh
from topicdesk.domain.inbox.refresh import job_chat


class InboxWork:
    def __init__(self, loop: asyncio.AbstractEventLoop, refresh: InboxRefresh) -> None:
        self._loop = loop
        self._refresh = refresh

    def take(self, body: str) -> bool:
        """Run ``body`` if it is a refresh job; False for any other body."""
        chat_id = job_chat(body)
        if chat_id is None:
            return False
        self._loop.run_until_complete(self._refresh.run(chat_id))
        return True
