"""One checker for every scenario: what each chat should show against what it shows."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChatCheck:
    expected: int
    delivered: int
    lost: int
    duplicated: int
    """Extra copies no in-doubt send explains: the product's own duplicates."""
    reordered: int
    in_doubt: int = 0
    """Extra copies explained by a copy whose call's answer never reached the bot (the emulator
    logs it as ``answer_dropped``): Telegram acted, the bot could not know, so it sent again."""


def longest_increasing(values: Sequence[int]) -> int:
    """Length of the longest strictly increasing subsequence (patience sorting)."""
    import bisect

    tails: list[int] = []
    for value in values:
        index = bisect.bisect_left(tails, value)
        if index == len(tails):
            tails.append(value)
        else:
            tails[index] = value
    return len(tails)


def check_chat(
    expected: Sequence[str], observed: Iterable[str], dropped: Iterable[bool] = ()
) -> ChatCheck:
    """``expected``: the marks sent, in order (unique). ``observed``: everything the chat shows
    (other texts are ignored). Reordered = expected marks that must move to restore order.

    ``dropped``, aligned with ``observed`` (missing: False): that message was made by a call
    whose answer the bot never got, so the bot had to send it again. Each such copy explains
    one extra copy of its mark (counted in doubt, not duplicated) whichever came first: the
    resend may overtake the late call. The evidence, not a guess."""
    position = {mark: index for index, mark in enumerate(expected)}
    flags = list(dropped)
    seen = [
        (text, index < len(flags) and flags[index])
        for index, text in enumerate(observed)
        if text in position
    ]
    counts = Counter(text for text, _ in seen)
    explained = Counter(text for text, was_dropped in seen if was_dropped)
    first_positions: list[int] = []
    taken: set[str] = set()
    for text, _ in seen:
        if text not in taken:
            taken.add(text)
            first_positions.append(position[text])
    in_doubt = sum(min(count - 1, explained[text]) for text, count in counts.items())
    duplicated = sum(count - 1 for count in counts.values()) - in_doubt
    delivered = len(first_positions)
    return ChatCheck(
        expected=len(expected),
        delivered=delivered,
        lost=len(expected) - delivered,
        duplicated=duplicated,
        reordered=delivered - longest_increasing(first_positions),
        in_doubt=in_doubt,
    )


def total(checks: Iterable[ChatCheck]) -> ChatCheck:
    items = list(checks)
    return ChatCheck(
        expected=sum(c.expected for c in items),
        delivered=sum(c.delivered for c in items),
        lost=sum(c.lost for c in items),
        duplicated=sum(c.duplicated for c in items),
        reordered=sum(c.reordered for c in items),
        in_doubt=sum(c.in_doubt for c in items),
    )


def dropped_answers(calls: Iterable[Mapping[str, Any]]) -> set[tuple[int, int]]:
    """(chat id, message id) of every message made by a call that ran but whose answer never
    reached the bot (the emulator's call log marks it ``answer_dropped``)."""
    made: set[tuple[int, int]] = set()
    for call in calls:
        if not call.get("answer_dropped") or call.get("ok") is not True:
            continue
        chat = _ids((call.get("params") or {}).get("chat_id"))
        result = call.get("result")
        for item in result if isinstance(result, list) else [result]:
            if not isinstance(item, Mapping) or "message_id" not in item:
                continue
            where = item.get("chat")
            chat_id = [int(where["id"])] if isinstance(where, Mapping) else chat
            if len(chat_id) == 1:
                made.add((chat_id[0], int(item["message_id"])))
    return made


# ---------------------------------------------------------------------- busy inbox checks


def mark_of(message: Mapping[str, Any]) -> str:
    """What identifies a message for the checker: its text, its caption, or (a sticker
    carries neither) ``sticker:<file_unique_id>``."""
    text = message.get("text") or message.get("caption")
    if text:
        return str(text)
    sticker = message.get("sticker")
    if isinstance(sticker, Mapping) and sticker.get("file_unique_id"):
        return f"sticker:{sticker['file_unique_id']}"
    return ""


@dataclass(frozen=True)
class AlbumCheck:
    whole: int
    split: int
    """Albums whose items arrived, but not as one media group of exactly their items."""
    missing: int
    """Albums with an item that never arrived (the marks' loss is counted by check_chat)."""


