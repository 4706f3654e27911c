"""Value objects of the relay. Built by the Telegram adapter from Bot API updates."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

VISITOR_ID_BASE = 2**60
"""A web widget visitor's ``user_id`` is at least this (``topicdesk.domain.relay.visitors``):
Telegram's user ids have at most 52 significant bits, so the two never meet."""


def is_visitor_id(user_id: int) -> bool:
    """A web widget visitor's user id (no Telegram chat behind it)."""
    return user_id >= VISITOR_ID_BASE


@dataclass(frozen=True)
class Person:
    """Someone who writes to the bot in a private chat, or a web widget visitor (a widget
    session: ``is_visitor``)."""

    user_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    @property
    def is_visitor(self) -> bool:
        """A web widget session, not a Telegram user: reached through the widget only."""
        return is_visitor_id(self.user_id)

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part).strip() or str(
            self.user_id
        )


class SessionStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


COUNT_MARKS = {
    "messages_in": ("relayed_up_to", "relayed_run"),
    "messages_out": ("answered_up_to", "answered_run"),
}
"""What a count of messages moves in the same write (``SessionRepository.increment``'s
``run``): the newest message handled that way and the ids of the run it ended (``Session``'s
fields of those names)."""


@dataclass(frozen=True)
class Session:
    """One person's conversation: which operators' group and topic it lives in."""

    person: Person
    operator_chat_id: int
    thread_id: int | None = None
    status: SessionStatus = SessionStatus.OPEN
    banned: bool = False
    blocked: bool = False
    card_posted: bool = False
    created_at: float = 0.0
    messages_in: int = 0
    messages_out: int = 0
    dropped: int = 0
    slowdown_told_at: float = 0.0
    """When the person was last asked to slow down (told once per flood episode)."""
    relayed_up_to: int | None = None
    """The newest of the person's private messages relayed: a message above it is new. None:
    counted before this mark existed (ask the message map)."""
    relayed_run: tuple[int, ...] = ()
    """The ids of the run that set ``relayed_up_to`` (one ``copyMessages``): handled. A
    message below the mark and not in it asks the message map: Telegram may deliver a
    webhook's updates out of order (the Bot API says so of ``update_id``), so an older
    message arriving after a newer one is not taken for a copy of it."""
    answered_up_to: int | None = None
    """The same for the operators' answers delivered from the person's topic (group message
    ids only grow)."""
    answered_run: tuple[int, ...] = ()
    pace_tat: float | None = None
    """The person's pace (``topicdesk.domain.relay.pace``): when their bucket is next empty
    (GCRA's theoretical arrival time). None: never spent."""

    @property
    def user_id(self) -> int:
        return self.person.user_id

    @property
    def has_topic(self) -> bool:
        return self.thread_id is not None

    def with_changes(self, **changes: object) -> Session:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ChatMessage:
    """A message as the relay needs it: where it is, who sent it, what it is."""

    chat_id: int
    message_id: int
    sender: Person | None
    kind: str
    """`text`, `photo`, `document`, ... or `service` for messages that carry no content."""
    text: str | None = None
    """The text, or the caption of a media message."""
    thread_id: int | None = None
    is_topic_message: bool = False
    reply_to_message_id: int | None = None
    reply_to_sender: Person | None = None
    """Who wrote the message this one replies to (``/assign`` as a reply)."""
    media_group_id: str | None = None
    has_caption_slot: bool = False
    """True for media that can carry a caption (edits then use editMessageCaption)."""
    bot_username: str | None = None
    """Our bot's @username (without @), to tell ``/cmd@us`` from ``/cmd@some_other_bot``."""
    as_group: bool = False
    """Sent as the chat itself (an anonymous admin, or "send as the group"): ``sender`` is
    Telegram's stand-in bot, but a person of the group wrote it."""

    @property
    def is_service(self) -> bool:
        return self.kind == "service"

    def _command_word(self) -> tuple[str, str | None] | None:
        if self.kind != "text" or not self.text or not self.text.startswith("/"):
            return None
        name, _, target = self.text.split(maxsplit=1)[0][1:].partition("@")
        return name.lower(), target or None

    @property
    def addressed_elsewhere(self) -> bool:
        """A command for another bot (``/close@some_other_bot``): not ours to run."""
        word = self._command_word()
        if word is None or word[1] is None or self.bot_username is None:
            return False
        return word[1].lower() != self.bot_username.lower()

    @property
    def command(self) -> str | None:
        """`/close@bot args` -> `close`; None when the text is not a command, or is a
        command addressed to another bot."""
        word = self._command_word()
        if word is None or self.addressed_elsewhere:
            return None
        return word[0] or None

    @property
    def from_bot(self) -> bool:
        """Written by a bot (ours or another), not by a person of the chat."""
        return self.sender is not None and self.sender.is_bot and not self.as_group


@dataclass(frozen=True)
class MessageRef:
    chat_id: int
    message_id: int


@dataclass(frozen=True)
class DeadLetter:
    """An update that could not be processed, as archived by the DLQ processor."""

    archive_id: str
    body: str
    update_id: int | None
    chat_id: int | None
    reason: str
    receive_count: int
    first_failure_at: float
    last_failure_at: float
    sent_at: float
    group_id: str | None = None
    notified: bool = False
    extra: dict[str, str] = field(default_factory=dict)
