"""The relay rules: people <-> their topic in the operators' forum group.

Every method takes the update's ``Steps`` (``topicdesk.domain.steps``): each externally
visible step (topic created, card posted, message copied, person told, note posted, receipt)
runs once and is recorded, so a record that comes back after a 429, a deferral, a 5xx, a
timeout or a crash resumes after its last completed step. Besides, a message already copied
(it has a peer in the message map) is not copied twice by a later record, topic creation is
claimed with a conditional write, and flags are idempotent. What cannot be made idempotent (a
Telegram send whose answer was lost) is the rare duplicate we accept instead of a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from topicdesk.contract import DEFAULT_GREETING
from topicdesk.domain import texts
from topicdesk.domain.broadcast import BroadcastService
from topicdesk.domain.errors import (
    MessageGone,
    NotCopyable,
    NotModified,
    RateLimited,
    RecipientBlocked,
    StorageUnavailable,
    TopicBeingCreated,
    TopicClosed,
    TopicMissing,
)
from topicdesk.domain.model import ChatMessage, MessageRef, Person, Session, SessionStatus
from topicdesk.domain.ports import (
    Clock,
    FloodGate,
    MessageMap,
    Metrics,
    SessionRepository,
    TelegramGateway,
)
from topicdesk.domain.steps import Steps

T = TypeVar("T")

COPY_MESSAGES_LIMIT = 100  # copyMessages: 1-100 message ids
BOOKKEEPING_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelaySettings:
    operator_chat_ids: tuple[int, ...]
    greeting: str = DEFAULT_GREETING
    topic_claim_lease_seconds: float = 30.0
    delivered_reaction: str = "👍"
    owner_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Identifies this worker's topic-creation claims."""
    flood_policy: str = "hold"
    """Over the per-person pace: ``hold`` (relay later, in order) or ``drop`` (count them)."""
    slowdown_notice_every: float = 600.0
    """A person is asked to slow down at most once in this many seconds."""


def _same_album(first: ChatMessage, second: ChatMessage) -> bool:
    return first.media_group_id is not None and first.media_group_id == second.media_group_id


class ShardPicker:
    """Chooses the operators' group for a new person: the one with the most headroom under its
    20/min limit right now (the shortest queue in the shared limiter), then the one hosting
    the fewest people. A person's topic never moves once created; only new people are spread.
    """

    def __init__(
        self,
        sessions: SessionRepository,
        operator_chat_ids: Sequence[int],
        backlog: Callable[[int], float] | None = None,
    ) -> None:
        self._sessions = sessions
        self._chats = tuple(operator_chat_ids)
        self._backlog = backlog
        """Seconds of sends already queued for a group (0 when it is idle)."""

    def pick(self) -> int:
        if len(self._chats) == 1:
            return self._chats[0]
        counts = self._sessions.count_by_operator_chat(self._chats)
        queued = {chat: self._backlog(chat) if self._backlog else 0.0 for chat in self._chats}
        return min(
            self._chats,
            key=lambda chat: (queued[chat], counts.get(chat, 0), self._chats.index(chat)),
        )


