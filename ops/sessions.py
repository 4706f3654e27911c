"""`sessions erase USER_ID`: a person's data erased on request (``topicdesk.domain.erase``),
with the same wiring as the consumer's ``/forget``; the report goes to the terminal. The CLI
also clears the person's parked dead updates (the parking queue, which only it reads)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Collection
from typing import Any, TextIO

from topicdesk.adapters.dynamodb.erasure import DynamoPersonData
from topicdesk.adapters.telegram import PtbTelegramGateway
from topicdesk.composition.erase import person_eraser
from topicdesk.contract import Output
from topicdesk.domain.erase import Erasure, concerns
from topicdesk.domain.errors import DeliveryError, StorageUnavailable
from topicdesk.domain.model import DeadLetter
from topicdesk.runtime.ptb import build_bot

from ops.resources import OpsError, StageResources

PARKED_MAX_BATCHES = 1000  # 10,000 parked updates per run (there are normally none)


def erase_parked(resources: StageResources, user_id: int, topics: Collection[Any]) -> int:
    """Delete the person's parked dead updates; put the others back at once. A person's
    updates share their queue group, so none hides behind another's in flight."""
    url = resources.outputs.get(Output.PARKING_QUEUE_URL)
    if url is None:
        return 0
    sqs, removed, kept = resources.client("sqs"), 0, []
    for _ in range(PARKED_MAX_BATCHES):
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            dead = DeadLetter(
                message["MessageId"], message["Body"], None, None, "parked", 0, 0, 0, 0
            )
            if concerns(dead, user_id, topics):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                removed += 1
            else:
                kept.append(message["ReceiptHandle"])
    for handle in kept:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return removed


def sessions_erase(resources: StageResources, out: TextIO, user_id: int, token: str) -> int:
    dynamodb = resources.resource("dynamodb")
    table = dynamodb.Table(resources.output(Output.DATA_TABLE_NAME))
    limits = dynamodb.Table(resources.output(Output.LIMITS_TABLE_NAME))

    async def erase() -> Erasure:
        async with build_bot(token, resources.telegram_api_url) as bot:
            return await person_eraser(table, limits, PtbTelegramGateway(bot)).erase(user_id)

    try:
        topics = DynamoPersonData(table, limits).topics_of(user_id)  # before the session goes
        erasure = asyncio.run(erase())
    except (DeliveryError, StorageUnavailable) as error:
        # Every part is idempotent and the session goes last: running it again finishes it.
        raise OpsError(
            f"erasing user {user_id} stopped ({type(error).__name__}: {error}); "
            "run the same command again to finish"
        ) from None
    parked = erase_parked(resources, user_id, topics)
    erasure = dataclasses.replace(erasure, removed={**erasure.removed, "parked": parked})
    out.write(erasure.report() + "\n")
    for kind, count in erasure.counts():
        out.write(f"  {kind:<14} {count}\n")
    out.write(f"  {'topic':<14} {erasure.topic}\n")
    return 0
