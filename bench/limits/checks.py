"""The pure half of ``make bench-limits``: what arrived vs what was sent, rates, the table.

Nothing here touches a process, a socket or a clock; ``tests/tooling/test_bench_limits_smoke.py``
checks it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from local.reliability.checker import check_chat

#: Telegram's documented limits (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits):
#: ~30 messages/s per bot, 20 messages/min per group (1/s per private chat is not binding here).
BOT_PER_SECOND = 30.0
GROUP_PER_MINUTE = 20.0

Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class Delivery:
    """What the transcripts say about a run's messages."""

    expected: int
    lost: int = 0
    """Sent by a person (or due to a recipient) but not found where it belongs."""
    duplicated: int = 0
    """Extra copies beyond the first."""
    reordered: int = 0
    """Messages out of their conversation's order: how many would have to move (the
    conversation's length minus its longest in-order run, over first arrivals)."""

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.reordered == 0

    def __add__(self, other: Delivery) -> Delivery:
        return Delivery(
            self.expected + other.expected,
            self.lost + other.lost,
            self.duplicated + other.duplicated,
            self.reordered + other.reordered,
        )


def check_conversation(sent: Sequence[str], arrived: Iterable[str]) -> Delivery:
    """One conversation: ``sent`` in sending order (distinct texts), ``arrived`` in arrival
    order (other texts, e.g. a contact card, are ignored). The reliability suite's checker
    (no call's answer is dropped here: every extra copy is a duplicate)."""
    if len(set(sent)) != len(sent):
        raise ValueError("the texts of one conversation must be distinct")
    chat = check_chat(sent, arrived)
    return Delivery(chat.expected, chat.lost, chat.duplicated, chat.reordered)


def check_conversations(
    sent: Mapping[Key, Sequence[str]], arrived: Mapping[Key, Sequence[str]]
) -> Delivery:
    """Every conversation of a run (missing from ``arrived``: everything in it is lost)."""
    total = Delivery(expected=0)
    for key, texts in sent.items():
        total = total + check_conversation(texts, arrived.get(key, ()))
    return total


def sustained_rate(stamps: Sequence[float], counts: Sequence[int] | None = None) -> float | None:
    """Messages per second between the first and the last send: ``(n - 1) / (t_n - t_1)``.

    With ``counts`` (messages carried by each send, e.g. a ``copyMessages`` call) the messages
    after the first send are counted instead. None with fewer than two sends or no time between
    them (no rate can be told).
    """
    if counts is not None and len(counts) != len(stamps):
        raise ValueError("one count per send")
    if len(stamps) < 2:
        return None
    ordered = sorted(range(len(stamps)), key=lambda i: stamps[i])
    span = stamps[ordered[-1]] - stamps[ordered[0]]
    if span <= 0:
        return None
    carried = (sum(counts) - counts[ordered[0]]) if counts is not None else len(stamps) - 1
    return carried / span


def fraction(rate_per_second: float | None, limit_per_second: float) -> float | None:
    """Achieved rate as a fraction of a limit (both per second)."""
    if rate_per_second is None:
        return None
    if limit_per_second <= 0:
        raise ValueError("the limit must be positive")
    return rate_per_second / limit_per_second


def bot_limit(scale: float) -> float:
    """The emulated bot limit in messages per second at ``scale``."""
    return BOT_PER_SECOND * scale


def group_limit(scale: float) -> float:
    """The emulated group limit in messages per second at ``scale`` (20/min x scale)."""
    return GROUP_PER_MINUTE * scale / 60.0


# ----------------------------------------------------------------------------- the call log

