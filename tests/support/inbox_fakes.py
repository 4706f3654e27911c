"""In-memory inbox ports (``topicdesk.domain.inbox.ports``) for the domain's unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from topicdesk.domain.inbox import Conversation, GroupInbox, Owner
from topicdesk.domain.inbox.operators import TakeTelegram
from topicdesk.domain.inbox.ports import InboxTelegram

from tests.support.fakes import FakeTelegram, recorded


@dataclass
class InMemoryInbox:
    records: dict[tuple[int, int], Conversation] = field(default_factory=dict)
    groups: dict[int, GroupInbox] = field(default_factory=dict)
    operators: dict[tuple[int, str], Owner] = field(default_factory=dict)
    before_save: list[Any] = field(default_factory=list)
    """Callables run (once each) just before the next saves: a rival's write in between."""

    def get(self, chat_id: int, user_id: int) -> Conversation | None:
        return self.records.get((chat_id, user_id))

    def save(self, record: Conversation, expected_version: int) -> bool:
        if self.before_save:
            self.before_save.pop(0)()
        key = (record.chat_id, record.user_id)
        stored = self.records.get(key)
        if (stored.version if stored else 0) != expected_version:
            return False
        shown = (stored.shown, stored.shown_at) if stored else (None, 0.0)
        self.records[key] = record.with_changes(
            version=expected_version + 1, shown=shown[0], shown_at=shown[1]
        )
        return True

    def mark_shown(self, chat_id: int, user_id: int, shown: str, at: float) -> None:
        key = (chat_id, user_id)
        self.records[key] = self.records[key].with_changes(shown=shown, shown_at=at)

    def conversations(self, chat_id: int) -> list[Conversation]:
        return [record for (chat, _), record in self.records.items() if chat == chat_id]

    def group(self, chat_id: int) -> GroupInbox:
        return self.groups.get(chat_id, GroupInbox(chat_id))

    def _set(self, chat_id: int, **changes: Any) -> None:
        self.groups[chat_id] = replace(self.group(chat_id), **changes)

    def mark_dirty(self, chat_id: int) -> None:
        self._set(chat_id, dirty=True)

    def claim_schedule(self, chat_id: int, now: float, stale_after: float) -> bool:
        scheduled = self.group(chat_id).scheduled_at
        if scheduled and now - scheduled < stale_after:
            return False
        self._set(chat_id, scheduled_at=now)
        return True

    def clear_schedule(self, chat_id: int) -> None:
        self._set(chat_id, scheduled_at=0.0)

    def overview_refreshed(self, chat_id: int, at: float) -> None:
        self._set(chat_id, dirty=False, refreshed_at=at)

    def set_overview(self, chat_id: int, queue_thread: int, message_id: int | None) -> None:
        self._set(chat_id, queue_thread=queue_thread, overview_message_id=message_id)

    def remember_operator(self, chat_id: int, username: str, owner: Owner) -> None:
        self.operators[(chat_id, username)] = owner

    def operator_named(self, chat_id: int, username: str) -> Owner | None:
        return self.operators.get((chat_id, username))


@dataclass
class InMemoryJobs:
    queued: list[int] = field(default_factory=list)

    def enqueue(self, chat_id: int) -> None:
        self.queued.append(chat_id)


class InboxFakeTelegram(FakeTelegram):
    """FakeTelegram with the inbox's calls (no fields of its own)."""

    edit_topic = recorded(InboxTelegram.edit_topic)
    edit_counted = recorded(InboxTelegram.edit_counted)
    pin = recorded(InboxTelegram.pin)
    send_card = recorded(TakeTelegram.send_card, lambda fake, _: fake._id())
    answer_callback = recorded(TakeTelegram.answer_callback)
