"""The new-people cap: at most N new topics per operators' group in any hour.

A thousand fresh accounts writing at once would otherwise open a thousand topics and spend
the group's 20 messages a minute on contact cards for hours. Past the cap a new person waits
in line: their first record takes the next free place on the group's ``newtopics#<chat>``
key of the shared limiter (GCRA, so the places are handed out in the order people came) and
is deferred until then; their later records wait behind it in their FIFO message group. One
place per person: it is written down in their own partition, and every record of theirs
(retried, or the next one) takes that one instead of another (``_take_place``). So
nothing they write is lost or reordered: it is held until their topic exists.

The operators see one note per burst in the group's ops topic (General before one exists),
kept current by an edit at most once a minute, and ``NewPeopleWaiting`` counts who waited.
"""

from __future__ import annotations

import contextlib
import math
from typing import Protocol

from topicdesk.domain import texts
from topicdesk.domain.errors import (
    MessageGone,
    NotModified,
    RateLimited,
    RecipientBlocked,
    RejectedByTelegram,
    TopicMissing,
)
from topicdesk.domain.limiter import Rule
from topicdesk.domain.model import is_visitor_id
from topicdesk.domain.ports import TatStore
from topicdesk.domain.relay.context import RelayContext
from topicdesk.domain.steps import Steps

HOUR = 3600.0
LINE_HORIZON_SECONDS = 3 * 24 * 3600
"""The longest a new person is held: their first message must come back well before the
updates queue drops it (4 days' retention, ``infra/definitions.py``). A line longer than this
is not held any more (``NewTopicCapOverflow``): a topic late is better than a message lost."""
NOTE_EDIT_EVERY_SECONDS = 60.0
"""The note's count is refreshed at most this often (an edit spends the group's budget)."""
KEY_PREFIX = "newtopics"


