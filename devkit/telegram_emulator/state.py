"""The emulated Telegram world: bots, users, chats, forum topics, messages, files.

Everything here is synchronous and runs on the server's event loop; callers in
other threads go through the HTTP control API (or ``EmulatorServer.run_sync``).
The world renders real Bot API objects (``Message``, ``Chat``, ``ChatFullInfo``,
``User``, ``ForumTopic``, ``ChatMember``...) and emits ``Update`` payloads for
every bot that would see an event; the delivery layer queues them.

Telegram behaviours reproduced on purpose (they trip real code):

* a private chat's id is the user's id; supergroup ids look like -100xxxxxxxxxx;
* in a forum, a topic's ``message_thread_id`` is the id of its
  ``forum_topic_created`` service message; messages in a topic carry
  ``message_thread_id`` and ``is_topic_message``, and a message in a topic that
  replies to nothing carries the topic's creation message as
  ``reply_to_message``;
* the General topic has no thread id: its messages have no
  ``message_thread_id``, except replies, which carry the *root message id* of the
  reply thread (and no ``is_topic_message``); sending with
  ``message_thread_id=1`` is refused with ``message thread not found``;
* a ``reply_to_message`` carries no nested ``reply_to_message``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import errors as E
from .callbacks import CallbackQuery
from .errors import ApiError, bad_request, forbidden

JSON = dict[str, Any]

ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
    "can_manage_topics",
)

MEDIA_KINDS = (
    "photo",
    "document",
    "video",
    "animation",
    "audio",
    "voice",
    "video_note",
    "sticker",
)

_FILE_ID_PREFIX = {
    "photo": "AgACAgIAAxkBAA",
    "document": "BQACAgIAAxkBAA",
    "video": "BAACAgIAAxkBAA",
    "animation": "CgACAgIAAxkBAA",
    "audio": "CQACAgIAAxkBAA",
    "voice": "AwACAgIAAxkBAA",
    "video_note": "DQACAgIAAxkBAA",
    "sticker": "CAACAgIAAxkBAA",
}
_MIME = {
    "document": "application/pdf",
    "video": "video/mp4",
    "animation": "video/mp4",
    "audio": "audio/mpeg",
    "voice": "audio/ogg",
}
_PHOTO_SIZES = ((90, 51), (320, 180), (800, 450), (1280, 720))
TOPIC_COLORS_DEFAULT = 7322096


# --------------------------------------------------------------------- records


@dataclass
class User:
    id: int
    first_name: str
    is_bot: bool = False
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: bool = False
    deactivated: bool = False
    hide_forwards: bool = False

    def to_json(self) -> JSON:
        out: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            out["last_name"] = self.last_name
        if self.username:
            out["username"] = self.username
        if self.language_code and not self.is_bot:
            out["language_code"] = self.language_code
        if self.is_premium and not self.is_bot:
            out["is_premium"] = True
        return out

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass
class BotAccount:
    user: User
    token: str
    can_join_groups: bool = True
    can_read_all_group_messages: bool = False
    supports_inline_queries: bool = False
    commands: dict[str, list[JSON]] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.user.id

    def get_me(self) -> JSON:
        return {
            **self.user.to_json(),
            "can_join_groups": self.can_join_groups,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": self.supports_inline_queries,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }


@dataclass
class Member:
    user_id: int
    status: str = "member"  # creator | administrator | member | restricted | left | kicked
    rights: dict[str, bool] = field(default_factory=dict)

    @property
    def present(self) -> bool:
        return self.status in {"creator", "administrator", "member", "restricted"}

    @property
    def is_admin(self) -> bool:
        return self.status in {"creator", "administrator"}

    def can(self, right: str) -> bool:
        if self.status == "creator":
            return True
        return self.status == "administrator" and self.rights.get(right, False)


@dataclass
class Topic:
    thread_id: int
    name: str
    icon_color: int
    icon_custom_emoji_id: str | None = None
    closed: bool = False
    deleted: bool = False

    def to_json(self) -> JSON:
        out: JSON = {
            "message_thread_id": self.thread_id,
            "name": self.name,
            "icon_color": self.icon_color,
        }
        if self.icon_custom_emoji_id:
            out["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return out


@dataclass
class FileRecord:
    kind: str
    file_id: str
    file_unique_id: str
    file_size: int
    attrs: JSON = field(default_factory=dict)
    sizes: list[FileRecord] = field(default_factory=list)  # photo: the PhotoSize list
    data: bytes | None = None
    path: str = ""

    def to_json(self) -> Any:
        if self.kind == "photo":
            return [s.object_json() for s in self.sizes]
        return self.object_json()

    def object_json(self) -> JSON:
        """The file's own object (for a photo: one ``PhotoSize``)."""
        out: JSON = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        out.update(self.attrs)
        out["file_size"] = self.file_size
        return out


