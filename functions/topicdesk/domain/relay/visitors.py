"""Web widget visitors <-> their topic: the relay's second channel.

A widget session is a person of the relay (``Person.is_visitor``) with a user id derived from
the session id, so it has the same session item, topic, race-free topic creation (a claim),
new-topics cap, /close, /reopen, /ban and /info as a Telegram person (``Topics``). What
differs is the way back: an operator's answer is pushed to every open WebSocket connection of
the session (``post_to_connection``), or kept in the widget store for the visitor's return
(the edge flushes it on ``hello``); only text can be sent to a web page.

Every visible step is a step (``Steps``), and the consumer runs a record at most once per
session and client message id (Powertools idempotency, ``runtime/visitors.py``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from topicdesk.domain import texts
from topicdesk.domain.inbox.state import Event
from topicdesk.domain.model import VISITOR_ID_BASE, ChatMessage, Person, Session, SessionStatus
from topicdesk.domain.ports import ConnectionPush
from topicdesk.domain.relay.context import RelayContext
from topicdesk.domain.relay.topics import Topics
from topicdesk.domain.steps import Steps
from topicdesk.domain.widget import WidgetConversations, WidgetMessage, WidgetRecord

ANON_PREFIX = "Anon_"
_BROWSERS = (  # the first that matches names the browser (Edge and Opera also say Chrome)
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"OPR/(\d+)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"(?:Chrome|CriOS)/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+)[^ ]* (?:Mobile/\S+ )?Safari/")),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def visitor_user_id(session_id: str) -> int:
    """The session's user id in the relay: stable, and never a Telegram user's."""
    return VISITOR_ID_BASE + int.from_bytes(_digest(session_id)[:8], "big") % VISITOR_ID_BASE


def anon_name(session_id: str) -> str:
    """``Anon_<6 characters>``, the same for every message of the session."""
    return ANON_PREFIX + base64.b32encode(_digest(session_id)[8:13]).decode()[:6]


def visitor_person(record: WidgetRecord) -> Person:
    """The visitor as the relay's person: named by their e-mail, else ``Anon_<6>``."""
    return Person(
        user_id=visitor_user_id(record.session_id),
        first_name=record.email or anon_name(record.session_id),
        language_code=record.page.language or None,
    )


def browser_of(user_agent: str) -> str:
    """``Firefox 121 on Windows`` from a User-Agent header, or the header itself, shortened."""
    if not user_agent:
        return "unknown"
    name = next(
        (f"{label} {found[1]}" for label, rx in _BROWSERS if (found := rx.search(user_agent))),
        None,
    )
    system = next((label for token, label in _SYSTEMS if token in user_agent), None)
    if name is None:
        return user_agent[:80]
    return f"{name} on {system}" if system else name


def visitor_card(record: WidgetRecord, person: Person) -> str:
    """The contact card that opens a visitor's topic."""
    return texts.VISITOR_CARD.format(
        name=person.full_name,
        email=record.email or "not given",
        url=record.page.url or "unknown",
        browser=browser_of(record.page.user_agent),
        language=record.page.language or "unknown",
    )


def operator_message_id(message: ChatMessage) -> str:
    """The widget's id of an operator's answer: the same on every retry (the widget and the
    store recognise a repeat by it)."""
    return f"op-{abs(message.chat_id)}-{message.message_id}"


