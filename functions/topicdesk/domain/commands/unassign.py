"""/unassign: nobody owns the conversation any more (if its owner is still the one seen)."""

from __future__ import annotations

from topicdesk.domain.commands.base import Invocation
from topicdesk.domain.commands.ownership import ownership_command, refused
from topicdesk.domain.inbox import Inbox
from topicdesk.domain.inbox import texts as say


def _unassign(inbox: Inbox, call: Invocation) -> str:
    seen = inbox.of(call.session)
    if seen is None or seen.owner is None:
        return say.NOBODY
    outcome = inbox.unassign(call.session, seen.owner)
    return say.UNASSIGNED if outcome.done else refused(outcome)


UNASSIGN = ownership_command("unassign", "nobody owns this conversation", _unassign)
