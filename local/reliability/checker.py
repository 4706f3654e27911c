"""One checker for every scenario: what each chat should show against what it shows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ChatCheck:
    expected: int
    delivered: int
    lost: int
    duplicated: int
    reordered: int


def _longest_increasing(values: Sequence[int]) -> int:
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


def check_chat(expected: Sequence[str], observed: Iterable[str]) -> ChatCheck:
    """``expected``: the marks sent, in order (unique). ``observed``: everything the chat shows
    (other texts are ignored). Reordered = expected marks that must move to restore order."""
    position = {mark: index for index, mark in enumerate(expected)}
    seen = [text for text in observed if text in position]
    counts = Counter(seen)
    first_positions: list[int] = []
    taken: set[str] = set()
    for text in seen:
        if text not in taken:
            taken.add(text)
            first_positions.append(position[text])
    delivered = len(taken)
    return ChatCheck(
        expected=len(expected),
        delivered=delivered,
        lost=len(expected) - delivered,
        duplicated=sum(count - 1 for count in counts.values()),
        reordered=delivered - _longest_increasing(first_positions),
    )


def total(checks: Iterable[ChatCheck]) -> ChatCheck:
    items = list(checks)
    return ChatCheck(
        expected=sum(c.expected for c in items),
        delivered=sum(c.delivered for c in items),
        lost=sum(c.lost for c in items),
        duplicated=sum(c.duplicated for c in items),
        reordered=sum(c.reordered for c in items),
    )
