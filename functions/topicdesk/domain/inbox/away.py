"""The away message (issue 15, item 5): a person who writes outside the stage's business
hours is told so, once per conversation (configurable text).

Called by the relay right after a person's message was copied into their topic and the
conversation's state followed it. Once per conversation: the record notes the conversation
(its ``opened_at``) the message was sent in (``away_for``); a person who writes again the
same night is not told twice, one who writes after /close (a new conversation) is. The send
is a step (a retried record does not send it twice) and goes through the relay's gateway, so
the shared limiter paces it like every send. A web widget visitor has no Telegram chat: the
visitor relay hands its own way to them (pushed to their open connections, or kept for their
return, as an answer is).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from topicdesk.domain.errors import RecipientBlocked
from topicdesk.domain.inbox.hours import BusinessHours
from topicdesk.domain.inbox.ports import InboxStore
from topicdesk.domain.inbox.service import InboxContended
from topicdesk.domain.inbox.state import Conversation
from topicdesk.domain.model import Session
from topicdesk.domain.ports import Clock
from topicdesk.domain.steps import Steps

DEFAULT_AWAY_MESSAGE = (
    "Thanks for your message! We're away right now; we'll answer when we're back in the office."
)
WRITE_ATTEMPTS = 8


class AwayTelegram(Protocol):
    async def send_text(
        self, chat_id: int, text: str, *, thread_id: int | None = None, reply_to: int | None = None
    ) -> int: ...


def away_due(record: Conversation | None, hours: BusinessHours, now: float) -> bool:
    """The person is owed the away message: out of hours, not told in this conversation."""
    if hours.always or hours.is_open(now) or record is None or record.opened_at is None:
        return False
    return record.away_for != record.opened_at


class Away:
    def __init__(
        self,
        store: InboxStore,
        telegram: AwayTelegram,
        hours: BusinessHours,
        clock: Clock,
        text: str = DEFAULT_AWAY_MESSAGE,
    ) -> None:
        self._store = store
        self._telegram = telegram
        self._hours = hours
        self._clock = clock
        self._text = text or DEFAULT_AWAY_MESSAGE

    async def person_wrote(
        self,
        session: Session,
        steps: Steps,
        tell: Callable[[str], Awaitable[bool]] | None = None,
    ) -> bool:
        """Tell the person we are away if it is due; True when it was sent (now or before).
        ``tell``: how to reach them when it is not their Telegram chat (a widget visitor);
        it answers False when they cannot be reached (nothing to retry)."""
        if not steps.done("away") and self._hours.is_open(self._clock.now()):
            return False  # open (or no hours configured): nothing to tell, nothing to read
        record = self._store.get(session.operator_chat_id, session.user_id)
        if not steps.done("away") and not away_due(record, self._hours, self._clock.now()):
            return False
        if record is None or record.opened_at is None:
            return False
        if tell is not None:
            await steps.once("away", lambda: tell(self._text))
        else:
            await steps.once("away", lambda: self._send(session.user_id))
        self._mark(session, record.opened_at)
        return True

    async def _send(self, user_id: int) -> bool:
        try:
            await self._telegram.send_text(user_id, self._text)
        except RecipientBlocked:
            return False  # they blocked the bot: nothing to tell, and nothing to retry
        return True

    def _mark(self, session: Session, opened_at: float) -> None:
        for _ in range(WRITE_ATTEMPTS):
            record = self._store.get(session.operator_chat_id, session.user_id)
            if record is None or record.away_for == opened_at:
                return
            if self._store.save(record.with_changes(away_for=opened_at), record.version):
                return
        raise InboxContended(f"away message to {session.user_id} not noted")
