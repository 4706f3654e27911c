"""In-memory fakes of the domain's ports: no network, no AWS, no Telegram."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar, Unpack

from topicdesk.contract import WIDGET_SESSION_SECONDS
from topicdesk.domain.errors import RateLimited
from topicdesk.domain.limiter import Reservation, Rule, next_tat
from topicdesk.domain.model import (
    COUNT_MARKS,
    DeadLetter,
    MessageRef,
    Person,
    Session,
    SessionStatus,
)
from topicdesk.domain.ports import Booking, CountAlso, FailureRecord, TelegramGateway
from topicdesk.domain.widget import (
    CONNECTION_SECONDS,
    PageInfo,
    WidgetConnection,
    WidgetMessage,
    WidgetSession,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.current = now

    def now(self) -> float:
        return self.current


class FakeMetrics:
    def __init__(self) -> None:
        self.counts: dict[str, float] = {}

    def count(self, name: str, value: float = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + value

    def milliseconds(self, name: str, value: float) -> None:
        self.counts[name] = value


class InMemorySessions:
    def __init__(self) -> None:
        self.items: dict[int, dict[str, Any]] = {}
        self.topics: dict[tuple[int, int], int] = {}
        self.ops: dict[int, int] = {}

    def get(self, user_id: int) -> Session | None:
        item = self.items.get(user_id)
        if item is None:
            return None
        return Session(
            person=item["person"],
            operator_chat_id=item["operator_chat_id"],
            thread_id=item.get("thread_id"),
            status=item.get("status", SessionStatus.OPEN),
            banned=item.get("banned", False),
            blocked=item.get("blocked", False),
            card_posted=item.get("card_posted", False),
            created_at=item.get("created_at", 0.0),
            messages_in=item.get("messages_in", 0),
            messages_out=item.get("messages_out", 0),
            dropped=item.get("dropped", 0),
            slowdown_told_at=item.get("slowdown_told_at", 0.0),
            relayed_up_to=item.get("relayed_up_to"),
            answered_up_to=item.get("answered_up_to"),
            relayed_run=item.get("relayed_run", ()),
            answered_run=item.get("answered_run", ()),
            pace_tat=item.get("pace_tat"),
        )

    def claim_topic_creation(
        self, person: Person, operator_chat_id: int, owner: str, now: float, lease_seconds: float
    ) -> bool:
        item = self.items.get(person.user_id)
        if item is not None and (
            item.get("thread_id") is not None
            or (item.get("claim_until", 0) >= now and item.get("claim_owner") != owner)
        ):
            return False
        item = item or {"created_at": now}
        item.update(
            person=person,
            operator_chat_id=operator_chat_id,
            claim_owner=owner,
            claim_until=now + lease_seconds,
            card_posted=False,
        )
        self.items[person.user_id] = item
        return True

    def release_claim(self, user_id: int, owner: str) -> None:
        item = self.items.get(user_id)
        if item is not None and item.get("claim_owner") == owner:
            item.pop("claim_owner")
            item.pop("claim_until")

    def attach_topic(self, user_id: int, operator_chat_id: int, thread_id: int, owner: str) -> None:
        item = self.items[user_id]
        assert item.get("claim_owner") == owner, "claim lost"
        item.update(thread_id=thread_id, operator_chat_id=operator_chat_id)
        item.setdefault("answered_up_to", 0)  # nothing answered yet (see the Dynamo one)
        item.pop("claim_owner")
        item.pop("claim_until")
        self.topics[(operator_chat_id, thread_id)] = user_id

    def replace_topic(self, user_id: int, old_thread_id: int, new_thread_id: int) -> None:
        item = self.items[user_id]
        if item.get("thread_id") != old_thread_id:
            return
        item.update(thread_id=new_thread_id, status=SessionStatus.OPEN)
        self.topics.pop((item["operator_chat_id"], old_thread_id), None)
        self.topics[(item["operator_chat_id"], new_thread_id)] = user_id

    def update(self, user_id: int, **fields: object) -> None:
        self.items[user_id].update(fields)

    def increment(self, user_id: int, counter: str, by: int = 1, **also: Unpack[CountAlso]) -> None:
        run, pace = also.get("run"), also.get("pace")
        item = self.items[user_id]
        item[counter] = item.get(counter, 0) + by
        if pace is not None:
            item["pace_tat"] = pace
        if run:
            mark, ids = COUNT_MARKS[counter]
            item.update({mark: max(run), ids: tuple(run)})

    def user_for_topic(self, operator_chat_id: int, thread_id: int) -> int | None:
        return self.topics.get((operator_chat_id, thread_id))

    def ops_thread(self, operator_chat_id: int) -> int | None:
        return self.ops.get(operator_chat_id)

    def set_ops_thread(
        self, operator_chat_id: int, thread_id: int, *, replace: bool = False
    ) -> int:
        if replace or operator_chat_id not in self.ops:
            self.ops[operator_chat_id] = thread_id
        return self.ops[operator_chat_id]

    def count_by_operator_chat(self, operator_chat_ids: Sequence[int]) -> dict[int, int]:
        counts = dict.fromkeys(operator_chat_ids, 0)
        for item in self.items.values():
            if item.get("thread_id") is not None and item["operator_chat_id"] in counts:
                counts[item["operator_chat_id"]] += 1
        return counts


class InMemoryMessageMap:
    def __init__(self) -> None:
        self.links: dict[MessageRef, MessageRef] = {}

    def link(self, first: MessageRef, second: MessageRef) -> None:
        self.links[first] = second
        self.links[second] = first

    def peer(self, ref: MessageRef) -> MessageRef | None:
        return self.links.get(ref)


def _keyword_options(
    port_method: Callable[..., Any], signature: inspect.Signature
) -> dict[str, list[str]]:
    """The port's ``**keywords: Unpack[SomeTypedDict]`` parameters and their keys."""
    bundled = [p.name for p in signature.parameters.values() if p.kind is p.VAR_KEYWORD]
    if not bundled:
        return {}
    hints = typing.get_type_hints(port_method, include_extras=True)
    return {name: list(typing.get_args(hints[name])[0].__annotations__) for name in bundled}


