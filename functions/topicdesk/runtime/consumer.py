"""The consumer: one SQS FIFO batch -> PTB Application -> relay, one record at a time.

- ``SqsFifoPartialProcessor(skip_group_on_error=True)``: a failing chat holds back only itself.
- Powertools idempotency per ``update_id`` (kept 48 h, longer than Telegram's 24 h of
  retries): an update that arrives again after SQS's 5-minute dedup window is a no-op.
- After the batch, each failed record's visibility is set to when it should come back:
  exactly ``retry_after`` after a 429 (the whole group, to keep its order), else a backoff.
- Receive counts and the DLQ: a rate-limit deferral is not a failure, yet SQS counts every
  receive. So the consumer keeps its own count of genuine failures (the failure journal) and
  moves an update to the DLQ itself after ``MAX_ATTEMPTS`` of them; the queue's much higher
  ``maxReceiveCount`` is only the backstop for crash loops (a record that kills the function).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from telegram import Update

from topicdesk.adapters.aws import SqsJobQueue, SqsVisibility, read_secret
from topicdesk.adapters.dynamodb import (
    DynamoBroadcastRepository,
    DynamoFailureJournal,
    DynamoMessageMap,
    DynamoRoster,
    DynamoSessionRepository,
    DynamoStepLog,
)
from topicdesk.adapters.powertools import PowertoolsMetrics, SystemClock
from topicdesk.adapters.rate_limiter import (
    DynamoFloodGate,
    DynamoTatStore,
    SharedThrottle,
    shared_throttle,
)
from topicdesk.adapters.telegram import PtbTelegramGateway, Throttle
from topicdesk.domain.batch import AlbumIncomplete, BatchPlan, RecordView
from topicdesk.domain.broadcast import BroadcastJob, BroadcastService
from topicdesk.domain.errors import (
    ChatMigrated,
    RateLimited,
    StorageUnavailable,
    TopicdeskError,
)
from topicdesk.domain.limiter import rules_for
from topicdesk.domain.relay import Relay, RelaySettings, ShardPicker
from topicdesk.domain.steps import Steps
from topicdesk.runtime.ptb import RelayApplication, build_bot
from topicdesk.runtime.retries import RetrySchedule
from topicdesk.settings import Settings

logger = Logger(child=True)

IDEMPOTENCY_SECONDS = 48 * 3600
DEADLINE_MARGIN_MS = 5_000
BUSY_PATIENCE_SECONDS = 0.5
"""The longest flood-limit sleep of a record with other records behind it in the batch:
records of other conversations (an answer to a person, needing no group slot) must not wait
for a group's slot they do not need. A longer wait books the slot and defers the record."""


class MalformedUpdate(TopicdeskError):
    """The queued body is not an update; it fails until the DLQ archives it."""


class DeadlineNear(TopicdeskError):
    """Too little time left in this invocation to start another record."""


