"""/assign @operator (or as a reply to an operator's message): give the conversation to them.
Conditional on the owner the operator saw, so two operators assigning at once do not silently
overwrite each other: the second is told who owns it now."""

from __future__ import annotations

from topicdesk.domain.commands.base import Command, Invocation, Role
from topicdesk.domain.inbox import Owner
from topicdesk.domain.inbox import texts as operators
from topicdesk.domain.inbox.service import owner_of


def _target(call: Invocation) -> Owner | str:
    """The operator named by the command, or why there is none."""
    inbox, message = call.ctx.inbox, call.message
    assert inbox is not None
    words = (message.text or "").split()
    named = next((word[1:] for word in words[1:] if word.startswith("@") and len(word) > 1), None)
    if named is not None:
        found = inbox.operator_named(call.session.operator_chat_id, named)
        return found or operators.UNKNOWN_OPERATOR.format(username=named)
    replied = message.reply_to_sender
    if replied is not None and not replied.is_bot:
        return owner_of(replied)
    return operators.ASSIGN_USAGE


def _assign_once(call: Invocation) -> str:
    inbox = call.ctx.inbox
    assert inbox is not None
    target = _target(call)
    if isinstance(target, str):
        return target
    seen = inbox.of(call.session)
    outcome = inbox.assign(call.session, target, seen.owner if seen else None)
    if outcome.done:
        return operators.ASSIGNED.format(owner=target.name)
    return operators.CHANGED_MEANWHILE.format(owner=outcome.owner.name if outcome.owner else "?")


async def _assign(call: Invocation) -> str:
    if call.ctx.inbox is None:
        return operators.NOBODY
    return str(call.steps.once_sync("assign", lambda: _assign_once(call)))


ASSIGN = Command("assign", Role.AGENT, _assign, "give this conversation to an operator")
