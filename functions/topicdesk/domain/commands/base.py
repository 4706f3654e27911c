"""What a command is: a name, who may run it, and what it does in a person's topic.

A command runs inside the update's step record: each visible effect (close the topic, tell
the person) is a step, so a retried command (its answer met a 429) does nothing twice. It
returns the answer the bot posts under it in the topic.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from topicdesk.domain.model import ChatMessage, Session
from topicdesk.domain.steps import Steps

if TYPE_CHECKING:  # the relay imports the commands; they only use its parts at run time
    from topicdesk.domain.relay.context import RelayContext
    from topicdesk.domain.relay.topics import Topics


class Role(StrEnum):
    """Who may run a command (``agent``: any member of an operators' group)."""

    AGENT = "agent"
    ADMIN = "admin"

    def covers(self, needed: Role) -> bool:
        """Whether this role may run what needs ``needed``: the roles are listed from the
        least, and each covers itself and those before it (an admin runs an agent's commands)."""
        order = list(Role)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True)
class Invocation:
    """One run of a command: where, by which message, with which step record."""

    session: Session
    message: ChatMessage
    steps: Steps
    ctx: RelayContext
    topics: Topics

    @property
    def name(self) -> str:
        return self.session.person.full_name


@dataclass(frozen=True)
class Command:
    name: str
    role: Role
    """The least role that may run it."""
    run: Callable[[Invocation], Awaitable[str]]
    """Does what the command does; returns the answer posted under it."""
    summary: str
