"""The inbox at a glance (issue 15): each conversation's state and owner, shown on its topic
and in a queue overview, within the operators' group's flood budget.

``state`` (the pure state machine and the record), ``display`` (labels, the overview, the
coalescing rules), ``service`` (the relay's hooks and ownership: conditional writes),
``refresh`` (the per-group job that edits topics and the overview), ``ports``.
"""

from topicdesk.domain.inbox.ports import GroupInbox, InboxJobs, InboxStore, InboxTelegram
from topicdesk.domain.inbox.refresh import InboxRefresh
from topicdesk.domain.inbox.service import Inbox, Ownership
from topicdesk.domain.inbox.state import Conversation, Event, Owner, State

__all__ = [
    "Conversation",
    "Event",
    "GroupInbox",
    "Inbox",
    "InboxJobs",
    "InboxRefresh",
    "InboxStore",
    "InboxTelegram",
    "Owner",
    "Ownership",
    "State",
]
