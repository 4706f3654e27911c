"""Broadcast: one message to every active person, through the queue, at the global limit.

In the ops topic an operator writes ``/broadcast <text>`` (or replies ``/broadcast`` to any
message there, media included). The bot asks for confirmation; ``/confirm`` as a reply to that
question starts it. Every person gets one job on the updates queue, in their own message group
(so it keeps its place among their conversation), and the consumer delivers each job through
the shared flood limiter like any other send. People who blocked the bot are skipped and
marked; progress and the final count are posted in the ops topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from topicdesk.domain.errors import MessageGone, NotCopyable, RecipientBlocked, RejectedByTelegram
from topicdesk.domain.model import ChatMessage
from topicdesk.domain.ports import Clock, Metrics, SessionRepository, TelegramGateway

JOB_KIND = "topicdesk.broadcast"
CONFIRM_WITHIN_SECONDS = 600
PROGRESS_STEPS = 10  # progress notes at every 10 %


@dataclass(frozen=True)
class Broadcast:
    broadcast_id: str
    chat_id: int
    """The operators' group whose ops topic asked for it."""
    thread_id: int | None
    """Where it was asked for: the ops topic, or None for General."""
    source_message_id: int | None
    """Copied to everyone when set; else ``text`` is sent."""
    text: str | None
    status: str
    """``pending`` (awaiting /confirm), ``running``, ``done``."""
    requested_at: float
    total: int = 0
    delivered: int = 0
    blocked: int = 0
    failed: int = 0
    progress_posted: int = 0

    @property
    def finished(self) -> int:
        return self.delivered + self.blocked + self.failed


@dataclass(frozen=True)
class BroadcastJob:
    broadcast_id: str
    user_id: int

    def to_body(self) -> dict[str, Any]:
        return {"kind": JOB_KIND, "broadcast_id": self.broadcast_id, "user_id": self.user_id}

    @classmethod
    def from_body(cls, body: Any) -> BroadcastJob | None:
        if not isinstance(body, dict) or body.get("kind") != JOB_KIND:
            return None
        broadcast_id, user_id = body.get("broadcast_id"), body.get("user_id")
        if not isinstance(broadcast_id, str) or not isinstance(user_id, int):
            return None
        return cls(broadcast_id, user_id)


class BroadcastRepository(Protocol):
    def create(self, broadcast: Broadcast) -> None: ...

    def get(self, broadcast_id: str) -> Broadcast | None: ...

    def start(self, broadcast_id: str, total: int) -> bool:
        """pending -> running with its total; False if it was not pending."""
        ...

    def claim_delivery(self, broadcast_id: str, user_id: int) -> bool:
        """Once per person and broadcast: False when this job already ran."""
        ...

    def release_delivery(self, broadcast_id: str, user_id: int) -> None:
        """The send failed in a way worth retrying: let the job's retry run it."""
        ...

    def count(self, broadcast_id: str, outcome: str) -> Broadcast:
        """Add one to ``delivered``, ``blocked`` or ``failed``; returns the new state."""
        ...

    def advance_progress(self, broadcast_id: str, step: int) -> bool:
        """Record that progress note ``step`` was posted; False if it already was."""
        ...


class Roster(Protocol):
    def people(self) -> list[int]:
        """Everyone who has a session (no scans: a few roster partitions are queried)."""
        ...


class JobQueue(Protocol):
    def enqueue_jobs(self, jobs: Sequence[BroadcastJob]) -> None: ...


