"""The admins' side of a broadcast, in the ops topic (or General): ``/broadcast`` asks,
``/confirm`` (a reply to the bot's question) freezes the content and starts it, ``/cancel``
stops it. Only admins get here (``topicdesk.domain.relay.outbound``: the registry's admin rule);
each visible step runs once (the update's step record), so a retried record resumes.

Integrity rules (issue 13):
- a broadcast is named by its group and the question's id (``broadcast_id``) and created with
  a conditional write: a redelivered ``/broadcast`` creates nothing twice;
- when the group has two or more admins, the one who asked cannot confirm (unless the stage
  allows it: ``broadcastSelfConfirm``); the refusal is said in place;
- ``/confirm`` freezes the content: the bot copies the source into the operators' group and
  the jobs copy that copy. Why a copy rather than text, entities and a media ``file_id``
  stored in DynamoDB: copyMessage keeps everything a message can carry (any media kind,
  captions, entities, spoilers, polls) with no field-by-field rebuild that could miss one,
  only the bot can edit its own message, and the admins see in the topic exactly what goes
  out. Deleting that copy makes the remaining jobs fail (counted); ``/cancel`` is the way to
  stop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from topicdesk.domain.broadcast.model import (
    CANCELLED,
    CONFIRM_WITHIN_SECONDS,
    DONE,
    PENDING,
    RUNNING,
    Actor,
    Broadcast,
    BroadcastJob,
    BroadcastPorts,
    broadcast_id,
)
from topicdesk.domain.errors import MessageGone, NotCopyable
from topicdesk.domain.model import ChatMessage, is_visitor_id
from topicdesk.domain.ports import Roster
from topicdesk.domain.steps import Steps

logger = logging.getLogger(__name__)

USAGE = "Usage: /broadcast <text>, or reply /broadcast to the message to send."
CONFIRM_USAGE = "Reply /confirm to the bot's “📣 Send this to …” question to start that broadcast."
SELF_CONFIRM_REFUSED = (
    "🔒 {name}, you asked for this broadcast: another admin must confirm it (this group has "
    "{admins} admins). Nothing is sent until one of them replies /confirm to the question."
)
ANONYMOUS_CONFIRM_REFUSED = (
    "🔒 A broadcast is confirmed by a person: turn off “Remain anonymous” and reply /confirm."
)
NOT_COPYABLE = (
    "⚠️ The message to broadcast is gone or cannot be copied; nothing was sent. "
    "Send /broadcast again."
)
NOTHING_TO_CANCEL = "Nothing to cancel: no broadcast is waiting or running here."
SEVERAL_TO_CANCEL = (
    "{count} broadcasts are waiting or running here: reply /cancel to the question of the one "
    "to stop."
)


def reached_by_broadcast(roster: Roster) -> list[int]:
    """The people a broadcast goes to: Telegram people only. A web widget visitor is skipped:
    they are reachable only while their page is open (or on their return within the session),
    their session is one support conversation that they started, and an announcement kept
    for them would greet them as an unasked-for answer on their next visit."""
    return [user_id for user_id in roster.people() if not is_visitor_id(user_id)]


def _actor(message: ChatMessage) -> Actor | None:
    if message.as_group or message.sender is None:
        return None
    return Actor(message.sender.user_id, message.sender.full_name)


@dataclass(frozen=True)
class BroadcastRequests:
    ports: BroadcastPorts

    async def command(self, message: ChatMessage, replied_to: int | None, steps: Steps) -> None:
        if message.command == "broadcast":
            await self._request(message, replied_to, steps)
        elif message.command == "confirm":
            if replied_to is None:
                await self._say(message, CONFIRM_USAGE, steps, "usage")
            else:
                await self._confirm(message, broadcast_id(message.chat_id, replied_to), steps)
        elif message.command == "cancel":
            await self._cancel(message, replied_to, steps)

    async def _say(self, message: ChatMessage, text: str, steps: Steps, step: str) -> int:
        thread = message.thread_id if message.is_topic_message else None

        async def say() -> int:
            return await self.ports.telegram.send_text(
                message.chat_id, text, thread_id=thread, reply_to=message.message_id
            )

        return int(await steps.once(step, say))

    def _count(self, metric: str) -> bool:
        self.ports.metrics.count(metric)
        return True

    # ------------------------------------------------------------------ /broadcast

    async def _request(self, message: ChatMessage, replied_to: int | None, steps: Steps) -> None:
        text = (message.text or "").split(maxsplit=1)
        body = text[1].strip() if len(text) > 1 else ""
        if replied_to is None and not body:
            await self._say(message, USAGE, steps, "usage")
            return
        people = len(reached_by_broadcast(self.ports.roster))
        who = (
            "Reply /confirm"
            if self.ports.self_confirm
            else "Another admin replies /confirm (you may only as the group's sole admin)"
        )
        question = await self._say(
            message,
            f"📣 Send this to {people} people (those who blocked the bot are skipped)?\n"
            f"{who} to this message within {CONFIRM_WITHIN_SECONDS // 60} minutes.",
            steps,
            "question",
        )
        created = self.ports.broadcasts.create(
            Broadcast(
                broadcast_id=broadcast_id(message.chat_id, question),
                chat_id=message.chat_id,
                thread_id=message.thread_id if message.is_topic_message else None,
                source_message_id=replied_to,
                text=None if replied_to is not None else body,
                status=PENDING,
                requested_at=self.ports.clock.now(),
                requested_by=_actor(message),
            )
        )
        if created:
            self.ports.metrics.count("BroadcastsRequested")

    # ------------------------------------------------------------------ /confirm

    async def _confirm(self, message: ChatMessage, bid: str, steps: Steps) -> None:
        broadcast = self.ports.broadcasts.get(bid)
        if broadcast is None or broadcast.chat_id != message.chat_id:
            await self._say(message, CONFIRM_USAGE, steps, "usage")
            return
        confirmer = _actor(message)
        if not steps.done("started"):
            if broadcast.status == CANCELLED:
                await self._say(message, "🛑 That broadcast was cancelled.", steps, "cancelled")
                return
            if broadcast.status != PENDING:
                return  # confirmed already (another admin, or a repeated /confirm)
            if self.ports.clock.now() - broadcast.requested_at > CONFIRM_WITHIN_SECONDS:
                await self._say(
                    message,
                    "⌛ That broadcast request expired; send /broadcast again.",
                    steps,
                    "expired",
                )
                return
            refusal = await self._refusal(broadcast, confirmer)
            if refusal is not None:
                steps.once_sync("refusal-counted", lambda: self._count("BroadcastConfirmRefused"))
                await self._say(message, refusal, steps, "refused")
                return
        frozen: int | None = None
        source = broadcast.source_message_id
        if source is not None:
            frozen = await steps.once("frozen", lambda: self._freeze(broadcast, source, message))
            if frozen is None:
                await self._say(message, NOT_COPYABLE, steps, "not-copyable")
                return
        people = reached_by_broadcast(self.ports.roster)

        async def start() -> bool:
            started = self.ports.broadcasts.start(
                bid, len(people), confirmed_by=confirmer, frozen_message_id=frozen
            )
            if started:
                self.ports.metrics.count("BroadcastsStarted")
            return started

        if not await steps.once("started", start):
            return  # another admin's /confirm started it first
        # Started but not queued (the queue failed): the retry queues it; it is not lost.
        await steps.once("queued", lambda: self._enqueue(bid, people))
        lines = [f"📣 Broadcast started: {len(people)} people, queued."]
        if frozen is not None:
            lines.append("The copy above is what they get.")
        lines.append(replace(broadcast, confirmed_by=confirmer).signatures)
        lines.append("Send /cancel here to stop it.")
        await self._say(message, "\n".join(line for line in lines if line), steps, "started-note")

    async def _refusal(self, broadcast: Broadcast, confirmer: Actor | None) -> str | None:
        """Why ``confirmer`` may not start ``broadcast`` (None: they may). The one who asked
        confirms alone only when the stage allows it or the group has a single admin."""
        if confirmer is None:
            return ANONYMOUS_CONFIRM_REFUSED
        asker = broadcast.requested_by
        if self.ports.self_confirm or asker is None or asker.user_id != confirmer.user_id:
            return None
        admins = await self.ports.admins(broadcast.chat_id) if self.ports.admins else frozenset()
        count = len(admins | {confirmer.user_id})
        if count < 2:
            return None
        return SELF_CONFIRM_REFUSED.format(name=confirmer.name, admins=count)

    async def _freeze(self, broadcast: Broadcast, source: int, message: ChatMessage) -> int | None:
        """The bot's own copy of the source, under the /confirm: what the jobs copy."""
        try:
            return await self.ports.telegram.copy_message(
                broadcast.chat_id,
                broadcast.chat_id,
                source,
                thread_id=broadcast.thread_id,
                reply_to=message.message_id,
            )
        except (MessageGone, NotCopyable):
            return None

    async def _enqueue(self, bid: str, people: list[int]) -> bool:
        self.ports.jobs.enqueue_jobs([BroadcastJob(bid, person) for person in people])
        return True

    # ------------------------------------------------------------------ /cancel

    def _targets(self, chat_id: int, replied_to: int | None) -> list[str]:
        """The broadcast ``/cancel`` means: the one whose question it replies to, else every
        one of the group's that is running or still awaiting /confirm."""
        if replied_to is not None:
            named = self.ports.broadcasts.get(broadcast_id(chat_id, replied_to))
            if named is not None and named.chat_id == chat_id:
                return [named.broadcast_id]
        now = self.ports.clock.now()
        return [
            item.broadcast_id
            for item in self.ports.broadcasts.active(chat_id)
            if item.status == RUNNING or now - item.requested_at <= CONFIRM_WITHIN_SECONDS
        ]

    async def _cancel(self, message: ChatMessage, replied_to: int | None, steps: Steps) -> None:
        async def targets() -> list[str]:
            return self._targets(message.chat_id, replied_to)

        found = await steps.once("cancel-target", targets)
        if len(found) != 1:
            text = SEVERAL_TO_CANCEL.format(count=len(found)) if found else NOTHING_TO_CANCEL
            await self._say(message, text, steps, "cancel-note")
            return
        [bid] = found
        by = _actor(message)

        async def cancel() -> bool:
            cancelled = self.ports.broadcasts.cancel(bid, by)
            if cancelled:
                self.ports.metrics.count("BroadcastsCancelled")
            return cancelled

        cancelled = await steps.once("cancelled", cancel)
        state = self.ports.broadcasts.get(bid)
        if state is None:
            return
        await self._say(message, self._cancel_report(state, cancelled), steps, "cancel-note")

    @staticmethod
    def _cancel_report(state: Broadcast, cancelled: bool) -> str:
        if not cancelled:
            return "Nothing to cancel: that broadcast " + (
                "has finished." if state.status == DONE else f"is {state.status}."
            )
        by = f" by {state.cancelled_by}" if state.cancelled_by else ""
        if state.confirmed_by is None and state.total == 0:
            return f"🛑 Broadcast request cancelled{by}: nothing was sent."
        report = (
            f"🛑 Broadcast cancelled{by}: {state.delivered} delivered, {state.blocked} skipped "
            f"(blocked the bot), {state.failed} failed so far; {state.total - state.finished} "
            "not sent (a message in flight at this moment may still arrive)."
        )
        return f"{report}\n{state.signatures}" if state.signatures else report
