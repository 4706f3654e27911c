"""/claim: the operator who writes it owns the conversation, unless someone else does."""

from __future__ import annotations

from topicdesk.domain.commands.base import Command, Invocation, Role
from topicdesk.domain.inbox import texts as operators
from topicdesk.domain.inbox.service import owner_of


async def _claim(call: Invocation) -> str:
    inbox, sender = call.ctx.inbox, call.message.sender
    if inbox is None:
        return operators.NOBODY
    if sender is None or call.message.as_group:
        return operators.ANONYMOUS
    outcome = call.steps.once_sync(
        "claim",
        lambda: operators.claim_answer(inbox.claim(call.session, owner_of(sender))),
    )
    return str(outcome)


CLAIM = Command("claim", Role.AGENT, _claim, "own this conversation")
