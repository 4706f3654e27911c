"""The broadcast service the relay and the worker use: the admins' commands
(``BroadcastRequests``) and the queue jobs (``BroadcastDelivery``) behind one face."""

from __future__ import annotations

from dataclasses import dataclass

from topicdesk.domain.broadcast.delivery import BroadcastDelivery
from topicdesk.domain.broadcast.model import BroadcastJob, BroadcastPorts
from topicdesk.domain.broadcast.requests import BroadcastRequests
from topicdesk.domain.model import ChatMessage
from topicdesk.domain.steps import Steps


@dataclass(frozen=True, kw_only=True)
class BroadcastService(BroadcastPorts):
    async def command(
        self, message: ChatMessage, replied_to: int | None, steps: Steps | None = None
    ) -> None:
        """``/broadcast``, ``/confirm`` or ``/cancel`` in the ops topic; each visible step
        once (``steps``: the update's step record)."""
        await BroadcastRequests(self).command(message, replied_to, steps or Steps())

    async def deliver(self, job: BroadcastJob, steps: Steps | None = None) -> None:
        await BroadcastDelivery(self).deliver(job, steps)

    async def give_up(self, job: BroadcastJob, steps: Steps | None = None) -> None:
        await BroadcastDelivery(self).give_up(job, steps)