class ConsumerRuntime:
    """Built once per container: event loop, PTB Application, adapters."""

    def __init__(
        self,
        settings: Settings,
        metrics: PowertoolsMetrics,
        *,
        throttle: Throttle | None = None,
        dynamodb: Any = None,
        sqs: Any = None,
    ) -> None:
        settings.need(
            "bot_token_secret_name",
            "data_table",
            "idempotency_table",
            "operator_chat_ids",
            "dead_letter_queue_url",
        )
        self._settings = settings
        self._metrics = metrics
        self._clock = SystemClock()
        self._loop = asyncio.new_event_loop()
        resource = dynamodb or boto3.resource("dynamodb")
        table = resource.Table(settings.data_table)
        self._journal = DynamoFailureJournal(table)
        self._step_log = DynamoStepLog(table)
        flood_gate = None
        group_backlog: Callable[[int], float] | None = None
        self._shared_throttle: SharedThrottle | None = None
        if settings.limits_table:
            limits_table = resource.Table(settings.limits_table)
            gcra = settings.limits.gcra()
            self._shared_throttle = shared_throttle(limits_table, gcra)
            store = DynamoTatStore(limits_table)

            def group_backlog(chat_id: int) -> float:
                return store.backlog(rules_for(chat_id, 1, gcra)[0].key, time.time())

            throttle = throttle or self._shared_throttle
            flood_gate = DynamoFloodGate(
                store,
                burst=settings.limits.person_burst,
                interval=settings.limits.person_interval_seconds,
            )
        bot = build_bot(read_secret(settings.bot_token_secret_name), settings.telegram_api_url)
        gateway = PtbTelegramGateway(bot, throttle=throttle, metrics=metrics)
        self._sqs = sqs or boto3.client("sqs")
        sessions = DynamoSessionRepository(table)
        self._broadcasts: BroadcastService | None = None
        if settings.updates_queue_url:  # broadcasting needs to queue its jobs
            self._broadcasts = BroadcastService(
                broadcasts=DynamoBroadcastRepository(table),
                roster=DynamoRoster(table),
                jobs=SqsJobQueue(self._sqs, settings.updates_queue_url),
                sessions=sessions,
                telegram=gateway,
                clock=self._clock,
                metrics=metrics,
            )
        shards = ShardPicker(sessions, settings.operator_chat_ids, backlog=group_backlog)
        relay = Relay(
            sessions=sessions,
            shard_picker=shards,
            messages=DynamoMessageMap(table),
            telegram=gateway,
            settings=RelaySettings(
                operator_chat_ids=settings.operator_chat_ids,
                greeting=settings.greeting,
                flood_policy=settings.limits.flood_policy,
            ),
            clock=self._clock,
            metrics=metrics,
            flood_gate=flood_gate,
            broadcasts=self._broadcasts,
        )
        self._app = RelayApplication(bot=bot, relay=relay, followers=self._followers_of)
        self._loop.run_until_complete(self._app.initialize())
        self._idempotency = IdempotencyConfig(
            event_key_jmespath="update_id",
            expires_after_seconds=IDEMPOTENCY_SECONDS,
            raise_on_no_idempotency_key=True,
        )
        persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table)
        self._process_once = idempotent_function(
            data_keyword_argument="update",
            config=self._idempotency,
            persistence_store=persistence,
        )(self._process)
        self._processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        # A batch whose records all failed is answered like any other (every id listed) so
        # that their retries are still scheduled, instead of raising and losing that step.
        self._processor.raise_on_entire_batch_failure = False
        self._retries = RetrySchedule(SqsVisibility(self._sqs), settings.limits.retry_base_seconds)
        self._plan = BatchPlan([])
        self._current: str | None = None
        self._context: LambdaContext | None = None

    # -------------------------------------------------------------- batch

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        self._idempotency.register_lambda_context(context)
        self._context = context
        records = event.get("Records", [])
        self._plan = BatchPlan(
            [
                RecordView(
                    message_id=record["messageId"],
                    group_id=record.get("attributes", {}).get("MessageGroupId", ""),
                    body=record.get("body", ""),
                    sent_at=float(record.get("attributes", {}).get("SentTimestamp", 0)) / 1000,
                    receive_count=int(
                        record.get("attributes", {}).get("ApproximateReceiveCount", 1)
                    ),
                )
                for record in records
            ]
        )
        self._retries.reset()
        response = dict(
            process_partial_response(
                event=event,
                record_handler=self._record,
                processor=self._processor,
                context=context,
            )
        )
        self._retries.apply(records, response)
        return response

    def _record(self, record: SQSRecord) -> None:
        group = record.attributes.message_group_id or ""
        update = self._plan.updates.get(record.message_id)
        started = time.time()
        try:
            if self._context is not None:
                remaining_ms = self._context.get_remaining_time_in_millis()
                if remaining_ms < DEADLINE_MARGIN_MS:
                    raise DeadlineNear("invocation deadline near")
                if self._shared_throttle is not None:
                    # No flood-limit wait may carry this record past the invocation's end;
                    # a record that was deferred before may find its slot booked.
                    self._shared_throttle.begin_record(
                        record.message_id,
                        int(record.attributes.approximate_receive_count or 1),
                        time.time() + (remaining_ms - DEADLINE_MARGIN_MS) / 1000,
                        # Others wait behind it: no long sleep, a booking instead.
                        None if self._plan.last(record.message_id) else BUSY_PATIENCE_SECONDS,
                    )
            album_wait = self._plan.album_wait(record.message_id, time.time())
            if album_wait > 0:
                raise AlbumIncomplete(album_wait)
            if update is None:
                self._run_job(record.body or "")
            else:
                self._current = record.message_id
                self._process_once(update=update)
        except Exception as error:
            failures = self._note_failure(record, update, error)
            if isinstance(error, ChatMigrated):
                # The operators' group was upgraded: no retry can succeed until the stage's
                # operatorChatIds names the new chat. Straight to the DLQ, reason included.
                logger.error(
                    "operators' group migrated: set operatorChatIds to %s and replay the DLQ",
                    error.new_chat_id,
                )
                failures = self._settings.limits.max_attempts
            if failures >= self._settings.limits.max_attempts:
                self._dead_letter(record, failures)
                return  # out of the updates queue: the group's next records may go on
            # Out of time: the record comes back at once, for another invocation.
            self._retries.failed(group, None if isinstance(error, DeadlineNear) else error)
            raise
        sent_at = float(record.attributes.sent_timestamp) / 1000.0
        self._metrics.count("UpdatesProcessed")
        self._metrics.milliseconds("ProcessingLatency", max(0.0, (time.time() - sent_at) * 1000))
        logger.debug("processed", extra={"seconds": round(time.time() - started, 3)})

    def _process(self, update: dict[str, Any]) -> dict[str, bool]:
        logger.set_correlation_id(str(update.get("update_id")))
        steps = Steps.load(self._step_log, f"update#{update['update_id']}")
        self._with_steps(steps, self._app.process(update, steps))
        return {"ok": True}

    def _with_steps(self, steps: Steps, work: Any) -> None:
        """Run ``work``; when it fails, what it did that is kept only in memory is written
        first, so the retry resumes after it."""
        try:
            self._loop.run_until_complete(work)
        except BaseException:
            self._loop.run_until_complete(steps.flush())
            raise

    def _run_job(self, body: str) -> None:
        """Not a Telegram update: one of our own queue jobs (a broadcast's share), or junk."""
        try:
            job = BroadcastJob.from_body(json.loads(body))
        except (ValueError, RecursionError):
            job = None
        if job is None or self._broadcasts is None:
            raise MalformedUpdate("the queued body is neither a Telegram update nor a job")
        steps = Steps.load(self._step_log, job.step_key)
        self._with_steps(steps, self._broadcasts.deliver(job, steps))

    def _followers_of(self, update: Update) -> list[dict[str, Any]]:
        return self._plan.followers(self._current) if self._current else []

    def _note_failure(
        self, record: SQSRecord, update: dict[str, Any] | None, error: BaseException
    ) -> int:
        """Count the failure; returns how many genuine failures the update has had (0 for a
        deferral, which is not one)."""
        reason = f"{type(error).__name__}: {error}"
        if isinstance(error, (RateLimited, DeadlineNear, IdempotencyAlreadyInProgressError)):
            self._metrics.count("UpdatesDeferred")
            logger.info("record deferred", extra={"reason": reason})
            return 0
        self._metrics.count("UpdatesFailed")
        logger.warning("record failed", extra={"reason": reason})
        receives = int(record.attributes.approximate_receive_count or 1)
        if update is None:
            return receives  # a malformed body has no update_id to journal under
        try:
            return self._journal.record(int(update["update_id"]), reason, self._clock.now())
        except StorageUnavailable:
            logger.warning("could not journal the failure")
            return receives

    def _dead_letter(self, record: SQSRecord, failures: int) -> None:
        """Hand the update to the DLQ (same group, so on-call sees it in order)."""
        try:
            self._sqs.send_message(
                QueueUrl=self._settings.dead_letter_queue_url,
                MessageBody=record.body or "",
                MessageGroupId=record.attributes.message_group_id or "unrouted",
                MessageDeduplicationId=record.message_id,
            )
        except (ClientError, BotoCoreError) as error:
            raise StorageUnavailable("could not move the update to the DLQ") from error
        self._metrics.count("UpdatesDeadLettered")
        logger.error("update moved to the DLQ", extra={"failures": failures})
