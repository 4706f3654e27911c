"""The "Take it" button on a person's contact card: posted with the card, and what a press
does (claim the conversation: one owner however many press at once; the one who pressed is
told the outcome)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from topicdesk.domain.errors import RejectedByTelegram
from topicdesk.domain.inbox.service import Inbox, owner_of
from topicdesk.domain.inbox.texts import GONE, claim_answer
from topicdesk.domain.model import Session
from topicdesk.domain.ports import SessionRepository
from topicdesk.domain.steps import Steps

if TYPE_CHECKING:  # the relay imports this module; it only uses the relay's value type
    from topicdesk.domain.relay.challenge import CallbackQuery

TAKE_PREFIX = "take:"
TAKE_LABEL = "🙋 Take it"


class TakeTelegram(Protocol):
    async def send_card(
        self, chat_id: int, thread_id: int, text: str, buttons: Sequence[tuple[str, str]]
    ) -> int: ...

    async def answer_callback(self, query_id: str, text: str | None = None) -> None: ...


class TakeButton:
    """The contact card with its "Take it" button, and what a press does: claim the
    conversation (one owner, however many press at once) and tell the one who pressed."""

    def __init__(self, inbox: Inbox, sessions: SessionRepository, telegram: TakeTelegram) -> None:
        self._inbox = inbox
        self._sessions = sessions
        self._telegram = telegram

    async def post_card(self, session: Session, text: str) -> int:
        assert session.thread_id is not None
        data = f"{TAKE_PREFIX}{session.user_id}"
        return await self._telegram.send_card(
            session.operator_chat_id, session.thread_id, text, [(TAKE_LABEL, data)]
        )

    @staticmethod
    def handles(query: CallbackQuery) -> bool:
        return (query.data or "").startswith(TAKE_PREFIX)

    async def press(self, query: CallbackQuery, steps: Steps) -> None:
        answer = steps.once_sync("take", lambda: self._take(query))
        await steps.once("answered", lambda: self._answer(query.query_id, answer))

    def _take(self, query: CallbackQuery) -> str:
        user = (query.data or "").removeprefix(TAKE_PREFIX)
        session = self._sessions.get(int(user)) if user.isdigit() else None
        if session is None or session.operator_chat_id != query.chat_id:
            return GONE
        return claim_answer(self._inbox.claim(session, owner_of(query.person)))

    async def _answer(self, query_id: str, text: str) -> bool:
        try:
            await self._telegram.answer_callback(query_id, text)
        except RejectedByTelegram:
            return False  # too old: the label shows the owner anyway
        return True
