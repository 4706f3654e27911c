"""/info: the session's facts, answered in the topic."""

from __future__ import annotations

from topicdesk.domain import texts
from topicdesk.domain.commands.base import Command, Invocation, Role


async def _info(call: Invocation) -> str:
    return texts.session_info(call.session)


INFO = Command("info", Role.AGENT, _info, "the session's facts")