class Relay:
    def __init__(
        self,
        *,
        sessions: SessionRepository,
        messages: MessageMap,
        telegram: TelegramGateway,
        settings: RelaySettings,
        clock: Clock,
        metrics: Metrics,
        shard_picker: ShardPicker | None = None,
        flood_gate: FloodGate | None = None,
        broadcasts: BroadcastService | None = None,
    ) -> None:
        self._sessions = sessions
        self._messages = messages
        self._telegram = telegram
        self._settings = settings
        self._clock = clock
        self._metrics = metrics
        self._shards = shard_picker or ShardPicker(sessions, settings.operator_chat_ids)
        self._flood = flood_gate
        self._broadcasts = broadcasts

    @property
    def operator_chat_ids(self) -> tuple[int, ...]:
        return self._settings.operator_chat_ids

    def is_operator_chat(self, chat_id: int) -> bool:
        return chat_id in self._settings.operator_chat_ids

    # ------------------------------------------------------------------ person -> topic

    async def private_messages(
        self, run: Sequence[ChatMessage], steps: Steps | None = None
    ) -> None:
        """A person's message, followed by the person's next plain messages in this batch.

        The followers ride along in one ``copyMessages`` call (albums stay albums, and one
        call spends one slot of the group's 20/min budget instead of many); when their own
        record comes up they find themselves already mapped and do nothing.
        """
        steps = steps or Steps()
        message = run[0]
        if message.sender is None:
            return
        if not steps.recorded and self._already_relayed(message):
            return  # relayed with an earlier record's copyMessages
        if message.command == "start":
            await steps.once("greet", lambda: self._greet(message))
            return
        person = message.sender
        session = await self._ensure_session(person, steps)
        if session.banned:
            steps.once_sync("dropped", lambda: self._sessions.increment(person.user_id, "dropped"))
            self._metrics.count("BannedDropped")
            return
        batch = await self._admit(session, self._copy_batch(run, steps), steps)
        if not batch:
            return
        session = await self._refresh_on_contact(session, person, steps)
        if len(batch) == 1:
            await self._copy_one_to_topic(session, batch[0], steps)
        else:
            await self._copy_many_to_topic(session, batch, steps)
        await self._after_send(
            lambda: steps.once_sync(
                "counted",
                lambda: self._sessions.increment(person.user_id, "messages_in", len(batch)),
            )
        )
        self._metrics.count("MessagesToOperators", len(batch))

    async def _admit(
        self, session: Session, batch: list[ChatMessage], steps: Steps
    ) -> list[ChatMessage]:
        """The leading part of ``batch`` within the person's pace. Over it: tell them once;
        then either hold the rest back (RateLimited: the record comes back when the pace
        allows, in order) or drop and count it. The allowance is spent once per record: a
        retried record finds what it was admitted (a step) and spends nothing again."""
        if steps.done("admitted"):
            admitted_ids = set(steps.result("admitted"))
            return [message for message in batch if message.message_id in admitted_ids]
        if self._flood is None:
            return batch
        admitted: list[ChatMessage] = []
        wait = 0.0
        for message in batch:
            if admitted and _same_album(admitted[-1], message):
                admitted.append(message)  # an album is admitted whole, or not at all
                continue
            wait = self._flood.admit(session.user_id, self._clock.now())
            if wait > 0:
                break
            admitted.append(message)
        if admitted:
            # Not visible outside: kept with the next step's write (or the failure's).
            await steps.mark("admitted", [m.message_id for m in admitted], durable=False)
            return admitted
        await self._ask_to_slow_down(session, steps)
        if self._settings.flood_policy == "drop":
            await steps.mark("admitted", [], durable=False)
            steps.once_sync("dropped", lambda: self._sessions.increment(session.user_id, "dropped"))
            self._metrics.count("FloodDropped")
            return []
        self._metrics.count("FloodHeld")
        raise RateLimited(wait, key=f"person#{session.user_id}")

    async def _ask_to_slow_down(self, session: Session, steps: Steps) -> None:
        now = self._clock.now()
        if not steps.done("slowdown") and (
            now - session.slowdown_told_at < self._settings.slowdown_notice_every
        ):
            return
        text = (
            texts.TO_PERSON_SLOW_DOWN_DROP
            if self._settings.flood_policy == "drop"
            else texts.TO_PERSON_SLOW_DOWN_HOLD
        )

        async def tell() -> bool:
            try:
                await self._telegram.send_text(session.user_id, text)
            except RecipientBlocked:
                return False
            return True

        await steps.once("slowdown", tell)
        # After the notice went out (a 429 on it must not leave the person untold).
        await self._after_send(lambda: self._sessions.update(session.user_id, slowdown_told_at=now))

    async def private_edit(self, message: ChatMessage) -> None:
        """A person edited a message: mirror the edit on its copy in the topic."""
        await self._mirror_edit(message)

    def _already_relayed(self, message: ChatMessage) -> bool:
        return self._messages.peer(MessageRef(message.chat_id, message.message_id)) is not None

    def _copy_batch(self, run: Sequence[ChatMessage], steps: Steps) -> list[ChatMessage]:
        """The leading messages of ``run`` that can go in one copyMessages call. A retried
        record keeps the messages its first attempt admitted (no more, no fewer: the batch it
        comes back in may be cut differently)."""
        first = run[0]
        if first.reply_to_message_id is not None:
            return [first]  # copyMessages cannot carry a reply target
        batch = [first]
        for follower in run[1:]:
            if len(batch) == COPY_MESSAGES_LIMIT:
                break
            if (
                follower.chat_id != first.chat_id
                or follower.command is not None
                or follower.reply_to_message_id is not None
                or follower.message_id <= batch[-1].message_id
            ):
                break
            if not self._already_relayed(follower):
                batch.append(follower)
        return batch

    async def _greet(self, message: ChatMessage) -> bool:
        try:
            await self._telegram.send_text(message.chat_id, self._settings.greeting)
        except RecipientBlocked:
            self._metrics.count("PeopleBlocked")
            return False
        return True

    async def _refresh_on_contact(self, session: Session, person: Person, steps: Steps) -> Session:
        """The person wrote: keep their card fresh, lift a blocked flag, reopen a closed topic."""
        changes: dict[str, object] = {}
        if session.person != person:
            changes["person"] = person
        if session.blocked:
            changes["blocked"] = False
        if session.status is SessionStatus.CLOSED or steps.done("reopened"):
            changes["status"] = SessionStatus.OPEN
            await steps.once("reopened", lambda: self._reopen_topic(session))
            await self._note(
                session,
                texts.REOPENED_BY_PERSON.format(name=person.full_name),
                steps=steps,
                step="reopened-note",
            )
        if changes:
            self._sessions.update(person.user_id, **changes)
            session = session.with_changes(**changes)
        return session

    async def _reopen_topic(self, session: Session) -> bool:
        assert session.thread_id is not None
        # Already open, or gone (the next send recreates it): both fine.
        with contextlib.suppress(NotModified, TopicMissing):
            await self._telegram.reopen_topic(session.operator_chat_id, session.thread_id)
        return True

    async def _copy_one_to_topic(
        self, session: Session, message: ChatMessage, steps: Steps
    ) -> None:
        reply_to = self._peer_id(message.chat_id, message.reply_to_message_id)

        async def send(current: Session) -> int:
            assert current.thread_id is not None
            return await self._telegram.copy_message(
                current.operator_chat_id,
                message.chat_id,
                message.message_id,
                thread_id=current.thread_id,
                reply_to=reply_to,
            )

        step = f"copy#{message.message_id}"
        try:
            copied, session = await self._into_topic(session, send, steps, step)
        except NotCopyable:
            self._metrics.count("NotCopyable")
            await self._note(
                session,
                texts.NOT_COPYABLE_FROM_PERSON.format(
                    name=session.person.full_name, kind=message.kind
                ),
                steps=steps,
                step=f"{step}:not-copyable",
            )
            return
        await self._after_send(
            lambda: self._messages.link(
                MessageRef(message.chat_id, message.message_id),
                MessageRef(session.operator_chat_id, copied),
            )
        )

    async def _copy_many_to_topic(
        self, session: Session, batch: Sequence[ChatMessage], steps: Steps
    ) -> None:
        ids = [message.message_id for message in batch]

        async def send(current: Session) -> list[int]:
            assert current.thread_id is not None
            return await self._telegram.copy_messages(
                current.operator_chat_id, batch[0].chat_id, ids, thread_id=current.thread_id
            )

        try:
            copied, session = await self._into_topic(session, send, steps, "copies")
        except NotCopyable:
            # One of them cannot be copied: go one by one so only that one is skipped.
            for message in batch:
                await self._copy_one_to_topic(session, message, steps)
            return
        if len(copied) != len(batch):
            # Telegram skips what it cannot copy without saying which; without a sure
            # pairing we record nothing rather than thread replies to the wrong message.
            self._metrics.count("CopyMessagesPartial")
            return
        await self._link_all(batch, session.operator_chat_id, copied)

    async def _link_all(
        self, sources: Sequence[ChatMessage], chat_id: int, ids: Sequence[int]
    ) -> None:
        """Map each message to its copy in ``chat_id`` (bookkeeping after the send)."""
        for message, copy_id in zip(sources, ids, strict=False):
            await self._after_send(
                partial(
                    self._messages.link,
                    MessageRef(message.chat_id, message.message_id),
                    MessageRef(chat_id, copy_id),
                )
            )

    def _peer_id(self, chat_id: int, message_id: int | None) -> int | None:
        if message_id is None:
            return None
        peer = self._messages.peer(MessageRef(chat_id, message_id))
        return peer.message_id if peer else None

    async def _into_topic(
        self, session: Session, send: Callable[[Session], Awaitable[T]], steps: Steps, step: str
    ) -> tuple[T, Session]:
        """Send into the person's topic as step ``step``; recreate a deleted topic, reopen a
        closed one."""
        if steps.done(step):
            return steps.result(step), session
        if steps.done("recreated") and not steps.done("recreated-card"):
            session = await self._recreate_topic(session, steps)  # finish what a retry began
        try:
            value = await send(session)
        except TopicMissing:
            session = await self._recreate_topic(session, steps)
            value = await send(session)
        except TopicClosed:
            await self._reopen_topic(session)
            value = await send(session)
        await steps.mark(step, value)
        return value, session

    async def _after_send(self, write: Callable[[], object], *, required: bool = False) -> None:
        """Bookkeeping after a message went out. The send cannot be undone, so failing the
        record now would only send it again on retry: retry the write briefly instead, then
        (unless ``required``) go on without it (a reply or edit may lose its threading)."""
        for delay in BOOKKEEPING_RETRY_DELAYS:
            try:
                write()
                return
            except StorageUnavailable as error:
                last = error
                await asyncio.sleep(delay)
        if required:
            raise last
        self._metrics.count("BookkeepingSkipped")
        logger.warning("bookkeeping after a send skipped: %s", last)

    # ------------------------------------------------------------------ sessions & topics

    async def _ensure_session(self, person: Person, steps: Steps) -> Session:
        """The person's session with a topic and a contact card, created race-free."""
        session = self._sessions.get(person.user_id)
        if session is None or not session.has_topic:
            session = await self._create_topic(person, session, steps)
        if not session.card_posted:
            await self._post_card(session, steps)
            session = session.with_changes(card_posted=True)
        return session

    async def _create_topic(
        self, person: Person, existing: Session | None, steps: Steps
    ) -> Session:
        created = steps.result("topic")  # [chat, thread]: made by an attempt that then failed
        if created is not None:
            chat_id = int(created[0])
        else:
            chat_id = existing.operator_chat_id if existing else self._shards.pick()
        owner = self._settings.owner_id
        now = self._clock.now()
        lease = self._settings.topic_claim_lease_seconds
        if not self._sessions.claim_topic_creation(person, chat_id, owner, now, lease):
            current = self._sessions.get(person.user_id)
            if current is not None and current.has_topic:
                return current
            raise TopicBeingCreated(f"topic for {person.user_id} is being created elsewhere")

        async def create() -> list[int]:
            return [chat_id, await self._telegram.create_topic(chat_id, texts.topic_name(person))]

        try:
            _, thread_id = await steps.once("topic", create)
        except Exception:
            self._sessions.release_claim(person.user_id, owner)
            raise
        # The topic exists now; losing track of it would create a second one on retry.
        await self._after_send(
            lambda: self._sessions.attach_topic(person.user_id, chat_id, thread_id, owner),
            required=True,
        )
        self._metrics.count("TopicsCreated")
        current = self._sessions.get(person.user_id)
        assert current is not None and current.has_topic
        return current

    async def _post_card(self, session: Session, steps: Steps) -> None:
        assert session.thread_id is not None

        async def post() -> int:
            return await self._telegram.send_text(
                session.operator_chat_id,
                texts.contact_card(session.person),
                thread_id=session.thread_id,
            )

        await steps.once("card", post)
        await self._after_send(lambda: self._sessions.update(session.user_id, card_posted=True))

    async def _recreate_topic(self, session: Session, steps: Steps) -> Session:
        assert session.thread_id is not None
        old_thread = session.thread_id

        async def create() -> int:
            return await self._telegram.create_topic(
                session.operator_chat_id, texts.topic_name(session.person)
            )

        new_thread = int(await steps.once("recreated", create))
        if new_thread != old_thread:
            self._sessions.replace_topic(session.user_id, old_thread, new_thread)
            self._metrics.count("TopicsRecreated")
        session = session.with_changes(thread_id=new_thread, status=SessionStatus.OPEN)

        async def card() -> int:
            return await self._telegram.send_text(
                session.operator_chat_id,
                f"{texts.contact_card(session.person)}\n\n{texts.TOPIC_RECREATED}",
                thread_id=new_thread,
            )

        await steps.once("recreated-card", card)
        return session

    async def _note(
        self,
        session: Session,
        text: str,
        *,
        steps: Steps,
        step: str,
        reply_to: int | None = None,
    ) -> int:
        """Tell the operators something inside the person's topic (once: step ``step``);
        returns the note's id."""

        async def send(current: Session) -> int:
            return await self._telegram.send_text(
                current.operator_chat_id, text, thread_id=current.thread_id, reply_to=reply_to
            )

        note_id, _ = await self._into_topic(session, send, steps, step)
        return int(note_id)

    # ------------------------------------------------------------------ topic -> person

    async def group_messages(self, run: Sequence[ChatMessage], steps: Steps | None = None) -> None:
        """A message in an operators' group: answers in a person's topic go to the person.
        ``run``: the message and the rest of its album (same topic, same media group), which
        go to the person as one album."""
        steps = steps or Steps()
        message = run[0]
        if message.addressed_elsewhere:
            return  # /close@some_other_bot is not ours, and not an answer either
        session = self._topic_session(message)
        if session is None and self._in_ops_topic(message):
            await self._ops_command(message, steps)
            return
        if session is None or message.is_service:
            return
        if not steps.recorded and self._already_relayed(message):
            return
        command = message.command
        if command is not None:
            ack_id = await self._command(session, message, command, steps)
            # The command is linked to its answer so that a redelivery does not run it again.
            await self._after_send(
                lambda: self._messages.link(
                    MessageRef(message.chat_id, message.message_id),
                    MessageRef(message.chat_id, ack_id),
                )
            )
            return
        album = self._album(run)
        outcome = await steps.once("deliver", lambda: self._deliver(session, album))
        if isinstance(outcome, str):
            await self._undelivered(session, message, outcome, steps)
            return
        await self._link_all(album, session.user_id, outcome)
        await self._after_send(
            lambda: steps.once_sync(
                "counted", lambda: self._sessions.increment(session.user_id, "messages_out")
            )
        )
        if session.blocked:
            await self._after_send(lambda: self._sessions.update(session.user_id, blocked=False))
        self._metrics.count("MessagesToPeople", len(album))
        await steps.once("receipt", lambda: self._receipt(message))

    async def _undelivered(
        self, session: Session, message: ChatMessage, why: str, steps: Steps
    ) -> None:
        """The answer cannot reach the person: say so under it, once. Never retried: the
        person is marked, the note is the operators' answer."""
        if why == "blocked":
            self._metrics.count("UndeliveredBlocked")
            if not session.blocked:
                self._sessions.update(session.user_id, blocked=True)
            text = texts.NOT_DELIVERED_BLOCKED.format(name=session.person.full_name)
        else:
            self._metrics.count("NotCopyable")
            text = texts.NOT_DELIVERED_NOT_COPYABLE.format(kind=message.kind)
        await self._note(
            session, text, steps=steps, step="undelivered-note", reply_to=message.message_id
        )

    def _album(self, run: Sequence[ChatMessage]) -> list[ChatMessage]:
        """The answer and the rest of its album in this batch (copied as one album)."""
        first = run[0]
        if first.media_group_id is None:
            return [first]
        album = [first]
        for part in run[1:]:
            if (
                part.media_group_id != first.media_group_id
                or part.chat_id != first.chat_id
                or part.thread_id != first.thread_id
                or len(album) == COPY_MESSAGES_LIMIT
            ):
                break
            if not self._already_relayed(part):
                album.append(part)
        return album

    async def _deliver(self, session: Session, album: Sequence[ChatMessage]) -> list[int] | str:
        """Copy an operator's answer (or album) to the person: the copies' ids, or why not."""
        first = album[0]
        try:
            if len(album) > 1:
                return await self._telegram.copy_messages(
                    session.user_id, first.chat_id, [part.message_id for part in album]
                )
            reply_to = self._peer_id(first.chat_id, first.reply_to_message_id)
            return [
                await self._telegram.copy_message(
                    session.user_id, first.chat_id, first.message_id, reply_to=reply_to
                )
            ]
        except RecipientBlocked:
            return "blocked"
        except NotCopyable:
            return "not-copyable"

    def _in_ops_topic(self, message: ChatMessage) -> bool:
        """A command in the ops topic, or in General (before any alert created the ops
        topic, that is where operators can reach the bot)."""
        if message.from_bot or message.command is None:
            return False
        if not self.is_operator_chat(message.chat_id):
            return False
        if not message.is_topic_message:
            return True
        return self._sessions.ops_thread(message.chat_id) == message.thread_id

    async def _ops_command(self, message: ChatMessage, steps: Steps) -> None:
        if self._broadcasts is None or (not steps.recorded and self._already_relayed(message)):
            return
        await self._broadcasts.command(message, message.reply_to_message_id, steps)
        # Marked as handled, so a redelivered /broadcast or /confirm does nothing twice.
        handled = MessageRef(message.chat_id, message.message_id)
        await self._after_send(lambda: self._messages.link(handled, handled))

    async def group_edit(self, message: ChatMessage) -> None:
        if self._topic_session(message) is not None:
            await self._mirror_edit(message)

    def _topic_session(self, message: ChatMessage) -> Session | None:
        """The session whose topic ``message`` is in; None for bots' messages, the General
        topic, the ops topic and any topic that is not a person's."""
        if message.from_bot or not self.is_operator_chat(message.chat_id):
            return None
        if not message.is_topic_message or message.thread_id is None:
            return None
        user_id = self._sessions.user_for_topic(message.chat_id, message.thread_id)
        return self._sessions.get(user_id) if user_id is not None else None

    async def _receipt(self, message: ChatMessage) -> bool:
        """Delivery receipt: a reaction on the operator's message. Best effort, but a 429
        is not a reason to drop it: the record comes back for it."""
        try:
            await self._telegram.react(
                message.chat_id, message.message_id, self._settings.delivered_reaction
            )
        except (MessageGone, NotModified, TopicMissing):
            return False
        return True

    async def _mirror_edit(self, message: ChatMessage) -> None:
        peer = self._messages.peer(MessageRef(message.chat_id, message.message_id))
        if peer is None or message.text is None or message.command is not None:
            self._metrics.count("EditsNotMirrored")
            return
        try:
            if message.has_caption_slot:
                await self._telegram.edit_caption(peer.chat_id, peer.message_id, message.text)
            else:
                await self._telegram.edit_text(peer.chat_id, peer.message_id, message.text)
        except (NotModified, MessageGone, RecipientBlocked, TopicMissing):
            self._metrics.count("EditsNotMirrored")
            return
        self._metrics.count("EditsMirrored")

    # ------------------------------------------------------------------ membership

    async def membership(
        self, person: Person, *, blocked: bool, steps: Steps | None = None
    ) -> None:
        """``my_chat_member`` in a private chat: the person blocked or restored the bot."""
        steps = steps or Steps()
        session = self._sessions.get(person.user_id)
        if session is None or not session.has_topic:
            return
        if session.blocked == blocked and not steps.done("flag"):
            return
        await steps.once("flag", lambda: self._flag_blocked(person.user_id, blocked))
        template = texts.PERSON_BLOCKED if blocked else texts.PERSON_UNBLOCKED
        self._metrics.count("PeopleBlocked" if blocked else "PeopleUnblocked")
        await self._note(
            session, template.format(name=person.full_name), steps=steps, step="membership-note"
        )

    async def _flag_blocked(self, user_id: int, blocked: bool) -> bool:
        self._sessions.update(user_id, blocked=blocked)
        return blocked

    # ------------------------------------------------------------------ commands

    async def _command(
        self, session: Session, message: ChatMessage, command: str, steps: Steps
    ) -> int:
        """Run an operator's command in a topic; returns the id of the bot's answer. Each
        effect is a step: a retried command (its answer met a 429) does not close the topic
        or tell the person again."""
        name = session.person.full_name
        assert session.thread_id is not None
        thread_id = session.thread_id
        if command == "close":
            await steps.once("close-topic", lambda: self._close_topic(session, thread_id))
            self._sessions.update(session.user_id, status=SessionStatus.CLOSED)
            told = await steps.once(
                "told", lambda: self._tell_person(session, texts.TO_PERSON_CLOSED)
            )
            ack = texts.CLOSED_ACK if told else texts.CLOSED_ACK_UNTOLD
            answer = ack.format(name=name)
        elif command == "reopen":
            await steps.once("reopen-topic", lambda: self._reopen_topic(session))
            self._sessions.update(session.user_id, status=SessionStatus.OPEN)
            await steps.once("told", lambda: self._tell_person(session, texts.TO_PERSON_REOPENED))
            answer = texts.REOPENED_ACK.format(name=name)
        elif command == "ban":
            self._sessions.update(session.user_id, banned=True)
            answer = texts.BANNED_ACK.format(name=name)
        elif command == "unban":
            self._sessions.update(session.user_id, banned=False)
            answer = texts.UNBANNED_ACK.format(name=name)
        elif command == "info":
            answer = texts.session_info(session)
        else:
            answer = texts.UNKNOWN_COMMAND
        self._metrics.count("Commands")
        return await self._note(
            session, answer, steps=steps, step="ack", reply_to=message.message_id
        )

    async def _close_topic(self, session: Session, thread_id: int) -> bool:
        with contextlib.suppress(NotModified, TopicMissing):
            await self._telegram.close_topic(session.operator_chat_id, thread_id)
        return True

    async def _tell_person(self, session: Session, text: str) -> bool:
        try:
            await self._telegram.send_text(session.user_id, text)
        except RecipientBlocked:
            if not session.blocked:
                self._sessions.update(session.user_id, blocked=True)
            return False
        return True
