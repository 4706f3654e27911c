"""/close: close the topic, tell the person (once), answer in the topic."""

from __future__ import annotations

from topicdesk.domain import texts
from topicdesk.domain.commands.base import Command, Invocation, Role
from topicdesk.domain.inbox.state import Event
from topicdesk.domain.model import SessionStatus


async def _close(call: Invocation) -> str:
    session = call.session
    await call.steps.once("close-topic", lambda: call.topics.close(session))
    call.ctx.sessions.update(session.user_id, status=SessionStatus.CLOSED)
    if call.ctx.inbox is not None:
        call.ctx.inbox.record(session, Event.CLOSED, call.steps)
    told = await call.steps.once(
        "told", lambda: call.topics.tell_person(session, texts.TO_PERSON_CLOSED)
    )
    return (texts.CLOSED_ACK if told else texts.CLOSED_ACK_UNTOLD).format(name=call.name)


CLOSE = Command("close", Role.AGENT, _close, "close the conversation, tell the person")
