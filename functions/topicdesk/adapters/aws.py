"""SQS and Secrets Manager at the edge: boto3 errors become domain errors here.

The webhook imports this module for its queue and its secret, and its cold start is measured
(issue 16): nothing here imports boto3 at module level. Powertools parameters (which imports
boto3, and boto3 s3transfer: about 130 ms) is imported by ``read_secret`` when called, by the
functions that import boto3 anyway; ``CachedSecret`` reads with a plain botocore client.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from topicdesk.adapters import redaction
from topicdesk.domain.errors import StorageUnavailable

if TYPE_CHECKING:  # the broadcast domain (~40 ms to import) is the consumer's, not the webhook's
    from topicdesk.domain.broadcast import BroadcastJob

SECRET_CACHE_SECONDS = 300
SECRET_RECHECK_SECONDS = 30
"""A refused secret re-reads a cached value at least this old (``CachedSecret.recheck``): a
rotation is picked up within this, not the whole cache time, and a flood of wrong secrets
costs Secrets Manager at most one call per this many seconds per container."""
MAX_VISIBILITY_SECONDS = 43_200  # SQS's ceiling for ChangeMessageVisibility


class CachedSecret:
    """A plain-string secret read with a botocore Secrets Manager client and kept for
    ``SECRET_CACHE_SECONDS``: what ``read_secret`` does, without Powertools parameters (and
    boto3) in the caller's cold start. A failed read is not kept: the next call tries again."""

    def __init__(
        self, client: Any, name: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client, self._name, self._clock = client, name, clock
        self._value: str | None = None
        self._read_at = 0.0

    def __call__(self) -> str:
        now = self._clock()
        if self._value is None or now - self._read_at >= SECRET_CACHE_SECONDS:
            try:
                value = self._client.get_secret_value(SecretId=self._name).get("SecretString")
            except (ClientError, BotoCoreError) as error:
                raise StorageUnavailable(f"secret {self._name} could not be read") from error
            if not isinstance(value, str):
                raise StorageUnavailable(f"secret {self._name} is not a string")
            self._value, self._read_at = redaction.register(value.strip()), now
        return self._value

    def recheck(self) -> bool:
        """Read the secret again if the kept value is ``SECRET_RECHECK_SECONDS`` old or more
        (the caller just refused a request with it); True when the value changed. A failed
        read keeps the old value."""
        if self._value is None or self._clock() - self._read_at < SECRET_RECHECK_SECONDS:
            return False
        old, self._read_at = self._value, self._clock()  # one try per recheck period
        try:
            value = self._client.get_secret_value(SecretId=self._name).get("SecretString")
        except (ClientError, BotoCoreError):
            return False
        if not isinstance(value, str):
            return False
        self._value = redaction.register(value.strip())
        return self._value != old


def read_secret(name: str, *, fresh: bool = False) -> str:
    """A plain-string secret through Powertools parameters (cached per container; ``fresh``:
    read it again now, e.g. after Telegram refused a rotated token)."""
    from aws_lambda_powertools.utilities import parameters  # see the module's docstring

    try:
        value = parameters.get_secret(name, max_age=SECRET_CACHE_SECONDS, force_fetch=fresh)
    except parameters.exceptions.GetParameterError as error:
        raise StorageUnavailable(f"secret {name} could not be read") from error
    if not isinstance(value, str):
        raise StorageUnavailable(f"secret {name} is not a string")
    return redaction.register(value.strip())


class SqsUpdateQueue:
    """The FIFO updates queue as the webhook and the ops CLI see it."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def enqueue(self, body: str, *, group_id: str, deduplication_id: str) -> str:
        try:
            answer = self._client.send_message(
                QueueUrl=self._url,
                MessageBody=body,
                MessageGroupId=group_id,
                MessageDeduplicationId=deduplication_id,
            )
        except (ClientError, BotoCoreError) as error:
            raise StorageUnavailable(f"SQS send failed: {type(error).__name__}") from error
        return str(answer["MessageId"])


class SqsDeadLetterQueue:
    """The consumer's own move of an update to the FIFO DLQ (after ``MAX_ATTEMPTS``)."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, body: str, group_id: str | None, deduplication_id: str) -> None:
        try:
            self._client.send_message(
                QueueUrl=self._url,
                MessageBody=body,
                MessageGroupId=group_id or "unrouted",
                MessageDeduplicationId=deduplication_id,
            )
        except (ClientError, BotoCoreError) as error:
            raise StorageUnavailable("could not move the update to the DLQ") from error


class SqsJobQueue:
    """Broadcast jobs onto the updates queue, each in its person's message group."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def enqueue_jobs(self, jobs: Sequence[BroadcastJob]) -> None:
        for start in range(0, len(jobs), 10):  # SendMessageBatch takes 10 at most
            entries = [
                {
                    "Id": str(index),
                    "MessageBody": json.dumps(job.to_body()),
                    "MessageGroupId": str(job.user_id),
                    "MessageDeduplicationId": f"bcast-{job.broadcast_id}-{job.user_id}",
                }
                for index, job in enumerate(jobs[start : start + 10])
            ]
            try:
                answer = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except (ClientError, BotoCoreError) as error:
                raise StorageUnavailable("SQS batch send failed") from error
            if answer.get("Failed"):
                # The dedup ids make a retry of the whole call safe.
                raise StorageUnavailable(f"SQS refused {len(answer['Failed'])} broadcast jobs")


@dataclass(frozen=True)
class Deferral:
    receipt_handle: str
    seconds: int


def queue_url_from_arn(client: Any, arn: str) -> str:
    """arn:aws:sqs:<region>:<account>:<name> -> the queue's URL (asked, not guessed, so it
    works on moto and on every partition)."""
    parts = arn.split(":")
    if len(parts) < 6:
        raise StorageUnavailable(f"not an SQS queue ARN: {arn}")
    account, name = parts[4], parts[5]
    try:
        answer = client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
    except (ClientError, BotoCoreError) as error:
        raise StorageUnavailable(f"queue {name} not found") from error
    return str(answer["QueueUrl"])


class SqsVisibility:
    """Changes when failed records come back: deferral for 429s, backoff for the rest."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._urls: dict[str, str] = {}

    def defer(self, queue_arn: str, deferrals: Iterable[Deferral]) -> None:
        entries = [
            {
                "Id": str(index),
                "ReceiptHandle": item.receipt_handle,
                "VisibilityTimeout": max(0, min(MAX_VISIBILITY_SECONDS, math.ceil(item.seconds))),
            }
            for index, item in enumerate(deferrals)
        ]
        if not entries:
            return
        if queue_arn not in self._urls:
            self._urls[queue_arn] = queue_url_from_arn(self._client, queue_arn)
        for start in range(0, len(entries), 10):  # the API takes at most 10 entries
            try:
                self._client.change_message_visibility_batch(
                    QueueUrl=self._urls[queue_arn], Entries=entries[start : start + 10]
                )
            except (ClientError, BotoCoreError) as error:
                # The records still fail and come back after the queue's visibility timeout:
                # later than planned, never lost.
                raise StorageUnavailable("could not change visibility") from error