@dataclass
class Message:
    chat_key: ChatKey
    message_id: int
    date: int
    sender_id: int | None
    content: JSON
    thread_id: int | None = None
    is_topic_message: bool = False
    reply_to: int | None = None
    external_reply: JSON | None = None
    quote: JSON | None = None
    media_group_id: str | None = None
    edit_date: int | None = None
    forward_origin: JSON | None = None
    reply_markup: JSON | None = None
    service: bool = False
    protected: bool = False
    deleted: bool = False
    pinned: bool = False
    reactions: dict[int, list[JSON]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        for key in ("text", *MEDIA_KINDS, "location", "contact"):
            if key in self.content:
                return key
        return next(iter(self.content), "service")

    @property
    def file(self) -> FileRecord | None:
        for value in self.content.values():
            if isinstance(value, FileRecord):
                return value
        return None


ChatKey = tuple[str, int, int]  # ("p", bot_id, user_id) or ("g", chat_id, 0)


@dataclass
class Chat:
    key: ChatKey
    id: int
    type: str  # private | group | supergroup
    title: str | None = None
    username: str | None = None
    is_forum: bool = False
    description: str | None = None
    members: dict[int, Member] = field(default_factory=dict)
    messages: dict[int, Message] = field(default_factory=dict)
    topics: dict[int, Topic] = field(default_factory=dict)
    next_message_id: int = 1
    migrated_to: int | None = None
    migrated_from: int | None = None
    # private chats only
    user_id: int | None = None
    bot_id: int | None = None
    started: bool = False
    blocked: bool = False

    @property
    def is_private(self) -> bool:
        return self.type == "private"

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def live(self, message_id: int) -> Message | None:
        msg = self.messages.get(message_id)
        return msg if msg is not None and not msg.deleted else None


Emitter = Callable[[int, str, JSON, int], None]  # (bot_id, update kind, payload, chat id)


# ----------------------------------------------------------------------- world


class World:
    """All state of the emulated Telegram."""

    def __init__(
        self,
        *,
        seed: int = 0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._rng = random.Random(seed)
        self._wall = wall_clock
        self.bots: dict[int, BotAccount] = {}
        self.bots_by_token: dict[str, BotAccount] = {}
        self.users: dict[int, User] = {}
        self.chats: dict[ChatKey, Chat] = {}
        self.groups: dict[int, Chat] = {}
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self._user_ids = itertools.count(5_000_000_001)
        self._supergroup_ids = itertools.count(1_000_000_001)
        self._group_ids = itertools.count(4_000_001)
        self._media_groups = itertools.count(13_000_000_000_000_001)
        self._file_seq = itertools.count(1)
        self.emitters: list[Emitter] = []
        self.callback_queries: dict[str, CallbackQuery] = {}
        """Buttons pressed (``callbacks.press``), by query id."""

    # ------------------------------------------------------------ basics

    def now(self) -> int:
        return int(self._wall())

    def emit(self, bot_id: int, kind: str, payload: JSON, chat_id: int) -> None:
        for emitter in self.emitters:
            emitter(bot_id, kind, payload, chat_id)

    # ------------------------------------------------------------ seeding

    def add_bot(
        self,
        token: str,
        *,
        username: str,
        first_name: str,
        can_read_all_group_messages: bool = False,
    ) -> BotAccount:
        bot_id = int(token.split(":", 1)[0])
        if bot_id in self.bots or token in self.bots_by_token:
            raise ValueError(f"bot {bot_id} exists")
        user = User(id=bot_id, first_name=first_name, is_bot=True, username=username)
        bot = BotAccount(
            user=user, token=token, can_read_all_group_messages=can_read_all_group_messages
        )
        self.bots[bot_id] = bot
        self.bots_by_token[token] = bot
        self.users[bot_id] = user
        return bot

    def add_user(self, first_name: str, *, user_id: int | None = None, **profile: Any) -> User:
        """A new person; ``profile``: the other ``User`` fields (``language_code`` "en" unless
        given)."""
        uid = user_id if user_id is not None else next(self._user_ids)
        if uid in self.users:
            raise ValueError(f"user {uid} exists")
        user = User(id=uid, first_name=first_name, **{"language_code": "en", **profile})
        self.users[uid] = user
        return user

    def private_chat(self, bot: BotAccount, user: User) -> Chat:
        key: ChatKey = ("p", bot.id, user.id)
        chat = self.chats.get(key)
        if chat is None:
            chat = Chat(key=key, id=user.id, type="private", user_id=user.id, bot_id=bot.id)
            self.chats[key] = chat
        return chat

    def add_group(
        self,
        title: str,
        *,
        forum: bool = True,
        supergroup: bool = True,
        username: str | None = None,
        members: list[tuple[int, str, dict[str, bool]]] = (),  # type: ignore[assignment]
        chat_id: int | None = None,
    ) -> Chat:
        if chat_id is None:
            chat_id = (
                -(1_000_000_000_000 + next(self._supergroup_ids))
                if supergroup
                else -next(self._group_ids)
            )
        if chat_id in self.groups:
            raise ValueError(f"chat {chat_id} exists")
        chat = Chat(
            key=("g", chat_id, 0),
            id=chat_id,
            type="supergroup" if supergroup else "group",
            title=title,
            username=username,
            is_forum=forum and supergroup,
        )
        for user_id, status, rights in members:
            chat.members[user_id] = Member(user_id, status, dict(rights))
        self.chats[chat.key] = chat
        self.groups[chat_id] = chat
        # Message 1 is the creation service message, as in a real group; in a
        # forum, id 1 is also what the General topic is called.
        creator = next((m.user_id for m in chat.members.values() if m.status == "creator"), None)
        created = "supergroup_chat_created" if supergroup else "group_chat_created"
        self.add_message(
            chat, sender_id=creator, content={created: True}, service=True, notify=False
        )
        return chat

    # ------------------------------------------------------------ files

    def _random_token(self, n: int) -> str:
        raw = bytes(self._rng.getrandbits(8) for _ in range(n))
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _new_file_record(
        self, kind: str, size: int, attrs: JSON, data: bytes | None = None
    ) -> FileRecord:
        seq = next(self._file_seq)
        file_id = _FILE_ID_PREFIX.get(kind, "BQACAgIAAxkBAA") + self._random_token(48)
        unique = "AQAD" + self._random_token(12)
        ext = {"photo": "jpg", "voice": "oga", "video": "mp4", "animation": "mp4"}.get(kind, "bin")
        folder = {"photo": "photos", "voice": "voice", "video": "videos"}.get(kind, "documents")
        record = FileRecord(
            kind, file_id, unique, size, attrs, data=data, path=f"{folder}/file_{seq}.{ext}"
        )
        self.files[file_id] = record
        self.files_by_path[record.path] = record
        return record

    def new_file(
        self,
        kind: str,
        *,
        data: bytes | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
        duration: int = 3,
        width: int | None = None,
        height: int | None = None,
        emoji: str | None = None,
    ) -> FileRecord:
        """A new file of ``kind`` on the emulated servers (an upload or a person's media)."""
        size = len(data) if data is not None else 10_000 + self._rng.randrange(90_000)
        if kind == "photo":
            sizes = []
            for w, h in _PHOTO_SIZES:
                part = self._new_file_record(
                    "photo", max(1, size * w // 1280), {"width": w, "height": h}, data
                )
                sizes.append(part)
            top = sizes[-1]
            for part in sizes:
                part.sizes = sizes
            return top
        attrs: JSON = {}
        if kind in {"video", "animation"}:
            attrs.update({"width": width or 1280, "height": height or 720, "duration": duration})
        elif kind in {"audio", "voice"}:
            attrs["duration"] = duration
        elif kind == "video_note":
            attrs.update({"length": width or 240, "duration": duration})
        elif kind == "sticker":
            attrs.update(
                {
                    "type": "regular",
                    "width": width or 512,
                    "height": height or 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": emoji or "\U0001f600",
                }
            )
        if kind in {"document", "video", "animation", "audio"}:
            attrs["file_name"] = file_name or f"file.{_MIME.get(kind, 'x/bin').split('/')[1]}"
        if kind in _MIME or mime_type:
            attrs["mime_type"] = mime_type or _MIME[kind]
        return self._new_file_record(kind, size, attrs, data)

    def file_by_id(self, file_id: str) -> FileRecord | None:
        return self.files.get(file_id)

    def file_for_send(self, kind: str, file_id: str) -> FileRecord:
        record = self.files.get(file_id)
        if record is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if record.kind != kind:
            raise bad_request("type of file mismatch")
        if kind == "photo":
            return record.sizes[-1]
        return record

    # ------------------------------------------------------------ lookups

    def user(self, user_id: int) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise KeyError(f"no user {user_id}")
        return user

    def group(self, chat_id: int) -> Chat:
        chat = self.groups.get(chat_id)
        if chat is None:
            raise KeyError(f"no group {chat_id}")
        return chat

    def chat_for_bot(self, bot: BotAccount, chat_ref: int | str, *, sending: bool) -> Chat:
        """Resolve ``chat_id`` as a bot sees it; raise Telegram's errors."""
        if isinstance(chat_ref, str):
            name = chat_ref.lstrip("@").lower()
            for group in self.groups.values():
                if group.username and group.username.lower() == name:
                    return self._check_group_access(bot, group, sending=sending)
            raise bad_request(E.CHAT_NOT_FOUND)
        if chat_ref > 0:
            user = self.users.get(chat_ref)
            if user is None:
                raise bad_request(E.CHAT_NOT_FOUND)
            if user.is_bot:
                if sending:
                    raise forbidden("bot can't send messages to bots")
                raise bad_request(E.CHAT_NOT_FOUND)
            chat = self.chats.get(("p", bot.id, user.id))
            if chat is None or not chat.started:
                if sending:
                    raise forbidden("bot can't initiate conversation with a user")
                raise bad_request(E.CHAT_NOT_FOUND)
            if sending:
                if user.deactivated:
                    raise forbidden("user is deactivated")
                if chat.blocked:
                    raise forbidden("bot was blocked by the user")
            return chat
        found = self.groups.get(chat_ref)
        if found is None:
            raise bad_request(E.CHAT_NOT_FOUND)
        return self._check_group_access(bot, found, sending=sending)

    def _check_group_access(self, bot: BotAccount, chat: Chat, *, sending: bool) -> Chat:
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        member = chat.members.get(bot.id)
        kind = "supergroup" if chat.type == "supergroup" else "group"
        if member is None or member.status == "left":
            if sending:
                raise forbidden(f"bot is not a member of the {kind} chat")
            raise bad_request(E.CHAT_NOT_FOUND)
        if member.status == "kicked":
            raise forbidden(f"bot was kicked from the {kind} chat")
        return chat

    def message_in(self, chat: Chat, message_id: int) -> Message | None:
        return chat.live(message_id)

    # ------------------------------------------------------------ threads

    def thread_for_send(
        self,
        chat: Chat,
        thread_id: int | None,
        sender_id: int,
        *,
        for_action: bool = False,
    ) -> int | None:
        """Validate ``message_thread_id`` for a message from ``sender_id``; return the topic id."""
        if thread_id is None:
            return None
        if chat.is_forum:
            if thread_id == 1 and for_action:
                return None
            topic = chat.topics.get(thread_id)
            if topic is None or topic.deleted:
                raise bad_request(E.THREAD_NOT_FOUND)
            if topic.closed and not self.can_manage_topics(chat, sender_id):
                raise bad_request(E.TOPIC_CLOSED)
            return thread_id
        if chat.type == "supergroup" and chat.live(thread_id) is not None:
            return None  # a reply thread in an ordinary supergroup: accepted, no topic
        raise bad_request(E.THREAD_NOT_FOUND)

    def can_manage_topics(self, chat: Chat, user_id: int) -> bool:
        member = chat.members.get(user_id)
        return member is not None and member.can("can_manage_topics")

    # ------------------------------------------------------------ messages

    def add_message(
        self,
        chat: Chat,
        *,
        topic_id: int | None = None,
        reply_to: Message | None = None,
        notify: bool = True,
        message_id: int | None = None,
        **fields: Any,
    ) -> Message:
        """Store a new message; emit ``message`` updates to every bot that sees it.

        ``fields``: the ``Message`` fields its sender sets (``sender_id`` and ``content``,
        and as needed ``service``, ``media_group_id``, ``forward_origin``, ``quote``...);
        the thread and the reply follow from ``topic_id`` and ``reply_to``.
        """
        msg = Message(
            chat_key=chat.key,
            message_id=message_id if message_id is not None else chat.take_message_id(),
            date=self.now(),
            **fields,
        )
        if reply_to is not None:
            msg.reply_to = reply_to.message_id
        if chat.is_forum:
            if topic_id is None and reply_to is not None:
                topic_id = reply_to.thread_id if reply_to.is_topic_message else None
                if topic_id is None:
                    msg.thread_id = reply_to.thread_id or reply_to.message_id
            if topic_id is not None:
                msg.thread_id = topic_id
                msg.is_topic_message = True
        elif chat.type == "supergroup" and reply_to is not None:
            msg.thread_id = reply_to.thread_id or reply_to.message_id
        chat.messages[msg.message_id] = msg
        if notify:
            self.emit_message_update(chat, msg, "message")
        return msg

    def new_media_group_id(self) -> str:
        return str(next(self._media_groups))

    def emit_message_update(self, chat: Chat, msg: Message, kind: str) -> None:
        for bot in self.bots_seeing(chat, msg):
            self.emit(bot.id, kind, self.render_message(msg), chat.id)

    def bots_seeing(self, chat: Chat, msg: Message) -> Iterator[BotAccount]:
        if chat.is_private:
            assert chat.bot_id is not None
            if msg.sender_id != chat.bot_id:
                yield self.bots[chat.bot_id]
            return
        for member in chat.members.values():
            bot = self.bots.get(member.user_id)
            if bot is None or not member.present or bot.id == msg.sender_id:
                continue
            if (
                member.is_admin
                or bot.can_read_all_group_messages
                or self._privacy_passes(bot, chat, msg)
            ):
                yield bot

    def bots_in_chat(self, chat: Chat, *, exclude: int | None = None) -> Iterator[BotAccount]:
        """Bots that receive chat-wide events (reactions): the private chat's bot, group admins."""
        if chat.is_private:
            assert chat.bot_id is not None
            if chat.bot_id != exclude:
                yield self.bots[chat.bot_id]
            return
        for member in chat.members.values():
            bot = self.bots.get(member.user_id)
            if bot is not None and bot.id != exclude and member.present and member.is_admin:
                yield bot

    def _privacy_passes(self, bot: BotAccount, chat: Chat, msg: Message) -> bool:
        """Privacy mode: commands, replies to the bot, and service messages only."""
        if msg.service:
            return True
        text = str(msg.content.get("text") or msg.content.get("caption") or "")
        if text.startswith("/"):
            return True
        if msg.reply_to is not None:
            target = chat.messages.get(msg.reply_to)
            return target is not None and target.sender_id == bot.id
        return False

    def delete_message(self, chat: Chat, msg: Message) -> None:
        msg.deleted = True

    # ------------------------------------------------------------ rendering

    def render_user(self, user_id: int) -> JSON:
        return self.user(user_id).to_json()

    def render_chat(self, chat: Chat) -> JSON:
        if chat.is_private:
            assert chat.user_id is not None
            user = self.user(chat.user_id)
            out: JSON = {"id": chat.id, "type": "private", "first_name": user.first_name}
            if user.last_name:
                out["last_name"] = user.last_name
            if user.username:
                out["username"] = user.username
            return out
        out = {"id": chat.id, "type": chat.type, "title": chat.title}
        if chat.username:
            out["username"] = chat.username
        if chat.is_forum:
            out["is_forum"] = True
        return out

    def render_chat_full(self, chat: Chat, bot: BotAccount) -> JSON:
        out = self.render_chat(chat)
        out.update(
            {
                "accent_color_id": chat.id % 7,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        if chat.is_private:
            if self.user(chat.id).hide_forwards:
                out["has_private_forwards"] = True
        else:
            out["permissions"] = {
                "can_send_messages": True,
                "can_send_audios": True,
                "can_send_documents": True,
                "can_send_photos": True,
                "can_send_videos": True,
                "can_send_video_notes": True,
                "can_send_voice_notes": True,
                "can_send_polls": True,
                "can_send_other_messages": True,
                "can_add_web_page_previews": True,
                "can_change_info": False,
                "can_invite_users": True,
                "can_pin_messages": False,
                "can_manage_topics": False,
            }
            if chat.description:
                out["description"] = chat.description
        return out

    def render_member(self, chat: Chat, user_id: int) -> JSON:
        user = self.render_user(user_id)
        if chat.is_private:
            return {"status": "member", "user": user}
        member = chat.members.get(user_id)
        if member is None:
            return {"status": "left", "user": user}
        if member.status == "creator":
            return {"status": "creator", "user": user, "is_anonymous": False}
        if member.status == "administrator":
            out: JSON = {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
            }
            for right in ADMIN_RIGHTS:
                out[right] = bool(member.rights.get(right, False))
            return out
        if member.status == "kicked":
            return {"status": "kicked", "user": user, "until_date": 0}
        if member.status == "left":
            return {"status": "left", "user": user}
        return {"status": "member", "user": user}

    def render_message(self, msg: Message, *, nested: bool = False) -> JSON:
        chat = self.chats[msg.chat_key]
        out: JSON = {"message_id": msg.message_id}
        if msg.sender_id is not None:
            out["from"] = self.render_user(msg.sender_id)
        out["chat"] = self.render_chat(chat)
        out["date"] = msg.date
        if msg.thread_id is not None:
            out["message_thread_id"] = msg.thread_id
        if msg.is_topic_message:
            out["is_topic_message"] = True
        if not nested:
            target: Message | None = None
            if msg.reply_to is not None:
                target = chat.live(msg.reply_to)
            elif msg.is_topic_message and msg.thread_id != msg.message_id:
                assert msg.thread_id is not None
                target = chat.live(msg.thread_id)
            if target is not None:
                out["reply_to_message"] = self.render_message(target, nested=True)
        for key in ("external_reply", "quote", "forward_origin", "edit_date"):
            if getattr(msg, key) is not None:
                out[key] = getattr(msg, key)
        if msg.protected:
            out["has_protected_content"] = True
        if msg.media_group_id is not None:
            out["media_group_id"] = msg.media_group_id
        for key, value in msg.content.items():
            if key.startswith("_"):
                continue
            if key in MEDIA_KINDS and isinstance(value, FileRecord):
                out[key] = value.to_json()
            elif key in ("entities", "caption_entities"):
                out[key] = self._with_mentioned_users(value)
            else:
                out[key] = value
        if msg.reply_markup is not None:
            out["reply_markup"] = msg.reply_markup
        return out

    def _with_mentioned_users(self, entities: list[JSON]) -> list[JSON]:
        """A text mention (``tg://user?id=``) carries the whole User, as Telegram's do; one
        of a user Telegram does not know is no mention (plain text)."""
        out: list[JSON] = []
        for entity in entities:
            if entity.get("type") == "text_mention":
                uid = int(entity.get("user", {}).get("id", 0))
                if uid not in self.users:
                    continue
                entity = {**entity, "user": self.render_user(uid)}
            out.append(entity)
        return out

    def forward_origin_of(self, msg: Message) -> JSON:
        if msg.forward_origin is not None:
            return msg.forward_origin
        if msg.sender_id is None:
            chat = self.chats[msg.chat_key]
            return {"type": "chat", "date": msg.date, "sender_chat": self.render_chat(chat)}
        user = self.user(msg.sender_id)
        if user.hide_forwards:
            return {"type": "hidden_user", "date": msg.date, "sender_user_name": user.full_name}
        return {"type": "user", "date": msg.date, "sender_user": user.to_json()}

    def transcript(
        self, chat: Chat, thread_id: int | None = None, *, include_deleted: bool = False
    ) -> list[JSON]:
        out = []
        for msg in sorted(chat.messages.values(), key=lambda m: m.message_id):
            if msg.deleted and not include_deleted:
                continue
            if thread_id is not None:
                topic = msg.thread_id if msg.is_topic_message else 1
                if topic != thread_id:
                    continue
            rendered = self.render_message(msg)
            if msg.deleted:
                rendered["_deleted"] = True
            out.append(rendered)
        return out

    # ------------------------------------------------------------ hashing helpers

    @staticmethod
    def content_fingerprint(msg: Message) -> str:
        visible = {
            k: v.file_unique_id if isinstance(v, FileRecord) else v
            for k, v in msg.content.items()
            if not k.startswith("_")
        }
        raw = json.dumps([visible, msg.reply_markup], sort_keys=True, default=str)
        return hashlib.sha256(raw.encode()).hexdigest()


def user_error(message: str) -> ApiError:
    """An error of a control-API action (not a Bot API answer)."""
    return ApiError(400, message)
