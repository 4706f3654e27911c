"""The broadcast service the relay and the worker use: the admins' commands
(``BroadcastRequests``) and the queue jobs (``BroadcastDelivery``) behind one face."""

from __future__ import annotations

from topicdesk.domain.broadcast.delivery import BroadcastDelivery
from topicdesk.domain.broadcast.model import BroadcastJob
from topicdesk.domain.broadcast.requests import AdminsOf, BroadcastRequests
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
        admins: AdminsOf | None = None,
        self_confirm: bool = False,
    ) -> None:
        """``admins``: a group's admins (``Roles.admins``); without it (unit tests) a group
        counts as having one admin. ``self_confirm``: the stage lets the admin who asked
        confirm alone (``broadcastSelfConfirm``)."""
        self._requests = BroadcastRequests(
            broadcasts=broadcasts,
            roster=roster,
            jobs=jobs,
            telegram=telegram,
            clock=clock,
            metrics=metrics,
            admins=admins,
            self_confirm=self_confirm,
        )
        self._delivery = BroadcastDelivery(
            broadcasts=broadcasts, sessions=sessions, telegram=telegram, metrics=metrics
        )

    async def command(
        self, message: ChatMessage, replied_to: int | None, steps: Steps | None = None
    ) -> None:
        """``/broadcast``, ``/confirm`` or ``/cancel`` in the ops topic; each visible step
        once (``steps``: the update's step record)."""
        await self._requests.command(message, replied_to, steps or Steps())

    async def deliver(self, job: BroadcastJob, steps: Steps | None = None) -> None:
        await self._delivery.deliver(job, steps)

    async def give_up(self, job: BroadcastJob, steps: Steps | None = None) -> None:
        await self._delivery.give_up(job, steps)
