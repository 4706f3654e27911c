"""The operators' commands as a registry: each declares its role; the registry runs, refuses
or explains them."""

from __future__ import annotations

import asyncio

import pytest
from topicdesk.domain.commands import COMMANDS, Registry, Role
from topicdesk.domain.model import ChatMessage, SessionStatus
from topicdesk.domain.relay import Relay

from tests.support.fakes import FakeTelegram, InMemorySessions
from tests.support.relay_world import ANNA, relay_world, said_in_group


def world(registry: Registry | None = None) -> tuple[Relay, InMemorySessions, FakeTelegram, int]:
    """Anna has written: her topic is open."""
    w = relay_world(commands=registry)
    return w.relay, w.sessions, w.telegram, w.open_topic(ANNA)


def command(thread: int, text: str, message_id: int = 70) -> ChatMessage:
    """An operator's message in the person's topic."""
    return said_in_group(text, message_id, thread=thread)


def answer_to(telegram: FakeTelegram, message_id: int) -> str:
    [note] = [c for c in telegram.called("send_text") if c["reply_to"] == message_id]
    return str(note["text"])


def test_every_command_declares_a_role_and_a_summary() -> None:
    assert {c.name: c.role for c in COMMANDS} == {
        "close": Role.AGENT,
        "reopen": Role.AGENT,
        "ban": Role.ADMIN,
        "unban": Role.ADMIN,
        "info": Role.AGENT,
        "claim": Role.AGENT,
        "assign": Role.AGENT,
        "unassign": Role.AGENT,
    }
    assert all(c.summary for c in COMMANDS)


@pytest.mark.parametrize(
    ("text", "expect", "status", "banned"),
    [
        ("/close", "Closed", SessionStatus.CLOSED, False),
        ("/reopen", "Reopened", SessionStatus.OPEN, False),
        ("/ban", "is banned", SessionStatus.OPEN, True),
        ("/unban", "no longer banned", SessionStatus.OPEN, False),
        ("/info", "Session", SessionStatus.OPEN, False),
    ],
)
def test_each_command_does_its_part_and_answers_under_it(
    text: str, expect: str, status: SessionStatus, banned: bool
) -> None:
    relay, sessions, telegram, thread = world()
    asyncio.run(relay.group_messages([command(thread, text)]))
    assert expect in answer_to(telegram, 70)
    session = sessions.get(ANNA.user_id)
    assert session is not None and session.status is status and session.banned is banned


def test_an_unknown_command_gets_the_registrys_usage() -> None:
    relay, _, telegram, thread = world()
    asyncio.run(relay.group_messages([command(thread, "/frobnicate")]))
    assert answer_to(telegram, 70) == (
        "Commands here: /close, /reopen, /ban, /unban, /info, /claim, /assign, /unassign."
    )


def test_an_agent_may_not_run_an_admin_command() -> None:
    async def agent(message: ChatMessage) -> Role:
        return Role.AGENT

    agents_only = Registry(resolve_role=agent)
    relay, sessions, telegram, thread = world(agents_only)
    asyncio.run(relay.group_messages([command(thread, "/ban")]))
    assert "for the group's admins" in answer_to(telegram, 70)
    assert sessions.get(ANNA.user_id).banned is False  # type: ignore[union-attr]
    asyncio.run(relay.group_messages([command(thread, "/info", 71)]))
    assert "Session" in answer_to(telegram, 71)  # an agent's command still runs
