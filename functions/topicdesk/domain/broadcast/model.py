"""What a broadcast is: its request, state and counts, who asked, who confirmed, and its jobs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from topicdesk.domain.ports import (
        BroadcastRepository,
        Clock,
        JobQueue,
        Metrics,
        Roster,
        SessionRepository,
        TelegramGateway,
    )

JOB_KIND: Final = "topicdesk.broadcast"
CONFIRM_WITHIN_SECONDS: Final = 600
PROGRESS_STEPS: Final = 10  # progress notes at every 10 %

PENDING: Final = "pending"
"""Asked for, awaiting /confirm."""
RUNNING: Final = "running"
"""Confirmed: its jobs deliver."""
DONE: Final = "done"
"""Every job counted, the final report claimed."""
CANCELLED: Final = "cancelled"
"""Stopped by /cancel: the jobs still queued deliver nothing."""


def broadcast_id(chat_id: int, question_id: int) -> str:
    """A broadcast is named by its operators' group and the bot's question there: message ids
    are per chat, so two groups' questions may share one and their broadcasts must not."""
    return f"{chat_id}_{question_id}"


@dataclass(frozen=True)
class Actor:
    """An admin who asked for, confirmed or cancelled a broadcast (shown in its reports)."""

    user_id: int
    name: str

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"


@dataclass(frozen=True)
class Broadcast:
    broadcast_id: str
    chat_id: int
    """The operators' group whose ops topic asked for it."""
    thread_id: int | None
    """Where it was asked for: the ops topic, or None for General."""
    source_message_id: int | None
    """The message an admin replied /broadcast to (else ``text`` is sent). Never delivered
    itself: its author may edit it, so /confirm freezes a copy (``frozen_message_id``)."""
    text: str | None
    status: str
    """``pending``, ``running``, ``done`` or ``cancelled``."""
    requested_at: float
    total: int = 0
    delivered: int = 0
    blocked: int = 0
    failed: int = 0
    requested_by: Actor | None = None
    confirmed_by: Actor | None = None
    cancelled_by: Actor | None = None
    progress_posted: int = 0
    """How many of the ``PROGRESS_STEPS`` progress notes are claimed (the last: the report)."""
    frozen_message_id: int | None = None
    """The bot's own copy of the source in the operators' group, made at /confirm: what every
    person gets."""

    @property
    def finished(self) -> int:
        return self.delivered + self.blocked + self.failed

    @property
    def signatures(self) -> str:
        """Who asked and who confirmed, for the reports ('' when unknown)."""
        parts = [
            f"{label} {actor}"
            for label, actor in (
                ("asked by", self.requested_by),
                ("confirmed by", self.confirmed_by),
            )
            if actor is not None
        ]
        text = "; ".join(parts)
        return f"{text[:1].upper()}{text[1:]}." if parts else ""


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


AdminsOf = Callable[[int], Awaitable[frozenset[int]]]
"""A group's admins (its Telegram administrators and the stage's admins)."""


@dataclass(frozen=True, kw_only=True)
class BroadcastPorts:
    """What the admins' commands and the jobs work with (``topicdesk.domain.ports``)."""

    broadcasts: BroadcastRepository
    roster: Roster
    jobs: JobQueue
    sessions: SessionRepository
    telegram: TelegramGateway
    clock: Clock
    metrics: Metrics
    admins: AdminsOf | None = None
    """A group's admins (``Roles.admins``); without it (unit tests) a group counts as having
    one admin."""
    self_confirm: bool = False
    """The stage lets the admin who asked confirm alone (``broadcastSelfConfirm``)."""
