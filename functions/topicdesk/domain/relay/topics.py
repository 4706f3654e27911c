"""A person's topic: created race-free with its contact card, recreated when deleted, reopened
when closed; notes to the operators inside it. Every visible step is a step (``Steps``)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
from typing import Protocol, TypeVar

from topicdesk.domain import texts
from topicdesk.domain.errors import (
    NotModified,
    RecipientBlocked,
    TopicBeingCreated,
    TopicClosed,
    TopicMissing,
)
from topicdesk.domain.model import ChatMessage, Person, Session, SessionStatus
from topicdesk.domain.ports import SessionRepository
from topicdesk.domain.relay.context import RelayContext
from topicdesk.domain.relay.newcomers import NewTopicCap
from topicdesk.domain.steps import Steps

T = TypeVar("T")


class CardPoster(Protocol):
    """Posts a person's contact card in their topic (the inbox's, with its button)."""

    async def post_card(self, session: Session, text: str) -> int: ...


class VisitorNotices(Protocol):
    async def tell(self, session: Session, text: str) -> bool: ...


class ShardPicker:
    """Chooses the operators' group for a new person: the one with the most headroom under its
    20/min limit right now (the shortest queue in the shared limiter), then the one hosting
    the fewest people. A person's topic never moves once created; only new people are spread.
    """

    def __init__(
        self,
        sessions: SessionRepository,
        operator_chat_ids: Sequence[int],
        backlog: Callable[[int], float] | None = None,
    ) -> None:
        self._sessions = sessions
        self._chats = tuple(operator_chat_ids)
        self._backlog = backlog
        """Seconds of sends already queued for a group (0 when it is idle)."""

    def pick(self) -> int:
        if len(self._chats) == 1:
            return self._chats[0]
        counts = self._sessions.count_by_operator_chat(self._chats)
        queued = {chat: self._backlog(chat) if self._backlog else 0.0 for chat in self._chats}
        return min(
            self._chats,
            key=lambda chat: (queued[chat], counts.get(chat, 0), self._chats.index(chat)),
        )


class Unread(Enum):
    """No session was read yet (``Topics.ensure`` reads it)."""

    UNREAD = "unread"


UNREAD = Unread.UNREAD


class Topics:
    def __init__(
        self, ctx: RelayContext, shards: ShardPicker, cap: NewTopicCap | None = None
    ) -> None:
        self._ctx = ctx
        self.visitors: VisitorNotices | None = None
        """How web widget visitors are told things (set by the relay when it has a widget)."""
        self._shards = shards
        self._cap = cap
        self.cards: CardPoster | None = None
        """Posts contact cards when the inbox is kept (its "Take it" button); else plain."""
        """At most N new people's topics per group an hour (``newcomers``); None: no cap."""

    def session_of(self, message: ChatMessage) -> Session | None:
        """The session whose topic ``message`` is in; None for bots' messages, the General
        topic, the ops topic and any topic that is not a person's."""
        if message.from_bot or not self._ctx.is_operator_chat(message.chat_id):
            return None
        if not message.is_topic_message or message.thread_id is None:
            return None
        user_id = self._ctx.sessions.user_for_topic(message.chat_id, message.thread_id)
        return self._ctx.sessions.get(user_id) if user_id is not None else None

    async def ensure(
        self,
        person: Person,
        steps: Steps,
        card: str | None = None,
        *,
        current: Session | Unread | None = UNREAD,
    ) -> Session:
        """The person's session with a topic and a contact card (``card``, else the person's
        own), created race-free; ``current``: the session as just read by the caller."""
        session = self._ctx.sessions.get(person.user_id) if current is UNREAD else current
        if session is None or not session.has_topic:
            session = await self._create(person, session, steps)
        if not session.card_posted:
            await self._post_card(session, steps, card)
            session = session.with_changes(card_posted=True)
        return session

    async def _create(self, person: Person, existing: Session | None, steps: Steps) -> Session:
        ctx = self._ctx
        created = steps.result("topic")  # [chat, thread]: made by an attempt that then failed
        if created is not None:
            chat_id = int(created[0])
        else:
            chat_id = NewTopicCap.chat_in_line(steps) or (
                existing.operator_chat_id if existing else self._shards.pick()
            )
            if self._cap is not None:
                await self._cap.wait_turn(chat_id, person.user_id, steps)
        owner = ctx.settings.owner_id
        lease = ctx.settings.topic_claim_lease_seconds
        if not ctx.sessions.claim_topic_creation(person, chat_id, owner, ctx.clock.now(), lease):
            current = ctx.sessions.get(person.user_id)
            if current is not None and current.has_topic:
                return current
            raise TopicBeingCreated(f"topic for {person.user_id} is being created elsewhere")

        async def create() -> list[int]:
            return [chat_id, await ctx.telegram.create_topic(chat_id, texts.topic_name(person))]

        try:
            _, thread_id = await steps.once("topic", create)
        except Exception:
            ctx.sessions.release_claim(person.user_id, owner)
            raise
        attached: list[Session | None] = []
        # The topic exists now; losing track of it would create a second one on retry.
        await ctx.after_send(
            lambda: attached.append(
                ctx.sessions.attach_topic(person.user_id, chat_id, thread_id, owner)
            ),
            required=True,
        )
        steps.kept("topic")  # the session names it now: a retry finds it there
        ctx.metrics.count("TopicsCreated")
        current = attached[-1] or ctx.sessions.get(person.user_id)
        assert current is not None and current.has_topic
        return current

    async def _post_card(self, session: Session, steps: Steps, card: str | None) -> None:
        assert session.thread_id is not None
        ctx = self._ctx

        async def post() -> int:
            if self.cards is not None:
                return await self.cards.post_card(
                    session, card or texts.contact_card(session.person)
                )
            return await ctx.telegram.send_text(
                session.operator_chat_id,
                card or texts.contact_card(session.person),
                thread_id=session.thread_id,
            )

        await steps.once("card", post)
        if await ctx.after_send(lambda: ctx.sessions.update(session.user_id, card_posted=True)):
            steps.kept("card")  # a retry finds it posted in the session

    async def recreate(self, session: Session, steps: Steps) -> Session:
        assert session.thread_id is not None
        ctx = self._ctx
        old_thread = session.thread_id

        async def create() -> int:
            return await ctx.telegram.create_topic(
                session.operator_chat_id, texts.topic_name(session.person)
            )

        new_thread = int(await steps.once("recreated", create))
        if new_thread != old_thread:
            ctx.sessions.replace_topic(session.user_id, old_thread, new_thread)
            ctx.metrics.count("TopicsRecreated")
        session = session.with_changes(thread_id=new_thread, status=SessionStatus.OPEN)

        async def card() -> int:
            return await ctx.telegram.send_text(
                session.operator_chat_id,
                f"{texts.contact_card(session.person)}\n\n{texts.TOPIC_RECREATED}",
                thread_id=new_thread,
            )

        await steps.once("recreated-card", card)
        return session

    async def reopen(self, session: Session) -> bool:
        assert session.thread_id is not None
        # Already open, or gone (the next send recreates it): both fine.
        with contextlib.suppress(NotModified, TopicMissing):
            await self._ctx.telegram.reopen_topic(session.operator_chat_id, session.thread_id)
        return True

    async def close(self, session: Session) -> bool:
        assert session.thread_id is not None
        with contextlib.suppress(NotModified, TopicMissing):
            await self._ctx.telegram.close_topic(session.operator_chat_id, session.thread_id)
        return True

    async def send_into(
        self, session: Session, send: Callable[[Session], Awaitable[T]], steps: Steps, step: str
    ) -> tuple[T, Session]:
        """Send into the person's topic as step ``step``; recreate a deleted topic, reopen a
        closed one."""
        if steps.done(step):
            return steps.result(step), session
        if steps.done("recreated") and not steps.done("recreated-card"):
            session = await self.recreate(session, steps)  # finish what a retry began
        await steps.settle()
        try:
            value = await send(session)
        except TopicMissing:
            session = await self.recreate(session, steps)
            value = await send(session)
        except TopicClosed:
            await self.reopen(session)
            value = await send(session)
        await steps.mark(step, value)
        return value, session

    async def note(
        self,
        session: Session,
        text: str,
        *,
        steps: Steps,
        step: str,
        reply_to: int | None = None,
    ) -> int:
        """Tell the operators something inside the person's topic (once: step ``step``);
        returns the note's id."""

        async def send(current: Session) -> int:
            return await self._ctx.telegram.send_text(
                current.operator_chat_id, text, thread_id=current.thread_id, reply_to=reply_to
            )

        note_id, _ = await self.send_into(session, send, steps, step)
        return int(note_id)

    async def tell_person(self, session: Session, text: str) -> bool:
        """A notice to the person; False (and marked) when they blocked the bot. A web
        visitor is told through the widget (False: their session has ended)."""
        if session.person.is_visitor:
            return await self.visitors.tell(session, text) if self.visitors else False
        try:
            await self._ctx.telegram.send_text(session.user_id, text)
        except RecipientBlocked:
            if not session.blocked:
                self._ctx.sessions.update(session.user_id, blocked=True)
            return False
        return True
