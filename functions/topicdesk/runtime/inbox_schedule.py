"""The inbox's scheduled work (issue 15): the scheduled function's runtime (an EventBridge
rule's event: ``{"job": "sweep"}`` every minute, ``{"job": "digest"}`` weekly), and the
consumer's side, which takes the nudge and digest jobs those queue (recognised by body, run
on the container's loop with their steps, like a broadcast's job)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from topicdesk.domain.inbox.digest import WEEK_SECONDS, DigestJob, Digests
from topicdesk.domain.inbox.nudges import NudgeJob, Nudges, Sweep
from topicdesk.domain.ports import Clock, Metrics, StepLog
from topicdesk.domain.steps import Steps

SWEEP, DIGEST = "sweep", "digest"


class DigestQueue(Protocol):
    def enqueue_digest(self, job: DigestJob) -> None: ...


@dataclass(frozen=True)
class InboxScheduleRuntime:
    """The scheduled function: queue the nudges due, or each group's weekly digest."""

    sweep: Sweep
    digests: DigestQueue
    chats: Sequence[int]
    clock: Clock
    metrics: Metrics

    def handle(self, event: Any, _context: Any) -> dict[str, Any]:
        job = event.get("job") if isinstance(event, dict) else None
        if job == DIGEST:
            now = self.clock.now() // 3600 * 3600  # on the hour: a retry queues the same
            for chat_id in self.chats:
                self.digests.enqueue_digest(DigestJob(chat_id, now - WEEK_SECONDS, now))
            self.metrics.count("DigestsQueued", len(self.chats))
            return {"job": DIGEST, "queued": len(self.chats)}
        if job != SWEEP:
            raise ValueError(f"unknown scheduled job {job!r} (expected {SWEEP!r} or {DIGEST!r})")
        queued = self.sweep.run()
        self.metrics.count("NudgesQueued", queued)
        return {"job": SWEEP, "queued": queued}


@dataclass(frozen=True)
class ScheduledInboxWork:
    """The consumer's side: a nudge or digest job's record, run once (its steps)."""

    loop: asyncio.AbstractEventLoop
    nudges: Nudges
    digests: Digests
    step_log: StepLog

    def take(self, body: str) -> bool:
        """Run ``body`` if it is a nudge or digest job; False for any other body."""
        nudge = NudgeJob.parse(body)
        if nudge is not None:
            steps = Steps.load(self.step_log, nudge.dedup_id)
            self._run(steps, self._nudge(nudge, steps))
            return True
        job = DigestJob.parse(body)
        if job is not None:
            steps = Steps.load(self.step_log, job.dedup_id)
            self._run(steps, self.digests.run(job, steps))
            return True
        return False

    async def _nudge(self, job: NudgeJob, steps: Steps) -> None:
        await self.nudges.run(job, steps)

    def _run(self, steps: Steps, work: Coroutine[Any, Any, None]) -> None:
        """As the worker does: a failure writes what is kept only in memory first."""
        try:
            self.loop.run_until_complete(work)
        except BaseException:
            self.loop.run_until_complete(steps.flush())
            raise
