"""The shared flood limiter's storage: GCRA TATs in DynamoDB (``LIMITS_TABLE``, key ``pk``;
which item and attribute hold a key: ``limits_items``).

One conditional UpdateItem per key per send in the common cases, and one for an operators'
group's slot and the bot's together when the group's slot is near (``limits_items.Pair``):
- busy key (TAT between now and the furthest acceptable slot): ``SET tat = tat + T``;
- idle key (no TAT, or TAT in the past): the first update fails its condition and returns the
  old item, then ``SET tat = now + T``;
- key too far ahead: the failed condition's old item says how long to wait; nothing reserved.
Items expire (TTL ``expires_at``) an hour after their TAT, but the bot's; nothing ever scans.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from topicdesk.adapters.dynamodb import conditional_failed, conditionally, storage_errors
from topicdesk.adapters.limits_items import (
    EXPIRY_SECONDS,
    Pair,
    location,
    number,
    old_number,
    wait_after,
    write,
)
from topicdesk.domain.errors import RateLimited, StorageUnavailable
from topicdesk.domain.limiter import (
    BOT_KEY,
    LimitSettings,
    Reservation,
    Rule,
    kept_with_bot,
    rules_for,
)
from topicdesk.domain.ports import Booking
from topicdesk.domain.throttle import LATENCY_GUARD_SECONDS, SharedThrottle

ATTEMPTS = 4
PERSON_GATE = "person"
"""The per-person pace's key prefix (``person#<user>``)."""
GREETING_GATE = "greet"
"""The one-greeting-a-day bucket's key prefix (``greet#<user>``)."""


