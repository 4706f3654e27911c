"""The ports the domain talks to. Adapters implement them; unit tests use in-memory fakes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, Unpack

from topicdesk.domain.limiter import Reservation, Rule, Spend
from topicdesk.domain.model import DeadLetter, MessageRef, Person, Session

if TYPE_CHECKING:
    from topicdesk.domain.broadcast import Actor, Broadcast, BroadcastJob


class CountAlso(TypedDict, total=False):
    """What a count's write also moves (absent or None: leave it)."""

    run: Sequence[int] | None
    """The ids the count covers, newest last: the counter's mark and run (``COUNT_MARKS``)."""
    pace: float | None
    """The person's pace as the counted messages left it (``Session.pace_tat``)."""


class SessionRepository(Protocol):
    """Sessions (person -> operators' topic) and the reverse topic index."""

    def get(self, user_id: int) -> Session | None: ...

    def claim_topic_creation(
        self, person: Person, operator_chat_id: int, owner: str, now: float, lease_seconds: float
    ) -> bool:
        """Conditionally create the session (or take over a stale claim) so that exactly one
        worker creates the person's topic. False when the session already has a topic or
        another worker's claim is still live."""
        ...

    def release_claim(self, user_id: int, owner: str) -> None:
        """Give up ``owner``'s claim (topic creation failed) so a retry need not wait."""
        ...

    def attach_topic(
        self, user_id: int, operator_chat_id: int, thread_id: int, owner: str
    ) -> Session | None:
        """Store the topic created under ``owner``'s claim, and index the topic; the session
        as now stored (None: ask ``get``)."""
        ...

    def replace_topic(self, user_id: int, old_thread_id: int, new_thread_id: int) -> None:
        """Point the session at a recreated topic (the old one was deleted)."""
        ...

    def update(self, user_id: int, **fields: object) -> None:
        """Set fields: status, banned, blocked, card_posted, person, pace_tat."""
        ...

    def increment(self, user_id: int, counter: str, by: int = 1, **also: Unpack[CountAlso]) -> None:
        """Count messages (activity: the session lives on); ``also``: in the same write."""
        ...

    def user_for_topic(self, operator_chat_id: int, thread_id: int) -> int | None: ...

    def ops_thread(self, operator_chat_id: int) -> int | None: ...

    def set_ops_thread(
        self, operator_chat_id: int, thread_id: int, *, replace: bool = False
    ) -> int:
        """Remember the ops topic unless one is already stored (or ``replace``); returns the
        stored one."""
        ...

    def count_by_operator_chat(self, operator_chat_ids: Sequence[int]) -> dict[int, int]:
        """How many people each operators' group hosts (for shard choice)."""
        ...


class MessageMap(Protocol):
    """Which message in the private chat is which message in the topic (both ways, with TTL)."""

    def link(self, first: MessageRef, second: MessageRef) -> None: ...

    def peer(self, ref: MessageRef) -> MessageRef | None: ...


class InTopic(TypedDict, total=False):
    """Where messages go in their chat (absent or None: General)."""

    thread_id: int | None
    """The forum topic."""


class Placement(InTopic, total=False):
    """Where a message goes in its chat, and what it answers (absent or None: nothing)."""

    reply_to: int | None
    """The message it answers (sent anyway if that one is gone)."""


class TelegramGateway(Protocol):
    """The Bot API calls the relay makes. Raises domain errors only."""

    async def send_text(self, chat_id: int, text: str, **where: Unpack[Placement]) -> int: ...

    async def copy_message(
        self, chat_id: int, from_chat_id: int, message_id: int, **where: Unpack[Placement]
    ) -> int: ...

    async def copy_messages(
        self, chat_id: int, from_chat_id: int, message_ids: Sequence[int], **where: Unpack[InTopic]
    ) -> list[int]: ...

    async def edit_text(self, chat_id: int, message_id: int, text: str) -> None: ...

    async def edit_caption(self, chat_id: int, message_id: int, caption: str) -> None: ...

    async def react(self, chat_id: int, message_id: int, emoji: str) -> None: ...

    async def create_topic(self, chat_id: int, name: str) -> int: ...

    async def close_topic(self, chat_id: int, thread_id: int) -> None: ...

    async def reopen_topic(self, chat_id: int, thread_id: int) -> None: ...

    async def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """With its messages; TopicMissing when it is gone already."""
        ...

    async def leave_chat(self, chat_id: int) -> None: ...

    async def administrators(self, chat_id: int) -> list[int]:
        """The user ids of the chat's administrators (people, not bots)."""
        ...


class ConnectionPush(Protocol):
    """API Gateway's management API: a frame to one open widget connection."""

    async def post(self, connection_id: str, frame: Mapping[str, Any]) -> bool:
        """Send ``frame`` (a JSON object); False when the connection is gone (closed without
        ``$disconnect`` yet). Raises ``TransientFailure`` otherwise."""
        ...


class FailureJournal(Protocol):
    """The consumer notes why an update failed; the DLQ processor reads it back."""

    def record(self, update_id: int, reason: str, now: float) -> int:
        """Note one more failure; returns how many there have been."""
        ...

    def begin_attempt(self, update_id: int, now: float) -> tuple[int, int]:
        """An attempt starts (only for records received suspiciously often): returns the
        genuine failures so far and the attempts that started and never ended (the function
        died with them: a crash or a timeout)."""
        ...

    def end_attempt(self, update_id: int) -> None:
        """The attempt begun last ended (however it ended)."""
        ...

    def get(self, update_id: int) -> FailureRecord | None: ...


@dataclass(frozen=True)
class FailureRecord:
    reason: str
    first_failure_at: float
    last_failure_at: float
    failures: int


