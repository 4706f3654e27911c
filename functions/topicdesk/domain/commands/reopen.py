"""/reopen: reopen the topic, tell the person (once), answer in the topic."""

from __future__ import annotations

from topicdesk.domain import texts
from topicdesk.domain.commands.base import Command, Invocation, Role
from topicdesk.domain.inbox.state import Event
from topicdesk.domain.model import SessionStatus


async def _reopen(call: Invocation) -> str:
    session = call.session
    await call.steps.once("reopen-topic", lambda: call.topics.reopen(session))
    call.ctx.sessions.update(session.user_id, status=SessionStatus.OPEN)
    if call.ctx.inbox is not None:
        call.ctx.inbox.record(session, Event.REOPENED, call.steps)
    await call.steps.once(
        "told", lambda: call.topics.tell_person(session, texts.TO_PERSON_REOPENED)
    )
    return texts.REOPENED_ACK.format(name=call.name)


REOPEN = Command("reopen", Role.AGENT, _reopen, "reopen the conversation, tell the person")
