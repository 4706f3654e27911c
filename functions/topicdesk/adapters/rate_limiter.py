"""The shared flood limiter's storage: GCRA TATs in DynamoDB (``LIMITS_TABLE``, key ``pk``).

One conditional UpdateItem per key per send in the common cases:
- busy key (TAT between now and the furthest acceptable slot): ``SET tat = tat + T``;
- idle key (no TAT, or TAT in the past): the first update fails its condition and returns the
  old item, then ``SET tat = now + T``;
- key too far ahead: the failed condition's old item says how long to wait; nothing reserved.
Items expire (TTL ``expires_at``) an hour after their TAT; nothing ever scans.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from topicdesk.adapters.dynamodb import conditional_failed, conditionally, storage_errors
from topicdesk.domain.errors import RateLimited, StorageUnavailable
from topicdesk.domain.limiter import (
    LimitSettings,
    Reservation,
    Rule,
    Spend,
    keys_to_hold,
    reserve_all,
    rules_for,
)

EXPIRY_SECONDS = 3600
ATTEMPTS = 4


def _number(value: float) -> Decimal:
    return Decimal(str(round(value, 6)))


def _old_tat(error: ClientError) -> float | None:
    item = error.response.get("Item") or {}
    tat = item.get("tat")
    if isinstance(tat, dict) and "N" in tat:  # low-level shape on a failed condition
        return float(tat["N"])
    if isinstance(tat, int | float | Decimal):
        return float(tat)
    return None


class DynamoTatStore:
    def __init__(self, table: Any) -> None:
        self._table = table
        # The last TAT this instance saw per key: only to pick which conditional update to
        # try first (a wrong guess costs one failed write, never a wrong answer).
        self._seen: dict[str, float] = {}

    def reserve(self, rule: Rule, now: float, max_wait: float) -> Reservation:
        # The furthest TAT still worth waiting for (a call of several messages goes when the
        # last of them is due: ``rule.lead`` later).
        latest = max(now, now + rule.tolerance + max_wait - rule.lead)
        idle = Reservation(rule.key, max(0.0, rule.lead - rule.tolerance), rule.cost)
        # A call too big to go within max_wait even on an idle key reserves nothing here and
        # says how long (booking it passes a long max_wait: the booking horizon).
        too_big = idle.wait > max_wait
        if not too_big and self._seen.get(rule.key, 0.0) < now and self._start_idle(rule, now):
            return idle
        for _ in range(ATTEMPTS):
            try:
                with storage_errors():
                    answer = self._update_busy(rule, now, latest)
            except Exception as error:
                cause = error.__cause__
                if not (isinstance(cause, ClientError) and conditional_failed(cause)):
                    raise
                old = _old_tat(cause)
                if old is not None:
                    self._seen[rule.key] = old
                if old is not None and (old > latest or too_big):
                    wait = max(old, now) + rule.lead - rule.tolerance - now
                    raise RateLimited(wait, key=rule.key) from None
                if too_big:
                    raise RateLimited(idle.wait, key=rule.key) from None
                if self._start_idle(rule, now):
                    return idle
                continue  # someone moved it between our two updates: look again
            new_tat = float(answer["Attributes"]["tat"])
            self._seen[rule.key] = new_tat
            wait = max(0.0, new_tat - rule.interval - rule.tolerance - now)
            return Reservation(rule.key, wait, rule.cost)
        # Heavy contention on one key: come back shortly rather than spin.
        raise RateLimited(rule.interval, key=rule.key)

    def _update_busy(self, rule: Rule, now: float, latest: float) -> Any:
        return self._table.update_item(
            Key={"pk": rule.key},
            UpdateExpression="SET tat = tat + :cost, expires_at = :expires",
            ConditionExpression="tat BETWEEN :now AND :latest",
            ExpressionAttributeValues={
                ":cost": _number(rule.cost),
                ":now": _number(now),
                ":latest": _number(latest),
                ":expires": int(latest) + EXPIRY_SECONDS,
            },
            ReturnValues="UPDATED_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def _start_idle(self, rule: Rule, now: float) -> bool:
        started = conditionally(
            lambda: self._table.update_item(
                Key={"pk": rule.key},
                UpdateExpression="SET tat = :tat, expires_at = :expires",
                ConditionExpression="attribute_not_exists(tat) OR tat < :now",
                ExpressionAttributeValues={
                    ":tat": _number(now + rule.cost),
                    ":now": _number(now),
                    ":expires": int(now) + EXPIRY_SECONDS,
                },
            )
        )
        # Started: we know the TAT. Not: it is at least now (someone is sending).
        self._seen[rule.key] = (
            now + rule.cost if started else max(now, self._seen.get(rule.key, 0.0)) + rule.cost
        )
        return started

    def held_until(self, keys: Sequence[str]) -> tuple[float, str]:
        """The latest ``hold_until`` among ``keys`` and its key (0 when none is held): one
        consistent BatchGetItem."""
        wanted = [{"pk": key} for key in dict.fromkeys(keys)]
        latest, holder = 0.0, keys[0]
        for _ in range(ATTEMPTS):
            if not wanted:
                break
            with storage_errors():
                answer = self._table.meta.client.batch_get_item(
                    RequestItems={
                        self._table.name: {
                            "Keys": wanted,
                            "ConsistentRead": True,
                            "ProjectionExpression": "pk, hold_until",
                        }
                    }
                )
            for item in answer.get("Responses", {}).get(self._table.name, []):
                if "hold_until" in item and float(item["hold_until"]) > latest:
                    latest, holder = float(item["hold_until"]), str(item["pk"])
            wanted = answer.get("UnprocessedKeys", {}).get(self._table.name, {}).get("Keys", [])
        if wanted:
            raise StorageUnavailable("DynamoDB left the hold check unprocessed")
        return latest, holder

    def backlog(self, key: str, now: float) -> float:
        """Seconds until the key's next free slot (0 when idle): a group's headroom."""
        with storage_errors():
            item = self._table.get_item(Key={"pk": key}).get("Item")
        return max(0.0, float(item["tat"]) - now) if item and "tat" in item else 0.0

    def release(self, reservation: Reservation) -> None:
        with storage_errors():
            self._table.update_item(
                Key={"pk": reservation.key},
                UpdateExpression="SET tat = tat - :interval",
                ConditionExpression="attribute_exists(tat)",
                ExpressionAttributeValues={":interval": _number(reservation.interval)},
            )

    def push_back(self, key: str, until: float) -> None:
        """Nothing on this key before ``until``: new reservations queue behind it (TAT), and
        slots reserved before the 429 was known are held too (``hold_until``, checked by a
        sender that slept or comes back with a booking)."""
        # Failed conditions mean the key is already held longer: nothing to do.
        conditionally(
            lambda: self._table.update_item(
                Key={"pk": key},
                UpdateExpression="SET hold_until = :until, expires_at = :expires",
                ConditionExpression="attribute_not_exists(hold_until) OR hold_until < :until",
                ExpressionAttributeValues={
                    ":until": _number(until),
                    ":expires": int(until) + EXPIRY_SECONDS,
                },
            )
        )
        conditionally(
            lambda: self._table.update_item(
                Key={"pk": key},
                UpdateExpression="SET tat = :until, expires_at = :expires",
                ConditionExpression="attribute_not_exists(tat) OR tat < :until",
                ExpressionAttributeValues={
                    ":until": _number(until),
                    ":expires": int(until) + EXPIRY_SECONDS,
                },
            )
        )


BOOKING_HORIZON_SECONDS = 12 * 3600  # SQS cannot hide a message longer than 12 h
HOLD_CHECK_LEAD_SECONDS = 0.15
"""A sender that waits for its slot looks for a 429's hold this long before the slot, so the
read is not between the slot and the send (its latency would bunch sends up: Telegram counts
them when they arrive)."""
LATENCY_GUARD_SECONDS = 0.03
"""What the consumer passes as ``latency_guard`` (see ``SharedThrottle``)."""


@dataclass(frozen=True)
class Booking:
    key: str
    slot: float


class DynamoBookings:
    """A deferred record's reserved slot, kept until the record comes back for it."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def save(self, record_id: str, booking: Booking) -> None:
        with storage_errors():
            self._table.put_item(
                Item={
                    "pk": f"book#{record_id}",
                    "key": booking.key,
                    "slot": _number(booking.slot),
                    "expires_at": int(booking.slot) + EXPIRY_SECONDS,
                }
            )

    def take(self, record_id: str) -> Booking | None:
        """Read and remove in one round trip (DeleteItem returning the old item)."""
        with storage_errors():
            answer = self._table.delete_item(
                Key={"pk": f"book#{record_id}"}, ReturnValues="ALL_OLD"
            )
        item = answer.get("Attributes")
        if not item:
            return None
        return Booking(str(item["key"]), float(item["slot"]))