def recorded(
    port_method: Callable[..., Any], answer: Callable[[Any, dict[str, Any]], Any] = lambda *_: None
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """A fake's method for the port's ``port_method``: the call is bound to the port's own
    signature (so a call that does not fit fails as it would against the adapter), recorded
    under its parameter names with the defaults filled in and sequences as lists (``_record``:
    it may be made to fail), then answered with ``answer(fake, arguments)``."""
    name = port_method.__name__
    signature = inspect.signature(port_method)
    options = _keyword_options(port_method, signature)

    async def call(self: Any, *args: Any, **keywords: Any) -> Any:
        bound = signature.bind(self, *args, **keywords)
        bound.apply_defaults()
        arguments = {
            key: list(value) if isinstance(value, (list, tuple, range)) else value
            for key, value in bound.arguments.items()
            if key != "self" and key not in options
        }
        for group, names in options.items():  # **where: Unpack[Placement], each key shown
            arguments.update({key: bound.arguments[group].get(key) for key in names})
        self._record(name, **arguments)
        return answer(self, arguments)

    call.__name__ = name
    return call


@dataclass
class Call:
    method: str
    args: dict[str, Any]


@dataclass
class FakeTelegram:
    """Records every call; ``fail`` queues domain errors per method (raised in order)."""

    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[BaseException]] = field(default_factory=dict)
    failures_after: dict[str, list[BaseException]] = field(default_factory=dict)
    effects: list[Call] = field(default_factory=list)
    """The calls Telegram acted on (a failure before acting is not one)."""
    next_id: int = 1000
    next_thread: int = 10

    def fail(self, method: str, *errors: BaseException) -> None:
        """The next calls of ``method`` are refused with ``errors`` (nothing happens)."""
        self.failures.setdefault(method, []).extend(errors)

    def fail_after(self, method: str, *errors: BaseException) -> None:
        """The next calls of ``method`` act, then the answer is lost (``errors`` raised)."""
        self.failures_after.setdefault(method, []).extend(errors)

    def _record(self, method: str, **args: Any) -> None:
        self.calls.append(Call(method, args))
        pending = self.failures.get(method)
        if pending:
            raise pending.pop(0)
        self.effects.append(Call(method, args))
        lost = self.failures_after.get(method)
        if lost:
            raise lost.pop(0)

    def acted(self, method: str) -> list[dict[str, Any]]:
        return [call.args for call in self.effects if call.method == method]

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def called(self, method: str) -> list[dict[str, Any]]:
        return [call.args for call in self.calls if call.method == method]

    def _new_thread(self) -> int:
        self.next_thread += 1
        return self.next_thread

    send_text = recorded(TelegramGateway.send_text, lambda fake, _: fake._id())
    copy_message = recorded(TelegramGateway.copy_message, lambda fake, _: fake._id())
    copy_messages = recorded(
        TelegramGateway.copy_messages,
        lambda fake, args: [fake._id() for _ in args["message_ids"]],
    )
    edit_text = recorded(TelegramGateway.edit_text)
    edit_caption = recorded(TelegramGateway.edit_caption)
    react = recorded(TelegramGateway.react)
    create_topic = recorded(TelegramGateway.create_topic, lambda fake, _: fake._new_thread())
    close_topic = recorded(TelegramGateway.close_topic)
    reopen_topic = recorded(TelegramGateway.reopen_topic)
    delete_topic = recorded(TelegramGateway.delete_topic)
    leave_chat = recorded(TelegramGateway.leave_chat)


