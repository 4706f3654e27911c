"""The optional question for new people (stage setting ``newPersonChallenge``): before their
first topic, a person taps the right button of an inline keyboard.

Until they do, their messages are held, not relayed and not lost: each one's id joins the
person's held list (in the order they wrote: their records run one after another in their FIFO
group) and the record is done. The answer comes as a ``callback_query`` in that same group:
it is always answered (``answerCallbackQuery``, so the person's app stops its spinner); a
right answer opens the topic (within the new-people cap) and copies the held messages into it
in order, at the person's pace; a wrong one opens nothing and says so. People who already
have a topic are never asked.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from topicdesk.domain import texts
from topicdesk.domain.errors import NotCopyable, RecipientBlocked, RejectedByTelegram
from topicdesk.domain.model import ChatMessage, Person, Session
from topicdesk.domain.relay.context import COPY_MESSAGES_LIMIT, RelayContext
from topicdesk.domain.relay.pace import Pace, over_pace, spend_alone
from topicdesk.domain.relay.topics import Topics
from topicdesk.domain.steps import Steps

CALLBACK_PREFIX = "challenge:"
ASK_AGAIN_SECONDS = 3600.0
"""A person who wrote again long after the question (it scrolled away) is asked again."""
CHOICES: tuple[tuple[str, str], ...] = (
    ("apple", "🍎"),
    ("car", "🚗"),
    ("cat", "🐱"),
    ("house", "🏠"),
    ("tree", "🌳"),
    ("fish", "🐟"),
)
BUTTONS = 4


@dataclass(frozen=True)
class ChallengeState:
    answer: str
    """The right button's callback data."""
    asked_at: float
    passed: bool = False
    held: tuple[int, ...] = ()
    """The person's messages written before the right answer, in order."""


@dataclass(frozen=True)
class CallbackQuery:
    """A button pressed under one of the bot's messages (a ``callback_query`` update)."""

    query_id: str
    person: Person
    chat_id: int
    """The chat of the message the button was under (the person's private chat)."""
    data: str | None


class ChallengeStore(Protocol):
    def get(self, user_id: int) -> ChallengeState | None: ...

    def ask(self, user_id: int, answer: str, now: float) -> None:
        """A (new) question: its right answer; the held messages stay."""
        ...

    def hold(self, user_id: int, message_id: int) -> None:
        """Add a message to the held list (once, however often it is added)."""
        ...

    def passed(self, user_id: int) -> None: ...

    def release(self, user_id: int) -> None:
        """The held messages are in the topic: forget them."""
        ...


class ChallengeTelegram(Protocol):
    """The two Bot API calls the question needs besides the relay's."""

    async def send_buttons(
        self, chat_id: int, text: str, buttons: Sequence[tuple[str, str]]
    ) -> int:
        """A message with one row of inline buttons (label, callback data); its id."""
        ...

    async def answer_callback(self, query_id: str, text: str | None = None) -> None: ...


