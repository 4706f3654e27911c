"""The consumer's second kind of record: a web widget visitor's message (``WidgetRecord``).

It runs once per session and client message id: SQS's deduplication id stops a resend for
five minutes, the edge's store stops a later one, and here Powertools idempotency (48 hours)
stops a record SQS delivers again (a visibility timeout, a crash after the work), with the
step record (``Steps``) resuming a record that failed halfway after its last visible step.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from topicdesk.domain.ports import StepLog
from topicdesk.domain.relay import Relay
from topicdesk.domain.steps import Steps
from topicdesk.domain.widget import WidgetRecord

logger = Logger(child=True)

IDEMPOTENCY_SECONDS = 48 * 3600
"""Far past SQS's five-minute deduplication window and any retry of a record."""


class VisitorWork:
    """Built once per container, on the consumer's event loop. ``persistence``: a layer of
    its own (Powertools configures a layer once, with the first key path it is given)."""

    def __init__(
        self,
        *,
        loop: asyncio.AbstractEventLoop,
        relay: Relay,
        step_log: StepLog,
        persistence: BasePersistenceLayer,
    ) -> None:
        self._loop = loop
        self._relay = relay
        self._step_log = step_log
        self._config = IdempotencyConfig(
            event_key_jmespath="key",
            expires_after_seconds=IDEMPOTENCY_SECONDS,
            raise_on_no_idempotency_key=True,
        )
        self._process_once = idempotent_function(
            data_keyword_argument="record", config=self._config, persistence_store=persistence
        )(self._process)

    def begin_batch(self, context: LambdaContext) -> None:
        self._config.register_lambda_context(context)

    def take(self, body: str) -> bool:
        """Run ``body`` if it is a widget record (True); False for anything else."""
        try:
            record = WidgetRecord.from_body(json.loads(body))
        except (ValueError, RecursionError):
            return False
        if record is None:
            return False
        self._process_once(record={"key": record.deduplication_id, "body": record.to_body()})
        return True

    def _process(self, record: dict[str, Any]) -> dict[str, bool]:
        parsed = WidgetRecord.from_body(record["body"])
        assert parsed is not None  # it was one before the idempotency layer
        logger.set_correlation_id(record["key"])
        steps = Steps.load(self._step_log, f"widget#{record['key']}")
        try:
            self._loop.run_until_complete(self._relay.visitor_message(parsed, steps))
        except BaseException:
            # What is kept only in memory is written first, so the retry resumes after it.
            self._loop.run_until_complete(steps.flush())
            raise
        return {"ok": True}
