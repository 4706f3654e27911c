"""Topic -> person: what operators write in a person's topic reaches the person (albums
whole, replies threaded, a reaction as receipt, a note when it cannot), commands run, and
commands in the ops topic or General go to the broadcast service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from topicdesk.domain import texts
from topicdesk.domain.broadcast import BroadcastService
from topicdesk.domain.commands import Invocation, Registry, Role
from topicdesk.domain.errors import (
    MessageGone,
    NotCopyable,
    NotModified,
    RecipientBlocked,
    TopicMissing,
)
from topicdesk.domain.inbox.state import Event
from topicdesk.domain.model import ChatMessage, MessageRef, Session
from topicdesk.domain.relay.context import COPY_MESSAGES_LIMIT, RelayContext, advanced
from topicdesk.domain.relay.topics import Topics
from topicdesk.domain.relay.visitors import VisitorRelay
from topicdesk.domain.steps import Steps

BROADCAST_COMMANDS = frozenset({"broadcast", "confirm", "cancel"})
"""The ops topic's commands (the broadcast service's), all admin only."""


@dataclass(eq=False)
class TopicToPerson:
    ctx: RelayContext
    topics: Topics
    commands: Registry
    broadcasts: BroadcastService | None
    visitors: VisitorRelay | None = None

    async def messages(self, run: Sequence[ChatMessage], steps: Steps) -> None:
        """A message in an operators' group: answers in a person's topic go to the person.
        ``run``: the message and the rest of its album (same topic, same media group), which
        go to the person as one album."""
        ctx = self.ctx
        message = run[0]
        if message.addressed_elsewhere:
            return  # /close@some_other_bot is not ours, and not an answer either
        session = self.topics.session_of(message)
        if session is None and self._in_ops_topic(message):
            await self._ops_command(message, steps)
            return
        if session is None or message.is_service:
            return
        fresh = not steps.recorded  # nothing of this update was written before
        if (fresh and ctx.answered_from_topic(message, session)) or (
            steps.replay and ctx.already_relayed(message)  # the mark may be past it
        ):
            steps.done_elsewhere()  # delivered with an earlier record's album
            return
        if ctx.inbox is not None:
            ctx.inbox.operator_wrote(message.chat_id, message.sender)
        if message.command is not None:
            ack_id = await self._command(session, message, message.command, steps)
            # The command is linked to its answer so that a redelivery does not run it again.
            await ctx.after_send(
                lambda: ctx.messages.link(
                    MessageRef(message.chat_id, message.message_id),
                    MessageRef(message.chat_id, ack_id),
                )
            )
            return
        if session.person.is_visitor:  # a web widget visitor: pushed, or kept for later
            if self.visitors is not None and await self.visitors.answer(session, message, steps):
                await steps.once("receipt", lambda: self._receipt(message))
            return
        album = self._album(run, session)
        outcome = await steps.once("deliver", lambda: self._deliver(session, album))
        if isinstance(outcome, str):
            await self._undelivered(session, message, outcome, steps)
            return
        marked = advanced(session.answered_up_to, album)
        count_out = partial(ctx.sessions.increment, session.user_id, "messages_out", run=marked)
        if await ctx.after_send(lambda: steps.once_sync("counted", count_out)) and marked:
            # The count's mark says "delivered" to a later copy of this update as surely as
            # the step record would, as long as that copy finds no record (then it reads the
            # mark): no record at all is needed, and none before the receipt's step. An
            # older answer (no run: the mark stays) keeps its record.
            steps.finished_elsewhere()
            if fresh:
                steps.kept("deliver")
        await ctx.link_all(album, session.user_id, outcome)
        if session.blocked:
            await ctx.after_send(lambda: ctx.sessions.update(session.user_id, blocked=False))
        ctx.metrics.count("MessagesToPeople", len(album))
        if ctx.inbox is not None:
            ctx.inbox.record(session, Event.OPERATOR_ANSWERED, steps)
        await steps.once("receipt", lambda: self._receipt(message))

    async def _command(
        self, session: Session, message: ChatMessage, name: str, steps: Steps
    ) -> int:
        """Run an operator's command in a topic; returns the id of the bot's answer."""
        command = self.commands.get(name)
        refusal = await self.commands.refusal(command.role, message, name) if command else None
        if command is None:
            answer = self.commands.usage()
        elif refusal is not None:
            answer = refusal
        else:
            answer = await command.run(Invocation(session, message, steps, self.ctx, self.topics))
        self.ctx.metrics.count("Commands")
        return await self.topics.note(
            session, answer, steps=steps, step="ack", reply_to=message.message_id
        )

    async def _undelivered(
        self, session: Session, message: ChatMessage, why: str, steps: Steps
    ) -> None:
        """The answer cannot reach the person: say so under it, once. Never retried: the
        person is marked, the note is the operators' answer."""
        ctx = self.ctx
        if why == "blocked":
            ctx.metrics.count("UndeliveredBlocked")
            if not session.blocked:
                ctx.sessions.update(session.user_id, blocked=True)
            text = texts.NOT_DELIVERED_BLOCKED.format(name=session.person.full_name)
        else:
            ctx.metrics.count("NotCopyable")
            text = texts.NOT_DELIVERED_NOT_COPYABLE.format(kind=message.kind)
        await self.topics.note(
            session, text, steps=steps, step="undelivered-note", reply_to=message.message_id
        )

    def _album(self, run: Sequence[ChatMessage], session: Session) -> list[ChatMessage]:
        """The answer and the rest of its album in this batch (copied as one album)."""
        first = run[0]
        if first.media_group_id is None:
            return [first]
        album = [first]
        for part in run[1:]:
            if (
                part.media_group_id != first.media_group_id
                or part.chat_id != first.chat_id
                or part.thread_id != first.thread_id
                or len(album) == COPY_MESSAGES_LIMIT
            ):
                break
            if not self.ctx.answered_from_topic(part, session):
                album.append(part)
        return album

    async def _deliver(self, session: Session, album: Sequence[ChatMessage]) -> list[int] | str:
        """Copy an operator's answer (or album) to the person: the copies' ids, or why not."""
        telegram = self.ctx.telegram
        first = album[0]
        try:
            if len(album) > 1:
                return await telegram.copy_messages(
                    session.user_id, first.chat_id, [part.message_id for part in album]
                )
            reply_to = self.ctx.peer_id(first.chat_id, first.reply_to_message_id)
            return [
                await telegram.copy_message(
                    session.user_id, first.chat_id, first.message_id, reply_to=reply_to
                )
            ]
        except RecipientBlocked:
            return "blocked"
        except NotCopyable:
            return "not-copyable"

    def _in_ops_topic(self, message: ChatMessage) -> bool:
        """A command in the ops topic, or in General (before any alert created the ops
        topic, that is where operators can reach the bot)."""
        if message.from_bot or message.command is None:
            return False
        if not self.ctx.is_operator_chat(message.chat_id):
            return False
        if not message.is_topic_message:
            return True
        return self.ctx.sessions.ops_thread(message.chat_id) == message.thread_id

    async def _ops_command(self, message: ChatMessage, steps: Steps) -> None:
        ctx = self.ctx
        if not steps.recorded and ctx.already_relayed(message):
            steps.done_elsewhere()  # handled before: its link says so to any later copy too
            return
        name = message.command or ""
        if name in BROADCAST_COMMANDS:
            refusal = await self.commands.refusal(Role.ADMIN, message, name)
            if refusal is not None:  # a message to every person is an admin's decision
                await steps.once("refused", lambda: self._say_in_place(message, refusal))
                return
        if self.broadcasts is None:
            return
        await self.broadcasts.command(message, message.reply_to_message_id, steps)
        # Marked as handled, so a redelivered /broadcast, /confirm or /cancel does nothing twice.
        handled = MessageRef(message.chat_id, message.message_id)
        await ctx.after_send(lambda: ctx.messages.link(handled, handled))

    async def _say_in_place(self, message: ChatMessage, text: str) -> int:
        """Answer a message where it was written (the ops topic or General)."""
        thread = message.thread_id if message.is_topic_message else None
        return await self.ctx.telegram.send_text(
            message.chat_id, text, thread_id=thread, reply_to=message.message_id
        )

    async def _receipt(self, message: ChatMessage) -> bool:
        """Delivery receipt: a reaction on the operator's message. Best effort, but a 429
        is not a reason to drop it: the record comes back for it."""
        try:
            await self.ctx.telegram.react(
                message.chat_id, message.message_id, self.ctx.settings.delivered_reaction
            )
        except (MessageGone, NotModified, TopicMissing):
            return False
        return True
