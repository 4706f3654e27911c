"""Telegram's documented flood limits, enforced over sent-message timestamps.

Documented (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this):

* about 30 messages per second per bot (broadcasts to many chats);
* about 1 message per second in one chat, short bursts allowed;
* at most 20 messages per minute into one group.

Each limit is a rule over the timestamps of the messages the bot actually sent
for one key (the bot, one private chat, one group):

* ``Window(limit, period)``: at most ``limit`` messages in any sliding window of
  ``period`` seconds (the bot's 30/s and the group's 20/min);
* ``Burst(rate, burst)``: a sliding-window family that allows ``burst``
  messages at once and then ``rate`` per second: the k-th most recent message
  (k >= burst) must be at least ``(k - burst + 1) / rate`` seconds old (the
  private chat's 1/s with a burst of 3). This is the timestamp form of a token
  bucket / GCRA.

What counts, by default (``Limits.count_each_message=True``), as strictly as
Telegram might count: every message a call produces is one message towards
each key it touches, so ``sendMediaGroup``, ``copyMessages`` and
``forwardMessages`` spend one per message (an album of 5 is 5 of a group's 20 a
minute, and 5 of the bot's 30 a second, and 5 of a private chat's pace), and
``createForumTopic`` spends one of the group's and the bot's. A call whose
messages do not all fit is refused whole, with the wait until they all fit. A
call bigger than a whole window (a copyMessages of 25 into a group) goes only
into an empty window, and a call bigger than a chat's burst only into a chat
quiet enough to pay for it afterwards: it cannot fit otherwise, and refusing it
forever would be no limit but a ban.
``count_each_message=False`` relaxes this to one message per call on every key
and leaves ``createForumTopic`` uncounted.

A call over a limit gets ``429 Too Many Requests: retry after N`` with
``parameters.retry_after = N`` (whole seconds, rounded up). A call that touches
the same key before those N seconds elapsed is a *violation* (the caller ignored
``retry_after``); it is refused again and recorded.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

Clock = Callable[[], float]

#: How many timestamps beyond the burst a Burst rule keeps (older ones no longer matter).
_HISTORY = 64

#: Calls that produce no ordinary message but count as one when every message counts.
COUNTED_NON_MESSAGES = frozenset({"createForumTopic"})


class ManualClock:
    """A clock that moves only when told to; thread-safe. Pass it as ``clock=``."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        with self._lock:
            self._now = now


@dataclass(frozen=True)
class Limits:
    """Flood limits of the emulated Telegram; every number is configurable.

    ``scale`` multiplies every rate for benchmarks (``scale=10``: 300 messages in
    any second per bot, 200 in any minute per group, 10/s per private chat after
    the same burst); the windows keep their documented lengths.
    ``enabled=False`` switches flood control off.
    ``count_each_message``: True (the default, the strict count) counts every
    message of a ``sendMediaGroup``/``copyMessages``/``forwardMessages`` call
    towards the bot's, the chat's and the group's limits, and a
    ``createForumTopic`` as one message towards the group's and the bot's; False
    counts one message per call and no ``createForumTopic``.
    """

    bot_per_second: int = 30
    chat_per_second: float = 1.0
    chat_burst: int = 3
    group_per_minute: int = 20
    scale: float = 1.0
    enabled: bool = True
    count_each_message: bool = True

    def scaled(self, scale: float) -> Limits:
        return replace(self, scale=scale)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Limits:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class _Rule:
    limit: int
    period: float  # for Window: window length; for Burst: seconds per message
    burst: int | None = None

    def wait(self, stamps: deque[float], now: float, count: int) -> float:
        """Seconds until ``count`` more messages would fit (0 if they fit now)."""
        if self.burst is None:
            inside = [s for s in stamps if s > now - self.period]
            excess = len(inside) + count - self.limit
            if excess <= 0:
                return 0.0
            if excess > len(inside):  # a call bigger than the whole window: into an empty one
                return inside[-1] + self.period - now if inside else 0.0
            return inside[excess - 1] + self.period - now
        # Burst: with `count` new messages appended, every message at depth k
        # (1 = most recent previous) must satisfy age >= (k + count - 1 - burst + 1) * period.
        wait = 0.0
        recent = list(reversed(stamps))
        for k, stamp in enumerate(recent, start=1):
            depth = k + count - 1
            if depth < self.burst:
                continue
            needed = stamp + (depth - self.burst + 1) * self.period - now
            wait = max(wait, needed)
        return wait


