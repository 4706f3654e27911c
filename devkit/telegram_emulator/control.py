"""The control side: act as people and operators, inspect, switch faults.

Every action is a plain function of JSON arguments returning JSON, served under
``/_emulator/...`` (see ``ROUTES``) and wrapped by ``EmulatorClient``. Every
person/operator action produces the matching ``Update`` for the bots that
would see it (``message``, ``edited_message``, ``my_chat_member``,
``message_reaction``...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import callbacks
from .errors import ApiError
from .formatting import MAX_CAPTION, MAX_TEXT, format_caption, format_text
from .limits import Limits, ManualClock
from .methods import create_topic, delete_topic, set_topic_closed
from .state import (
    ADMIN_RIGHTS,
    MEDIA_KINDS,
    BotAccount,
    Chat,
    FileRecord,
    Member,
    Message,
    User,
    World,
)

if TYPE_CHECKING:
    from .server import EmulatorServer

JSON = dict[str, Any]


class ControlError(ApiError):
    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(code, message)


@dataclass(frozen=True)
class Route:
    method: str  # HTTP method
    path: str  # below /_emulator
    action: str  # Control method name


ROUTES = (
    Route("POST", "/reset", "reset"),
    Route("GET", "/info", "info"),
    Route("POST", "/bots", "create_bot"),
    Route("POST", "/users", "create_user"),
    Route("POST", "/groups", "create_group"),
    Route("POST", "/groups/{chat_id}/members", "set_member"),
    Route("POST", "/groups/{chat_id}/migrate", "migrate_group"),
    Route("POST", "/users/{user_id}/messages", "send_as_user"),
    Route("POST", "/users/{user_id}/albums", "send_album"),
    Route("POST", "/users/{user_id}/edit", "edit_as_user"),
    Route("POST", "/users/{user_id}/react", "react_as_user"),
    Route("POST", "/users/{user_id}/press", "press_button"),
    Route("GET", "/callbacks/{query_id}", "callback_query"),
    Route("POST", "/users/{user_id}/block", "block_bot"),
    Route("POST", "/users/{user_id}/unblock", "unblock_bot"),
    Route("POST", "/users/{user_id}/deactivate", "deactivate_user"),
    Route("POST", "/users/{user_id}/delete", "delete_as_user"),
    Route("POST", "/chats/{chat_id}/delete", "delete_as_operator"),
    Route("POST", "/chats/{chat_id}/messages", "send_as_operator"),
    Route("POST", "/chats/{chat_id}/edit", "edit_as_operator"),
    Route("POST", "/chats/{chat_id}/topics", "create_topic"),
    Route("GET", "/chats/{chat_id}/topics", "topics"),
    Route("POST", "/chats/{chat_id}/topics/{thread_id}/close", "close_topic"),
    Route("POST", "/chats/{chat_id}/topics/{thread_id}/reopen", "reopen_topic"),
    Route("POST", "/chats/{chat_id}/topics/{thread_id}/delete", "delete_topic"),
    Route("GET", "/chats/{chat_id}/transcript", "transcript"),
    Route("GET", "/calls", "calls"),
    Route("GET", "/violations", "violations"),
    Route("GET", "/stats", "stats"),
    Route("GET", "/updates", "pending_updates"),
    Route("GET", "/deliveries", "deliveries"),
    Route("GET", "/faults", "faults"),
    Route("POST", "/faults", "set_fault"),
    Route("DELETE", "/faults", "clear_faults"),
    Route("GET", "/limits", "limits"),
    Route("POST", "/limits", "set_limits"),
    Route("POST", "/clock/advance", "advance_clock"),
)


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(f"{name} must be an integer") from None


class Control:
    """Control actions over one server's state (call on the server's loop)."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server

    # ------------------------------------------------------------ helpers

    @property
    def world(self) -> World:
        return self.server.world

    def _bot(self, args: JSON) -> BotAccount:
        bot_id = args.get("bot_id")
        if bot_id is None:
            return self.server.bot
        bot = self.world.bots.get(_int(bot_id, "bot_id"))
        if bot is None:
            raise ControlError(f"no bot {bot_id}", 404)
        return bot

    def _user(self, user_id: Any) -> User:
        user = self.world.users.get(_int(user_id, "user_id"))
        if user is None:
            raise ControlError(f"no user {user_id}", 404)
        return user

    def _group(self, chat_id: Any) -> Chat:
        chat = self.world.groups.get(_int(chat_id, "chat_id"))
        if chat is None:
            raise ControlError(f"no group {chat_id}", 404)
        return chat

    def _chat(self, args: JSON) -> Chat:
        chat_id = _int(args["chat_id"], "chat_id")
        if chat_id > 0:
            bot = self._bot(args)
            chat = self.world.chats.get(("p", bot.id, chat_id))
            if chat is None:
                raise ControlError(f"no private chat of user {chat_id} with bot {bot.id}", 404)
            return chat
        return self._group(chat_id)

    def _content(self, args: JSON, *, caption_allowed: bool = True) -> JSON:
        """Message content from a control request: text, or one media kind (+ caption)."""
        media = [k for k in MEDIA_KINDS if args.get(k) not in (None, False)]
        for extra_kind in ("location", "contact"):
            if args.get(extra_kind):
                return {extra_kind: args[extra_kind]}
        if len(media) > 1:
            raise ControlError("one media kind per message")
        if media:
            kind = media[0]
            spec = args[kind]
            if isinstance(spec, str):
                record: FileRecord | None = self.world.file_by_id(spec)
                if record is None or record.kind != kind:
                    raise ControlError(f"no {kind} file {spec}")
                if kind == "photo":
                    record = record.sizes[-1]
            else:
                attrs = spec if isinstance(spec, dict) else {}
                record = self.world.new_file(
                    kind,
                    file_name=attrs.get("file_name"),
                    mime_type=attrs.get("mime_type"),
                    duration=int(attrs.get("duration", 3)),
                )
            content: JSON = {kind: record}
            if caption_allowed and kind not in {"sticker", "video_note"}:
                content.update(format_caption(args))
            return content
        raw_text = args.get("text")
        if not raw_text:
            raise ControlError("text or a media kind is required")
        text, entities = format_text(
            str(raw_text), args.get("parse_mode"), args.get("entities"), limit=MAX_TEXT
        )
        out: JSON = {"text": text}
        if entities:
            out["entities"] = entities
        return out

    def _reply_target(self, chat: Chat, args: JSON) -> Message | None:
        reply_id = args.get("reply_to_message_id")
        if reply_id is None:
            return None
        target = chat.live(_int(reply_id, "reply_to_message_id"))
        if target is None:
            raise ControlError(f"no message {reply_id} in chat {chat.id}")
        return target

    def _message_result(self, msg: Message) -> JSON:
        return {"message": self.world.render_message(msg), "message_id": msg.message_id}

    def _my_chat_member(self, bot: BotAccount, chat: Chat, user: User, old: str, new: str) -> None:
        def member(status: str) -> JSON:
            out: JSON = {"status": status, "user": bot.user.to_json()}
            if status == "kicked":
                out["until_date"] = 0
            return out

        payload = {
            "chat": self.world.render_chat(chat),
            "from": user.to_json(),
            "date": self.world.now(),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        self.world.emit(bot.id, "my_chat_member", payload, chat.id)

    # ------------------------------------------------------------ setup

    def reset(self, args: JSON) -> JSON:
        raise NotImplementedError  # handled by the server (it rebuilds its state)

    def info(self, args: JSON) -> JSON:
        return self.server.info()

    def create_bot(self, args: JSON) -> JSON:
        bot = self.server.add_bot(
            args["token"],
            username=args.get("username") or f"bot{args['token'].split(':')[0]}_bot",
            first_name=args.get("first_name") or "Emulated Bot",
        )
        return {"bot": bot.get_me(), "token": bot.token}

    def create_user(self, args: JSON) -> JSON:
        user = self.world.add_user(
            args.get("first_name") or "Person",
            last_name=args.get("last_name"),
            username=args.get("username"),
            language_code=args.get("language_code", "en"),
            is_premium=bool(args.get("is_premium")),
            user_id=args.get("user_id"),
            hide_forwards=bool(args.get("hide_forwards")),
        )
        bot = self._bot(args)
        chat = self.world.private_chat(bot, user)
        chat.started = bool(args.get("started", False))
        return {"user": user.to_json(), "user_id": user.id, "chat_id": chat.id}

    def create_group(self, args: JSON) -> JSON:
        """A (forum) supergroup or basic group; bots and operators become members."""
        supergroup = bool(args.get("supergroup", True))
        forum = bool(args.get("forum", True)) and supergroup
        bot = self._bot(args)
        bot_rights = {right: True for right in ADMIN_RIGHTS}
        bot_rights["can_manage_topics"] = bool(args.get("bot_can_manage_topics", True))
        bot_rights["can_delete_messages"] = bool(args.get("bot_can_delete_messages", True))
        members: list[tuple[int, str, dict[str, bool]]] = []
        operators = [self._user(u).id for u in args.get("operators", [])]
        for name in args.get("operator_names", []):
            operators.append(self.world.add_user(name, language_code="en").id)
        operator_admin = bool(args.get("operators_admin", True))
        for index, user_id in enumerate(operators):
            if index == 0 and operator_admin:
                members.append((user_id, "creator", {}))
            elif operator_admin:
                members.append((user_id, "administrator", {r: True for r in ADMIN_RIGHTS}))
            else:
                members.append((user_id, "member", {}))
        for user_id in args.get("members", []):
            members.append((self._user(user_id).id, "member", {}))
        bot_status = "administrator" if args.get("bot_admin", True) else "member"
        members.append((bot.id, bot_status, bot_rights if bot_status == "administrator" else {}))
        chat = self.world.add_group(
            args.get("title") or "Operators",
            forum=forum,
            supergroup=supergroup,
            username=args.get("username"),
            members=members,
            chat_id=args.get("chat_id"),
        )
        return {
            "chat": self.world.render_chat(chat),
            "chat_id": chat.id,
            "operators": operators,
        }

    def set_member(self, args: JSON) -> JSON:
        """Set a member's status and rights, e.g. the bot's ``can_manage_topics``."""
        chat = self._group(args["chat_id"])
        user = self._user(args["user_id"])
        member = chat.members.get(user.id)
        status = args.get("status") or (member.status if member else "member")
        rights = dict(member.rights) if member else {}
        rights.update({k: bool(v) for k, v in (args.get("rights") or {}).items()})
        old = self.world.render_member(chat, user.id)
        chat.members[user.id] = Member(user.id, status, rights)
        new = self.world.render_member(chat, user.id)
        bot = self.world.bots.get(user.id)
        if bot is not None and old != new:
            actor = (
                self._admin(chat)
                if any(
                    m.is_admin and m.user_id not in self.world.bots for m in chat.members.values()
                )
                else user.id
            )
            payload = {
                "chat": self.world.render_chat(chat),
                "from": self.world.render_user(actor),
                "date": self.world.now(),
                "old_chat_member": old,
                "new_chat_member": new,
            }
            self.world.emit(bot.id, "my_chat_member", payload, chat.id)
        return {"member": new}

    def migrate_group(self, args: JSON) -> JSON:
        """Upgrade a basic group to a supergroup, like Telegram does."""
        old = self._group(args["chat_id"])
        if old.type != "group" or old.migrated_to is not None:
            raise ControlError("only a basic group that was not migrated can be migrated")
        actor = next((m.user_id for m in old.members.values() if m.status == "creator"), None)
        if actor is None:
            actor = next(iter(old.members))
        members = [(m.user_id, m.status, dict(m.rights)) for m in old.members.values()]
        new = self.world.add_group(
            old.title or "", forum=bool(args.get("forum", False)), supergroup=True, members=members
        )
        new.migrated_from = old.id
        self.world.add_message(
            old, sender_id=actor, content={"migrate_to_chat_id": new.id}, service=True
        )
        old.migrated_to = new.id
        self.world.add_message(
            new, sender_id=actor, content={"migrate_from_chat_id": old.id}, service=True
        )
        return {"old_chat_id": old.id, "new_chat_id": new.id, "chat": self.world.render_chat(new)}

    # ------------------------------------------------------------ people

    def _private(self, args: JSON) -> tuple[BotAccount, User, Chat]:
        user = self._user(args["user_id"])
        bot = self._bot(args)
        chat = self.world.private_chat(bot, user)
        return bot, user, chat

    def send_as_user(self, args: JSON) -> JSON:
        """A person writes to the bot in their private chat (or to a group: ``chat_id``)."""
        if args.get("chat_id") is not None:
            return self.send_as_operator(args)
        _, user, chat = self._private(args)
        if chat.blocked:
            raise ControlError("the person blocked the bot; unblock_bot first")
        content = self._content(args)
        chat.started = True
        msg = self.world.add_message(
            chat,
            sender_id=user.id,
            content=content,
            reply_to=self._reply_target(chat, args),
            forward_origin=args.get("forward_origin"),
        )
        return self._message_result(msg)

    def send_album(self, args: JSON) -> JSON:
        """A person sends an album: ``items`` like ``[{"type": "photo", "caption": "..."}]``."""
        items = args.get("items") or []
        if not 2 <= len(items) <= 10:
            raise ControlError("an album has 2-10 items")
        if args.get("chat_id") is not None:
            chat = self._group(args["chat_id"])
            user = self._user(args["user_id"])
            topic = self._operator_topic(chat, user, args.get("thread_id"))
        else:
            _, user, chat = self._private(args)
            topic = None
            if chat.blocked:
                raise ControlError("the person blocked the bot; unblock_bot first")
            chat.started = True
        group_id = self.world.new_media_group_id()
        messages = []
        for item in items:
            kind = item.get("type", "photo")
            fields = {kind: item.get("media") or item.get(kind) or True}
            if item.get("caption"):
                fields["caption"] = item["caption"]
            messages.append(
                self.world.add_message(
                    chat,
                    sender_id=user.id,
                    content=self._content(fields),
                    media_group_id=group_id,
                    topic_id=topic,
                )
            )
        return {
            "messages": [self.world.render_message(m) for m in messages],
            "message_ids": [m.message_id for m in messages],
            "media_group_id": group_id,
        }

    def _message(self, chat: Chat, args: JSON, *, where: str = "") -> Message:
        """The message ``args["message_id"]`` of ``chat``, unless deleted (else refused)."""
        msg = chat.live(_int(args["message_id"], "message_id"))
        if msg is None:
            raise ControlError(f"no message {args['message_id']}{where}")
        return msg

    def _edit(self, chat: Chat, user: User, args: JSON) -> JSON:
        msg = chat.live(_int(args["message_id"], "message_id"))
        if msg is None or msg.sender_id != user.id or msg.service:
            raise ControlError(f"no editable message {args['message_id']} of user {user.id}")
        content = {k: v for k, v in msg.content.items()}
        if "text" in content:
            if not args.get("text"):
                raise ControlError("text is required to edit a text message")
            text, entities = format_text(
                args["text"], args.get("parse_mode"), args.get("entities"), limit=MAX_TEXT
            )
            content["text"] = text
            content.pop("entities", None)
            if entities:
                content["entities"] = entities
        else:
            content.pop("caption", None)
            content.pop("caption_entities", None)
            if args.get("caption"):
                text, entities = format_text(
                    args["caption"], None, None, limit=MAX_CAPTION, kind="caption"
                )
                content["caption"] = text
                if entities:
                    content["caption_entities"] = entities
        msg.content = content
        msg.edit_date = self.world.now()
        self.world.emit_message_update(chat, msg, "edited_message")
        return self._message_result(msg)

    def edit_as_user(self, args: JSON) -> JSON:
        if args.get("chat_id") is not None:
            return self.edit_as_operator(args)
        _, user, chat = self._private(args)
        return self._edit(chat, user, args)

    def react_as_user(self, args: JSON) -> JSON:
        """A person sets (``emoji``) or removes (no ``emoji``) their reaction."""
        user = self._user(args["user_id"])
        if args.get("chat_id") is not None and _int(args["chat_id"], "chat_id") < 0:
            chat = self._group(args["chat_id"])
        else:
            _, user, chat = self._private(args)
        msg = self._message(chat, args)
        emoji = args.get("emoji")
        new = [{"type": "emoji", "emoji": emoji}] if emoji else []
        old = msg.reactions.get(user.id, [])
        if new:
            msg.reactions[user.id] = new
        else:
            msg.reactions.pop(user.id, None)
        payload = {
            "chat": self.world.render_chat(chat),
            "message_id": msg.message_id,
            "user": user.to_json(),
            "date": self.world.now(),
            "old_reaction": old,
            "new_reaction": new,
        }
        for bot in self.world.bots_in_chat(chat, exclude=user.id):
            self.world.emit(bot.id, "message_reaction", payload, chat.id)
        return {"ok": True, "old_reaction": old, "new_reaction": new}

    def press_button(self, args: JSON) -> JSON:
        """A person taps a ``callback_data`` button under the bot's message ``message_id`` in
        their private chat, or with ``chat_id`` in a group they are a member of (``data``; or
        ``text``: the button's label): a ``callback_query`` update. Returns the query (its
        ``id`` is what the bot must answer)."""
        if args.get("chat_id") is not None:
            bot, user, chat = self._bot(args), self._user(args["user_id"]), self._chat(args)
            member = chat.members.get(user.id)
            if member is None or not member.present:
                raise ControlError(f"user {user.id} is not a member of chat {chat.id}")
        else:
            bot, user, chat = self._private(args)
        msg = self._message(chat, args, where=f" in the chat of user {user.id}")
        data = args.get("data")
        if data is None and args.get("text") is not None:
            rows = (msg.reply_markup or {}).get("inline_keyboard", [])
            labelled = [b for row in rows for b in row if b.get("text") == args["text"]]
            if not labelled:
                raise ControlError(f"no button labelled {args['text']!r}")
            data = labelled[0].get("callback_data")
        if data is None:
            raise ControlError("say which button: data or text")
        return callbacks.press(self.world, bot, user, chat, msg, str(data))

    def callback_query(self, args: JSON) -> JSON:
        """A pressed button's query: whether (and how) the bot answered it."""
        query = self.world.callback_queries.get(str(args["query_id"]))
        if query is None:
            raise ControlError(f"no callback query {args['query_id']}", 404)
        return query.to_json()

    def block_bot(self, args: JSON) -> JSON:
        bot, user, chat = self._private(args)
        if not chat.blocked:
            chat.blocked = True
            self._my_chat_member(bot, chat, user, "member", "kicked")
        return {"blocked": True}

    def unblock_bot(self, args: JSON) -> JSON:
        bot, user, chat = self._private(args)
        if chat.blocked:
            chat.blocked = False
            self._my_chat_member(bot, chat, user, "kicked", "member")
        return {"blocked": False}

    def delete_as_user(self, args: JSON) -> JSON:
        """A person deletes one of their messages (Telegram tells the bot nothing)."""
        if args.get("chat_id") is not None:
            return self.delete_as_operator(args)
        _, _, chat = self._private(args)
        self.world.delete_message(chat, self._message(chat, args))
        return {"deleted": True}

    def delete_as_operator(self, args: JSON) -> JSON:
        """A group member deletes a message (their own, or any as an admin); no update."""
        chat = self._group(args["chat_id"])
        user = self._user(args["user_id"])
        msg = chat.live(_int(args["message_id"], "message_id"))
        member = chat.members.get(user.id)
        if msg is None or member is None:
            raise ControlError(f"no message {args['message_id']} visible to user {user.id}")
        if msg.sender_id != user.id and not member.can("can_delete_messages"):
            raise ControlError("not enough rights to delete the message")
        self.world.delete_message(chat, msg)
        return {"deleted": True}

    def deactivate_user(self, args: JSON) -> JSON:
        user = self._user(args["user_id"])
        user.deactivated = True
        return {"deactivated": True}

    # ------------------------------------------------------------ operators

    def _operator_topic(self, chat: Chat, user: User, thread_id: Any) -> int | None:
        member = chat.members.get(user.id)
        if member is None or not member.present:
            raise ControlError(f"user {user.id} is not a member of chat {chat.id}")
        if thread_id in (None, 1, "1") or not chat.is_forum:
            return None
        thread = _int(thread_id, "thread_id")
        topic = chat.topics.get(thread)
        if topic is None or topic.deleted:
            raise ControlError(f"no topic {thread} in chat {chat.id}")
        if topic.closed and not member.can("can_manage_topics"):
            raise ControlError("TOPIC_CLOSED: the topic is closed for this user")
        return thread

    def send_as_operator(self, args: JSON) -> JSON:
        """A group member (an operator) writes in a topic (``thread_id``; none/1: General)."""
        chat = self._group(args["chat_id"])
        user = self._user(args["user_id"])
        topic = self._operator_topic(chat, user, args.get("thread_id"))
        reply = self._reply_target(chat, args)
        if (
            reply is not None
            and topic is not None
            and not (reply.is_topic_message and reply.thread_id == topic)
        ):
            raise ControlError("the message replied to is in another topic")
        msg = self.world.add_message(
            chat, sender_id=user.id, content=self._content(args), topic_id=topic, reply_to=reply
        )
        return self._message_result(msg)

    def edit_as_operator(self, args: JSON) -> JSON:
        chat = self._group(args["chat_id"])
        return self._edit(chat, self._user(args["user_id"]), args)

    def create_topic(self, args: JSON) -> JSON:
        chat = self._group(args["chat_id"])
        if not chat.is_forum:
            raise ControlError("the chat is not a forum")
        actor = _int(args["user_id"], "user_id") if args.get("user_id") else self._admin(chat)
        colors = self.server.spec.enums["forum_topic_icon_colors"]
        topic = create_topic(
            self.world,
            chat,
            actor,
            args.get("name") or "Topic",
            int(args.get("icon_color", colors[0])),
        )
        return {"topic": topic.to_json(), "message_thread_id": topic.thread_id}

    def _admin(self, chat: Chat) -> int:
        for member in chat.members.values():
            if member.is_admin and member.user_id not in self.world.bots:
                return member.user_id
        raise ControlError("the group has no human administrator")

    def _topic_arg(self, args: JSON) -> tuple[Chat, Any]:
        chat = self._group(args["chat_id"])
        topic = chat.topics.get(_int(args["thread_id"], "thread_id"))
        if topic is None or topic.deleted:
            raise ControlError(f"no topic {args['thread_id']} in chat {chat.id}", 404)
        return chat, topic

    def topics(self, args: JSON) -> JSON:
        chat = self._group(args["chat_id"])
        return {
            "topics": [
                {**t.to_json(), "closed": t.closed, "deleted": t.deleted}
                for t in chat.topics.values()
            ]
        }

    def close_topic(self, args: JSON) -> JSON:
        chat, topic = self._topic_arg(args)
        if not topic.closed:
            actor = _int(args["user_id"], "user_id") if args.get("user_id") else self._admin(chat)
            set_topic_closed(self.world, chat, topic, actor, closed=True)
        return {"closed": True}

    def reopen_topic(self, args: JSON) -> JSON:
        chat, topic = self._topic_arg(args)
        if topic.closed:
            actor = _int(args["user_id"], "user_id") if args.get("user_id") else self._admin(chat)
            set_topic_closed(self.world, chat, topic, actor, closed=False)
        return {"closed": False}

    def delete_topic(self, args: JSON) -> JSON:
        chat, topic = self._topic_arg(args)
        delete_topic(chat, topic)
        return {"deleted": True}

    # ------------------------------------------------------------ inspection

    def transcript(self, args: JSON) -> JSON:
        chat = self._chat(args)
        thread = args.get("thread_id")
        messages = self.world.transcript(
            chat,
            _int(thread, "thread_id") if thread not in (None, "") else None,
            include_deleted=str(args.get("include_deleted", "")).lower() in {"1", "true"},
        )
        return {"messages": messages}

    def calls(self, args: JSON) -> JSON:
        method = args.get("method")
        calls = self.server.call_log
        if method:
            calls = [c for c in calls if c["method"].lower() == str(method).lower()]
        return {"calls": calls}

    def violations(self, args: JSON) -> JSON:
        return {"violations": self.server.flood.violations_json()}

    def stats(self, args: JSON) -> JSON:
        return self.server.stats()

    def pending_updates(self, args: JSON) -> JSON:
        return {"updates": self.server.updates_for(self._bot(args).id).pending_json()}

    def deliveries(self, args: JSON) -> JSON:
        updates = self.server.updates_for(self._bot(args).id)
        return {"deliveries": [d.to_json() for d in updates.deliveries]}

    def faults(self, args: JSON) -> JSON:
        return self.server.faults.to_json()

    def set_fault(self, args: JSON) -> JSON:
        self.server.faults.update(args)
        return self.server.faults.to_json()

    def clear_faults(self, args: JSON) -> JSON:
        self.server.faults.clear()
        return self.server.faults.to_json()

    def limits(self, args: JSON) -> JSON:
        return self.server.flood.limits.to_json()

    def set_limits(self, args: JSON) -> JSON:
        unknown = sorted(set(args) - set(Limits.__dataclass_fields__))
        if unknown:  # a misspelt knob would otherwise be ignored without a word
            raise ControlError(f"unknown limits: {', '.join(unknown)}")
        merged = {**self.server.flood.limits.to_json(), **args}
        self.server.flood.limits = Limits.from_json(merged)
        return self.server.flood.limits.to_json()

    def advance_clock(self, args: JSON) -> JSON:
        clock = self.server.clock
        if not isinstance(clock, ManualClock):
            raise ControlError("the server does not run on a ManualClock")
        return {"now": clock.advance(float(args.get("seconds", 0)))}


ActionFn = Callable[[JSON], JSON]