@dataclass(frozen=True, eq=False)  # a service: equal only to itself
class VisitorRelay:
    ctx: RelayContext
    topics: Topics
    conversations: WidgetConversations
    push: ConnectionPush

    # ------------------------------------------------------------------ visitor -> topic

    async def message(self, record: WidgetRecord, steps: Steps) -> None:
        """A visitor's message: their topic (created with the card on the first one), then
        the text in it."""
        ctx = self.ctx
        person = visitor_person(record)
        # Before the topic exists, so an answer in it can always find its way back.
        steps.once_sync(
            "visitor",
            lambda: self.conversations.remember_visitor(
                person.user_id, record.session_id, ctx.clock.now()
            ),
        )
        session = await self.topics.ensure(person, steps, card=visitor_card(record, person))
        if session.banned:
            steps.once_sync("dropped", lambda: ctx.sessions.increment(person.user_id, "dropped"))
            ctx.metrics.count("BannedDropped")
            return
        session = await self._on_contact(session, person, steps)

        async def send(current: Session) -> int:
            return await ctx.telegram.send_text(
                current.operator_chat_id, record.text, thread_id=current.thread_id
            )

        await self.topics.send_into(session, send, steps, "text")
        count = lambda: ctx.sessions.increment(person.user_id, "messages_in")  # noqa: E731
        await ctx.after_send(lambda: steps.once_sync("counted", count))
        ctx.metrics.count("WidgetMessagesToOperators")
        if ctx.inbox is not None:  # the same state as a Telegram person's (issue 15)
            ctx.inbox.record(session, Event.PERSON_WROTE, steps)
            if ctx.inbox.away is not None:  # outside business hours: told once, on the page
                # Its id is the record's: a retried record shows it once on the page.
                away_id = f"away-{record.client_message_id}"
                await ctx.inbox.away.person_wrote(
                    session, steps, lambda text: self.tell(session, text, notice_id=away_id)
                )

    async def _on_contact(self, session: Session, person: Person, steps: Steps) -> Session:
        """The visitor wrote: an e-mail given later renames them on /info; a closed
        conversation reopens (as for a Telegram person)."""
        changes: dict[str, object] = {}
        if person.first_name != session.person.first_name and not person.first_name.startswith(
            ANON_PREFIX
        ):
            changes["person"] = person
        if session.status is SessionStatus.CLOSED or steps.done("reopened"):
            changes["status"] = SessionStatus.OPEN
            await steps.once("reopened", lambda: self.topics.reopen(session))
            text = texts.REOPENED_BY_PERSON.format(name=person.full_name)
            await self.topics.note(session, text, steps=steps, step="reopened-note")
        if changes:
            self.ctx.sessions.update(person.user_id, **changes)
            session = session.with_changes(**changes)
        return session

    # ------------------------------------------------------------------ topic -> visitor

    async def answer(self, session: Session, message: ChatMessage, steps: Steps) -> bool:
        """An operator's message in a visitor's topic: pushed (True: the caller reacts, the
        receipt), or kept for later, or not sendable (a note under it says which)."""
        ctx = self.ctx
        name = session.person.full_name
        if message.kind != "text" or not message.text:
            ctx.metrics.count("WidgetNotText")
            text = texts.NOT_DELIVERED_TO_VISITOR.format(kind=message.kind)
            await self._note(session, message, text, steps)
            return False
        ts = steps.once_sync("answer-ts", lambda: int(ctx.clock.now() * 1000))
        answer = WidgetMessage(operator_message_id(message), "operator", message.text, int(ts))
        outcome = await steps.once("deliver", lambda: self._deliver(session, answer))
        if outcome == "gone":
            ctx.metrics.count("WidgetSessionGone")
            await self._note(session, message, texts.VISITOR_SESSION_GONE.format(name=name), steps)
            return False
        increment = lambda: ctx.sessions.increment(session.user_id, "messages_out")  # noqa: E731
        await ctx.after_send(lambda: steps.once_sync("counted", increment))
        if ctx.inbox is not None:  # pushed or kept: answered either way (issue 15)
            ctx.inbox.record(session, Event.OPERATOR_ANSWERED, steps)
        if outcome == "kept":
            ctx.metrics.count("WidgetAnswersKept")
            await self._note(session, message, texts.KEPT_FOR_VISITOR.format(name=name), steps)
            return False
        ctx.metrics.count("WidgetAnswersPushed")
        return True

    async def tell(self, session: Session, text: str, *, notice_id: str = "") -> bool:
        """A notice to the visitor (the conversation was closed or reopened, we are away):
        pushed or kept like an answer; False only when the session is gone."""
        now_ms = int(self.ctx.clock.now() * 1000)
        notice = WidgetMessage(notice_id or f"note-{now_ms}", "operator", text, now_ms)
        return await self._deliver(session, notice) != "gone"

    async def _deliver(self, session: Session, message: WidgetMessage) -> str:
        """``pushed`` to at least one open connection, ``kept`` for the visitor's return, or
        ``gone`` (the session expired or was erased)."""
        conversations, now = self.conversations, self.ctx.clock.now()
        session_id = conversations.visitor_session(session.user_id)
        if session_id is None or conversations.session(session_id, now) is None:
            return "gone"
        pushed = await self._push_all(session_id, message)
        if not conversations.record_operator(session_id, message, pushed=pushed, now=now):
            return "pushed" if pushed else "kept"  # recorded by an attempt that then failed
        if not pushed:
            # A visitor who said hello between the look-up and the record found nothing to
            # flush: push once more (kept as well; the widget shows an id once).
            pushed = await self._push_all(session_id, message)
        return "pushed" if pushed else "kept"

    async def _push_all(self, session_id: str, message: WidgetMessage) -> bool:
        frame = {"type": "message", **message.to_frame()}
        pushed = False
        for connection_id in self.conversations.connections(session_id, self.ctx.clock.now()):
            if await self.push.post(connection_id, frame):
                pushed = True
            else:
                self.conversations.drop_connection(connection_id)
                self.ctx.metrics.count("WidgetConnectionsGone")
        return pushed

    async def _note(self, session: Session, message: ChatMessage, text: str, steps: Steps) -> None:
        await self.topics.note(
            session, text, steps=steps, step="undelivered-note", reply_to=message.message_id
        )