def check_albums(
    albums: Iterable[Sequence[str]], messages: Sequence[Mapping[str, Any]]
) -> AlbumCheck:
    """``albums``: each album's marks (one caption per item). Whole: every item arrived once,
    all in one media group, and that group holds nothing else."""
    group_sizes = Counter(
        str(m["media_group_id"]) for m in messages if m.get("media_group_id") is not None
    )
    by_mark: dict[str, list[Mapping[str, Any]]] = {}
    for message in messages:
        by_mark.setdefault(mark_of(message), []).append(message)
    whole = split = missing = 0
    for album in albums:
        found = [by_mark.get(mark, []) for mark in album]
        if any(not copies for copies in found):
            missing += 1
            continue
        groups = {copies[0].get("media_group_id") for copies in found}
        group = next(iter(groups)) if len(groups) == 1 else None
        if group is not None and group_sizes[str(group)] == len(album):
            whole += 1
        else:
            split += 1
    return AlbumCheck(whole=whole, split=split, missing=missing)


def count_notices(messages: Iterable[Mapping[str, Any]], prefix: str) -> int:
    return sum(1 for m in messages if str(m.get("text") or "").startswith(prefix))


def notes_per_answer(
    answer_ids: Iterable[int], topic: Iterable[Mapping[str, Any]], prefix: str
) -> tuple[int, int]:
    """Each answer that could not be delivered must get exactly one note (``prefix``) replying
    to it. Returns (answers without a note, extra notes)."""
    notes = Counter(
        int(m["reply_to_message"]["message_id"])
        for m in topic
        if str(m.get("text") or "").startswith(prefix) and m.get("reply_to_message")
    )
    missing = extra = 0
    for answer in answer_ids:
        missing += notes[answer] == 0
        extra += max(0, notes[answer] - 1)
    return missing, extra


