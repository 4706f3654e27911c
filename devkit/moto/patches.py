"""Every change devkit makes to moto, applied from here, for the one moto version it fits.

Each patch replaces or wraps a moto internal, so a different moto may break them silently:
``check_version`` stops first, with one line naming both versions (``MotoVersionError``).

CloudFormation (``patch_cloudformation``: ``devkit/moto/cloudformation.py``)
    The resource types the stack uses and moto lacks, as models on moto's own backends;
    DynamoDB tables' TTL and point-in-time recovery applied.

Event source mappings (``detach_event_source_mappings``)
    moto's SQS would run a mapping's function (in Docker) on every SendMessage, receiving the
    messages as it does; the local runtime drives the mappings instead (they still exist and
    can be listed).

SQS receive (``patch_sqs_receive``)
    * FIFO redelivery order: moto takes a received message out of its "pending" set only when
      its receive loop reaches it, so when several messages of one group become visible at the
      same moment the first is skipped (its successors still count as pending) and a later one
      is delivered first; real SQS delivers the group's first message first. Every pending
      message whose visibility timeout has expired is released before each scan.
    * Concurrent receives: moto's server runs requests in threads; two receives at once may
      both take messages of the same FIFO group (each checks "group in flight?" and then marks
      its messages, without a lock), so one chat reaches two consumers at once. Every receive
      is a series of non-waiting scans made one at a time under one lock.
    * Long polls: moto waits for "any visible message", but on a FIFO queue a visible message
      may be undeliverable (its group is in flight), so the wait returns at once and the loop
      spins for the whole ``WaitTimeSeconds``; and a message that becomes visible when its
      deferral ends wakes no waiter. Between scans a long poll sleeps, outside the lock, until
      a message is added, the next waiting one becomes receivable, or ``rescan_seconds`` pass
      (groups are freed by deletes, which notify nobody).

DynamoDB requests (``patch_dynamodb_requests``: ``devkit/moto/dynamodb.py``)
    One at a time: moto's threads could interleave two conditional updates of one item.

SQS speed under load (``patch_sqs_speed``, for the benchmarks' many pollers)
    * Clock: moto asks ``unix_time_millis()`` for every message on every scan and computes it
      through two naive datetimes (about 10 us); the same number comes from ``time.time``.
    * Counters: ``ApproximateNumberOfMessages*`` count the queue in three passes and are read
      several times per sent message: counted in one pass, at most once per millisecond and
      queue length (they are approximate in SQS too); the retention check reads its period
      directly.

Semantics are those of real SQS (or unchanged); only the order, exclusivity and timing above
differ from moto's own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

SUPPORTED_VERSION = "5.2.5"
"""The moto every patch here was written and checked against (requirements-dev.txt pins it)."""

DEFAULT_RESCAN_SECONDS = 0.05
"""How long a long poll sleeps at most between two scans (nothing notifies it of a delete)."""

_applied: set[str] = set()
_lock = threading.Lock()


class MotoVersionError(RuntimeError):
    """The installed moto is not the one these patches were written for."""


def check_version(installed: str | None = None) -> None:
    """Stop with one clear line unless ``installed`` (default: moto's own) is supported."""
    found = installed if installed is not None else _installed_version()
    if found != SUPPORTED_VERSION:
        raise MotoVersionError(
            f"devkit.moto patches moto {SUPPORTED_VERSION}, but moto {found} is installed:"
            f" install moto[server]=={SUPPORTED_VERSION} (requirements-dev.txt)"
            " or re-check devkit/moto/patches.py against it"
        )


def _installed_version() -> str:
    try:
        return metadata.version("moto")
    except metadata.PackageNotFoundError:
        return "(none)"


def _once(name: str, apply: Callable[[], None]) -> None:
    """Apply a patch once per process, after the version check."""
    with _lock:
        if name in _applied:
            return
        check_version()
        apply()
        _applied.add(name)


def install(*, speed: bool = False, rescan_seconds: float = DEFAULT_RESCAN_SECONDS) -> None:
    """Every patch a moto server needs (``speed``: also ``patch_sqs_speed``)."""
    check_version()
    patch_cloudformation()
    detach_event_source_mappings()
    if speed:
        patch_sqs_speed()
    patch_sqs_receive(rescan_seconds=rescan_seconds)
    patch_dynamodb_requests()


def patch_dynamodb_requests() -> None:
    """One DynamoDB request at a time (``devkit/moto/dynamodb.py`` says why)."""
    from devkit.moto.dynamodb import serialize_requests

    _once("dynamodb-requests", serialize_requests)


# ----------------------------------------------------------------------------- CloudFormation


def patch_cloudformation() -> None:
    """The resource types moto's CloudFormation lacks; DynamoDB TTL and PITR applied
    (``devkit/moto/cloudformation.py``)."""
    from devkit.moto.cloudformation import complete_cloudformation

    _once("cloudformation", complete_cloudformation)


# ----------------------------------------------------------------------------- SQS


class _NotDrivenByMoto(dict[str, Any]):
    """A queue's mapping registry that keeps nothing: moto never runs a mapped function."""

    def __setitem__(self, key: str, value: Any) -> None:
        return None


def _detach_event_source_mappings() -> None:
    from moto.sqs.models import Queue

    queue_class: Any = Queue
    original_init = queue_class.__init__

    def queue_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.lambda_event_source_mappings = _NotDrivenByMoto()

    queue_class.__init__ = queue_init


def detach_event_source_mappings() -> None:
    """moto's queues never run a mapped function; the local runtime drives the mappings."""
    _once("event-source-mappings", _detach_event_source_mappings)


def next_change(visible_at: list[float], delayed_until: list[float], now: float) -> float | None:
    """Milliseconds until the next waiting message becomes receivable (None: none waits)."""
    upcoming = [t for t in (*visible_at, *delayed_until) if t > now]
    return min(upcoming) - now if upcoming else None


def _patch_sqs_receive(rescan_seconds: float) -> None:
    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message
    one_at_a_time = threading.Lock()

    def receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> Any:
        deadline = time.monotonic() + float(wait_seconds_timeout or 0)
        while True:
            with one_at_a_time:
                queue = self.get_queue(queue_name)
                for message in list(queue.pending_messages):
                    if message.visible:
                        queue.pending_messages.discard(message)
                found = original(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
                messages = list(queue._messages)
                change = next_change(
                    [m.visible_at for m in messages],
                    [m.delayed_until for m in messages],
                    time.time() * 1000.0,
                )
            remaining = deadline - time.monotonic()
            if found or remaining <= 0:
                return found
            wait = min(remaining, rescan_seconds)
            if change is not None:
                wait = min(wait, change / 1000 + 0.002)
            with queue._messages_lock:  # notified when a message is added
                queue._messages_lock.wait(timeout=max(0.002, wait))

    backend_class: Any = SQSBackend
    backend_class.receive_message = receive_message


def patch_sqs_receive(*, rescan_seconds: float = DEFAULT_RESCAN_SECONDS) -> None:
    """FIFO redelivery order, one receive at a time, long polls that wait instead of spin."""
    _once("sqs-receive", lambda: _patch_sqs_receive(rescan_seconds))


def _patch_sqs_speed() -> None:
    import moto.sqs.models as sqs_models

    module: Any = sqs_models
    slow_seconds, slow_millis = module.unix_time, module.unix_time_millis

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else float(slow_seconds(dt))

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else float(slow_millis(dt))

    module.unix_time, module.unix_time_millis = unix_time, unix_time_millis

    def counts(queue: Any) -> tuple[int, int, int]:
        key = (len(queue._messages), int(time.time() * 1000))
        cached = getattr(queue, "_devkit_counts", None)
        if cached is not None and cached[0] == key:
            visible, not_visible, delayed = cached[1]
            return int(visible), int(not_visible), int(delayed)
        now = time.time() * 1000.0
        visible = not_visible = delayed = 0
        for message in list(queue._messages):
            is_delayed = now < message.delayed_until
            is_visible = now > message.visible_at
            visible += is_visible and not is_delayed
            not_visible += not is_visible
            delayed += is_delayed
        queue._devkit_counts = (key, (visible, not_visible, delayed))
        return visible, not_visible, delayed

    def retained(self: Any, queue_name: str, message: Any) -> bool:
        period = int(self.get_queue(queue_name).message_retention_period)
        return bool(period + message.sent_timestamp / 1000 > time.time())

    queue_class: Any = sqs_models.Queue
    queue_class.approximate_number_of_messages = property(lambda q: counts(q)[0])
    queue_class.approximate_number_of_messages_not_visible = property(lambda q: counts(q)[1])
    queue_class.approximate_number_of_messages_delayed = property(lambda q: counts(q)[2])
    backend_class: Any = sqs_models.SQSBackend
    backend_class.is_message_valid_based_on_retention_period = retained


def patch_sqs_speed() -> None:
    """A cheap SQS clock and cheap queue counters (thousands of queued messages)."""
    _once("sqs-speed", _patch_sqs_speed)