class DeadLetterArchive(Protocol):
    def archive(self, dead: DeadLetter) -> bool:
        """Store it; False when that archive id is already stored (a redelivery)."""
        ...

    def get(self, archive_id: str) -> DeadLetter | None: ...

    def mark_notified(self, archive_id: str) -> bool:
        """Set `notified` once; False when it was already set."""
        ...

    def list(self) -> list[DeadLetter]: ...

    def delete(self, archive_id: str) -> None: ...


class PersonData(Protocol):
    """Everything stored about one person, found by key, erased on request: belongings first,
    the anchors (session, topic index, roster) last, so a retry still finds the person."""

    def topics_of(self, user_id: int) -> list[tuple[int, int]]: ...

    def erase_belongings(self, user_id: int) -> dict[str, int]:
        """Message maps, limiter keys, the rest of their partition: counts per kind."""
        ...

    def dead_letters(self) -> list[DeadLetter]: ...

    def erase_dead_letter(self, dead: DeadLetter) -> None: ...

    def anchors(self, user_id: int) -> dict[str, int]: ...

    def erase_anchors(self, user_id: int) -> dict[str, int]: ...


class AdminDirectory(Protocol):
    """An operators' group's administrators, cached for every instance."""

    def admins(self, chat_id: int, now: float) -> frozenset[int] | None:
        """The cached administrators' user ids; None when there is no fresh entry."""
        ...

    def remember(self, chat_id: int, admins: frozenset[int], until: float) -> None: ...


class StepLog(Protocol):
    """Where the step record of each unit of work lives (see ``topicdesk.domain.steps``)."""

    def load(self, key: str) -> dict[str, Any]:
        """Every step recorded for ``key``, name -> result (empty for a first attempt)."""
        ...

    def save(self, key: str, steps: dict[str, Any]) -> None:
        """Add ``steps`` (name -> result) to ``key``'s record in one write."""
        ...


class Metrics(Protocol):
    def count(self, name: str, value: float = 1) -> None: ...

    def milliseconds(self, name: str, value: float) -> None: ...


class DeadLetterQueue(Protocol):
    """Where the consumer moves an update that failed ``MAX_ATTEMPTS`` times."""

    def send(self, body: str, group_id: str | None, deduplication_id: str) -> None:
        """Same group as in the updates queue, so on-call sees them in order."""
        ...


class Clock(Protocol):
    def now(self) -> float: ...


# ---------------------------------------------------------------------- the shared limiter


class TatStore(Protocol):
    """Where the GCRA TATs live (DynamoDB): one conditional update per key per send."""

    def reserve(self, rule: Rule, now: float, max_wait: float) -> Reservation:
        """Move the key's TAT by the call's cost if its slot is within ``max_wait``; raise
        RateLimited (without reserving) otherwise."""
        ...

    def release(self, reservation: Reservation) -> None:
        """Give a reserved slot back (another key deferred the send)."""
        ...

    def push_back(self, key: str, until: float) -> None:
        """Nothing on this key before ``until`` (Telegram answered 429)."""
        ...

    def held_until(self, keys: Sequence[str]) -> tuple[float, str]:
        """The latest 429 hold among ``keys`` and its key (0 when none is held)."""
        ...


@dataclass(frozen=True)
class Booking:
    """A deferred record's reserved slot on one key."""

    key: str
    slot: float


class Bookings(Protocol):
    def save(self, record_id: str, booking: Booking) -> None: ...

    def take(self, record_id: str) -> Booking | None:
        """Read and remove the record's booking (None when it has none)."""
        ...


class Throttle(Protocol):
    """The shared flood limiter, consulted before every message-sending call."""

    async def before_send(self, chat_id: int, count: int = 1, kind: Spend = "message") -> None:
        """Wait for a slot, or raise RateLimited when the wait would be too long."""
        ...

    def penalize(self, chat_id: int, retry_after: float, kind: Spend = "message") -> None:
        """Telegram said 429: make every instance wait ``retry_after`` on that chat."""
        ...


# ---------------------------------------------------------------------- broadcasts


class Confirmation(TypedDict, total=False):
    """What ``/confirm`` adds to a broadcast (absent or None: not known)."""

    confirmed_by: Actor | None
    frozen_message_id: int | None


class BroadcastRepository(Protocol):
    def create(self, broadcast: Broadcast) -> bool:
        """Store a new request; False (nothing written) if its id exists already."""
        ...

    def get(self, broadcast_id: str) -> Broadcast | None: ...

    def active(self, chat_id: int) -> list[Broadcast]:
        """The group's broadcasts that are pending or running (one partition, no scan)."""
        ...

    def start(self, broadcast_id: str, total: int, **confirmation: Unpack[Confirmation]) -> bool:
        """pending -> running with its total, confirmer and frozen copy; False if it was
        not pending."""
        ...

    def cancel(self, broadcast_id: str, by: Actor | None) -> bool:
        """pending or running -> cancelled (by whom); False if it was neither."""
        ...

    def count(self, broadcast_id: str, outcome: str) -> Broadcast:
        """Add one to ``delivered``, ``blocked`` or ``failed``; returns the new state."""
        ...

    def advance_progress(self, broadcast_id: str, step: int) -> bool:
        """Claim progress note ``step`` (the last one also marks the broadcast done); False
        if it was claimed already or the broadcast is no longer running (cancelled)."""
        ...


class Roster(Protocol):
    def people(self) -> list[int]:
        """Everyone who has a session (no scans: a few roster partitions are queried)."""
        ...


class JobQueue(Protocol):
    def enqueue_jobs(self, jobs: Sequence[BroadcastJob]) -> None: ...