def cap_rule(chat_id: int, per_hour: int) -> Rule:
    """At most ``per_hour`` in any hour: a burst of half of them at once, the rest spread.

    GCRA admits at most ``burst + ceil(W / interval) - 1`` in a window of ``W`` seconds, so an
    interval of ``HOUR / (per_hour - burst + 1)`` keeps every hour at ``per_hour``."""
    burst = max(1, per_hour // 2)
    # Rounded up to the millisecond: the store keeps TATs to a few decimals, and an interval
    # a hair short would fit one more in the hour.
    interval = math.ceil(HOUR * 1000 / (per_hour - burst + 1)) / 1000
    return Rule(f"{KEY_PREFIX}#{chat_id}", interval, burst=burst)


class WaitingLine(Protocol):
    """Who knows that people wait for a topic in an operators' group, and the one note."""

    def join(self, chat_id: int, until: float, now: float) -> bool:
        """Someone waits until ``until``. True when no one was waiting (a burst begins: its
        note is due); either way the burst lasts at least until ``until``."""
        ...

    def remember_note(self, chat_id: int, message_id: int, now: float) -> None: ...

    def note_to_edit(self, chat_id: int, now: float, every: float) -> int | None:
        """The burst's note, when it was last written ``every`` seconds ago or more (this
        caller then edits it: claimed); None otherwise."""
        ...

    def place_of(self, chat_id: int, user_id: int) -> float | None:
        """When the person's place in ``chat_id``'s line is due, if they took one."""
        ...

    def keep_place(self, chat_id: int, user_id: int, due: float) -> float | None:
        """Write the person's place down unless they hold one already (None: written; else
        the one another of their records wrote first, kept)."""
        ...


class NewTopicCap:
    def __init__(
        self, ctx: RelayContext, store: TatStore, line: WaitingLine, per_hour: int
    ) -> None:
        self._ctx = ctx
        self._store = store
        self._line = line
        self._per_hour = per_hour

    @staticmethod
    def chat_in_line(steps: Steps) -> int | None:
        """The group where this record's person took their place in line, if they did."""
        place = steps.result("line-place")
        return int(place[0]) if place else None

    async def wait_turn(self, chat_id: int, user_id: int, steps: Steps) -> None:
        """Return when the person may have their new topic in ``chat_id``; raise RateLimited
        (the record is held, and with it everything they write after) until their place."""
        ctx = self._ctx
        now = ctx.clock.now()
        place = steps.result("line-place")
        if place is None:
            place = self._take_place(chat_id, user_id, now)
            if place is None:
                return
            await steps.mark("line-place", place, durable=False)  # saves a read on retry
        slot, waiting = float(place[1]), int(place[2])
        if waiting == 0:
            return
        if not steps.done("line-told"):
            ctx.metrics.count("NewPeopleWaiting")
            await self._tell_operators(chat_id, slot, waiting, steps)
            await steps.once("line-told-person", lambda: self._tell_person(user_id, slot))
            await steps.mark("line-told", True, durable=False)
        if slot > ctx.clock.now():
            raise RateLimited(slot - ctx.clock.now(), key=f"{KEY_PREFIX}#{chat_id}")

    def _take_place(self, chat_id: int, user_id: int, now: float) -> list[float] | None:
        """The person's one place in line: ``[chat, due, people ahead]``; None when the line
        is too long to hold them (nothing taken).

        Kept in the person's own partition, not in the record's steps: every record of theirs
        (a retry after a crash or a timeout that lost the steps, their second message, a
        follower) finds it there, so one person holds one place however often they come
        back. Written right after the reservation: only a crash between the two calls (one
        round trip) can leave a place taken for nobody."""
        ctx = self._ctx
        rule = cap_rule(chat_id, self._per_hour)
        due = self._line.place_of(chat_id, user_id)
        if due is None:
            try:
                reservation = self._store.reserve(rule, now, LINE_HORIZON_SECONDS)
            except RateLimited:
                ctx.metrics.count("NewTopicCapOverflow")
                return None
            due = now + reservation.wait
            held = self._line.keep_place(chat_id, user_id, due)
            if held is not None:  # another of their records was first: theirs stands
                self._store.release(reservation)
                due = held
        wait = due - now
        # Below a millisecond is the numbers' rounding, not a wait.
        waiting = math.ceil(wait / rule.interval) if wait >= 0.001 else 0
        return [chat_id, due, waiting]

    async def _tell_operators(self, chat_id: int, slot: float, waiting: int, steps: Steps) -> None:
        """One note per burst; later people in line refresh its count now and then."""
        ctx = self._ctx
        text = texts.OPS_NEW_PEOPLE_WAITING.format(waiting=waiting, per_hour=self._per_hour)
        first = steps.once_sync(
            "line-joined", lambda: self._line.join(chat_id, slot, ctx.clock.now())
        )
        if first:
            note_id = await steps.once("line-note", lambda: self._post(chat_id, text))
            self._line.remember_note(chat_id, int(note_id), ctx.clock.now())
            return
        if steps.done("line-note-edit"):
            return
        stale = self._line.note_to_edit(chat_id, ctx.clock.now(), NOTE_EDIT_EVERY_SECONDS)
        if stale is not None:
            await steps.once("line-note-edit", lambda: self._edit(chat_id, stale, text))

    async def _post(self, chat_id: int, text: str) -> int:
        telegram = self._ctx.telegram
        thread = self._ctx.sessions.ops_thread(chat_id)
        try:
            return await telegram.send_text(chat_id, text, thread_id=thread)
        except TopicMissing:
            return await telegram.send_text(chat_id, text)  # the ops topic is gone: General

    async def _edit(self, chat_id: int, note_id: int, text: str) -> bool:
        with contextlib.suppress(MessageGone, NotModified):
            await self._ctx.telegram.edit_text(chat_id, note_id, text)
            return True
        return False

    async def _tell_person(self, user_id: int, slot: float) -> bool:
        if is_visitor_id(user_id):
            return False  # a web visitor has no chat; the widget shows their message as sent
        minutes = max(1, math.ceil((slot - self._ctx.clock.now()) / 60))
        try:
            await self._ctx.telegram.send_text(
                user_id, texts.TO_PERSON_IN_LINE.format(minutes=minutes)
            )
        except (RecipientBlocked, RejectedByTelegram):
            return False  # blocked the bot, or not reachable by a message (a widget visitor)
        return True
