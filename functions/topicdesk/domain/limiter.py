"""Telegram's flood limits as GCRA rules, shared by every consumer instance.

GCRA keeps one number per key: the theoretical arrival time (TAT) of the next message. With
emission interval ``T`` (1/rate) and burst tolerance ``tau`` ((burst - 1) * T), a message may
go at ``max(TAT, now) - tau``; sending it moves TAT forward by ``T``. A worker *reserves* its
slot (moves TAT) before sleeping until the slot, so concurrent workers queue up instead of
racing; if the slot is further away than ``max_wait``, it does not reserve and defers instead.

Keys: the bot (about 30 messages/s overall), each private chat (1/s) and each group
(20/min). Bursts are 1 for chats and groups on purpose: Telegram counts messages in sliding
windows, and a burst followed by the steady rate would overfill a window.

Telegram does not document how ``copyMessages``/``sendMediaGroup`` (several messages in one
call) or ``createForumTopic`` count. By default (``count_each_message``) the limiter counts as
strictly as Telegram might: each message of a call spends one unit of every key it touches,
and creating a topic spends one unit of the group's 20/min. A call of ``w`` messages waits
until the *last* of them would be due (``Rule.lead``) and moves the TAT by ``w`` intervals, so
a sliding window never holds more than the rate allows, however the sends are sized. Relaxed
(a stage setting), a call is one message and topics have their own bucket per group at the
group's pace (``topics#<chat>``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from topicdesk.domain.errors import RateLimited

if TYPE_CHECKING:
    from topicdesk.domain.ports import TatStore


WAKE_UP_SECONDS = 0.02
"""How late a sleep may end on a busy machine (an event loop's wake-up; measured beyond 10 ms
under load in ``make bench``): lateness below it is not policed. At 28/s it is about half
the bot's interval anyway (18 ms): a one-second window keeps room for 50 ms of network
jitter (28 x 1.07 < 30). Only much faster settings (``make bench``'s 1000/s) are changed."""


@dataclass(frozen=True)
class Rule:
    key: str
    interval: float
    """Seconds between messages (1/rate)."""
    burst: int = 1
    late_slack: float = math.inf
    """How many of this key's intervals a send may go late (see ``late_tolerance``)."""
    weight: int = 1
    """Messages the call sends towards this key (an album of 10: 10)."""

    @property
    def tolerance(self) -> float:
        return (self.burst - 1) * self.interval

    @property
    def cost(self) -> float:
        """How far one call moves the key's TAT."""
        return self.weight * self.interval

    @property
    def lead(self) -> float:
        """From the start of the call's reservation to its slot: the call goes when its last
        message would be due, so the messages before it in a window leave room for all."""
        return (self.weight - 1) * self.interval

    @property
    def late_tolerance(self) -> float:
        """How late past its slot a send may still go: a late send lands on the next sender's
        slot, and Telegram counts arrivals in a window. What the configured margin leaves
        free in that window: the bot's 28 of 30 in one second, half an interval; a group's
        19 of 20 in a minute, one interval; a chat's bursts of three absorb any. Never below
        ``WAKE_UP_SECONDS``: a sleep cannot end closer to its slot than that, so a smaller
        tolerance would make every sleeping send late, and its new slot late again."""
        return max(self.interval * self.late_slack, WAKE_UP_SECONDS)


@dataclass(frozen=True)
class LimitSettings:
    bot_per_second: float
    chat_per_second: float
    group_per_minute: float
    max_wait: float = 3.5
    """Longest wait worth sleeping; beyond it the record is deferred."""
    count_each_message: bool = True
    """Each message of a call, and each topic creation, spends a unit (see the module)."""


BOT_KEY = "bot"
"""The bot's overall 30/s: every send spends it."""

WITH_THE_BOT = ("group#", "topics#")
"""Keys kept with the bot's (in its store item): an operators' group's messages and topics.
The bot serves only its operators' groups (the webhook drops any other group's updates), so
they are a handful and live as long as the bot; a send to one reserves its group's slot and
the bot's in one write when the group's slot is near (``TatStore.reserve_near``). A private
chat's key (thousands, each live for a second) stays apart."""


NEAR_SECONDS = 0.03
"""A group's slot this close: the bot's slot is reserved with it, in the same write. Further,
the group's slot is reserved alone and the bot's when it is near: a bot slot seconds before
the group's would pass unused, and sit in every other sender's way meanwhile."""


def kept_with_bot(key: str) -> bool:
    return key.startswith(WITH_THE_BOT)


Spend = Literal["message", "topic"]
"""What a call spends: a message (chat or group key, and the bot's) or a topic creation."""

BOT_WIDE_RETRY_AFTER = 5.0
"""A 429 whose ``retry_after`` is at most this many seconds may be the bot's overall 30/s
(Telegram does not say which limit refused): every send of the bot holds for it too. Longer
ones are a chat's or a group's penalty; holding the whole bot for them would stall everyone."""


def rules_for(
    chat_id: int, count: int, settings: LimitSettings, kind: Spend = "message"
) -> list[Rule]:
    """The keys one call of ``count`` messages to ``chat_id`` spends, most constraining first."""
    strict = settings.count_each_message
    if kind == "topic":
        if not strict:
            return [Rule(f"topics#{chat_id}", 60.0 / settings.group_per_minute)]
        count = 1  # one topic: one unit of the group's budget, and of the bot's
    weight = max(1, count) if strict else 1
    chat_rule = (
        Rule(f"group#{chat_id}", 60.0 / settings.group_per_minute, late_slack=1.0, weight=weight)
        if chat_id < 0
        else Rule(f"chat#{chat_id}", 1.0 / settings.chat_per_second, weight=weight)
    )
    return [chat_rule, Rule(BOT_KEY, 1.0 / settings.bot_per_second, late_slack=0.5, weight=weight)]


@dataclass(frozen=True)
class Reservation:
    key: str
    wait: float
    """Seconds from now until the reserved slot."""
    interval: float
    """How far the reservation moved the key's TAT (given back by ``release``)."""


def keys_to_hold(rules: Sequence[Rule], retry_after: float) -> list[str]:
    """The keys a 429 with ``retry_after`` holds, given the rules the refused call spent: the
    chat's (or group's, or topics') key, and the bot's when the refusal may be bot-wide."""
    keys = [rules[0].key]
    if retry_after <= BOT_WIDE_RETRY_AFTER:
        keys += [rule.key for rule in rules[1:]]
    return keys


def next_tat(stored_tat: float | None, now: float, rule: Rule) -> tuple[float, float]:
    """(new TAT, wait) for one message under ``rule`` given the stored TAT."""
    tat = max(stored_tat or 0.0, now)
    wait = max(0.0, tat + rule.lead - rule.tolerance - now)
    return tat + rule.cost, wait


def reserve_all(
    store: TatStore,
    rules: Sequence[Rule],
    now: float,
    max_wait: float,
    waits: Mapping[str, float] | None = None,
) -> list[Reservation]:
    """Reserve a slot on every key (all or nothing); the longest wait is the send's.
    ``waits``: a shorter longest wait for some keys."""
    taken: list[Reservation] = []
    try:
        for rule in rules:
            taken.append(store.reserve(rule, now, (waits or {}).get(rule.key, max_wait)))
    except RateLimited:
        for reservation in taken:
            store.release(reservation)
        raise
    return taken
