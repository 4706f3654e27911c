"""Inbox stats (issue 15, item 6): conversations opened and closed, first-response and
resolution times (p50/p90), per operator, and what waits unanswered now: a pure function of
the inbox records, for the weekly digest in the group's "Stats" topic and for
``make ops ARGS="stats --since 7d"``.

What the records hold is each person's latest conversation (a conversation after /close
begins a new one on the same record), and closed ones are kept 90 days: the stats of a
period count the conversations opened in it whose record still tells them (a person with two
conversations in a week counts with the later one). An operator's line counts the
conversations they own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from topicdesk.domain.inbox.display import wait_text
from topicdesk.domain.inbox.state import Conversation, State

STATS_TOPIC_NAME = "Stats"
NOBODY = "nobody"
_PERIOD = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def period_seconds(text: str) -> float:
    """``7d``, ``24h``, ``90m``, ``2w`` as seconds (ValueError otherwise)."""
    match = _PERIOD.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a period like 7d, 24h, 90m or 2w")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` percentile (0 < q <= 100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Times:
    """A set of durations in seconds, summed up by their p50 and p90."""

    values: tuple[float, ...] = ()

    @property
    def p50(self) -> float | None:
        return percentile(self.values, 50)

    @property
    def p90(self) -> float | None:
        return percentile(self.values, 90)


@dataclass(frozen=True)
class Tally:
    opened: int = 0
    closed: int = 0
    first_response: Times = Times()
    resolution: Times = Times()
    unanswered: int = 0


@dataclass(frozen=True)
class Stats:
    since: float
    until: float
    total: Tally
    per_operator: dict[str, Tally] = field(default_factory=dict)
    """By the owner's name (``nobody``: conversations nobody owns)."""


def compute(records: Iterable[Conversation], since: float, until: float) -> Stats:
    """The stats of the conversations opened in [since, until), and what waits at ``until``."""
    buckets: dict[str, list[Conversation]] = {}
    everything: list[Conversation] = []
    for record in records:
        everything.append(record)
        buckets.setdefault(record.owner.name if record.owner else NOBODY, []).append(record)
    per_operator = {name: _tally(group, since, until) for name, group in sorted(buckets.items())}
    return Stats(since, until, _tally(everything, since, until), per_operator)


def _tally(records: Sequence[Conversation], since: float, until: float) -> Tally:
    opened = [r for r in records if r.opened_at is not None and since <= r.opened_at < until]
    first = [
        r.first_response_at - r.opened_at
        for r in opened
        if r.first_response_at is not None
        and r.opened_at is not None
        and r.first_response_at < until
    ]
    closed = [
        r
        for r in records
        if r.state is State.CLOSED and r.resolved_at is not None and since <= r.resolved_at < until
    ]
    resolution = [
        r.resolved_at - r.opened_at
        for r in closed
        if r.resolved_at is not None and r.opened_at is not None
    ]
    unanswered = sum(1 for r in records if r.waiting_on_us)
    return Tally(
        len(opened), len(closed), Times(tuple(first)), Times(tuple(resolution)), unanswered
    )


def _duration(seconds: float | None) -> str:
    return "–" if seconds is None else wait_text(seconds)


def _day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _line(tally: Tally) -> str:
    return (
        f"opened {tally.opened} · closed {tally.closed} · unanswered now {tally.unanswered}\n"
        f"  first response p50 {_duration(tally.first_response.p50)}, "
        f"p90 {_duration(tally.first_response.p90)} · "
        f"resolution p50 {_duration(tally.resolution.p50)}, "
        f"p90 {_duration(tally.resolution.p90)}"
    )


def digest(stats: Stats) -> str:
    """The stats as the weekly digest (and the ops CLI) shows them."""
    lines = [f"📊 Inbox {_day(stats.since)} → {_day(stats.until)}", _line(stats.total)]
    if stats.per_operator:
        lines.append("")
        lines.append("Per operator:")
        lines.extend(f"• {name}: {_line(tally)}" for name, tally in stats.per_operator.items())
    return "\n".join(lines)[:4096]
