"""/unassign: nobody owns the conversation any more (if its owner is still the one seen)."""

from __future__ import annotations

from topicdesk.domain.commands.base import Command, Invocation, Role
from topicdesk.domain.inbox import texts as operators


def _unassign_once(call: Invocation) -> str:
    inbox = call.ctx.inbox
    assert inbox is not None
    seen = inbox.of(call.session)
    if seen is None or seen.owner is None:
        return operators.NOBODY
    outcome = inbox.unassign(call.session, seen.owner)
    if outcome.done:
        return operators.UNASSIGNED
    return operators.CHANGED_MEANWHILE.format(owner=outcome.owner.name if outcome.owner else "?")


async def _unassign(call: Invocation) -> str:
    if call.ctx.inbox is None:
        return operators.NOBODY
    return str(call.steps.once_sync("unassign", lambda: _unassign_once(call)))


UNASSIGN = Command("unassign", Role.AGENT, _unassign, "nobody owns this conversation")