@dataclass
class Violation:
    at: float
    method: str
    scope: str
    chat_id: int | None
    retry_after_remaining: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Key:
    scope: str  # "bot" | "chat" | "group"
    bot_id: int
    chat_id: int | None

    def as_tuple(self) -> tuple[str, int, int | None]:
        return (self.scope, self.bot_id, self.chat_id)


@dataclass
class FloodDecision:
    """What ``FloodControl.check`` found; commit it with ``FloodControl.record``."""

    keys: list[tuple[_Key, int]]
    retry_after: int = 0
    scope: str | None = None
    violation: bool = False


@dataclass
class FloodControl:
    limits: Limits = field(default_factory=Limits)
    clock: Clock = time.monotonic
    _stamps: dict[tuple[str, int, int | None], deque[float]] = field(default_factory=dict)
    _blocked: dict[tuple[str, int, int | None], float] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        self._stamps.clear()
        self._blocked.clear()
        self.violations.clear()
        self.rejected.clear()

    def _rule(self, scope: str) -> _Rule:
        s = self.limits.scale
        if scope == "bot":
            return _Rule(max(1, int(self.limits.bot_per_second * s)), 1.0)
        if scope == "chat":
            return _Rule(
                1, 1.0 / (self.limits.chat_per_second * s), burst=max(1, self.limits.chat_burst)
            )
        return _Rule(max(1, int(self.limits.group_per_minute * s)), 60.0)

    def counted(self, method: str, items: int) -> int:
        """How many messages a ``method`` call producing ``items`` messages counts per key."""
        if self.limits.count_each_message:
            return items
        return 0 if method in COUNTED_NON_MESSAGES else 1

    def check(
        self,
        *,
        method: str,
        bot_id: int,
        chat_id: int,
        is_private: bool,
        items: int,
    ) -> FloodDecision:
        """Decide whether a call producing ``items`` messages may go out now.

        What it counts towards each key is ``counted(method, items)``. Over a
        limit: the decision carries ``retry_after`` > 0 and the 429 is counted.
        Nothing is recorded until ``record`` (call it after success).
        """
        count = self.counted(method, items)
        if count <= 0:
            return FloodDecision(keys=[])
        keys: list[tuple[_Key, int]] = [
            (_Key("bot", bot_id, None), count),
            (_Key("chat" if is_private else "group", bot_id, chat_id), count),
        ]
        decision = FloodDecision(keys=keys)
        if not self.limits.enabled:
            return decision
        now = self.clock()
        wait, scope = 0.0, None
        for key, count in keys:
            blocked_until = self._blocked.get(key.as_tuple())
            if blocked_until is not None and now < blocked_until:
                decision.violation = True
                self.violations.append(
                    Violation(now, method, key.scope, key.chat_id, round(blocked_until - now, 3))
                )
                if blocked_until - now > wait:
                    wait, scope = blocked_until - now, key.scope
                continue
            stamps = self._stamps.get(key.as_tuple(), deque())
            needed = self._rule(key.scope).wait(stamps, now, count)
            if needed > wait:
                wait, scope = needed, key.scope
        if wait > 0:
            retry_after = max(1, math.ceil(wait - 1e-9))
            decision.retry_after, decision.scope = retry_after, scope
            self.rejected[scope or "?"] = self.rejected.get(scope or "?", 0) + 1
            for key, count in keys:
                kt = key.as_tuple()
                if decision.violation and kt in self._blocked and now < self._blocked[kt]:
                    continue
                stamps = self._stamps.get(kt, deque())
                if self._rule(key.scope).wait(stamps, now, count) > 0:
                    self._blocked[kt] = now + retry_after
        return decision

    def record(self, decision: FloodDecision) -> None:
        if not self.limits.enabled:
            return
        now = self.clock()
        for key, count in decision.keys:
            stamps = self._stamps.setdefault(key.as_tuple(), deque())
            stamps.extend([now] * count)
            rule = self._rule(key.scope)
            if rule.burst is None:
                while stamps and stamps[0] <= now - rule.period:
                    stamps.popleft()
            else:
                while len(stamps) > rule.burst + _HISTORY:
                    stamps.popleft()

    def total_rejected(self) -> int:
        return sum(self.rejected.values())

    def violations_json(self) -> list[dict[str, Any]]:
        return [v.to_json() for v in self.violations]
