"""One unit of the consumer's work, with its step record: a Telegram update through PTB's
Application (idempotent per ``update_id`` past SQS's 5-minute dedup window: its step record,
kept 15 days, is marked finished with its last write), or one of our own queue jobs (a
broadcast's share for one person)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from topicdesk.domain.broadcast import BroadcastJob, BroadcastService
from topicdesk.domain.errors import TopicdeskError
from topicdesk.domain.ports import StepLog
from topicdesk.domain.steps import Steps, update_key
from topicdesk.runtime.inbox import InboxWork
from topicdesk.runtime.ptb import RelayApplication
from topicdesk.runtime.visitors import VisitorWork

logger = Logger(child=True)


class MalformedUpdate(TopicdeskError):
    """The queued body is not an update; it fails until the DLQ archives it."""


def _job(body: str) -> BroadcastJob | None:
    try:
        return BroadcastJob.from_body(json.loads(body))
    except (ValueError, RecursionError):
        return None


@dataclass(kw_only=True, eq=False)  # a service: equal only to itself
class Worker:
    """Built once per container, on the container's long-lived event loop."""

    loop: asyncio.AbstractEventLoop
    app: RelayApplication
    broadcasts: BroadcastService
    step_log: StepLog
    """Also each update's idempotency record: its steps and, once handled, ``FINISHED``
    (kept 15 days, past Telegram's 24 h of webhook retries). SQS FIFO runs one record of a
    conversation at a time, and every copy of an update lands in the same group, so no two
    attempts at one update ever overlap: no in-progress lock is needed."""
    inbox: InboxWork | None = None
    """The inbox's refresh jobs (``topicdesk.runtime.inbox``)."""
    visitors: VisitorWork | None = None
    """Web widget visitors' records (None: the stage has no widget)."""

    def begin_batch(self, context: LambdaContext) -> None:
        if self.visitors is not None:
            self.visitors.begin_batch(context)

    def update(self, update: dict[str, Any], followers: Sequence[dict[str, Any]]) -> None:
        """Run ``update`` unless an earlier copy of it finished; ``followers``: the records
        that ride along with it (one call)."""
        logger.set_correlation_id(str(update["update_id"]))
        steps = Steps.load(self.step_log, update_key(update["update_id"]), deferred=True)
        if steps.finished:
            logger.info("update already handled: this copy is dropped")
            return
        self._run(steps, self.app.process(update, steps, followers))
        self.loop.run_until_complete(steps.finish())

    def job(self, body: str) -> None:
        """Not a Telegram update: a web widget visitor's message, one of our own queue jobs
        (a broadcast's share), or junk."""
        if self.visitors is not None and self.visitors.take(body):
            return
        if self.inbox is not None and self.inbox.take(body):
            return
        job = _job(body)
        if job is None:
            raise MalformedUpdate("the queued body is neither a Telegram update nor a job")
        steps = Steps.load(self.step_log, job.step_key)
        self._run(steps, self.broadcasts.deliver(job, steps))

    def give_up(self, body: str) -> None:
        """A record goes to the DLQ: a broadcast job is counted as failed in its broadcast
        (so the final report still comes); an update needs nothing here."""
        job = _job(body)
        if job is not None:
            steps = Steps.load(self.step_log, job.step_key)
            self._run(steps, self.broadcasts.give_up(job, steps))

    def _run(self, steps: Steps, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work``; when it fails, what it did that is kept only in memory is written
        first, so the retry resumes after it."""
        try:
            self.loop.run_until_complete(work)
        except BaseException:
            self.loop.run_until_complete(steps.flush())
            raise