class SharedThrottle:
    """The Throttle the Telegram gateway consults: every instance shares the TATs.

    Fairness under contention: a record that must wait longer than it may sleep is deferred,
    and it *books* its slot first (the next free one in line, reserved like any other) so
    that when it comes back exactly then, the slot is its own and it goes at once, instead of
    meeting a queue that others have lengthened meanwhile and being deferred again. So a
    record is deferred at most once per send, however many instances compete.
    """

    def __init__(
        self,
        store: DynamoTatStore,
        settings: LimitSettings,
        *,
        bookings: DynamoBookings | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        latency_guard: float = 0.0,
    ) -> None:
        """``latency_guard``: no slot starts sooner than this after the request to reserve
        it. Without it, a key that fell idle a moment ago hands out a slot from before the
        write landed (GCRA lets idle time be spent), and a send that goes late by a round
        trip lands right on the next sender's: two messages in one slot of a window."""
        self._latency_guard = latency_guard
        self._store = store
        self._bookings = bookings
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._deadline: float | None = None
        self._patience: float | None = None
        self._record_id: str | None = None
        self._may_hold_booking = False

    def begin_record(
        self,
        record_id: str | None,
        receive_count: int,
        deadline: float | None,
        patience: float | None = None,
    ) -> None:
        """The record whose sends follow. ``deadline``: wall-clock time by which it must be
        done (the invocation's end less a margin); a wait past it defers instead.
        ``patience``: the longest wait this record may sleep, if shorter than the settings'
        (records of other conversations wait behind it in the batch: a sleep would hold
        them up, a deferral with a booking does not)."""
        self._record_id = record_id
        self._may_hold_booking = receive_count > 1  # only a returning record can have one
        self._deadline = deadline
        self._patience = patience

    def set_deadline(self, deadline: float | None) -> None:
        self._deadline = deadline

    async def before_send(self, chat_id: int, count: int = 1, kind: Spend = "message") -> None:
        spent = rules_for(chat_id, count, self._settings, kind)
        now = self._clock() + self._latency_guard
        max_wait = self._settings.max_wait
        if self._patience is not None:
            max_wait = min(max_wait, self._patience)
        if self._deadline is not None:
            max_wait = max(0.0, min(max_wait, self._deadline - now))
        booked, rules = self._booked_slot(spent, now)
        try:
            slots = {r.key: now + r.wait for r in reserve_all(self._store, rules, now, max_wait)}
        except RateLimited as limited:
            raise self._book(rules, limited, now) from None
        if booked is not None:  # the booked key's slot, for the lateness check below
            slots.update({rule.key: booked for rule in spent if rule.key not in slots})
        slot = max([*slots.values(), booked or now])
        if slot - now > 0.001 or booked is not None:  # below 1 ms is the numbers' rounding
            # The slot was reserved a while ago (or will be reached later): a 429 since then
            # holds it back. Looked for just before the slot, not between it and the send.
            await self._sleep_until(slot - HOLD_CHECK_LEAD_SECONDS)
            held, key = self._store.held_until([rule.key for rule in spent])
            if held > self._clock():
                raise RateLimited(held - self._clock(), key=key)
        await self._sleep_until(slot)
        await self._not_late(spent, slots, max_wait)

    async def _not_late(
        self, rules: Sequence[Rule], slots: dict[str, float], max_wait: float
    ) -> None:
        """A key's slot that passed before the send: the sender woke late, a read was slow, or
        another key made it wait longer (a group's slot seconds after the bot's). Sent now,
        the message would land on the next sender's slot (Telegram counts arrivals in a
        window). On every key that cannot absorb the lateness (``Rule.late_tolerance``: the
        bot's), take the next free slot; the missed one stays a gap."""
        for _ in range(ATTEMPTS):
            clock = self._clock()
            tight = [rule for rule in rules if clock - slots[rule.key] > rule.late_tolerance]
            if not tight:
                return
            now = clock + self._latency_guard
            for reservation in reserve_all(self._store, tight, now, max_wait):
                slots[reservation.key] = now + reservation.wait
            await self._sleep_until(max(slots[rule.key] for rule in tight))

    async def _sleep_until(self, moment: float) -> None:
        delay = moment - self._clock()
        if delay > 0.001:
            await self._sleep(delay)

    def _booked_slot(self, spent: list[Rule], now: float) -> tuple[float | None, list[Rule]]:
        """The record's booked slot, if it has one on a key this send spends, and the rules
        still to reserve. A booking missed by more than its key's ``late_tolerance`` (the
        record came back late: SQS hides in whole seconds) is not used: sent now, the message
        would land on another sender's slot; the booked slot stays a gap."""
        if not self._may_hold_booking or self._record_id is None or self._bookings is None:
            return None, spent
        self._may_hold_booking = False  # one booking per deferral, used by the next send
        booking = self._bookings.take(self._record_id)
        for rule in spent:
            if booking is not None and rule.key == booking.key:
                if now - booking.slot > rule.late_tolerance:
                    return None, spent
                return booking.slot, [other for other in spent if other is not rule]
        return None, spent

    def _book(self, rules: list[Rule], limited: RateLimited, now: float) -> RateLimited:
        """Reserve the deferred record's place in line on the key that refused it."""
        rule = next((r for r in rules if r.key == limited.key), None)
        if rule is None or self._record_id is None or self._bookings is None:
            return limited
        try:
            slot = now + self._store.reserve(rule, now, BOOKING_HORIZON_SECONDS).wait
            self._bookings.save(self._record_id, Booking(rule.key, slot))
        except (RateLimited, StorageUnavailable):
            return limited  # no booking: it simply queues again when it comes back
        return RateLimited(max(0.0, slot - now), key=rule.key)

    def penalize(self, chat_id: int, retry_after: float, kind: Spend = "message") -> None:
        """Telegram refused with 429: hold what it may have meant for every instance (the
        chat's key; the bot's too when the refusal may be bot-wide)."""
        until = self._clock() + retry_after
        for key in keys_to_hold(rules_for(chat_id, 1, self._settings, kind), retry_after):
            self._store.push_back(key, until)


class DynamoFloodGate:
    """The per-person pace on the same GCRA store: burst ``burst``, one per ``interval``."""

    def __init__(self, store: DynamoTatStore, *, burst: float, interval: float) -> None:
        self._store = store
        self._burst = max(1, int(burst))
        self._interval = interval

    def admit(self, user_id: int, now: float) -> float:
        rule = Rule(f"person#{user_id}", self._interval, self._burst)
        try:
            self._store.reserve(rule, now, max_wait=0.0)
        except RateLimited as refused:
            return max(refused.retry_after, 0.001)
        return 0.0


def shared_throttle(table: Any, settings: LimitSettings) -> SharedThrottle:
    """The limiter every function that writes to Telegram uses (``LIMITS_TABLE``)."""
    return SharedThrottle(
        DynamoTatStore(table),
        settings,
        bookings=DynamoBookings(table),
        latency_guard=LATENCY_GUARD_SECONDS,
    )
