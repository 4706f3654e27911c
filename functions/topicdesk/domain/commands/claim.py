"""/claim: the operator who writes it owns the conversation, unless someone else does."""

from __future__ import annotations

from topicdesk.domain.commands.base import Invocation
from topicdesk.domain.commands.ownership import ownership_command
from topicdesk.domain.inbox import Inbox
from topicdesk.domain.inbox import texts as say
from topicdesk.domain.inbox.service import owner_of


def _claim(inbox: Inbox, call: Invocation) -> str:
    sender = call.message.sender
    if sender is None or call.message.as_group:
        return say.ANONYMOUS
    return say.claim_answer(inbox.claim(call.session, owner_of(sender)))


CLAIM = ownership_command("claim", "own this conversation", _claim)