def person_keys(user_id: int) -> list[str]:
    """Every limiter key about one person: their pace, their greetings and their private
    chat's 1/s (what erasing the person deletes; the rest are groups' and the bot's)."""
    chat = rules_for(user_id, 1, LimitSettings(1.0, 1.0, 1.0))[0].key
    return [f"{PERSON_GATE}#{user_id}", f"{GREETING_GATE}#{user_id}", chat]


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
        idle_wait = max(0.0, rule.lead - rule.tolerance)
        # A call too big to go within max_wait even on an idle key reserves nothing here and
        # says how long (booking it passes a long max_wait: the booking horizon).
        too_big = idle_wait > max_wait
        idle = Reservation(rule.key, idle_wait, rule.cost)
        if not too_big and self._seen.get(rule.key, 0.0) < now and self._start_idle(rule, now):
            return idle
        _, tat, _ = location(rule.key)
        for _ in range(ATTEMPTS):
            try:
                with storage_errors():
                    answer = self._update_busy(rule, now, latest)
            except Exception as error:
                cause = error.__cause__
                if not (isinstance(cause, ClientError) and conditional_failed(cause)):
                    raise
                old = old_number(cause, tat)
                if old is not None:
                    self._seen[rule.key] = old
                if old is not None and (old > latest or too_big):
                    wait = max(old, now) + rule.lead - rule.tolerance - now
                    raise RateLimited(wait, key=rule.key) from None
                if too_big:
                    raise RateLimited(idle_wait, key=rule.key) from None
                if self._start_idle(rule, now):
                    return idle
                continue  # someone moved it between our two updates: look again
            new_tat = float(answer["Attributes"][tat])
            self._seen[rule.key] = new_tat
            return Reservation(rule.key, wait_after(rule, new_tat, now), rule.cost)
        # Heavy contention on one key: come back shortly rather than spin.
        raise RateLimited(rule.interval, key=rule.key)

    def reserve_near(
        self, first: Rule, then: Rule, now: float, max_wait: float, then_wait: float
    ) -> list[Reservation]:
        """``SendStore.reserve_near``: a group's near slot and the bot's in one write."""
        seen = self._seen
        if not Pair.applies(first, then):
            return [self.reserve(first, now, max_wait)]
        pair = Pair(first, then, now, max_wait, then_wait)
        group, bot = seen.get(first.key), seen.get(then.key)
        read = False  # a refusal only on TATs read back, never on a guess
        for _ in range(ATTEMPTS):
            if pair.far(group):  # the group alone now, the bot's slot when the group's is near
                return [self.reserve(first, now, max_wait)]
            wait = pair.refusal(group, bot) if read else None
            if wait is not None:
                raise RateLimited(wait, key=then.key)
            try:
                with storage_errors():
                    answer = self._table.update_item(**pair.update(group, bot))
            except Exception as error:
                cause = error.__cause__
                if not (isinstance(cause, ClientError) and conditional_failed(cause)):
                    raise
                group, bot = old_number(cause, pair.group_tat), old_number(cause, "tat")
                read = True
                for key, tat in ((first.key, group), (then.key, bot)):
                    if tat is not None:
                        seen[key] = tat
                continue
            new = answer["Attributes"]
            seen.update({first.key: float(new[pair.group_tat]), then.key: float(new["tat"])})
            return pair.reservations(new)
        raise RateLimited(first.interval, key=first.key)  # heavy contention: come back shortly

    def _update_busy(self, rule: Rule, now: float, latest: float) -> Any:
        item, tat, _ = location(rule.key)
        return self._table.update_item(
            **write(
                item,
                "#t = #t + :cost",
                "#t BETWEEN :now AND :latest",
                {"#t": tat},
                {":cost": number(rule.cost), ":now": number(now), ":latest": number(latest)},
                latest + rule.cost,  # kept an hour past the TAT it sets (a day-long bucket: a day)
            ),
            ReturnValues="UPDATED_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def _start_idle(self, rule: Rule, now: float) -> bool:
        item, tat, _ = location(rule.key)
        started = conditionally(
            lambda: self._table.update_item(
                **write(
                    item,
                    "#t = :tat",
                    "attribute_not_exists(#t) OR #t < :now",
                    {"#t": tat},
                    {":tat": number(now + rule.cost), ":now": number(now)},
                    now + rule.cost,
                )
            )
        )
        # Started: we know the TAT. Not: it is at least now (someone is sending).
        self._seen[rule.key] = (
            now + rule.cost if started else max(now, self._seen.get(rule.key, 0.0)) + rule.cost
        )
        return started

    def held_until(self, keys: Sequence[str]) -> tuple[float, str]:
        """The latest ``hold_until`` among ``keys`` and its key (0 when none is held): one
        consistent read (a group's and the bot's are one item)."""
        holds = self._read(keys, hold=True)
        if not holds:
            return 0.0, keys[0]
        holder = max(holds, key=lambda key: holds[key])
        return holds[holder], holder

    def _read(self, keys: Sequence[str], *, hold: bool) -> dict[str, float]:
        """Each key's hold (or TAT) that is set, in one consistent BatchGetItem."""
        where = {key: location(key) for key in dict.fromkeys(keys)}
        attribute = {key: spot[2] if hold else spot[1] for key, spot in where.items()}
        names = {f"#a{i}": name for i, name in enumerate(dict.fromkeys(attribute.values()))}
        wanted = [{"pk": item} for item in dict.fromkeys(spot[0] for spot in where.values())]
        items: dict[str, dict[str, Any]] = {}
        for _ in range(ATTEMPTS):
            if not wanted:
                break
            with storage_errors():
                answer = self._table.meta.client.batch_get_item(
                    RequestItems={
                        self._table.name: {
                            "Keys": wanted,
                            "ConsistentRead": True,
                            "ProjectionExpression": ", ".join(["pk", *names]),
                            "ExpressionAttributeNames": names,
                        }
                    }
                )
            for item in answer.get("Responses", {}).get(self._table.name, []):
                items[str(item["pk"])] = item
            wanted = answer.get("UnprocessedKeys", {}).get(self._table.name, {}).get("Keys", [])
        if wanted:
            raise StorageUnavailable("DynamoDB left a limiter read unprocessed")
        found = {key: items.get(where[key][0], {}).get(attribute[key]) for key in where}
        return {key: float(value) for key, value in found.items() if value is not None}

    def backlog(self, key: str, now: float) -> float:
        """Seconds until the key's next free slot (0 when idle): a group's headroom."""
        item, tat, _ = location(key)
        with storage_errors():
            found = self._table.get_item(Key={"pk": item}).get("Item") or {}
        return max(0.0, float(found[tat]) - now) if tat in found else 0.0

    def release(self, reservation: Reservation) -> None:
        item, tat, _ = location(reservation.key)
        with storage_errors():
            self._table.update_item(
                Key={"pk": item},
                UpdateExpression="SET #t = #t - :interval",
                ConditionExpression="attribute_exists(#t)",
                ExpressionAttributeNames={"#t": tat},
                ExpressionAttributeValues={":interval": number(reservation.interval)},
            )

    def push_back(self, key: str, until: float) -> None:
        """Nothing on this key before ``until``: new reservations queue behind it (TAT), and
        slots reserved before the 429 was known are held too (``hold_until``, checked by a
        sender that slept or comes back with a booking)."""
        item, tat, hold = location(key)
        # Failed conditions mean the key is already held longer: nothing to do.
        for attribute in (hold, tat):
            conditionally(
                partial(
                    self._table.update_item,
                    **write(
                        item,
                        "#a = :until",
                        "attribute_not_exists(#a) OR #a < :until",
                        {"#a": attribute},
                        {":until": number(until)},
                        until,
                    ),
                )
            )


BOOKED_ON = "on"
"""A booking's attribute naming the item its key's TAT is kept on (the bot's, for a group)."""


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
                    "slot": number(booking.slot),
                    "expires_at": int(booking.slot) + EXPIRY_SECONDS,
                    **({BOOKED_ON: BOT_KEY} if kept_with_bot(booking.key) else {}),
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
        key = str(item["key"])
        if kept_with_bot(key) and item.get(BOOKED_ON) != BOT_KEY:
            # Booked on a group's own item, before a deploy moved the groups' TATs onto the
            # bot's: its slot is not in the TAT others now reserve behind. It queues again.
            return None
        return Booking(key, float(item["slot"]))


class DynamoFloodGate:
    """A per-person bucket on the same GCRA store: burst ``burst``, one per ``interval``: the
    greeting gate (``greet#<user>``, one a day; a first ``/start`` comes before the session).
    The person's pace, ``person#<user>`` until issue 16, is kept in their session now
    (``topicdesk.domain.relay.pace``); erasure still deletes the older items."""

    def __init__(
        self, store: DynamoTatStore, *, burst: float, interval: float, prefix: str = GREETING_GATE
    ) -> None:
        self._store = store
        self._burst = max(1, int(burst))
        self._interval = interval
        self._prefix = prefix

    def admit(self, user_id: int, now: float) -> float:
        rule = Rule(f"{self._prefix}#{user_id}", self._interval, self._burst)
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
