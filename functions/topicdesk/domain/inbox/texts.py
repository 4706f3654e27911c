"""What the inbox says to operators (answers to /claim, /assign, /unassign, the "Take it"
toast, its lines in /info)."""

from __future__ import annotations

from topicdesk.domain.inbox.display import PREFIX
from topicdesk.domain.inbox.service import Ownership
from topicdesk.domain.inbox.state import Conversation, Owner

CLAIMED = "🙋 {owner} owns this conversation now."
OWNED_BY = "{owner} owns this conversation already (/assign to change it)."
ASSIGNED = "👉 {owner} owns this conversation now."
ASSIGN_USAGE = (
    "Who? /assign @username (an operator who has written in this group), or reply to one of "
    "their messages with /assign."
)
UNKNOWN_OPERATOR = (
    "I don't know @{username} yet: they write here once, or you reply to one of their "
    "messages with /assign."
)
UNASSIGNED = "Nobody owns this conversation now."
NOBODY = "Nobody owns this conversation."
CHANGED_MEANWHILE = "{owner} took it meanwhile: nothing changed."
ANONYMOUS = "An anonymous admin cannot own a conversation: write as yourself."
GONE = "This conversation is gone."
INBOX_OFF = "Owners are not kept on this stage (its inbox setting is off)."


def describe(record: Conversation | None) -> list[str]:
    """The inbox's lines for /info."""
    if record is None or record.state is None:
        return ["state: no message yet", f"owner: {_name(record.owner if record else None)}"]
    return [f"state: {PREFIX[record.state]} {record.state.value}", f"owner: {_name(record.owner)}"]


def _name(owner: Owner | None) -> str:
    return owner.name if owner is not None else "nobody"


def claim_answer(outcome: Ownership) -> str:
    owner = _name(outcome.owner)
    return CLAIMED.format(owner=owner) if outcome.done else OWNED_BY.format(owner=owner)
