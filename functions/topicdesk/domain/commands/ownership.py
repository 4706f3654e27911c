"""What /claim, /assign and /unassign share: each is an agent's command that decides once per
update (a step: a retried record answers the same and changes nothing twice) against the
conversation's record in the inbox (``topicdesk.domain.inbox``)."""

from __future__ import annotations

from collections.abc import Callable

from topicdesk.domain.commands.base import Command, Invocation, Role
from topicdesk.domain.inbox import Inbox, Ownership
from topicdesk.domain.inbox import texts as say

Decide = Callable[[Inbox, Invocation], str]
"""Does the command's change (conditional writes) and returns its answer."""


def ownership_command(name: str, summary: str, decide: Decide) -> Command:
    async def run(call: Invocation) -> str:
        inbox = call.ctx.inbox
        if inbox is None:
            return say.INBOX_OFF
        return str(call.steps.once_sync(name, lambda: decide(inbox, call)))

    return Command(name, Role.AGENT, run, summary)


def refused(outcome: Ownership) -> str:
    """Someone changed the owner since it was read: nothing changed, say who owns it now."""
    return say.CHANGED_MEANWHILE.format(owner=outcome.owner.name if outcome.owner else "nobody")
