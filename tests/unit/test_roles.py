"""Who may run what: agents (any member of an operators' group), admins (the group's Telegram
administrators, cached, and the stage's list); nobody can be traced behind the group's name."""

from __future__ import annotations

import asyncio

from topicdesk.domain.commands import Registry, Role
from topicdesk.domain.model import ChatMessage, Person
from topicdesk.domain.relay import Relay
from topicdesk.domain.roles import ADMINS_CACHE_SECONDS, Roles

from tests.support.fakes import FakeClock, FakeTelegram, InMemorySessions
from tests.support.relay_world import ANNA, OLGA, relay_world, said_in_group

# OLGA (tests.support.relay_world) is the group's administrator.
AGENT = Person(user_id=901, first_name="Ivan")  # a member, not an administrator
STAGE_ADMIN = Person(user_id=902, first_name="Mia")
ANONYMOUS = Person(user_id=1087968824, first_name="Group", is_bot=True)


class Directory:
    def __init__(self) -> None:
        self.items: dict[int, tuple[frozenset[int], float]] = {}

    def admins(self, chat_id: int, now: float) -> frozenset[int] | None:
        found = self.items.get(chat_id)
        return found[0] if found and found[1] > now else None

    def remember(self, chat_id: int, admins: frozenset[int], until: float) -> None:
        self.items[chat_id] = (admins, until)


class Fetcher:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, chat_id: int) -> list[int]:
        self.calls += 1
        return [OLGA.user_id]


def said_by(
    person: Person, text: str, message_id: int, *, thread: int | None = None
) -> ChatMessage:
    return said_in_group(
        text, message_id, thread=thread, sender=person, as_group=person is ANONYMOUS
    )


def test_roles_come_from_the_groups_administrators_cached_and_the_stage() -> None:
    clock, fetch = FakeClock(), Fetcher()
    roles = Roles(
        directory=Directory(),
        fetch_admins=fetch,
        clock=clock,
        stage_admins=frozenset({STAGE_ADMIN.user_id}),
    )
    assert asyncio.run(roles.role_of(said_by(OLGA, "/ban", 1))) is Role.ADMIN
    assert asyncio.run(roles.role_of(said_by(AGENT, "/ban", 2))) is Role.AGENT
    assert asyncio.run(roles.role_of(said_by(STAGE_ADMIN, "/ban", 3))) is Role.ADMIN
    assert asyncio.run(roles.role_of(said_by(ANONYMOUS, "/ban", 4))) is None
    assert fetch.calls == 1  # read once, then cached
    clock.current += ADMINS_CACHE_SECONDS + 1
    asyncio.run(roles.role_of(said_by(AGENT, "/ban", 5)))
    assert fetch.calls == 2  # stale: read again


def world() -> tuple[Relay, InMemorySessions, FakeTelegram, int]:
    """Anna has written: her topic is open; the roles come from ``Fetcher``."""
    clock = FakeClock()
    roles = Roles(directory=Directory(), fetch_admins=Fetcher(), clock=clock)
    w = relay_world(clock=clock, commands=Registry(resolve_role=roles.role_of))
    return w.relay, w.sessions, w.telegram, w.open_topic(ANNA)


def answer_to(telegram: FakeTelegram, message_id: int) -> str:
    [note] = [c for c in telegram.called("send_text") if c["reply_to"] == message_id]
    return str(note["text"])


def test_an_agent_is_refused_an_admin_command_and_an_admin_is_not() -> None:
    relay, sessions, telegram, thread = world()
    asyncio.run(relay.group_messages([said_by(AGENT, "/ban", 70, thread=thread)]))
    assert "for the group's admins" in answer_to(telegram, 70)
    assert sessions.items[ANNA.user_id].get("banned", False) is False
    asyncio.run(relay.group_messages([said_by(OLGA, "/ban", 71, thread=thread)]))
    assert "is banned" in answer_to(telegram, 71)
    asyncio.run(relay.group_messages([said_by(AGENT, "/close", 72, thread=thread)]))
    assert "Closed" in answer_to(telegram, 72)  # an agent's command


def test_an_anonymous_admin_is_told_why_an_admin_command_is_refused() -> None:
    relay, _, telegram, thread = world()
    asyncio.run(relay.group_messages([said_by(ANONYMOUS, "/unban", 73, thread=thread)]))
    assert "Remain anonymous" in answer_to(telegram, 73)
    # ... while its answers are relayed like anyone's.
    asyncio.run(relay.group_messages([said_by(ANONYMOUS, "hello", 74, thread=thread)]))
    assert [
        c["message_id"] for c in telegram.called("copy_message") if c["chat_id"] == ANNA.user_id
    ] == [74]


def test_a_broadcast_is_an_admins_decision() -> None:
    relay, _, telegram, _ = world()
    asyncio.run(relay.group_messages([said_by(AGENT, "/broadcast hello all", 80)]))
    assert "for the group's admins" in answer_to(telegram, 80)