_SENDING = frozenset(
    {
        "sendMessage", "sendPhoto", "sendDocument", "sendVideo", "sendAnimation", "sendAudio",
        "sendVoice", "sendVideoNote", "sendSticker", "sendLocation", "sendContact",
        "sendMediaGroup", "copyMessage", "copyMessages", "forwardMessage", "forwardMessages",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Send:
    """One message-sending Bot API call as the emulator logged it."""

    at: float
    method: str
    chat_id: int
    status: int | None
    messages: int
    """Messages it carries (``copyMessages``: its ids; otherwise 1)."""

    @property
    def ok(self) -> bool:
        return self.status == 200


def _json_value(value: object) -> object:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


COUNTED = _SENDING | {"createForumTopic"}
"""What the emulator's strict count (its default, and Topicdesk's) spends a group's 20/min
on: every message of a sending call, and every topic creation."""


def sends_from(
    calls: Iterable[Mapping[str, object]], methods: frozenset[str] = _SENDING
) -> list[Send]:
    """The sending calls (or ``methods``) of an emulator call log (``EmulatorClient.calls()``);
    parameters arrive as the client sent them (form fields are JSON-encoded strings)."""
    found: list[Send] = []
    for call in calls:
        method = str(call.get("method", ""))
        params = call.get("params")
        if method not in methods or not isinstance(params, Mapping):
            continue
        chat = _json_value(params.get("chat_id"))
        if isinstance(chat, bool) or not isinstance(chat, int):
            continue
        ids = _json_value(params.get("message_ids"))
        status = call.get("status")
        at = call.get("at")
        found.append(
            Send(
                at=float(at) if isinstance(at, int | float) else 0.0,
                method=method,
                chat_id=chat,
                status=int(status) if isinstance(status, int) else None,
                messages=len(ids) if isinstance(ids, list) else 1,
            )
        )
    return found


def calls_into(calls: Iterable[Mapping[str, object]], chat_id: int) -> list[float]:
    """When every successful call of any method about ``chat_id`` arrived (sends, and also
    e.g. ``createForumTopic``, which the emulator does not count as a message)."""
    stamps: list[float] = []
    for call in calls:
        params = call.get("params")
        at = call.get("at")
        if call.get("status") != 200 or not isinstance(params, Mapping):
            continue
        if _json_value(params.get("chat_id")) == chat_id and isinstance(at, int | float):
            stamps.append(float(at))
    return stamps


def rejected(calls: Iterable[Mapping[str, object]]) -> int:
    """Answers ``429 Too Many Requests`` in a call log."""
    return sum(1 for call in calls if call.get("status") == 429)


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Row:
    scenario: str
    """``a``, ``b`` or ``c``."""
    limiter: str
    """``topicdesk`` or ``baseline``."""
    k: int
    scale: float
    delivered: int
    """Messages that reached their chat (people's messages, or broadcast recipients)."""
    expected: int
    sends: int
    """Bot API calls that count towards the binding limit and succeeded."""
    elapsed: float
    """Seconds from releasing the load to the last successful binding send (to the deadline
    when there was none)."""
    rate: float | None
    """Sustained rate of the binding sends, per second."""
    limit: float
    """The binding limit at this scale, per second."""
    message_rate: float | None
    """Units per second the limit counts in those calls: each message carried (differs from
    ``rate`` with copyMessages) and, into a group, each topic creation (strict counting)."""
    rejected_429: int
    violations: int
    delivery: Delivery
    dead_lettered: int = 0
    timed_out: bool = False
    """The queue still held records at the deadline."""
    rejected_by_scope: Mapping[str, int] = field(default_factory=dict)
    """429s by the limit that refused (``bot``, ``chat``, ``group``)."""
    violations_by_scope: Mapping[str, int] = field(default_factory=dict)
    calls_rate: float | None = None
    cpu: Mapping[str, float] = field(default_factory=dict)
    """Cores used on average during the run (consumers, moto, emulator, bench's pollers)."""
    """(b), (c): every successful call into the group per second, ``createForumTopic`` too."""

    @property
    def fraction(self) -> float | None:
        return fraction(self.rate, self.limit)

    @property
    def message_fraction(self) -> float | None:
        return fraction(self.message_rate, self.limit)


SCENARIOS = {
    "a": "broadcast to private chats (bot limit, 30/s)",
    "b": "people writing at once into one group (group limit, 20/min)",
    "c": "one chatty person into one topic (group limit, 20/min)",
}


def _num(value: float | None, digits: int = 2) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.{digits}f}"


def _per(row: Row, value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f}/s" if row.scenario == "a" else f"{value * 60:.1f}/min"


HEADER = (
    "| scenario | K | limiter | scale | delivered | elapsed s | send rate | limit | fraction "
    "| counted rate | counted fraction | 429s | violations | lost | duplicated | reordered |"
)
RULE = "|" + "---|" * (HEADER.count("|") - 1)


def table_line(row: Row) -> str:
    delivered = f"{row.delivered}/{row.expected}" + (" (not drained)" if row.timed_out else "")
    cells = [
        row.scenario,
        str(row.k),
        row.limiter,
        f"{row.scale:g}x",
        delivered,
        f"{row.elapsed:.1f}",
        _per(row, row.rate),
        _per(row, row.limit),
        _num(row.fraction),
        _per(row, row.message_rate),
        _num(row.message_fraction),
        str(row.rejected_429),
        str(row.violations),
        str(row.delivery.lost),
        str(row.delivery.duplicated),
        str(row.delivery.reordered),
    ]
    return "| " + " | ".join(cells) + " |"


def table(rows: Sequence[Row]) -> list[str]:
    return [HEADER, RULE, *(table_line(row) for row in rows)]


def scopes(counts: Mapping[str, int]) -> str:
    """``{"bot": 3, "group": 1}`` -> ``bot 3, group 1`` (``-`` when empty)."""
    shown = [f"{scope} {count}" for scope, count in sorted(counts.items()) if count]
    return ", ".join(shown) or "-"


def summary(rows: Sequence[Row]) -> str:
    """The last line: Topicdesk's worst counted fraction (what the limit counts: messages,
    and topics into a group) over the scenarios at the largest K, and the 429 totals of every
    run of each limiter."""
    ours = [row for row in rows if row.limiter == "topicdesk"]
    top_k = max((row.k for row in ours), default=0)
    fractions = [row.message_fraction for row in ours if row.k == top_k]
    worst = min((f if f is not None else 0.0 for f in fractions), default=0.0)
    ours_429 = sum(row.rejected_429 for row in ours)
    theirs_429 = sum(row.rejected_429 for row in rows if row.limiter != "topicdesk")
    return f"limits: topicdesk_rate={worst:.2f} topicdesk_429={ours_429} baseline_429={theirs_429}"