class BroadcastService:
    def __init__(
        self,
        *,
        broadcasts: BroadcastRepository,
        roster: Roster,
        jobs: JobQueue,
        sessions: SessionRepository,
        telegram: TelegramGateway,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._broadcasts = broadcasts
        self._roster = roster
        self._jobs = jobs
        self._sessions = sessions
        self._telegram = telegram
        self._clock = clock
        self._metrics = metrics

    async def command(self, message: ChatMessage, replied_to: int | None) -> None:
        """``/broadcast`` or ``/confirm`` in the ops topic."""
        if message.command == "broadcast":
            await self._request(message, replied_to)
        elif message.command == "confirm" and replied_to is not None:
            await self._confirm(message, str(replied_to))

    async def _say(self, message: ChatMessage, text: str) -> int:
        thread = message.thread_id if message.is_topic_message else None
        return await self._telegram.send_text(
            message.chat_id, text, thread_id=thread, reply_to=message.message_id
        )

    async def _request(self, message: ChatMessage, replied_to: int | None) -> None:
        text = (message.text or "").split(maxsplit=1)
        body = text[1].strip() if len(text) > 1 else ""
        if replied_to is None and not body:
            await self._say(
                message, "Usage: /broadcast <text>, or reply /broadcast to the message to send."
            )
            return
        people = len(self._roster.people())
        question = await self._say(
            message,
            f"📣 Send this to {people} people (those who blocked the bot are skipped)?\n"
            f"Reply /confirm to this message within {CONFIRM_WITHIN_SECONDS // 60} minutes.",
        )
        self._broadcasts.create(
            Broadcast(
                broadcast_id=str(question),
                chat_id=message.chat_id,
                thread_id=message.thread_id if message.is_topic_message else None,
                source_message_id=replied_to if replied_to is not None else None,
                text=None if replied_to is not None else body,
                status="pending",
                requested_at=self._clock.now(),
            )
        )

    async def _confirm(self, message: ChatMessage, broadcast_id: str) -> None:
        broadcast = self._broadcasts.get(broadcast_id)
        if broadcast is None or broadcast.chat_id != message.chat_id:
            return  # a /confirm to something else
        if self._clock.now() - broadcast.requested_at > CONFIRM_WITHIN_SECONDS:
            await self._say(message, "⌛ That broadcast request expired; send /broadcast again.")
            return
        people = self._roster.people()
        if not self._broadcasts.start(broadcast_id, len(people)):
            return  # confirmed already (a redelivered /confirm)
        self._jobs.enqueue_jobs([BroadcastJob(broadcast_id, person) for person in people])
        self._metrics.count("BroadcastsStarted")
        await self._say(message, f"📣 Broadcast started: {len(people)} people, queued.")

    async def deliver(self, job: BroadcastJob) -> None:
        """One person's share of a broadcast (a queue job)."""
        broadcast = self._broadcasts.get(job.broadcast_id)
        if broadcast is None or not self._broadcasts.claim_delivery(job.broadcast_id, job.user_id):
            return
        session = self._sessions.get(job.user_id)
        outcome = "delivered"
        if session is None or session.blocked or session.banned:
            outcome = "blocked"
        else:
            try:
                if broadcast.source_message_id is not None:
                    await self._telegram.copy_message(
                        job.user_id, broadcast.chat_id, broadcast.source_message_id
                    )
                else:
                    await self._telegram.send_text(job.user_id, broadcast.text or "")
            except RecipientBlocked:
                self._sessions.update(job.user_id, blocked=True)
                outcome = "blocked"
            except (NotCopyable, MessageGone, RejectedByTelegram):
                outcome = "failed"  # retrying cannot help
            except BaseException:
                # 429 deferral, 5xx, timeouts: the job comes back and must run then.
                self._broadcasts.release_delivery(job.broadcast_id, job.user_id)
                raise
        self._metrics.count(f"Broadcast{outcome.capitalize()}")
        state = self._broadcasts.count(job.broadcast_id, outcome)
        await self._report(state)

    async def _report(self, state: Broadcast) -> None:
        if state.total == 0:
            return
        step = state.finished * PROGRESS_STEPS // state.total
        if step <= state.progress_posted or not self._broadcasts.advance_progress(
            state.broadcast_id, step
        ):
            return
        if state.finished >= state.total:
            text = (
                f"📣 Broadcast finished: {state.delivered} delivered, "
                f"{state.blocked} skipped (blocked the bot), {state.failed} failed."
            )
        else:
            text = f"📣 Broadcast: {state.finished}/{state.total} ({step * 10} %)"
        await self._telegram.send_text(state.chat_id, text, thread_id=state.thread_id)
