"""/close and /reopen: switch the topic, tell the person (once), answer in the topic."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from topicdesk.domain import texts
from topicdesk.domain.commands.base import Command, Invocation, Role
from topicdesk.domain.inbox.state import Event
from topicdesk.domain.model import Session, SessionStatus


async def _switch(
    call: Invocation,
    step: str,
    switch: Callable[[Session], Awaitable[bool]],
    status: SessionStatus,
    event: Event,
    to_person: str,
) -> bool:
    """The topic, the session and the inbox to ``status``; whether the person was told."""
    session = call.session
    await call.steps.once(step, lambda: switch(session))
    call.ctx.sessions.update(session.user_id, status=status)
    if call.ctx.inbox is not None:
        call.ctx.inbox.record(session, event, call.steps)
    return await call.steps.once("told", lambda: call.topics.tell_person(session, to_person))


async def _close(call: Invocation) -> str:
    told = await _switch(
        call,
        "close-topic",
        call.topics.close,
        SessionStatus.CLOSED,
        Event.CLOSED,
        texts.TO_PERSON_CLOSED,
    )
    return (texts.CLOSED_ACK if told else texts.CLOSED_ACK_UNTOLD).format(name=call.name)


async def _reopen(call: Invocation) -> str:
    await _switch(
        call,
        "reopen-topic",
        call.topics.reopen,
        SessionStatus.OPEN,
        Event.REOPENED,
        texts.TO_PERSON_REOPENED,
    )
    return texts.REOPENED_ACK.format(name=call.name)


CLOSE = Command("close", Role.AGENT, _close, "close the conversation, tell the person")
REOPEN = Command("reopen", Role.AGENT, _reopen, "reopen the conversation, tell the person")
