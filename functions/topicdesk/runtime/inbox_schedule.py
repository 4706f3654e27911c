"""The inbox's scheduled work (issue 15): the scheduled function's runtime (an EventBridge
rule's event: ``{"job": "sweep"}`` every minute, ``{"job": "digest"}`` weekly), and the
consumer's side, which takes the nudge and digest jobs those queue (recognised by body, run
on the container's loop with their steps, like a broadcast's job)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol

from topicdesk.domain.inbox import digest, nudges
from topicdesk.domain.inbox.digest import WEEK_SECONDS, DigestJob, Digests
from topicdesk.domain.inbox.nudges import Nudges, Sweep
from topicdesk.domain.ports import Clock, Metrics, StepLog
from topicdesk.domain.steps import Steps

SWEEP, DIGEST = "sweep", "digest"


class DigestQueue(Protocol):
    def enqueue_digest(self, job: DigestJob) -> None: ...


class InboxScheduleRuntime:
    """The scheduled function: queue the nudges due, or each group's weekly digest."""

    def __init__(
        self,
        sweep: Sweep,
        digests: DigestQueue,
        chats: Sequence[int],
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._sweep = sweep
        self._digests = digests
        self._chats = chats
        self._clock = clock
        self._metrics = metrics

    def handle(self, event: Any, _context: Any) -> dict[str, Any]:
        job = event.get("job") if isinstance(event, dict) else None
        if job == DIGEST:
            now = self._clock.now()
            for chat_id in self._chats:
                self._digests.enqueue_digest(DigestJob(chat_id, now - WEEK_SECONDS, now))
            self._metrics.count("DigestsQueued", len(self._chats))
            return {"job": DIGEST, "queued": len(self._chats)}
        if job != SWEEP:
            raise ValueError(f"unknown scheduled job {job!r} (expected {SWEEP!r} or {DIGEST!r})")
        queued = self._sweep.run()
        self._metrics.count("NudgesQueued", queued)
        return {"job": SWEEP, "queued": queued}


class ScheduledInboxWork:
    """The consumer's side: a nudge or digest job's record, run once (its steps)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        nudges: Nudges,
        digests: Digests,
        step_log: StepLog,
    ) -> None:
        self._loop = loop
        self._nudges = nudges
        self._digests = digests
        self._step_log = step_log

    def take(self, body: str) -> bool:
        """Run ``body`` if it is a nudge or digest job; False for any other body."""
        nudge = nudges.parse_job(body)
        if nudge is not None:
            steps = Steps.load(self._step_log, nudge.dedup_id)
            self._run(steps, self._nudge(nudge, steps))
            return True
        job = digest.parse_job(body)
        if job is not None:
            steps = Steps.load(self._step_log, job.dedup_id)
            self._run(steps, self._digests.run(job, steps))
            return True
        return False

    async def _nudge(self, job: nudges.NudgeJob, steps: Steps) -> None:
        await self._nudges.run(job, steps)

    def _run(self, steps: Steps, work: Coroutine[Any, Any, None]) -> None:
        """As the worker does: a failure writes what is kept only in memory first."""
        try:
            self._loop.run_until_complete(work)
        except BaseException:
            self._loop.run_until_complete(steps.flush())
            raise
