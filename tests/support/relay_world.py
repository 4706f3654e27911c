"""The operators' group and people the unit tests share, and a ``Relay`` on in-memory fakes.

``relay_world()`` builds the relay with every port a fake the test can look into; keywords
replace a fake (to keep a handle on it or to share it) or add an optional port.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from topicdesk.domain.model import ChatMessage, Person
from topicdesk.domain.relay import Relay, RelaySettings

from tests.support import fakes

GROUP = -1001
"""The stage's one operators' group."""
ANNA = Person(user_id=501, first_name="Anna")
"""A person who writes to the bot."""
OLGA = Person(user_id=900, first_name="Olga")
"""An operator (in tests with roles: the group's administrator)."""


def hello(person: Person = ANNA, message_id: int = 1) -> ChatMessage:
    """``person`` writes "hi" to the bot."""
    return ChatMessage(person.user_id, message_id, person, "text", "hi")


def said_in_group(
    text: str,
    message_id: int,
    *,
    thread: int | None = None,
    sender: Person = OLGA,
    as_group: bool = False,
) -> ChatMessage:
    """``sender`` writes in the operators' group: in a topic (``thread``) or in General."""
    return ChatMessage(
        GROUP,
        message_id,
        sender,
        "text",
        text,
        thread_id=thread,
        is_topic_message=thread is not None,
        as_group=as_group,
    )


@dataclass(frozen=True)
class RelayWorld:
    relay: Relay
    sessions: fakes.InMemorySessions
    messages: fakes.InMemoryMessageMap
    telegram: fakes.FakeTelegram
    metrics: fakes.FakeMetrics
    clock: fakes.FakeClock

    def thread_of(self, person: Person) -> int:
        """The topic ``person``'s session has in the operators' group."""
        return int(self.sessions.items[person.user_id]["thread_id"])

    def open_topic(self, person: Person = ANNA) -> int:
        """``person`` writes first (their topic is created); returns that topic."""
        asyncio.run(self.relay.private_messages([hello(person)]))
        return self.thread_of(person)


_FAKES: dict[str, Callable[[], Any]] = {
    "sessions": fakes.InMemorySessions,
    "messages": fakes.InMemoryMessageMap,
    "telegram": fakes.FakeTelegram,
    "metrics": fakes.FakeMetrics,
    "clock": fakes.FakeClock,
}


def relay_world(settings: RelaySettings | None = None, **given: Any) -> RelayWorld:
    """A relay for ``GROUP`` (or ``settings``) on fresh fakes. ``given``: a fake to use
    instead (``sessions``, ``messages``, ``telegram``, ``metrics``, ``clock``; None: a fresh
    one) or one of the relay's optional ports (``commands``, ``pace``...)."""
    fakes = {name: given.pop(name, None) or new() for name, new in _FAKES.items()}
    settings = settings or RelaySettings(operator_chat_ids=(GROUP,))
    return RelayWorld(relay=Relay(settings=settings, **fakes, **given), **fakes)
