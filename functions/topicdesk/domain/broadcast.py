"""Broadcast: one message to every active person, through the queue, at the global limit.

In the ops topic an operator writes ``/broadcast <text>`` (or replies ``/broadcast`` to any
message there, media included). The bot asks for confirmation; ``/confirm`` as a reply to that
question starts it. Every person gets one job on the updates queue, in their own message group
(so it keeps its place among their conversation), and the consumer delivers each job through
the shared flood limiter like any other send. People who blocked the bot are skipped and
marked; progress and the final count are posted in the ops topic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from topicdesk.domain.errors import (
    DeliveryError,
    MessageGone,
    NotCopyable,
    RecipientBlocked,
    RejectedByTelegram,
)
from topicdesk.domain.model import ChatMessage
from topicdesk.domain.ports import (
    BroadcastRepository,
    Clock,
    JobQueue,
    Metrics,
    Roster,
    SessionRepository,
    TelegramGateway,
)
from topicdesk.domain.steps import Steps

logger = logging.getLogger(__name__)
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

    @property
    def step_key(self) -> str:
        """Its step record's key (one job per person and broadcast)."""
        return f"job#{self.broadcast_id}#{self.user_id}"

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

    async def command(
        self, message: ChatMessage, replied_to: int | None, steps: Steps | None = None
    ) -> None:
        """``/broadcast`` or ``/confirm`` in the ops topic; each visible step once (``steps``:
        the update's step record)."""
        steps = steps or Steps()
        if message.command == "broadcast":
            await self._request(message, replied_to, steps)
        elif message.command == "confirm" and replied_to is not None:
            await self._confirm(message, str(replied_to), steps)

    async def _say(self, message: ChatMessage, text: str, steps: Steps, step: str) -> int:
        thread = message.thread_id if message.is_topic_message else None

        async def say() -> int:
            return await self._telegram.send_text(
                message.chat_id, text, thread_id=thread, reply_to=message.message_id
            )

        return int(await steps.once(step, say))

    async def _request(self, message: ChatMessage, replied_to: int | None, steps: Steps) -> None:
        text = (message.text or "").split(maxsplit=1)
        body = text[1].strip() if len(text) > 1 else ""
        if replied_to is None and not body:
            await self._say(
                message,
                "Usage: /broadcast <text>, or reply /broadcast to the message to send.",
                steps,
                "usage",
            )
            return
        people = len(self._roster.people())
        question = await self._say(
            message,
            f"📣 Send this to {people} people (those who blocked the bot are skipped)?\n"
            f"Reply /confirm to this message within {CONFIRM_WITHIN_SECONDS // 60} minutes.",
            steps,
            "question",
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

    async def _confirm(self, message: ChatMessage, broadcast_id: str, steps: Steps) -> None:
        broadcast = self._broadcasts.get(broadcast_id)
        if broadcast is None or broadcast.chat_id != message.chat_id:
            return  # a /confirm to something else
        if not steps.done("started") and (
            self._clock.now() - broadcast.requested_at > CONFIRM_WITHIN_SECONDS
        ):
            await self._say(
                message,
                "⌛ That broadcast request expired; send /broadcast again.",
                steps,
                "expired",
            )
            return
        people = self._roster.people()

        async def start() -> bool:
            return self._broadcasts.start(broadcast_id, len(people))

        if not await steps.once("started", start):
            return  # confirmed already (a redelivered /confirm)
        # Started but not queued (the queue failed): the retry queues it; it is not lost.
        await steps.once("queued", lambda: self._enqueue(broadcast_id, people))
        self._metrics.count("BroadcastsStarted")
        await self._say(
            message, f"📣 Broadcast started: {len(people)} people, queued.", steps, "started-note"
        )

    async def _enqueue(self, broadcast_id: str, people: list[int]) -> bool:
        self._jobs.enqueue_jobs([BroadcastJob(broadcast_id, person) for person in people])
        return True

    async def deliver(self, job: BroadcastJob, steps: Steps | None = None) -> None:
        """One person's share of a broadcast (a queue job, with its own step record: sent,
        counted, progress note claimed, progress note posted; each once)."""
        steps = steps or Steps()
        broadcast = self._broadcasts.get(job.broadcast_id)
        if broadcast is None:
            return
        # A duplicate of this job has the same step record (``BroadcastJob.step_key``) and the
        # same message group (one at a time): it finds every step done and sends nothing.
        outcome = await steps.once("sent", lambda: self._send(broadcast, job))
        await self._account(job, str(outcome), steps)

    async def give_up(self, job: BroadcastJob, steps: Steps | None = None) -> None:
        """The job failed for good (it goes to the DLQ): count it as failed, so the
        broadcast's progress and final report still come. Best effort: the report may meet
        a 429 that nothing will retry, so a failure here is logged, not raised."""
        steps = steps or Steps()
        if not steps.done("sent"):
            await steps.mark("sent", "failed")
        try:
            await self._account(job, str(steps.result("sent")), steps)
        except DeliveryError as error:
            logger.warning(
                "broadcast %s: the report after a failed job: %s", job.broadcast_id, error
            )

    async def _account(self, job: BroadcastJob, outcome: str, steps: Steps) -> None:
        """Count the job's outcome once and post the progress note it completes, if any."""
        self._metrics.count(f"Broadcast{outcome.capitalize()}")

        async def count() -> int:
            state = self._broadcasts.count(job.broadcast_id, outcome)
            return self._progress_step(state)

        step = await steps.once("counted", count)
        await self._report(job.broadcast_id, step, steps)

    async def _send(self, broadcast: Broadcast, job: BroadcastJob) -> str:
        session = self._sessions.get(job.user_id)
        if session is None or session.blocked or session.banned:
            return "blocked"
        try:
            if broadcast.source_message_id is not None:
                await self._telegram.copy_message(
                    job.user_id, broadcast.chat_id, broadcast.source_message_id
                )
            else:
                await self._telegram.send_text(job.user_id, broadcast.text or "")
        except RecipientBlocked:
            self._sessions.update(job.user_id, blocked=True)
            return "blocked"
        except (NotCopyable, MessageGone, RejectedByTelegram):
            return "failed"  # retrying cannot help
        # 429 deferral, 5xx, timeouts propagate: the job comes back, and nothing was recorded.
        return "delivered"

    @staticmethod
    def _progress_step(state: Broadcast) -> int:
        """The progress note this count completes (0: none)."""
        if state.total == 0:
            return 0
        step = state.finished * PROGRESS_STEPS // state.total
        at_step = state.finished == -(-step * state.total // PROGRESS_STEPS)
        return step if step > 0 and (at_step or state.finished >= state.total) else 0

    async def _report(self, broadcast_id: str, step: int, steps: Steps) -> None:
        """Post progress note ``step`` once: claimed (so one job posts it), then sent (so a
        429 on it does not lose it: the job comes back and posts it)."""
        if step == 0:
            return

        async def claim() -> bool:
            return self._broadcasts.advance_progress(broadcast_id, step)

        if not await steps.once("progress-claimed", claim):
            return
        state = self._broadcasts.get(broadcast_id)
        if state is None:
            return
        if step >= PROGRESS_STEPS:
            text = (
                f"📣 Broadcast finished: {state.delivered} delivered, "
                f"{state.blocked} skipped (blocked the bot), {state.failed} failed."
            )
        else:
            text = f"📣 Broadcast: {state.finished}/{state.total} ({step * 10} %)"

        async def post() -> int:
            return await self._telegram.send_text(state.chat_id, text, thread_id=state.thread_id)

        await steps.once("progress-posted", post)