class InMemoryStepLog:
    """The step record (``topicdesk.domain.steps``), with a count of writes."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.writes = 0

    def load(self, key: str) -> dict[str, Any]:
        return dict(self.records.get(key, {}))

    def save(self, key: str, steps: dict[str, Any]) -> None:
        self.writes += 1
        self.records.setdefault(key, {}).update(steps)


class InMemoryJournal:
    def __init__(self) -> None:
        self.records: dict[int, FailureRecord] = {}
        self.attempts: dict[int, tuple[int, int]] = {}

    def record(self, update_id: int, reason: str, now: float) -> int:
        old = self.records.get(update_id)
        self.records[update_id] = FailureRecord(
            reason=reason,
            first_failure_at=old.first_failure_at if old else now,
            last_failure_at=now,
            failures=(old.failures if old else 0) + 1,
        )
        return self.records[update_id].failures

    def get(self, update_id: int) -> FailureRecord | None:
        return self.records.get(update_id)

    def begin_attempt(self, update_id: int, now: float) -> tuple[int, int]:
        started, ended = self.attempts.get(update_id, (0, 0))
        self.attempts[update_id] = (started + 1, ended)
        record = self.records.get(update_id)
        return (record.failures if record else 0), started - ended

    def end_attempt(self, update_id: int) -> None:
        started, ended = self.attempts.get(update_id, (0, 0))
        self.attempts[update_id] = (started, ended + 1)


T = TypeVar("T", bound="DataclassInstance")


class InMemoryItems(Generic[T]):
    """Items by id with the DynamoDB adapters' conditions: a create that keeps the first
    item, and an update that only applies when the item exists and is in the right state."""

    def __init__(self) -> None:
        self.items: dict[str, T] = {}

    def _create(self, item_id: str, item: T) -> bool:
        if item_id in self.items:
            return False
        self.items[item_id] = item
        return True

    def get(self, item_id: str) -> T | None:
        return self.items.get(item_id)

    def _update(self, item_id: str, condition: Callable[[T], bool], **fields: Any) -> bool:
        item = self.items.get(item_id)
        if item is None or not condition(item):
            return False
        self.items[item_id] = replace(item, **fields)
        return True


class InMemoryArchive(InMemoryItems[DeadLetter]):
    def archive(self, dead: DeadLetter) -> bool:
        return self._create(dead.archive_id, dead)

    def mark_notified(self, archive_id: str) -> bool:
        return self._update(archive_id, lambda item: not item.notified, notified=True)

    def list(self) -> list[DeadLetter]:
        return list(self.items.values())

    def delete(self, archive_id: str) -> None:
        self.items.pop(archive_id, None)


class MemoryStore:
    """The shared limiter's TAT store (``TatStore``) in memory: GCRA by ``next_tat``."""

    def __init__(self) -> None:
        self.tat: dict[str, float] = {}
        self.holds: dict[str, float] = {}
        self.released: list[str] = []

    def reserve(self, rule: Rule, now: float, max_wait: float) -> Reservation:
        new_tat, wait = next_tat(self.tat.get(rule.key), now, rule)
        if wait > max_wait:
            raise RateLimited(wait, key=rule.key)
        self.tat[rule.key] = new_tat
        return Reservation(rule.key, wait, rule.cost)

    def release(self, reservation: Reservation) -> None:
        self.tat[reservation.key] -= reservation.interval
        self.released.append(reservation.key)

    def push_back(self, key: str, until: float) -> None:
        self.tat[key] = max(self.tat.get(key, 0.0), until)
        self.holds[key] = max(self.holds.get(key, 0.0), until)

    def held_until(self, keys: Sequence[str]) -> tuple[float, str]:
        held = [(self.holds.get(key, 0.0), key) for key in keys]
        return max(held) if held else (0.0, "")


