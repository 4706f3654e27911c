"""/assign @operator (or as a reply to an operator's message): give the conversation to them.
Conditional on the owner the operator saw, so two operators assigning at once do not silently
overwrite each other: the second is told who owns it now."""

from __future__ import annotations

from topicdesk.domain.commands.base import Invocation
from topicdesk.domain.commands.ownership import ownership_command, refused
from topicdesk.domain.inbox import Inbox, Owner
from topicdesk.domain.inbox import texts as say
from topicdesk.domain.inbox.service import owner_of


def _target(inbox: Inbox, call: Invocation) -> Owner | str:
    """The operator named by the command, or why there is none."""
    message = call.message
    words = (message.text or "").split()
    named = next((word[1:] for word in words[1:] if word.startswith("@") and len(word) > 1), None)
    if named is not None:
        found = inbox.operator_named(call.session.operator_chat_id, named)
        return found or say.UNKNOWN_OPERATOR.format(username=named)
    replied = message.reply_to_sender
    if replied is not None and not replied.is_bot:
        return owner_of(replied)
    return say.ASSIGN_USAGE


def _assign(inbox: Inbox, call: Invocation) -> str:
    target = _target(inbox, call)
    if isinstance(target, str):
        return target
    seen = inbox.of(call.session)
    outcome = inbox.assign(call.session, target, seen.owner if seen else None)
    return say.ASSIGNED.format(owner=target.name) if outcome.done else refused(outcome)


ASSIGN = ownership_command("assign", "give this conversation to an operator", _assign)
