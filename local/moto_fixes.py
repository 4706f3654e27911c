"""Fixes to moto's SQS that the local stage and the tests rely on (applied before use).

1. FIFO redelivery order. moto decides whether a message group is "in flight" from its set of
   pending (received, not deleted) messages, and takes a message out of that set only when its
   receive loop reaches it. When several failed messages of one group become visible at the
   same moment (a whole group deferred by the same delay, as the consumer does), the first is
   skipped because its successors still count as pending, and a later one is delivered first.
   Real SQS delivers the group's first message first. Fix: release every pending message whose
   visibility timeout has expired before each receive.
2. Concurrent receives. moto's server runs requests in threads; two ReceiveMessage calls at
   once may both take messages of the same FIFO group (each checks "group in flight?" and then
   marks its messages, without a lock), so one chat reaches two consumers at once. Fix: every
   receive is a series of non-waiting scans made one at a time under a lock; a long poll sleeps
   between scans, outside the lock. (Seen first by the bench-limits harness, which also
   carries server-speed fixes of its own: bench/limits/moto_server.py.)
"""

from __future__ import annotations

import threading
import time
from typing import Any

_APPLIED = False
_SCAN_PAUSE_SECONDS = 0.05


def fix_fifo_redelivery_order() -> None:
    global _APPLIED
    if _APPLIED:
        return
    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message
    one_at_a_time = threading.Lock()

    def scan(self: Any, queue_name: str, count: int, visibility_timeout: int, names: Any) -> Any:
        with one_at_a_time:
            queue = self.get_queue(queue_name)
            for message in list(queue.pending_messages):
                if message.visible:
                    queue.pending_messages.discard(message)
            return original(self, queue_name, count, 0, visibility_timeout, names)

    def receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> Any:
        deadline = time.monotonic() + max(0, int(wait_seconds_timeout or 0))
        while True:
            found = scan(self, queue_name, count, visibility_timeout, message_attribute_names)
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(_SCAN_PAUSE_SECONDS)

    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    _APPLIED = True
