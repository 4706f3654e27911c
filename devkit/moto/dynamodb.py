"""moto's DynamoDB one request at a time, as DynamoDB orders the writes to an item (applied by
``devkit.moto.patches.patch_dynamodb_requests``, after its version check).

moto's server runs every request in a thread of its own, and a DynamoDB request there is
several Python steps on the live item without a lock: ``UpdateItem`` reads the item, checks
the condition, applies the update expression in place and then renders the answer from the
item as it is by then. A switch of the interpreter lock between two requests on one item lets
them interleave: both pass their condition on the same old value and write the same new one
(an update lost), or one answers ``UPDATED_NEW`` with the item another request has changed
since (two callers get one new value). DynamoDB applies the writes to an item one after the
other, each with its condition checked against the item it changes, and answers each with
what that write left.

Found by ``make bench-limits`` (a), K = 16: two consumers were handed the same slot of the
bot's flood limit (two ``SET tat = tat + :cost`` answered the same ``tat``), so two sends went
a millisecond apart in a full window, and the emulator answered 429. Reproduced without the
product: 16 processes doing 150 conditional increments each on one item of moto's server
ended at 2,399 of 2,400 with one new value returned twice. Requests of other services are
untouched; a DynamoDB request waits only for another DynamoDB request (none of them waits on
anything: moto's DynamoDB has no long polls).
"""

from __future__ import annotations

import threading
from typing import Any


def serialize_requests() -> None:
    """Every DynamoDB request of this process's moto runs alone (call once)."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    one_at_a_time = threading.RLock()

    def call_action(self: Any) -> Any:
        with one_at_a_time:
            return original(self)

    handler_class: Any = DynamoHandler
    handler_class.call_action = call_action
