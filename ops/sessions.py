"""`sessions erase USER_ID`: a person's data erased on request (``topicdesk.domain.erase``),
with the same wiring as the consumer's ``/forget``; the report goes to the terminal."""

from __future__ import annotations

import asyncio
from typing import TextIO

from topicdesk.adapters.telegram import PtbTelegramGateway
from topicdesk.composition.erase import person_eraser
from topicdesk.contract import Output
from topicdesk.domain.erase import Erasure
from topicdesk.domain.errors import DeliveryError, StorageUnavailable
from topicdesk.runtime.ptb import build_bot

from ops.resources import OpsError, StageResources


def sessions_erase(resources: StageResources, out: TextIO, user_id: int, token: str) -> int:
    dynamodb = resources.resource("dynamodb")
    table = dynamodb.Table(resources.output(Output.DATA_TABLE_NAME))
    limits = dynamodb.Table(resources.output(Output.LIMITS_TABLE_NAME))

    async def erase() -> Erasure:
        async with build_bot(token, resources.telegram_api_url) as bot:
            return await person_eraser(table, limits, PtbTelegramGateway(bot)).erase(user_id)

    try:
        erasure = asyncio.run(erase())
    except (DeliveryError, StorageUnavailable) as error:
        # Every part is idempotent and the session goes last: running it again finishes it.
        raise OpsError(
            f"erasing user {user_id} stopped ({type(error).__name__}: {error}); "
            "run the same command again to finish"
        ) from None
    out.write(erasure.report() + "\n")
    for kind, count in erasure.counts():
        out.write(f"  {kind:<14} {count}\n")
    out.write(f"  {'topic':<14} {erasure.topic}\n")
    return 0
