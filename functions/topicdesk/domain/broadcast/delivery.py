"""A broadcast's jobs: one person's share each, sent through the shared limiter like any other
send, counted once, with progress notes and the final report (who asked, who confirmed) in the
ops topic. A job delivers only while its broadcast is running: the jobs of a cancelled (or
finished) broadcast that are still queued do nothing, and are counted."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from topicdesk.domain.broadcast.model import (
    PROGRESS_STEPS,
    RUNNING,
    Broadcast,
    BroadcastJob,
    BroadcastPorts,
)
from topicdesk.domain.errors import (
    DeliveryError,
    MessageGone,
    NotCopyable,
    RecipientBlocked,
    RejectedByTelegram,
)
from topicdesk.domain.steps import Steps

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BroadcastDelivery:
    ports: BroadcastPorts

    def _stopped(self, job: BroadcastJob, broadcast: Broadcast | None, steps: Steps) -> bool:
        """Nothing to do for this job: its broadcast is unknown, or no longer running and
        this job had not sent yet (one that had is still counted: its message went)."""
        if broadcast is not None and (broadcast.status == RUNNING or steps.done("sent")):
            return False
        self.ports.metrics.count("BroadcastJobsSkipped")
        logger.debug(  # counted; one line per skipped job would flood the log
            "broadcast %s is %s: the job for %s sends nothing",
            job.broadcast_id,
            broadcast.status if broadcast else "unknown",
            job.user_id,
        )
        return True

    async def deliver(self, job: BroadcastJob, steps: Steps | None = None) -> None:
        """One person's share of a broadcast (a queue job, with its own step record: sent,
        counted, progress note claimed, progress note posted; each once)."""
        steps = steps or Steps()
        broadcast = self.ports.broadcasts.get(job.broadcast_id)
        if self._stopped(job, broadcast, steps) or broadcast is None:
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
            if self._stopped(job, self.ports.broadcasts.get(job.broadcast_id), steps):
                return
            await steps.mark("sent", "failed")
        try:
            await self._account(job, str(steps.result("sent")), steps)
        except DeliveryError as error:
            logger.warning(
                "broadcast %s: the report after a failed job: %s", job.broadcast_id, error
            )

    async def _account(self, job: BroadcastJob, outcome: str, steps: Steps) -> None:
        """Count the job's outcome once and post the progress note it completes, if any."""
        self.ports.metrics.count(f"Broadcast{outcome.capitalize()}")

        async def count() -> int:
            state = self.ports.broadcasts.count(job.broadcast_id, outcome)
            return self._progress_step(state)

        step = await steps.once("counted", count)
        await self._report(job.broadcast_id, step, steps)

    async def _send(self, broadcast: Broadcast, job: BroadcastJob) -> str:
        session = self.ports.sessions.get(job.user_id)
        if session is None or session.blocked or session.banned:
            return "blocked"
        # The frozen copy, never the source: the source's author may have edited it since.
        # (A broadcast stored before copies were frozen still names only its source.)
        copy_of = broadcast.frozen_message_id or broadcast.source_message_id
        try:
            if copy_of is not None:
                await self.ports.telegram.copy_message(job.user_id, broadcast.chat_id, copy_of)
            else:
                await self.ports.telegram.send_text(job.user_id, broadcast.text or "")
        except RecipientBlocked:
            self.ports.sessions.update(job.user_id, blocked=True)
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
        """Post progress note ``step`` once: claimed (so one job posts it; the last claim also
        marks the broadcast done, and none is granted once it was cancelled), then sent (so
        a 429 on it does not lose it: the job comes back and posts it)."""
        if step == 0:
            return

        async def claim() -> bool:
            return self.ports.broadcasts.advance_progress(broadcast_id, step)

        if not await steps.once("progress-claimed", claim):
            return
        state = self.ports.broadcasts.get(broadcast_id)
        if state is None:
            return
        if step >= PROGRESS_STEPS:
            text = (
                f"📣 Broadcast finished: {state.delivered} delivered, "
                f"{state.blocked} skipped (blocked the bot), {state.failed} failed."
            )
            if state.signatures:
                text += f"\n{state.signatures}"
        else:
            text = f"📣 Broadcast: {state.finished}/{state.total} ({step * 10} %)"

        async def post() -> int:
            return await self.ports.telegram.send_text(
                state.chat_id, text, thread_id=state.thread_id
            )

        await steps.once("progress-posted", post)
