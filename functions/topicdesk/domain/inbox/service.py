"""The inbox's writes: the relay's hooks (a person wrote, an operator answered, /close,
/reopen) and ownership (take it, /claim, /assign, /unassign).

Every change is a conditional write on the record's version (optimistic concurrency): the
person's records and the operators' run in different queue groups, and two operators may press
"Take it" at once; whoever writes second re-reads and re-decides. A change the topic or the
overview shows queues the group's refresh job (at most one queued at a time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from topicdesk.domain.errors import TopicdeskError
from topicdesk.domain.inbox.display import label, overview_relevant
from topicdesk.domain.inbox.ports import InboxJobs, InboxStore
from topicdesk.domain.inbox.state import Conversation, Event, Owner, apply, release, take
from topicdesk.domain.model import Person, Session
from topicdesk.domain.ports import Clock
from topicdesk.domain.steps import Steps
from topicdesk.domain.texts import topic_name

if TYPE_CHECKING:
    from topicdesk.domain.inbox.away import Away

WRITE_ATTEMPTS = 8
SCHEDULE_STALE_SECONDS = 900.0
"""A refresh job noted as queued this long ago is presumed lost (queued again)."""


class InboxContended(TopicdeskError):
    """The record kept changing under us: the update fails and is retried."""


@dataclass(frozen=True)
class Ownership:
    """What an ownership request found: ``done`` (the owner is now ``owner``), or refused
    because someone else owns it (``owner``)."""

    done: bool
    owner: Owner | None
    record: Conversation


Change = Callable[[Conversation], Conversation | None]
"""The new record, or None to leave it as it is (a refusal)."""


def owner_of(person: Person) -> Owner:
    """An operator as an owner: their first name is what the topic and the overview show."""
    return Owner(person.user_id, person.first_name or person.full_name)


class Inbox:
    def __init__(self, store: InboxStore, jobs: InboxJobs, clock: Clock) -> None:
        self._store = store
        self._jobs = jobs
        self._clock = clock
        self._operators_seen: set[tuple[int, int, str, str]] = set()
        """Operators this container has noted already (one write each per container)."""
        self.away: Away | None = None
        """The away message outside business hours (``away``); None: the stage has none."""

    def of(self, session: Session) -> Conversation | None:
        return self._store.get(session.operator_chat_id, session.user_id)

    # ------------------------------------------------------------------ the relay's hooks

    def record(self, session: Session, event: Event, steps: Steps) -> None:
        """The relay's hook: ``event`` happened in ``session``'s conversation (once per
        update: a retried record does not apply it again)."""
        steps.once_sync(f"inbox:{event.value}", lambda: self.event(session, event).version)

    def event(self, session: Session, event: Event) -> Conversation:
        at = self._clock.now()
        return self._change(session, lambda record: apply(record, event, at))

    def operator_wrote(self, chat_id: int, person: Person | None) -> None:
        """Remember an operator's @username in the group (for /assign @username)."""
        if person is None or person.is_bot or not person.username:
            return
        owner = owner_of(person)
        seen = (chat_id, person.user_id, person.username.lower(), owner.name)
        if seen not in self._operators_seen:
            self._store.remember_operator(chat_id, person.username.lower(), owner)
            self._operators_seen.add(seen)

    def operator_named(self, chat_id: int, username: str) -> Owner | None:
        return self._store.operator_named(chat_id, username.lower())

    # ------------------------------------------------------------------ ownership

    def claim(self, session: Session, owner: Owner) -> Ownership:
        """Take a conversation nobody owns (or that ``owner`` owns already)."""
        at = self._clock.now()

        def change(record: Conversation) -> Conversation | None:
            if record.owner is not None and record.owner.user_id != owner.user_id:
                return None
            return take(record, owner, at)

        return self._ownership(session, change, owner)

    def assign(self, session: Session, owner: Owner, expected: Owner | None) -> Ownership:
        """Give it to ``owner`` if its owner is still ``expected`` (what the operator saw)."""
        at = self._clock.now()

        def change(record: Conversation) -> Conversation | None:
            if _who(record.owner) not in (_who(expected), owner.user_id):
                return None
            return take(record, owner, at)

        return self._ownership(session, change, owner)

    def unassign(self, session: Session, expected: Owner | None) -> Ownership:
        at = self._clock.now()

        def change(record: Conversation) -> Conversation | None:
            if record.owner is not None and _who(record.owner) != _who(expected):
                return None
            return release(record, at)

        return self._ownership(session, change, None)

    def _ownership(self, session: Session, change: Change, owner: Owner | None) -> Ownership:
        refused = [False]  # the last attempt's decision (an earlier one may have lost a race)

        def guarded(record: Conversation) -> Conversation:
            changed = change(record)
            refused[0] = changed is None
            return record if changed is None else changed

        record = self._change(session, guarded)
        if refused[0]:
            return Ownership(False, record.owner, record)
        return Ownership(True, owner, record)

    # ------------------------------------------------------------------ the write

    def _change(
        self, session: Session, change: Callable[[Conversation], Conversation]
    ) -> Conversation:
        chat_id, user_id = session.operator_chat_id, session.user_id
        for _ in range(WRITE_ATTEMPTS):
            stored = self._store.get(chat_id, user_id)
            before = stored or Conversation(chat_id, user_id)
            current = before.with_changes(
                thread_id=session.thread_id, name=topic_name(session.person)
            )
            after = change(current)
            if after == before:
                return before
            if self._store.save(after, before.version):
                after = after.with_changes(version=before.version + 1)
                if stored is not None and stored.thread_id != after.thread_id:
                    # A recreated topic has the plain name again: its label is to be set.
                    self._store.mark_shown(chat_id, user_id, "", 0.0)
                    after = after.with_changes(shown=None, shown_at=0.0)
                self._changed(stored, after)
                return after
        raise InboxContended(f"conversation {chat_id}/{user_id} kept changing")

    def _changed(self, before: Conversation | None, after: Conversation) -> None:
        overview = overview_relevant(before) != overview_relevant(after)
        if overview:
            self._store.mark_dirty(after.chat_id)
        if overview or label(after) != after.shown:
            self.schedule(after.chat_id)

    def schedule(self, chat_id: int) -> None:
        """Queue the group's refresh job unless one is queued already."""
        if self._store.claim_schedule(chat_id, self._clock.now(), SCHEDULE_STALE_SECONDS):
            self._jobs.enqueue(chat_id)


def _who(owner: Owner | None) -> int | None:
    return owner.user_id if owner is not None else None