@dataclass
class Challenge:
    ctx: RelayContext
    topics: Topics
    store: ChallengeStore
    telegram: ChallengeTelegram
    pace: Pace | None = None
    """The person's pace: the held messages are copied at it, like any of theirs."""
    rng: random.Random = field(default_factory=random.Random)

    def passed_or_known(self, user_id: int, session: Session | None) -> bool:
        """True when the person needs no question: they have a topic (``session``, as just
        read), or answered right."""
        if session is not None and session.has_topic:
            return True
        state = self.store.get(user_id)
        return state is not None and state.passed

    async def hold(self, person: Person, message_id: int, steps: Steps) -> None:
        """A new person's message before the right answer: held, and the question asked
        (again when the last one is old)."""
        self.store.hold(person.user_id, message_id)
        self.ctx.metrics.count("ChallengeHeld")
        state = self.store.get(person.user_id)
        if state is not None and self.ctx.clock.now() - state.asked_at < ASK_AGAIN_SECONDS:
            return
        await steps.once("challenge-asked", lambda: self._ask(person.user_id))

    async def _ask(self, user_id: int) -> bool:
        options = self.rng.sample(CHOICES, BUTTONS)
        name, emoji = options[self.rng.randrange(BUTTONS)]
        buttons = [(label, f"{CALLBACK_PREFIX}{label}") for _, label in options]
        self.store.ask(user_id, f"{CALLBACK_PREFIX}{emoji}", self.ctx.clock.now())
        try:
            await self.telegram.send_buttons(
                user_id, texts.CHALLENGE_QUESTION.format(name=name), buttons
            )
        except RecipientBlocked:
            return False
        self.ctx.metrics.count("ChallengesAsked")
        return True

    def verdict(self, query: CallbackQuery) -> tuple[bool, str]:
        """(right, what to answer) for a press on a question's button."""
        state = self.store.get(query.person.user_id)
        if state is None or state.passed or not (query.data or "").startswith(CALLBACK_PREFIX):
            return False, texts.CHALLENGE_STALE
        if query.data != state.answer:
            self.ctx.metrics.count("ChallengesFailed")
            name = next(n for n, e in CHOICES if f"{CALLBACK_PREFIX}{e}" == state.answer)
            return False, texts.CHALLENGE_WRONG.format(name=name)
        return True, texts.CHALLENGE_PASSED

    def held(self, user_id: int) -> list[list[int]]:
        """The held messages in copyMessages-sized runs, in order."""
        state = self.store.get(user_id)
        ids = list(dict.fromkeys(state.held)) if state is not None else []
        return [ids[i : i + COPY_MESSAGES_LIMIT] for i in range(0, len(ids), COPY_MESSAGES_LIMIT)]

    async def answer(self, query: CallbackQuery, steps: Steps) -> None:
        """A button pressed: always answered; the right answer opens the topic and relays
        what was held, in order."""
        if not steps.done("verdict"):
            await steps.mark("verdict", list(self.verdict(query)), durable=False)
        right, text = steps.result("verdict")
        await steps.once("answered", lambda: self._answer_query(query.query_id, text))
        if not right:
            return
        user_id = query.person.user_id
        steps.once_sync("passed", lambda: self.store.passed(user_id))
        self.ctx.metrics.count("ChallengesPassed")
        session = await self.topics.ensure(query.person, steps)  # within the new-people cap
        for index, ids in enumerate(self.held(user_id)):
            session = await self._copy_held(session, ids, steps, f"held#{index}")
        self.store.release(user_id)

    async def _answer_query(self, query_id: str, text: str) -> bool:
        try:
            await self.telegram.answer_callback(query_id, text)
        except RejectedByTelegram:
            # Too old (Telegram gives a query about 15 s): the verdict stands regardless.
            self.ctx.metrics.count("CallbackAnswerRefused")
            return False
        return True

    async def _copy_held(
        self, session: Session, ids: list[int], steps: Steps, step: str
    ) -> Session:
        """One run of held messages into the topic: one unit of the person's pace, written on
        their session (no count follows; over it, the callback's record is held, nothing
        spent, and resumes here), one copyMessages call. The session as the pace left it."""
        if steps.done(step):
            return session
        user_id = session.user_id
        wait, paced = await spend_alone(self.ctx, self.pace, session, steps, f"{step}:paced")
        if wait > 0:
            raise over_pace(wait, user_id)
        session = paced or session
        messages = [
            ChatMessage(chat_id=user_id, message_id=i, sender=session.person, kind="message")
            for i in ids
        ]

        async def send(current: Session) -> list[int]:
            assert current.thread_id is not None
            return await self.ctx.telegram.copy_messages(
                current.operator_chat_id, user_id, ids, thread_id=current.thread_id
            )

        try:
            copied, session = await self.topics.send_into(session, send, steps, step)
        except NotCopyable:  # Telegram skips what it cannot copy; the rest still goes
            self.ctx.metrics.count("NotCopyable")
            return session
        if len(copied) == len(ids):
            await self.ctx.link_all(messages, session.operator_chat_id, copied)
        self.ctx.metrics.count("MessagesToOperators", len(copied))
        return session
