"""/info: the session's facts, answered in the topic."""

from __future__ import annotations

from topicdesk.domain import texts
from topicdesk.domain.commands.base import Command, Invocation, Role
from topicdesk.domain.inbox.texts import describe


async def _info(call: Invocation) -> str:
    facts = texts.session_info(call.session)
    if call.ctx.inbox is None:
        return facts
    return "\n".join([facts, *describe(call.ctx.inbox.of(call.session))])


INFO = Command("info", Role.AGENT, _info, "the session's facts")