class MemoryBookings:
    def __init__(self) -> None:
        self.items: dict[str, Booking] = {}

    def save(self, record_id: str, booking: Booking) -> None:
        self.items[record_id] = booking

    def take(self, record_id: str) -> Booking | None:
        return self.items.pop(record_id, None)


class InMemoryWidgetConversations:
    """``WidgetConversations`` in memory."""

    def __init__(self) -> None:
        self.connection_items: dict[str, WidgetConnection] = {}
        self.sessions: dict[str, WidgetSession] = {}
        self.session_connections: dict[str, list[str]] = {}
        self.messages: dict[str, list[WidgetMessage]] = {}
        self.queued: set[tuple[str, str]] = set()
        self.expires: dict[str, float] = {}
        self.connection_expires: dict[str, float] = {}
        self.visitors: dict[int, str] = {}

    def open_connection(self, connection_id: str, project: str, now: float) -> None:
        self.connection_items[connection_id] = WidgetConnection(connection_id, project)

    def connection(self, connection_id: str) -> WidgetConnection | None:
        return self.connection_items.get(connection_id)

    def drop_connection(self, connection_id: str) -> None:
        known = self.connection_items.pop(connection_id, None)
        if known is not None and known.session_id is not None:
            listed = self.session_connections.get(known.session_id, [])
            self.session_connections[known.session_id] = [c for c in listed if c != connection_id]

    def start_session(self, session_id: str, project: str, now: float) -> None:
        if session_id not in self.sessions:
            self.sessions[session_id] = WidgetSession(session_id, project, now, now)
            self.expires[session_id] = now + WIDGET_SESSION_SECONDS

    def session(self, session_id: str, now: float) -> WidgetSession | None:
        if self.expires.get(session_id, 0) < now:
            return None
        return self.sessions.get(session_id)

    def bind(
        self, connection_id: str, session_id: str, now: float, page: PageInfo | None = None
    ) -> None:
        known = self.connection_items[connection_id]
        bound = replace(known, session_id=session_id, page=page or PageInfo())
        self.connection_items[connection_id] = bound
        listed = self.session_connections.setdefault(session_id, [])
        if connection_id not in listed:
            listed.append(connection_id)
        self.connection_expires[connection_id] = now + CONNECTION_SECONDS

    def connections(self, session_id: str, now: float) -> list[str]:
        listed = self.session_connections.get(session_id, [])
        return [c for c in listed if self.connection_expires.get(c, 0) >= now]

    def _find(self, session_id: str, sender: str, message_id: str) -> int | None:
        for index, known in enumerate(self.messages.get(session_id, [])):
            if known.sender == sender and known.id == message_id:
                return index
        return None

    def _touch(self, session_id: str, now: float) -> None:
        self.expires[session_id] = now + WIDGET_SESSION_SECONDS
        if session_id in self.sessions:
            self.sessions[session_id] = replace(self.sessions[session_id], last_message_at=now)

    def accept_visitor(self, session_id: str, message: WidgetMessage, now: float) -> bool:
        if self._find(session_id, "visitor", message.id) is not None:
            return (session_id, message.id) not in self.queued
        self._touch(session_id, now)
        self.messages.setdefault(session_id, []).append(replace(message, sender="visitor"))
        return True

    def confirm_queued(self, session_id: str, message_id: str) -> None:
        self.queued.add((session_id, message_id))

    def record_operator(
        self, session_id: str, message: WidgetMessage, *, pushed: bool, now: float
    ) -> bool:
        if self._find(session_id, "operator", message.id) is not None:
            return False
        self._touch(session_id, now)
        kept = replace(message, sender="operator", pending=not pushed)
        self.messages.setdefault(session_id, []).append(kept)
        return True

    def history(self, session_id: str, limit: int = 200) -> list[WidgetMessage]:
        return list(self.messages.get(session_id, []))[-limit:] if limit > 0 else []

    def take_pending(self, session_id: str) -> list[WidgetMessage]:
        taken: list[WidgetMessage] = []
        conversation = self.messages.get(session_id, [])
        for index, known in enumerate(conversation):
            if known.pending:
                taken.append(known)
                conversation[index] = replace(known, pending=False)
        return taken

    def remember_visitor(self, user_id: int, session_id: str, now: float) -> None:
        self.visitors[user_id] = session_id

    def visitor_session(self, user_id: int) -> str | None:
        return self.visitors.get(user_id)
