"""What happens to an update that exhausted its retries: archive, tell, alert, count."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Any

from topicdesk.domain import texts
from topicdesk.domain.broadcast import BroadcastJob
from topicdesk.domain.errors import DeliveryError, RateLimited, TopicMissing, TransientFailure
from topicdesk.domain.model import DeadLetter
from topicdesk.domain.ports import (
    Clock,
    DeadLetterArchive,
    FailureJournal,
    Metrics,
    SessionRepository,
    StepLog,
    TelegramGateway,
)
from topicdesk.domain.routing import chat_of_group, group_key, parse_update, update_type
from topicdesk.domain.steps import Steps

logger = logging.getLogger(__name__)

REASON_MALFORMED = "malformed body: not a JSON object with an integer update_id"
REASON_BROADCAST_JOB = "a broadcast's share for this person failed for good (counted as failed)"
REASON_UNRECORDED = "failed without a recorded reason (crash or timeout)"


@dataclass(frozen=True)
class OpsChannel:
    """The ops topic in the first operators' group: alerts for the people on call."""

    sessions: SessionRepository
    telegram: TelegramGateway
    chat_id: int
    """The first operators' group."""

    async def post(self, text: str) -> int:
        thread_id = self.sessions.ops_thread(self.chat_id) or await self._create()
        try:
            return await self.telegram.send_text(self.chat_id, text, thread_id=thread_id)
        except TopicMissing:
            thread_id = await self._create(replace=True)
            return await self.telegram.send_text(self.chat_id, text, thread_id=thread_id)

    async def _create(self, *, replace: bool = False) -> int:
        thread_id = await self.telegram.create_topic(self.chat_id, texts.OPS_TOPIC_NAME)
        if replace:
            self.sessions.set_ops_thread(self.chat_id, thread_id, replace=True)
            return thread_id
        # Two workers may race to create it; the stored one wins and the other is unused.
        return self.sessions.set_ops_thread(self.chat_id, thread_id)


@dataclass(frozen=True)
class DeadRecord:
    """One DLQ record as the SQS adapter hands it over."""

    message_id: str
    body: str
    receive_count: int
    sent_at: float
    group_id: str | None


def _broadcast_job(body: str) -> BroadcastJob | None:
    try:
        return BroadcastJob.from_body(json.loads(body))
    except (ValueError, RecursionError):
        return None


def _private_origin(update: dict[str, Any]) -> tuple[int, int | None] | None:
    """(chat, message) of a person's private message the update carries, if any."""
    for kind in ("message", "edited_message"):
        message = update.get(kind)
        if isinstance(message, dict):
            chat = message.get("chat")
            if isinstance(chat, dict) and chat.get("type") == "private":
                chat_id, message_id = chat.get("id"), message.get("message_id")
                if isinstance(chat_id, int):
                    return chat_id, message_id if isinstance(message_id, int) else None
    return None


@dataclass(frozen=True, kw_only=True)
class DeadLetterService:
    archive: DeadLetterArchive
    journal: FailureJournal
    telegram: TelegramGateway
    ops: OpsChannel
    clock: Clock
    metrics: Metrics
    steps: StepLog | None = None
    """Where each dead letter's notices are recorded as done (None: not recorded)."""

    async def handle(self, record: DeadRecord) -> DeadLetter:
        """Archive first (that must succeed, or the record is retried); then tell the person
        and the operators, each once (a step of the dead letter's own record). A 429 or a
        5xx on either fails the record, which comes back for what is left: the flood limits
        hold here too, and nothing is dropped because of them. Other refusals (the person
        blocked the bot) are final and only logged."""
        dead = self._describe(record)
        if self.archive.archive(dead):
            self.metrics.count("DeadLetters")
        stored = self.archive.get(dead.archive_id) or dead
        if not stored.notified:
            key = f"dead#{stored.archive_id}"
            steps = Steps.load(self.steps, key) if self.steps else Steps()
            try:
                await self._tell(stored, steps)
            finally:
                await steps.flush()
        return stored

    def _describe(self, record: DeadRecord) -> DeadLetter:
        update = parse_update(record.body)
        now = self.clock.now()
        job = _broadcast_job(record.body) if update is None else None
        # As a record no journal speaks of: failing from when it was sent until now.
        malformed = DeadLetter(
            archive_id=f"sqs-{record.message_id}",
            body=record.body,
            update_id=None,
            chat_id=None,
            reason=REASON_MALFORMED,
            receive_count=record.receive_count,
            first_failure_at=record.sent_at,
            last_failure_at=now,
            sent_at=record.sent_at,
            group_id=record.group_id,
        )
        if job is not None:
            return replace(
                malformed,
                archive_id=f"job-{job.broadcast_id}-{job.user_id}",
                chat_id=job.user_id,
                reason=REASON_BROADCAST_JOB,
                extra={"update_type": "broadcast job", "broadcast_id": job.broadcast_id},
            )
        if update is None:
            return malformed
        update_id = int(update["update_id"])
        origin = _private_origin(update)
        unrecorded = replace(
            malformed,
            archive_id=str(update_id),
            update_id=update_id,
            chat_id=origin[0] if origin else chat_of_group(group_key(update)),
            reason=REASON_UNRECORDED,
            extra={"update_type": update_type(update) or "unknown"},
        )
        failure = self.journal.get(update_id)
        if failure is None:
            return unrecorded
        return replace(
            unrecorded,
            reason=failure.reason,
            receive_count=max(record.receive_count, failure.failures),
            first_failure_at=failure.first_failure_at,
            last_failure_at=failure.last_failure_at,
        )

    async def _tell(self, dead: DeadLetter, steps: Steps) -> None:
        update = parse_update(dead.body)
        origin = _private_origin(update) if update else None
        if origin is not None:
            chat_id, message_id = origin
            await steps.once(
                "person-told",
                lambda: _final(
                    self.telegram.send_text(
                        chat_id, texts.TO_PERSON_UNDELIVERED, reply_to=message_id
                    ),
                    f"could not tell chat {chat_id} about a dead letter",
                ),
            )
        alert = texts.OPS_DEAD_LETTER.format(
            update_id=dead.update_id if dead.update_id is not None else "?",
            chat=dead.chat_id if dead.chat_id is not None else "unknown",
            receives=dead.receive_count,
            reason=dead.reason,
            archive_id=dead.archive_id,
        )
        await steps.once(
            "ops-alerted", lambda: _final(self.ops.post(alert), "could not post the alert")
        )
        self.archive.mark_notified(dead.archive_id)


async def _final(send: Awaitable[int], what: str) -> bool:
    """A notice's send: True when it went; False when Telegram refused it for good (logged).
    Flood limits and outages propagate: the record comes back and sends it then."""
    try:
        await send
    except (RateLimited, TransientFailure):
        raise
    except DeliveryError as error:
        logger.warning("%s: %s", what, error)
        return False
    return True