def _ids(value: Any) -> list[int]:
    """A call-log parameter holding one id or a list of them (form values are strings)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if isinstance(value, list):
        return [int(v) for v in value if str(v).lstrip("-").isdigit()]
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    return []


def delivery_times(
    calls: Iterable[Mapping[str, Any]], from_chat: int
) -> dict[tuple[int, int], float]:
    """From the emulator's call log: when each message of ``from_chat`` was first copied
    successfully, keyed by (target chat, source message id)."""
    out: dict[tuple[int, int], float] = {}
    for call in calls:
        if call.get("method") not in ("copyMessage", "copyMessages") or call.get("ok") is not True:
            continue
        params = call.get("params") or {}
        if _ids(params.get("from_chat_id")) != [from_chat]:
            continue
        target = _ids(params.get("chat_id"))
        if len(target) != 1:
            continue
        ids = _ids(params.get("message_id")) + _ids(params.get("message_ids"))
        for message_id in ids:
            key = (target[0], message_id)
            out[key] = min(out.get(key, float("inf")), float(call["at"]))
    return out


def receive_counts(parsed: Mapping[str, Any]) -> list[int]:
    """The ApproximateReceiveCount of every message in a parsed ReceiveMessage answer."""
    counts = []
    for message in parsed.get("Messages") or []:
        raw = (message.get("Attributes") or {}).get("ApproximateReceiveCount")
        if raw is not None and str(raw).isdigit():
            counts.append(int(raw))
    return counts


# ---------------------------------------------------------------------- budgets (call log)

#: Calls that write a new message, as Telegram's documented limits count them (the emulator's
#: strict default: every message of a copyMessages/forwardMessages/sendMediaGroup, and a
#: createForumTopic as one); edits and reactions are not messages.
_MANY = {"copyMessages": "message_ids", "forwardMessages": "message_ids", "sendMediaGroup": "media"}
_ONE = frozenset({"copyMessage", "forwardMessage", "createForumTopic"})


def messages_in_call(call: Mapping[str, Any]) -> int:
    method = str(call.get("method"))
    params = call.get("params") or {}
    if method in _MANY:
        raw = params.get(_MANY[method])
        try:
            items = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            items = None
        return len(items) if isinstance(items, list) else 1
    if method in _ONE or (method.startswith("send") and method != "sendChatAction"):
        return 1
    return 0


def messages_into(calls: Iterable[Mapping[str, Any]], chat: int) -> list[tuple[float, int]]:
    """(when, how many messages) of each successful call that wrote into ``chat``."""
    out = []
    for call in calls:
        if call.get("ok") is not True:
            continue
        count = messages_in_call(call)
        if count and _ids((call.get("params") or {}).get("chat_id")) == [chat]:
            out.append((float(call["at"]), count))
    return out


def most_in_window(stamps: Sequence[tuple[float, int]], period: float) -> int:
    """The most messages in any sliding window of ``period`` seconds (Telegram's group rule)."""
    ordered = sorted(stamps)
    most = inside = start = 0
    for at, count in ordered:
        inside += count
        while ordered[start][0] <= at - period:
            inside -= ordered[start][1]
            start += 1
        most = max(most, inside)
    return most


def ahead_of_pace(stamps: Sequence[tuple[float, int]], burst: int, interval: float) -> float:
    """How many messages the sends ever ran ahead of a pace of ``burst`` at once, then one per
    ``interval`` (a full bucket at the first send): 0 when the pace held."""
    ordered = sorted(stamps)
    if not ordered:
        return 0.0
    first = ordered[0][0]
    sent = 0
    ahead = 0.0
    for at, count in ordered:
        sent += count
        ahead = max(ahead, sent - (burst + (at - first) / interval))
    return max(0.0, ahead)


NUDGE_PROBLEMS = ("missing", "extra", "early", "after_answer")


@dataclass(frozen=True)
class NudgeCheck:
    """The unanswered nudges of one or more topics against their waits (``check_nudges``).

    ``counts``: ``waits``; ``due`` (waits that lasted past the SLA and its grace: exactly one
    nudge each); ``nudged``; and what is wrong: ``missing`` (a due wait without a nudge),
    ``extra`` (a second nudge within one wait), ``early`` (a nudge before its wait lasted the
    SLA), ``after_answer`` (a nudge while nobody waited: after an answer, before the person
    wrote again). ``latest``: the longest a nudge came after its wait had lasted the SLA."""

    counts: Counter[str] = field(default_factory=Counter)
    latest: float = 0.0

    @classmethod
    def of(cls, latest: float = 0.0, **counts: int) -> NudgeCheck:
        return cls(Counter(counts), latest)

    def __getitem__(self, name: str) -> int:
        return self.counts[name]

    def __add__(self, other: NudgeCheck) -> NudgeCheck:
        counts = Counter(self.counts)
        counts.update(other.counts)
        return NudgeCheck(counts, max(self.latest, other.latest))

    @property
    def problems(self) -> int:
        return sum(self.counts[name] for name in NUDGE_PROBLEMS)


PERSON, ANSWER, NUDGE = "person", "answer", "nudge"


def check_nudges(
    events: Iterable[tuple[float, str]],
    *,
    sla: float,
    grace: float,
    end: float,
    business: Callable[[float, float], float] | None = None,
) -> NudgeCheck:
    """One topic's timeline: ``(at, kind)`` with kind ``person`` (a message of the person's
    shown in the topic), ``answer`` (an operator answered) or ``nudge`` (the bot's nudge).

    A wait begins with the person's first message after an answer and ends with the next
    answer (or ``end``). Its length is counted by ``business(start, stop)`` (business time;
    default: all of it). A wait that lasted ``sla + grace`` must have exactly one nudge; one
    shorter than ``sla`` none; in between (a nudge still on its way) at most one. No nudge may
    come before its wait lasted the SLA, nor while nobody waits."""
    length = business or (lambda start, stop: stop - start)
    result = NudgeCheck()
    since: float | None = None
    nudges = 0

    def close(stop: float) -> NudgeCheck:
        assert since is not None
        lasted = length(since, stop)
        due = lasted >= sla + grace
        return NudgeCheck.of(
            waits=1, due=int(due), missing=int(due and nudges == 0), extra=max(0, nudges - 1)
        )

    for at, kind in sorted(events, key=lambda event: event[0]):
        if kind == PERSON and since is None:
            since, nudges = at, 0
        elif kind == ANSWER and since is not None:
            result += close(at)
            since = None
        elif kind == NUDGE:
            if since is None:
                result += NudgeCheck.of(nudged=1, after_answer=1)
                continue
            nudges += 1
            waited = length(since, at)
            result += NudgeCheck.of(max(0.0, waited - sla), nudged=1, early=int(waited < sla))
    if since is not None:
        result += close(end)
    return result
