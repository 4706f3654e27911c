"""The shared flood limiter's timing rules: when a send may go, and what a deferred record
books, against every instance's shared state (a ``TatStore`` and ``Bookings``: DynamoDB in
production, in-memory fakes in the unit tests).

The GCRA arithmetic and the keys a call spends are in ``topicdesk.domain.limiter``; this
module decides the waits: reserve on every key, sleep a short wait or book and defer a long
one, look for a 429's hold just before the slot, and take a new slot on a key whose slot
passed before the send went.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from topicdesk.domain.errors import RateLimited, StorageUnavailable
from topicdesk.domain.limiter import (
    BOT_KEY,
    LimitSettings,
    Reservation,
    Rule,
    Spend,
    keys_to_hold,
    reserve_all,
    rules_for,
)
from topicdesk.domain.ports import Booking, Bookings, TatStore

ATTEMPTS = 4
BOOKING_HORIZON_SECONDS = 12 * 3600  # SQS cannot hide a message longer than 12 h
HOLD_CHECK_LEAD_SECONDS = 0.15
"""A sender that waits for its slot looks for a 429's hold this long before the slot, so the
read is not between the slot and the send (its latency would bunch sends up: Telegram counts
them when they arrive)."""
LATENCY_GUARD_SECONDS = 0.03
"""What the consumer passes as ``latency_guard`` (see ``SharedThrottle``)."""


class SendStore(TatStore, Protocol):
    """The TAT store as a send uses it: a chat's or group's slot, and the bot's with it."""

    def reserve_near(
        self, first: Rule, then: Rule, now: float, max_wait: float, then_wait: float
    ) -> list[Reservation]:
        """Reserve ``first``'s slot (within ``max_wait``) and, when that slot is within
        ``NEAR_SECONDS`` and the keys are kept together (``kept_with_bot``), ``then``'s at
        or after it (within ``then_wait``) in the same write; otherwise ``first``'s alone.
        RateLimited as ``reserve``, naming the key that refused; nothing is reserved then."""
        ...


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
        store: SendStore,
        settings: LimitSettings,
        *,
        bookings: Bookings | None = None,
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
        max_wait = self._max_wait(now)
        # Patience bounds the wait for a chat's or a group's slot only: records behind this one
        # may not need that key. The bot's slot is everyone's: waiting for it holds up nobody
        # who would not wait for it too (a broadcast's jobs deferred instead crawled).
        patient = {
            rule.key: min(max_wait, self._patience)
            for rule in spent
            if self._patience is not None and rule.key != BOT_KEY
        }
        booked, rules = self._booked_slot(spent, now)
        # The chat's or group's slot first; the bot's when that slot is near. Reserved together,
        # a bot slot seconds before the group's would pass unused and be taken again (a second
        # write), and it would sit in everyone's way meanwhile. A group's near slot and the
        # bot's are one write (the store keeps them in one item).
        first = [rule for rule in rules if rule.key != BOT_KEY]
        last = [rule for rule in rules if rule.key == BOT_KEY]
        try:
            if len(first) == 1 and last:
                own_wait = patient.get(first[0].key, max_wait)
                reserved = self._store.reserve_near(first[0], last[0], now, own_wait, max_wait)
            else:
                reserved = reserve_all(self._store, first, now, max_wait, patient)
        except RateLimited as limited:
            raise self._book(rules, limited, now) from None
        if any(r.key == BOT_KEY for r in reserved):
            last = []  # taken with the group's slot; one hold check before the send's slot
        slots = {r.key: now + r.wait for r in reserved}
        if booked is not None:  # the booked key's slot, for the lateness check below
            slots.update({rule.key: booked for rule in spent if rule.key not in slots})
        slot = max([*slots.values(), booked or now])
        if slot - now > 0.001 or booked is not None:  # below 1 ms is the numbers' rounding
            await self._hold_check(spent, slot)
        if last:
            await self._sleep_until(slot - self._latency_guard)
            now = self._clock() + self._latency_guard
            try:  # a 429 after the hold check moved the bot's TAT: this slot is behind it
                taken = reserve_all(self._store, last, now, self._max_wait(now))
            except RateLimited as limited:
                # The chat's or group's slot is not given back: it was held for a while, and
                # others have reserved behind it since; released, its TAT would step back
                # under theirs and hand their slot out again. It stays a gap.
                raise self._book(last, limited, now) from None
            reserved += taken
            slots.update({r.key: now + r.wait for r in taken})
            bot_slot = max(now + r.wait for r in taken)
            if bot_slot - now > 0.001:  # a queue on the bot's key: a 429 may come meanwhile
                await self._hold_check(spent, bot_slot)
            slot = max(slot, bot_slot)
        await self._sleep_until(slot)
        await self._not_late(spent, slots, max_wait)

    async def _hold_check(self, spent: Sequence[Rule], slot: float) -> None:
        """The slot was reserved a while ago (or will be reached later): a 429 since then
        holds it back. Looked for just before the slot, not between it and the send."""
        await self._sleep_until(slot - HOLD_CHECK_LEAD_SECONDS)
        held, key = self._store.held_until([rule.key for rule in spent])
        if held > self._clock():  # the reserved slots stay gaps (the hold moved the TATs)
            raise RateLimited(held - self._clock(), key=key)

    def _max_wait(self, now: float) -> float:
        if self._deadline is None:
            return self._settings.max_wait
        return max(0.0, min(self._settings.max_wait, self._deadline - now))

    async def _not_late(
        self, rules: Sequence[Rule], slots: dict[str, float], max_wait: float
    ) -> None:
        """A key's slot that passed before the send: the sender woke late, a read was slow, or
        another key made it wait longer. Sent now, the message would land on the next
        sender's slot (Telegram counts arrivals in a window), and a sender that finds the key
        idle meanwhile goes right after the TAT this send left, not after the send itself. On
        every key that cannot absorb the lateness (``Rule.late_tolerance``: the bot's), take
        the next free slot; the missed one stays a gap."""
        for _ in range(ATTEMPTS):
            clock = self._clock()
            late = [rule for rule in rules if clock - slots[rule.key] > rule.late_tolerance]
            if not late:
                return
            now = clock + self._latency_guard
            taken = reserve_all(self._store, late, now, max_wait)
            slots.update({r.key: now + r.wait for r in taken})
            await self._sleep_until(max(slots[rule.key] for rule in late))

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
