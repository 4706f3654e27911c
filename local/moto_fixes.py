"""Fixes to moto that the local stage and the tests rely on (applied before use).

FIFO redelivery order. moto decides whether a message group is "in flight" from its set of
pending (received, not deleted) messages, and takes a message out of that set only when its
receive loop reaches it. When several failed messages of one group become visible at the same
moment (a whole group deferred by the same delay, as the consumer does), the first one is
skipped because its successors still count as pending, and a later one is delivered first:
the group is reordered. Real SQS delivers the group's first message first. The fix releases
every pending message whose visibility timeout has expired before each receive.
"""

from __future__ import annotations

from typing import Any

_APPLIED = False


def fix_fifo_redelivery_order() -> None:
    global _APPLIED
    if _APPLIED:
        return
    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message

    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        for message in list(queue.pending_messages):
            if message.visible:
                queue.pending_messages.discard(message)
        return original(self, queue_name, *args, **kwargs)

    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    _APPLIED = True
