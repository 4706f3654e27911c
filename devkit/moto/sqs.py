"""SQS on moto as the tests and benchmarks use it."""

from __future__ import annotations

from typing import Any


def empty_queue(sqs: Any, url: str, *, rounds: int = 1000) -> None:
    """Receive and delete everything visible in the queue at ``url`` (a boto3 SQS client).

    Deleted rather than purged: SQS allows one PurgeQueue a minute. An emptied queue also
    keeps moto's SendMessage fast (it scans the whole queue) and makes its deduplication
    forget the deleted messages.
    """
    for _ in range(rounds):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
