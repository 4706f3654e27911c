"""Person -> topic: a person's messages copied into their topic (runs of them in one call,
albums whole), at the person's pace (``pace``), greetings, block/unblock notes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from topicdesk.domain import texts
from topicdesk.domain.errors import NotCopyable, RecipientBlocked
from topicdesk.domain.inbox.state import Event
from topicdesk.domain.model import ChatMessage, Person, Session, SessionStatus
from topicdesk.domain.relay.challenge import Challenge
from topicdesk.domain.relay.context import (
    COPY_MESSAGES_LIMIT,
    RelayContext,
    advanced,
    same_album,
)
from topicdesk.domain.relay.edits import mirror_edit, mirrorable
from topicdesk.domain.relay.pace import (
    PACE_STEP,
    GreetingGate,
    Pace,
    newer,
    over_pace,
    spend_alone,
)
from topicdesk.domain.relay.topics import Topics
from topicdesk.domain.steps import Steps

GREETING_EVERY_SECONDS = 24 * 3600.0
Copies = tuple[list[ChatMessage], int, list[int]]
"""Copies to link: the person's messages, the operators' chat, their copies' ids."""


@dataclass(eq=False)
class PersonToTopic:
    ctx: RelayContext
    topics: Topics
    pace: Pace | None
    """The person's pace, kept in their session (None: unpaced)."""
    greetings: GreetingGate | None = None
    challenge: Challenge | None = None
    """The question for new people (``challenge``), when the stage asks it."""

    async def messages(self, run: Sequence[ChatMessage], steps: Steps) -> None:
        """A person's message, followed by the person's next plain messages in this batch.

        The followers ride along in one ``copyMessages`` call (albums stay albums); when their
        own record comes up they find themselves already mapped and do nothing.
        """
        ctx = self.ctx
        message = run[0]
        if message.sender is None:
            return
        if message.command == "start":  # never copied, so never relayed before: no lookup
            # Paced only when a greeting goes out: nothing else of /start does.
            due = steps.once_sync("greet-due", lambda: self._greeting_due(message.chat_id))
            if due and await self._paced(message.chat_id, steps):
                await steps.once("greet", lambda: self._greet(message))
            return
        person = message.sender
        known = ctx.sessions.get(person.user_id)  # read once for all three below
        # Until this record has sent it, another record may have: as a follower of an
        # earlier message, after this one was deferred with only its admission recorded.
        if (not _sent(steps) and ctx.relayed_from_person(message, known)) or (
            steps.replay and ctx.already_relayed(message)  # the mark may be past it
        ):
            steps.done_elsewhere()  # relayed with an earlier record's copyMessages
            return
        if self.challenge is not None and not self.challenge.passed_or_known(person.user_id, known):
            await self.challenge.hold(person, message.message_id, steps)
            return  # held until the right answer (its followers hold themselves)
        session = await self.topics.ensure(person, steps, current=known)
        if session.banned:
            steps.once_sync("dropped", lambda: ctx.sessions.increment(person.user_id, "dropped"))
            ctx.metrics.count("BannedDropped")
            return
        batch = await self._admit(session, self._copy_batch(run, known), steps)
        if not batch:
            return
        session = await self._refresh_on_contact(session, person, steps)
        if len(batch) == 1:
            copies = await self._copy_one(session, batch[0], steps)
        else:
            copies = await self._copy_many(session, batch, steps)
        # Counted before the links are written: the count's write also marks the batch
        # relayed (``relayed_from_person``), so from the first write after the send on, a
        # later copy of any of them stops before copying again.
        marked = advanced(known.relayed_up_to if known else None, batch)
        # The pace rides on the same write: a message costs no pace write of its own.
        count_in = partial(
            ctx.sessions.increment,
            person.user_id,
            "messages_in",
            len(batch),
            run=marked,
            pace=newer(steps.result(PACE_STEP), known.pace_tat if known else None),
        )
        if await ctx.after_send(lambda: steps.once_sync("counted", count_in)) and marked:
            # The mark ends a later copy: no record needed. Not for an older message (no
            # run: the mark did not move to cover it), which only its links and the record's
            # finished marker can stop.
            steps.finished_elsewhere()
        await ctx.link_all(*copies)
        ctx.metrics.count("MessagesToOperators", len(batch))
        if ctx.inbox is not None:
            ctx.inbox.record(session, Event.PERSON_WROTE, steps)
            if ctx.inbox.away is not None:  # outside business hours: told once (issue 15)
                await ctx.inbox.away.person_wrote(session, steps)

    async def _admit(
        self, session: Session, batch: list[ChatMessage], steps: Steps
    ) -> list[ChatMessage]:
        """The leading part of ``batch`` within the person's pace, checked in memory against
        the session as read (written later with the count: ``PACE_STEP``). Over it: tell them
        once; then either hold the rest back (RateLimited: the record comes back when the pace
        allows, in order, having spent nothing) or drop and count it. Admitted once per
        record: a retried record finds what it was admitted, and the pace it left (steps)."""
        ctx = self.ctx
        if steps.done("admitted"):
            admitted_ids = set(steps.result("admitted"))
            return [message for message in batch if message.message_id in admitted_ids]
        if self.pace is None:
            return batch
        admitted: list[ChatMessage] = []
        wait, tat = 0.0, session.pace_tat
        for message in batch:
            if admitted and same_album(admitted[-1], message):
                admitted.append(message)  # an album is admitted whole, or not at all
                continue
            wait, tat = self.pace.spend(tat, ctx.clock.now())
            if wait > 0:
                break
            admitted.append(message)
        if admitted:
            # Not visible outside: kept with the next step's write (or the failure's).
            await steps.mark(PACE_STEP, tat, durable=False)
            await steps.mark("admitted", [m.message_id for m in admitted], durable=False)
            return admitted
        await self._ask_to_slow_down(session, steps)
        if ctx.settings.flood_policy == "drop":
            await steps.mark("admitted", [], durable=False)
            steps.once_sync("dropped", lambda: ctx.sessions.increment(session.user_id, "dropped"))
            ctx.metrics.count("FloodDropped")
            return []
        ctx.metrics.count("FloodHeld")
        raise over_pace(wait, session.user_id)

    async def _paced(self, user_id: int, steps: Steps, session: Session | None = None) -> bool:
        """One unit of the person's pace for an effect of their own other than a message (an
        edit mirrored, a greeting, a block/unblock note), once per record, written on their
        session (``session``: as just read; None: read it): True to go on; False when the
        drop policy drops it; over the pace with the hold policy, the record is held
        (RateLimited) and comes back in order."""
        if self.pace is None or steps.done("paced"):
            return True
        current = session or self.ctx.sessions.get(user_id)
        wait, _ = await spend_alone(self.ctx, self.pace, current, steps, "paced")
        if wait <= 0:
            return True
        if self.ctx.settings.flood_policy == "drop":
            self.ctx.metrics.count("FloodDropped")
            return False
        self.ctx.metrics.count("FloodHeld")
        raise over_pace(wait, user_id)

    def _greeting_due(self, user_id: int) -> bool:
        if self.greetings is None:
            return True
        if self.greetings.admit(user_id, self.ctx.clock.now()) > 0:
            self.ctx.metrics.count("GreetingsSkipped")
            return False
        return True

    async def edit(self, message: ChatMessage, steps: Steps) -> None:
        """A person edited a message: mirror it on its copy in the topic, at their pace (an
        edit with nothing to mirror spends none)."""
        peer = mirrorable(self.ctx, message)
        if peer is None:
            return
        if message.sender is not None and not await self._paced(message.chat_id, steps):
            return
        await mirror_edit(self.ctx, message, peer)

    async def _ask_to_slow_down(self, session: Session, steps: Steps) -> None:
        ctx = self.ctx
        now = ctx.clock.now()
        if not steps.done("slowdown") and (
            now - session.slowdown_told_at < ctx.settings.slowdown_notice_every
        ):
            return
        text = (
            texts.TO_PERSON_SLOW_DOWN_DROP
            if ctx.settings.flood_policy == "drop"
            else texts.TO_PERSON_SLOW_DOWN_HOLD
        )

        async def tell() -> bool:
            try:
                await ctx.telegram.send_text(session.user_id, text)
            except RecipientBlocked:
                return False
            return True

        await steps.once("slowdown", tell)
        # After the notice went out (a 429 on it must not leave the person untold).
        await ctx.after_send(lambda: ctx.sessions.update(session.user_id, slowdown_told_at=now))

    def _copy_batch(self, run: Sequence[ChatMessage], known: Session | None) -> list[ChatMessage]:
        """The leading messages of ``run`` that can go in one copyMessages call (``known``:
        the session as read for this record)."""
        first = run[0]
        if first.reply_to_message_id is not None:
            return [first]  # copyMessages cannot carry a reply target
        batch = [first]
        for follower in run[1:]:
            if len(batch) == COPY_MESSAGES_LIMIT:
                break
            if (
                follower.chat_id != first.chat_id
                or follower.command is not None
                or follower.reply_to_message_id is not None
                or follower.message_id <= batch[-1].message_id
            ):
                break
            if not self.ctx.relayed_from_person(follower, known):
                batch.append(follower)
        return batch

    async def _greet(self, message: ChatMessage) -> bool:
        try:
            await self.ctx.telegram.send_text(message.chat_id, self.ctx.settings.greeting)
        except RecipientBlocked:
            self.ctx.metrics.count("PeopleBlocked")
            return False
        return True

    async def _refresh_on_contact(self, session: Session, person: Person, steps: Steps) -> Session:
        """The person wrote: keep their card fresh, lift a blocked flag, reopen a closed topic."""
        changes: dict[str, object] = {}
        if session.person != person:
            changes["person"] = person
        if session.blocked:
            changes["blocked"] = False
        if session.status is SessionStatus.CLOSED or steps.done("reopened"):
            changes["status"] = SessionStatus.OPEN
            await steps.once("reopened", lambda: self.topics.reopen(session))
            await self.topics.note(
                session,
                texts.REOPENED_BY_PERSON.format(name=person.full_name),
                steps=steps,
                step="reopened-note",
            )
        if changes:
            self.ctx.sessions.update(person.user_id, **changes)
            session = session.with_changes(**changes)
        return session

    async def _copy_one(self, session: Session, message: ChatMessage, steps: Steps) -> Copies:
        """Copy one message; what to link (nothing when it could not be copied)."""
        ctx = self.ctx
        reply_to = ctx.peer_id(message.chat_id, message.reply_to_message_id)

        async def send(current: Session) -> int:
            assert current.thread_id is not None
            return await ctx.telegram.copy_message(
                current.operator_chat_id,
                message.chat_id,
                message.message_id,
                thread_id=current.thread_id,
                reply_to=reply_to,
            )

        step = f"copy#{message.message_id}"
        try:
            copied, session = await self.topics.send_into(session, send, steps, step)
        except NotCopyable:
            ctx.metrics.count("NotCopyable")
            await self.topics.note(
                session,
                texts.NOT_COPYABLE_FROM_PERSON.format(
                    name=session.person.full_name, kind=message.kind
                ),
                steps=steps,
                step=f"{step}:not-copyable",
            )
            return [], session.operator_chat_id, []
        return [message], session.operator_chat_id, [copied]

    async def _copy_many(
        self, session: Session, batch: Sequence[ChatMessage], steps: Steps
    ) -> Copies:
        ctx = self.ctx
        ids = [message.message_id for message in batch]

        async def send(current: Session) -> list[int]:
            assert current.thread_id is not None
            return await ctx.telegram.copy_messages(
                current.operator_chat_id, batch[0].chat_id, ids, thread_id=current.thread_id
            )

        try:
            copied, session = await self.topics.send_into(session, send, steps, "copies")
        except NotCopyable:
            # One of them cannot be copied: go one by one so only that one is skipped.
            sources: list[ChatMessage] = []
            copies: list[int] = []
            for message in batch:
                one, _, copy_ids = await self._copy_one(session, message, steps)
                sources += one
                copies += copy_ids
            return sources, session.operator_chat_id, copies
        if len(copied) != len(batch):
            # Telegram skips what it cannot copy without saying which; without a sure
            # pairing we record nothing rather than thread replies to the wrong message.
            ctx.metrics.count("CopyMessagesPartial")
            return [], session.operator_chat_id, []
        return list(batch), session.operator_chat_id, copied

    async def membership(self, person: Person, blocked: bool, steps: Steps) -> None:
        """``my_chat_member`` in a private chat: the person blocked or restored the bot."""
        ctx = self.ctx
        session = ctx.sessions.get(person.user_id)
        if session is None or not session.has_topic:
            return
        if session.blocked == blocked and not steps.done("flag"):
            return
        if not await self._paced(person.user_id, steps, session):
            return  # toggling block/unblock cannot flood the operators' group

        async def flag() -> bool:
            ctx.sessions.update(person.user_id, blocked=blocked)
            return blocked

        await steps.once("flag", flag)
        template = texts.PERSON_BLOCKED if blocked else texts.PERSON_UNBLOCKED
        ctx.metrics.count("PeopleBlocked" if blocked else "PeopleUnblocked")
        await self.topics.note(
            session, template.format(name=person.full_name), steps=steps, step="membership-note"
        )


def _sent(steps: Steps) -> bool:
    """Whether this record's own copy was made (its step recorded by an earlier attempt):
    then it resumes after it instead of asking whether the message was relayed."""
    return any(name == "copies" or name.startswith("copy#") for name in steps.recorded)
