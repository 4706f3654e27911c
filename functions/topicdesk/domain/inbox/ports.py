"""What the inbox needs from the outside: where its records live, a queue for its refresh
job, and the few Bot API calls it makes. Adapters implement them; tests use fakes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from topicdesk.domain.inbox.state import Conversation, Owner
from topicdesk.domain.ports import TelegramGateway


@dataclass(frozen=True)
class GroupInbox:
    """One operators' group's inbox bookkeeping (the queue overview and its refresh job)."""

    chat_id: int
    queue_thread: int | None = None
    overview_message_id: int | None = None
    refreshed_at: float = 0.0
    dirty: bool = False
    scheduled_at: float = 0.0
    """When a refresh job was last queued (0: none is pending)."""


class InboxStore(Protocol):
    def get(self, chat_id: int, user_id: int) -> Conversation | None: ...

    def save(self, record: Conversation, expected_version: int) -> bool:
        """Write the record's state, owner and timestamps as version ``expected_version + 1``
        if the stored one is still ``expected_version`` (0: none stored); False otherwise.
        Leaves ``shown``/``shown_at`` alone."""
        ...

    def mark_shown(self, chat_id: int, user_id: int, shown: str, at: float) -> None: ...

    def conversations(self, chat_id: int) -> list[Conversation]:
        """Every conversation of the group (one partition)."""
        ...

    def group(self, chat_id: int) -> GroupInbox: ...

    def mark_dirty(self, chat_id: int) -> None: ...

    def claim_schedule(self, chat_id: int, now: float, stale_after: float) -> bool:
        """Note that a refresh job is queued, unless one is already (queued less than
        ``stale_after`` ago): True when the caller should queue it."""
        ...

    def clear_schedule(self, chat_id: int) -> None: ...

    def overview_refreshed(self, chat_id: int, at: float) -> None:
        """The overview is being rebuilt as of ``at``: not dirty any more."""
        ...

    def set_overview(self, chat_id: int, queue_thread: int, message_id: int | None) -> None: ...

    def remember_operator(self, chat_id: int, username: str, owner: Owner) -> None:
        """An operator of the group by their @username (lower case)."""
        ...

    def operator_named(self, chat_id: int, username: str) -> Owner | None: ...


class InboxJobs(Protocol):
    def enqueue(self, chat_id: int) -> None:
        """Queue the group's refresh job (``topicdesk.domain.inbox.refresh``)."""
        ...


class InboxTelegram(TelegramGateway, Protocol):
    """The relay's gateway and the inbox's own calls. Each of these spends the group's flood
    budget through the shared limiter (as do its topics and messages)."""

    async def edit_topic(self, chat_id: int, thread_id: int, name: str) -> None: ...

    async def edit_counted(self, chat_id: int, message_id: int, text: str) -> None:
        """editMessageText, counted against the group's budget (unlike mirrored edits)."""
        ...

    async def pin(self, chat_id: int, message_id: int) -> None: ...
