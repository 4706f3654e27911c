"""What operators see of the inbox, and when the bot may change it (pure).

The topic: its name carries the state as a prefix and the owner as a suffix
(``🔴 Ann Lee · Bob``). A name rather than the topic's icon: icons are limited to the custom
emoji of ``getForumTopicIconStickers`` (a set the bot must fetch, which can change, and which
cannot carry an owner), while a name shows in every client, in the topic list and in search,
and holds the owner too. Either edit posts a "topic edited" service message and spends a unit
of the group's flood budget, hence the coalescing below.

Coalescing, so that state changes never crowd out relayed messages (``label_due``,
``overview_due``):
- a topic's label is set only once its state has been stable for ``STABLE_SECONDS`` (an answer
  and the person's reply a few seconds apart cost no edit at all), and at most once per
  ``TOPIC_EDIT_GAP`` per topic (a quick back-and-forth costs one edit every few minutes, and
  the final state is always shown in the end);
- the queue overview is edited when its content changed (a dirty flag), at most once per
  ``OVERVIEW_GAP``; its wait times say "as of" the refresh, so they need no edit to stay true;
- both are done by one refresh job per operators' group (``refresh``), which makes at most
  ``EDITS_PER_RUN`` edits per run and only while the group's slot in the shared limiter is free
  (nothing relayed is waiting for it): an edit takes a slot no relayed message wanted, so a
  message arriving just after waits at most that one slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from topicdesk.domain.inbox.state import Conversation, State

STABLE_SECONDS = 10.0
TOPIC_EDIT_GAP = 120.0
OVERVIEW_GAP = 60.0
EDITS_PER_RUN = 2
TOPIC_NAME_LIMIT = 128  # createForumTopic / editForumTopic: 1-128 characters
MESSAGE_LIMIT = 4096
QUEUE_TOPIC_NAME = "Queue"

PREFIX = {
    State.NEW: "🆕",
    State.WAITING_US: "🔴",
    State.WAITING_PERSON: "🟢",
    State.CLOSED: "✅",
}
LEGEND = "🆕 new · 🔴 waiting on us · 🟢 waiting on the person · ✅ closed"


def label(record: Conversation) -> str | None:
    """The topic's name for this record; None before anything happened in it."""
    if record.state is None or not record.name:
        return None
    owner = f" · {record.owner.name}" if record.owner else ""
    room = TOPIC_NAME_LIMIT - len(PREFIX[record.state]) - 1 - len(owner)
    return f"{PREFIX[record.state]} {record.name[: max(room, 1)]}{owner}"[:TOPIC_NAME_LIMIT]


def label_due(record: Conversation, now: float) -> float | None:
    """None: the topic shows what it should (or has nothing to show); else the seconds until
    its label may be set (0: now)."""
    wanted = label(record)
    if wanted is None or wanted == record.shown or record.thread_id is None:
        return None
    gap_ends = record.shown_at + TOPIC_EDIT_GAP if record.shown is not None else 0.0
    moment = max(record.changed_at + STABLE_SECONDS, gap_ends)
    return max(0.0, moment - now)


def overview_due(dirty: bool, refreshed_at: float, now: float) -> float | None:
    """None: the overview is current; else the seconds until it may be refreshed."""
    if not dirty:
        return None
    return max(0.0, refreshed_at + OVERVIEW_GAP - now)


def overview_relevant(record: Conversation | None) -> tuple[object, ...]:
    """What of a record the overview shows: a change here makes it dirty."""
    if record is None or not record.waiting_on_us:
        return ()
    owner = record.owner.name if record.owner else None
    return (record.state, record.waiting_since, owner, record.name, record.thread_id)


def topic_link(chat_id: int, thread_id: int) -> str:
    """t.me/c/<id>/<thread>: a supergroup's id without its -100 (members can open it)."""
    internal = str(chat_id).removeprefix("-100").lstrip("-")
    return f"https://t.me/c/{internal}/{thread_id}"


def wait_text(seconds: float) -> str:
    minutes = int(max(seconds, 0) // 60)
    if minutes < 1:
        return "<1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%H:%M UTC")


def overview(chat_id: int, records: Sequence[Conversation], now: float) -> str:
    """The pinned queue message: conversations waiting on us, oldest first."""
    waiting = sorted(
        (r for r in records if r.waiting_on_us and r.thread_id is not None),
        key=lambda r: (now if r.waiting_since is None else r.waiting_since, r.user_id),
    )
    head = f"📋 Waiting on us: {len(waiting)} (as of {_clock(now)})"
    if not waiting:
        return f"{head}\nNothing waits. 🎉\n\n{LEGEND}"
    lines = [head]
    for number, record in enumerate(waiting, 1):
        since = now if record.waiting_since is None else record.waiting_since
        owner = record.owner.name if record.owner else "nobody"
        assert record.thread_id is not None
        entry = (
            f"{number}. {PREFIX[record.state or State.NEW]} {record.name} · "
            f"{wait_text(now - since)} (since {_clock(since)}) · {owner}\n"
            f"{topic_link(chat_id, record.thread_id)}"
        )
        more = f"… and {len(waiting) - number + 1} more"
        room = MESSAGE_LIMIT - len(LEGEND) - len(more) - 4
        if sum(len(line) + 1 for line in lines) + len(entry) > room:
            lines.append(more)
            break
        lines.append(entry)
    return "\n".join([*lines, "", LEGEND])
