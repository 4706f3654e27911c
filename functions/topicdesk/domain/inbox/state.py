"""A conversation's state, derived from who wrote last and /close: a pure state machine.

One record per conversation (``Conversation``), changed only by ``apply(record, event)``. What
the later inbox features need is kept on it: the state and the owner (what the topic and the
queue overview show), when the person's current wait began (``waiting_since``: the SLA clock of
unanswered nudges), and the conversation's first-response and resolution moments (stats).

A conversation begins when a person writes into a new or closed one (``opened_at``); it is
resolved by /close (``resolved_at``). A person writing after /close begins a new one: the
timestamps restart, the owner stays (the same operator usually picks it up again).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import NamedTuple


class State(StrEnum):
    NEW = "new"
    """The person wrote; nobody has answered yet in this conversation."""
    WAITING_US = "waiting_us"
    """We answered before; the person wrote last."""
    WAITING_PERSON = "waiting_person"
    """We wrote last."""
    CLOSED = "closed"


WAITING_ON_US = frozenset({State.NEW, State.WAITING_US})
"""The states the queue overview lists (and nudges watch)."""


class Event(StrEnum):
    PERSON_WROTE = "person_wrote"
    OPERATOR_ANSWERED = "operator_answered"
    CLOSED = "closed"
    REOPENED = "reopened"


class Owner(NamedTuple):
    """The operator who owns a conversation (anyone may still answer)."""

    user_id: int
    name: str
    """What the topic and the queue overview show (the operator's first name)."""


@dataclass(frozen=True)
class Conversation:
    """The state record of one person's conversation in one operators' group."""

    chat_id: int
    """The operators' group."""
    user_id: int
    """The person (or web widget visitor)."""
    thread_id: int | None = None
    name: str = ""
    """The topic's own name (the label's prefix and owner are added to it)."""
    state: State | None = None
    """None: nothing happened yet (the record is being created)."""
    owner: Owner | None = None
    waiting_since: float | None = None
    """When the person's current wait began (the first unanswered message); None unless the
    state is in ``WAITING_ON_US``."""
    opened_at: float | None = None
    """When this conversation began (a person wrote into a new or closed one)."""
    first_response_at: float | None = None
    """The first operator's answer of this conversation (first-response time: stats)."""
    resolved_at: float | None = None
    """/close (resolution time: stats); cleared by /reopen or a new conversation."""
    last_person_at: float | None = None
    last_operator_at: float | None = None
    """Who wrote last, and when (/reopen derives the state from the two)."""
    nudged_for: float | None = None
    """The ``waiting_since`` of the wait the bot nudged operators about (one nudge per wait:
    ``topicdesk.domain.inbox.nudges``)."""
    away_for: float | None = None
    """The ``opened_at`` of the conversation the person was sent the away message in (once
    per conversation: ``topicdesk.domain.inbox.away``)."""
    version: int = 0
    """Bumped by every stored change (conditional writes: optimistic concurrency)."""
    changed_at: float = 0.0
    """When state or owner last changed (the topic label waits until it is stable)."""
    shown: str | None = None
    """The label the topic shows (what the bot last set with editForumTopic)."""
    shown_at: float = 0.0

    @property
    def waiting_on_us(self) -> bool:
        return self.state in WAITING_ON_US

    def with_changes(self, **changes: object) -> Conversation:
        return replace(self, **changes)  # type: ignore[arg-type]


def apply(record: Conversation, event: Event, at: float) -> Conversation:
    """The record after ``event`` at ``at`` (the same record when nothing changes)."""
    if event is Event.PERSON_WROTE:
        return _person_wrote(record, at)
    if event is Event.OPERATOR_ANSWERED:
        return _answered(record, at)
    if event is Event.CLOSED:
        if record.state in (State.CLOSED, None):
            return record
        return _moved(record, at, state=State.CLOSED, waiting_since=None, resolved_at=at)
    return _reopened(record, at)


def _person_wrote(record: Conversation, at: float) -> Conversation:
    if record.state in (None, State.CLOSED):
        return _moved(
            record,
            at,
            state=State.NEW,
            waiting_since=at,
            opened_at=at,
            first_response_at=None,
            resolved_at=None,
            last_person_at=at,
        )
    if record.state is State.WAITING_PERSON:
        return _moved(record, at, state=State.WAITING_US, waiting_since=at, last_person_at=at)
    return record.with_changes(last_person_at=at)  # still waiting: the wait began earlier


def _answered(record: Conversation, at: float) -> Conversation:
    if record.state in (None, State.CLOSED):
        # A closing remark in a closed topic (or an operator writing first, before the person
        # ever did: nothing to answer) changes nothing but the record of who wrote.
        return record.with_changes(last_operator_at=at)
    if record.state is State.WAITING_PERSON:
        return record.with_changes(last_operator_at=at)
    return _moved(
        record,
        at,
        state=State.WAITING_PERSON,
        waiting_since=None,
        first_response_at=record.first_response_at or at,
        last_operator_at=at,
    )


def _reopened(record: Conversation, at: float) -> Conversation:
    """/reopen: the state follows who wrote last before the close; a person left unanswered
    waits again from now (the time the topic was closed was not a wait on us)."""
    if record.state is not State.CLOSED:
        return record
    person_last = (record.last_person_at or 0.0) > (record.last_operator_at or 0.0)
    if not person_last:
        return _moved(record, at, state=State.WAITING_PERSON, resolved_at=None)
    state = State.WAITING_US if record.first_response_at else State.NEW
    return _moved(record, at, state=state, waiting_since=at, resolved_at=None)


def _moved(record: Conversation, at: float, **changes: object) -> Conversation:
    return record.with_changes(changed_at=at, **changes)


# ---------------------------------------------------------------------- ownership


def take(record: Conversation, owner: Owner, at: float) -> Conversation:
    return record if record.owner == owner else _moved(record, at, owner=owner)


def release(record: Conversation, at: float) -> Conversation:
    return record if record.owner is None else _moved(record, at, owner=None)
