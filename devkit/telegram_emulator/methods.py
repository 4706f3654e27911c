"""The Bot API methods the emulator implements, with Telegram's answers and errors."""

from __future__ import annotations

import inspect
import itertools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import callbacks
from . import errors as E
from .delivery import BotUpdates, WebhookConfig
from .errors import ApiError, bad_request, too_many_requests
from .formatting import MAX_TEXT, format_caption, format_text
from .limits import FloodControl, FloodDecision
from .spec import Spec, UploadedFile
from .state import MEDIA_KINDS, BotAccount, Chat, FileRecord, Member, Message, Topic, World

JSON = dict[str, Any]

#: Methods that send messages and so count against the flood limits.
SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVideo",
        "sendAnimation",
        "sendAudio",
        "sendVoice",
        "sendVideoNote",
        "sendSticker",
        "sendLocation",
        "sendContact",
        "sendMediaGroup",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
    }
)

_MEDIA_METHODS = {
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendVideo": "video",
    "sendAnimation": "animation",
    "sendAudio": "audio",
    "sendVoice": "voice",
    "sendVideoNote": "video_note",
    "sendSticker": "sticker",
}
_NO_CAPTION = {"sticker", "video_note"}
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_WEBHOOK_PORTS = {80, 88, 443, 8443}
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass
class Call:
    bot: BotAccount
    method: str
    params: JSON
    files: dict[str, UploadedFile] = field(default_factory=dict)
    description: str | None = None  # an extra "description" next to a successful result


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Target:
    """Where a bot's new message goes: the chat, its topic, and what it replies to."""

    chat: Chat
    topic: int | None
    reply: Message | None = None
    external: JSON | None = None
    quote: JSON | None = None


class BotApi:
    """Dispatches validated calls to handlers; every handler returns the ``result``."""

    def __init__(
        self,
        world: World,
        spec: Spec,
        flood: FloodControl,
        updates_for: Callable[[int], BotUpdates],
    ) -> None:
        self.world = world
        self.spec = spec
        self.flood = flood
        self.updates_for = updates_for
        self.handlers: dict[str, Handler] = {
            "getMe": self.get_me,
            "logOut": lambda c: True,
            "close": lambda c: True,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "sendLocation": self.send_location,
            "sendContact": self.send_contact,
            "sendMediaGroup": self.send_media_group,
            "sendChatAction": self.send_chat_action,
            "copyMessage": self.copy_message,
            "copyMessages": self.copy_messages,
            "forwardMessage": self.forward_message,
            "forwardMessages": self.forward_messages,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "deleteMessages": self.delete_messages,
            "setMessageReaction": self.set_message_reaction,
            "getChat": self.get_chat,
            "getChatMember": self.get_chat_member,
            "getChatAdministrators": self.get_chat_administrators,
            "leaveChat": self.leave_chat,
            "getChatMemberCount": self.get_chat_member_count,
            "getFile": self.get_file,
            "createForumTopic": self.create_forum_topic,
            "editForumTopic": self.edit_forum_topic,
            "closeForumTopic": self.close_forum_topic,
            "reopenForumTopic": self.reopen_forum_topic,
            "deleteForumTopic": self.delete_forum_topic,
            "pinChatMessage": self.pin_chat_message,
            "getForumTopicIconStickers": lambda c: [],
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "answerCallbackQuery": lambda c: callbacks.answer(self.world, c.bot, c.params),
        }
        for method, kind in _MEDIA_METHODS.items():
            self.handlers[method] = self._media_sender(kind)

    def implemented(self, method: str) -> bool:
        return method in self.handlers

    async def dispatch(self, call: Call) -> Any:
        result = self.handlers[call.method](call)
        if inspect.isawaitable(result):
            awaited: Awaitable[Any] = result
            return await awaited
        return result

    # ------------------------------------------------------------ helpers

    def _chat(self, call: Call, *, sending: bool = False, key: str = "chat_id") -> Chat:
        return self.world.chat_for_bot(call.bot, call.params[key], sending=sending)

    def _flood_check(self, call: Call, chat: Chat, items: int) -> FloodDecision:
        decision = self.flood.check(
            method=call.method,
            bot_id=call.bot.id,
            chat_id=chat.id,
            is_private=chat.is_private,
            items=items,
        )
        if decision.retry_after:
            raise too_many_requests(decision.retry_after)
        return decision

    def _reply(
        self, call: Call, chat: Chat, topic: int | None
    ) -> tuple[Message | None, JSON | None, JSON | None]:
        """The message replied to, or an ``external_reply``, and a ``quote``."""
        params = call.params.get("reply_parameters")
        if not params:
            return None, None, None
        target_chat = chat
        if params.get("chat_id") not in (None, chat.id):
            target_chat = self.world.chat_for_bot(call.bot, params["chat_id"], sending=False)
        target = target_chat.live(params["message_id"])
        in_topic = target is not None and target.is_topic_message and target.thread_id == topic
        if target is not None and target_chat is chat and topic is not None and not in_topic:
            target = None  # not in the topic the message goes to
        if target is None:
            if params.get("allow_sending_without_reply") and target_chat is chat:
                return None, None, None
            raise bad_request("message to be replied not found")
        quote = None
        if params.get("quote"):
            text = str(target.content.get("text") or target.content.get("caption") or "")
            position = text.find(params["quote"])
            if position < 0:
                raise bad_request("quote not found")
            quote = {"text": params["quote"], "position": position, "is_manual": True}
        if target_chat is not chat:
            external: JSON = {
                "origin": self.world.forward_origin_of(target),
                "chat": self.world.render_chat(target_chat),
                "message_id": target.message_id,
            }
            for key, value in target.content.items():
                if key in MEDIA_KINDS and isinstance(value, FileRecord):
                    external[key] = value.to_json()
            return None, external, quote
        return target, None, quote

    def _target(self, call: Call) -> Target:
        chat = self._chat(call, sending=True)
        topic = self.world.thread_for_send(chat, call.params.get("message_thread_id"), call.bot.id)
        reply, external, quote = self._reply(call, chat, topic)
        if topic is None and reply is not None and reply.is_topic_message:
            topic = reply.thread_id
            if topic is not None:
                self.world.thread_for_send(chat, topic, call.bot.id)
        return Target(chat, topic, reply, external, quote)

    def _inline_markup(self, call: Call) -> JSON | None:
        markup = call.params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            return callbacks.check_inline_keyboard(markup)
        return None

    def _input_file(self, call: Call, kind: str, value: Any, extra: JSON) -> FileRecord:
        if isinstance(value, UploadedFile):
            return self._upload(kind, value, extra)
        ref = str(value)
        if ref.startswith("attach://"):
            upload = call.files.get(ref[len("attach://") :])
            if upload is None:
                raise bad_request(f"file {ref} not found in the request")
            return self._upload(kind, upload, extra)
        if ref.startswith(("http://", "https://")):
            name = urlsplit(ref).path.rsplit("/", 1)[-1] or None
            return self.world.new_file(kind, file_name=name, **_file_attrs(extra))
        return self.world.file_for_send(kind, ref)

    def _upload(self, kind: str, upload: UploadedFile, extra: JSON) -> FileRecord:
        if not upload.data:
            raise bad_request("file must be non-empty")
        return self.world.new_file(
            kind,
            data=upload.data,
            file_name=upload.filename or None,
            mime_type=upload.content_type
            if upload.content_type not in ("", "application/octet-stream")
            else None,
            **_file_attrs(extra),
        )

    def _finish_send(
        self,
        call: Call,
        target: Target,
        content: JSON,
        decision: FloodDecision,
        **kwargs: Any,
    ) -> Message:
        msg = self._bot_message(
            call,
            target,
            content,
            reply_markup=kwargs.pop("reply_markup", self._inline_markup(call)),
            **kwargs,
        )
        self.flood.record(decision)
        return msg

    def _bot_message(self, call: Call, target: Target, content: JSON, **kwargs: Any) -> Message:
        """Store a message the calling bot sends (``protect_content`` as the call asks)."""
        return self.world.add_message(
            target.chat,
            sender_id=call.bot.id,
            content=content,
            topic_id=target.topic,
            reply_to=target.reply,
            external_reply=target.external,
            quote=target.quote,
            protected=bool(call.params.get("protect_content")),
            **kwargs,
        )

    # ------------------------------------------------------------ getMe / updates

    def get_me(self, call: Call) -> JSON:
        return call.bot.get_me()

    async def get_updates(self, call: Call) -> list[JSON]:
        updates = self.updates_for(call.bot.id)
        if updates.webhook is None:
            updates.set_allowed(call.params.get("allowed_updates"))
        return await updates.get_updates(
            call.params.get("offset"), call.params.get("limit"), call.params.get("timeout")
        )

    def set_webhook(self, call: Call) -> bool | Awaitable[bool]:
        url = str(call.params.get("url", "")).strip()
        updates = self.updates_for(call.bot.id)
        if not url:
            return self._remove_webhook(call, updates)
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if host not in _LOOPBACK:  # the emulator lets plain http reach localhost only
            if parts.scheme != "https":
                raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            if (parts.port or 443) not in _WEBHOOK_PORTS:
                raise bad_request(
                    "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
                )
        secret = call.params.get("secret_token")
        if secret is not None and not _SECRET_RE.match(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = int(call.params.get("max_connections") or 40)
        max_connections = min(100, max(1, max_connections))
        if call.params.get("drop_pending_updates"):
            updates.drop_pending()
        updates.set_allowed(call.params.get("allowed_updates"))
        previous = updates.webhook
        config = WebhookConfig(
            url=url,
            secret_token=secret,
            max_connections=max_connections,
            ip_address=call.params.get("ip_address"),
            has_custom_certificate="certificate" in call.params,
        )
        if previous is not None and previous == config:
            call.description = "Webhook is already set"
            return True
        updates.webhook = None
        updates.set_webhook(config)
        call.description = "Webhook was set"
        return True

    def _remove_webhook(self, call: Call, updates: BotUpdates) -> Awaitable[bool]:
        async def run() -> bool:
            had = updates.webhook is not None
            if call.params.get("drop_pending_updates"):
                updates.drop_pending()
            await updates.delete_webhook()
            call.description = "Webhook was deleted" if had else "Webhook is already deleted"
            return True

        return run()

    def delete_webhook(self, call: Call) -> Awaitable[bool]:
        return self._remove_webhook(call, self.updates_for(call.bot.id))

    def get_webhook_info(self, call: Call) -> JSON:
        return self.updates_for(call.bot.id).webhook_info()

    # ------------------------------------------------------------ sending

    def send_message(self, call: Call) -> JSON:
        target = self._target(call)
        text, entities = format_text(
            call.params["text"],
            call.params.get("parse_mode"),
            call.params.get("entities"),
            limit=MAX_TEXT,
        )
        decision = self._flood_check(call, target.chat, 1)
        content: JSON = {"text": text}
        if entities:
            content["entities"] = entities
        options = call.params.get("link_preview_options")
        if options and any(e["type"] == "url" for e in entities):
            content["link_preview_options"] = options
        msg = self._finish_send(call, target, content, decision)
        return self.world.render_message(msg)

    def _media_sender(self, kind: str) -> Handler:
        def send(call: Call) -> JSON:
            target = self._target(call)
            extra: JSON = {
                k: call.params[k]
                for k in ("duration", "width", "height", "length", "performer", "title", "emoji")
                if k in call.params
            }
            record = self._input_file(call, kind, call.params[kind], extra)
            content: JSON = {kind: record}
            if kind not in _NO_CAPTION:
                content.update(format_caption(call.params))
            if call.params.get("has_spoiler"):
                content["has_media_spoiler"] = True
            if call.params.get("show_caption_above_media") and "caption" in content:
                content["show_caption_above_media"] = True
            decision = self._flood_check(call, target.chat, 1)
            msg = self._finish_send(call, target, content, decision)
            return self.world.render_message(msg)

        return send

    def send_location(self, call: Call) -> JSON:
        target = self._target(call)
        location = {"latitude": call.params["latitude"], "longitude": call.params["longitude"]}
        decision = self._flood_check(call, target.chat, 1)
        msg = self._finish_send(call, target, {"location": location}, decision)
        return self.world.render_message(msg)

    def send_contact(self, call: Call) -> JSON:
        target = self._target(call)
        contact = {
            k: call.params[k]
            for k in ("phone_number", "first_name", "last_name", "vcard")
            if k in call.params
        }
        decision = self._flood_check(call, target.chat, 1)
        msg = self._finish_send(call, target, {"contact": contact}, decision)
        return self.world.render_message(msg)

    def send_media_group(self, call: Call) -> list[JSON]:
        target = self._target(call)
        items: list[JSON] = call.params["media"]
        if not 2 <= len(items) <= 10:
            raise bad_request("media group must include 2-10 items")
        kinds = {item["type"] for item in items}
        if ("document" in kinds or "audio" in kinds) and len(kinds) > 1:
            raise bad_request("documents and audio files can be only grouped with the same type")
        prepared = []
        for item in items:
            kind = item["type"]
            if kind not in {"photo", "video", "document", "audio"}:
                raise bad_request(f"media of type {kind} can't be sent in an album")
            extra: JSON = {
                k: item[k]
                for k in ("duration", "width", "height", "performer", "title")
                if k in item
            }
            record = self._input_file(call, kind, item["media"], extra)
            content: JSON = {kind: record}
            content.update(format_caption(item))
            if item.get("has_spoiler"):
                content["has_media_spoiler"] = True
            prepared.append(content)
        decision = self._flood_check(call, target.chat, len(prepared))
        group_id = self.world.new_media_group_id()
        messages = [
            self._bot_message(call, target, content, media_group_id=group_id)
            for content in prepared
        ]
        self.flood.record(decision)
        return [self.world.render_message(m) for m in messages]

    def send_chat_action(self, call: Call) -> bool:
        chat = self._chat(call, sending=True)
        self.world.thread_for_send(
            chat, call.params.get("message_thread_id"), call.bot.id, for_action=True
        )
        if call.params["action"] not in self.spec.enums["chat_actions"]:
            raise bad_request("wrong parameter action in request")
        return True

    # ------------------------------------------------------------ copy / forward

    def _source(self, call: Call) -> Chat:
        return self.world.chat_for_bot(call.bot, call.params["from_chat_id"], sending=False)

    def _copied_content(self, call: Call, source: Message, *, with_caption: bool) -> JSON:
        content = {k: v for k, v in source.content.items() if not k.startswith("_")}
        if with_caption and "caption" in call.params and source.file is not None:
            content.pop("caption", None)
            content.pop("caption_entities", None)
            content.update(format_caption(call.params))
        if call.params.get("remove_caption"):
            content.pop("caption", None)
            content.pop("caption_entities", None)
        return content

    def _check_copyable(self, msg: Message, *, forward: bool = False) -> None:
        if msg.service:
            raise bad_request(
                "message can't be forwarded" if forward else "message can't be copied"
            )
        if msg.protected:
            raise bad_request("message has protected content and can't be forwarded")

    def _copyable_source(self, call: Call, *, forward: bool = False) -> Message:
        """copyMessage / forwardMessage: the message to copy or forward, if it may be."""
        source = self._source(call).live(call.params["message_id"])
        if source is None:
            raise bad_request(f"message to {'forward' if forward else 'copy'} not found")
        self._check_copyable(source, forward=forward)
        return source

    def copy_message(self, call: Call) -> JSON:
        target = self._target(call)
        source = self._copyable_source(call)
        content = self._copied_content(call, source, with_caption=True)
        decision = self._flood_check(call, target.chat, 1)
        markup = self._inline_markup(call)
        msg = self._finish_send(call, target, content, decision, reply_markup=markup)
        return {"message_id": msg.message_id}

    def _bulk_sources(self, call: Call, verb: str) -> tuple[Chat, list[Message]]:
        ids: list[int] = call.params["message_ids"]
        if not 1 <= len(ids) <= 100:
            raise bad_request(f"too many messages to {verb}" if ids else "message_ids is empty")
        if any(b <= a for a, b in itertools.pairwise(ids)):
            raise bad_request("message identifiers must be in a strictly increasing order")
        source_chat = self._source(call)
        found = []
        for message_id in ids:
            msg = source_chat.live(message_id)
            if msg is None or msg.service or msg.protected:
                continue  # skipped, as documented
            found.append(msg)
        if not found:
            raise bad_request(f"messages to {verb} not found")
        return source_chat, found

    def copy_messages(self, call: Call) -> list[JSON]:
        return self._send_bulk(
            call,
            "copy",
            lambda source: {"content": self._copied_content(call, source, with_caption=False)},
        )

    def _send_bulk(self, call: Call, verb: str, fields: Callable[[Message], JSON]) -> list[JSON]:
        """copyMessages / forwardMessages: a message per source (``fields`` gives its
        content), albums kept together under a new media group id each."""
        target = self._target(call)
        _, sources = self._bulk_sources(call, verb)
        decision = self._flood_check(call, target.chat, len(sources))
        plain = Target(target.chat, target.topic)  # no replies in a bulk copy or forward
        groups: dict[str, str] = {}
        out = []
        for source in sources:
            kwargs = fields(source)
            group = None
            if source.media_group_id is not None:
                group = groups.setdefault(source.media_group_id, self.world.new_media_group_id())
            msg = self._bot_message(
                call, plain, kwargs.pop("content"), media_group_id=group, **kwargs
            )
            out.append({"message_id": msg.message_id})
        self.flood.record(decision)
        return out

    def forward_message(self, call: Call) -> JSON:
        target = self._target(call)
        source = self._copyable_source(call, forward=True)
        decision = self._flood_check(call, target.chat, 1)
        msg = self._finish_send(
            call,
            Target(target.chat, target.topic),  # a forward replies to nothing
            _forwarded_content(source),
            decision,
            forward_origin=self.world.forward_origin_of(source),
            reply_markup=None,
        )
        return self.world.render_message(msg)

    def forward_messages(self, call: Call) -> list[JSON]:
        return self._send_bulk(
            call,
            "forward",
            lambda source: {
                "content": _forwarded_content(source),
                "forward_origin": self.world.forward_origin_of(source),
            },
        )

    # ------------------------------------------------------------ editing

    def _editable(self, call: Call) -> tuple[Chat, Message]:
        if call.params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        if "chat_id" not in call.params:
            raise bad_request("chat_id is empty")
        if "message_id" not in call.params:
            raise bad_request("message identifier is not specified")
        chat = self._chat(call)
        msg = chat.live(call.params["message_id"])
        if msg is None:
            raise bad_request("message to edit not found")
        if msg.sender_id != call.bot.id or msg.service or msg.forward_origin is not None:
            raise bad_request("message can't be edited")
        return chat, msg

    def _apply_edit(self, chat: Chat, msg: Message, content: JSON, markup: JSON | None) -> JSON:
        before = World.content_fingerprint(msg)
        old_content, old_markup = msg.content, msg.reply_markup
        msg.content, msg.reply_markup = content, markup
        if World.content_fingerprint(msg) == before:
            msg.content, msg.reply_markup = old_content, old_markup
            raise bad_request(E.NOT_MODIFIED)
        msg.edit_date = self.world.now()
        self.world.emit_message_update(chat, msg, "edited_message")
        return self.world.render_message(msg)

    def edit_message_text(self, call: Call) -> JSON:
        chat, msg = self._editable(call)
        if "text" not in msg.content:
            raise bad_request("there is no text in the message to edit")
        if "text" not in call.params:
            raise bad_request("message text is empty")
        text, entities = format_text(
            call.params["text"],
            call.params.get("parse_mode"),
            call.params.get("entities"),
            limit=MAX_TEXT,
        )
        content = {k: v for k, v in msg.content.items() if k not in {"text", "entities"}}
        content["text"] = text
        if entities:
            content["entities"] = entities
        return self._apply_edit(chat, msg, content, self._inline_markup(call))

    def edit_message_caption(self, call: Call) -> JSON:
        chat, msg = self._editable(call)
        if msg.file is None:
            raise bad_request("there is no caption in the message to edit")
        content = {k: v for k, v in msg.content.items() if k not in {"caption", "caption_entities"}}
        content.update(format_caption(call.params))
        if call.params.get("show_caption_above_media"):
            content["show_caption_above_media"] = True
        return self._apply_edit(chat, msg, content, self._inline_markup(call))

    def edit_message_reply_markup(self, call: Call) -> JSON:
        chat, msg = self._editable(call)
        return self._apply_edit(chat, msg, dict(msg.content), self._inline_markup(call))

    def _deletable(self, call: Call, chat: Chat, message_id: int) -> Message:
        msg = chat.live(message_id)
        if msg is None:
            raise bad_request("message to delete not found")
        if msg.service and "forum_topic_created" in msg.content:
            raise bad_request("message can't be deleted")
        if msg.sender_id == call.bot.id or chat.is_private:
            return msg
        member = chat.members.get(call.bot.id)
        if member is None or not member.can("can_delete_messages"):
            raise bad_request("message can't be deleted")
        return msg

    def delete_message(self, call: Call) -> bool:
        chat = self._chat(call)
        msg = self._deletable(call, chat, call.params["message_id"])
        self.world.delete_message(chat, msg)
        return True

    def delete_messages(self, call: Call) -> bool:
        chat = self._chat(call)
        ids: list[int] = call.params["message_ids"]
        if not 1 <= len(ids) <= 100:
            raise bad_request("too many messages to delete" if ids else "message_ids is empty")
        for message_id in ids:
            msg = chat.live(message_id)
            if msg is not None:
                self.world.delete_message(chat, msg)
        return True

    def set_message_reaction(self, call: Call) -> bool:
        chat = self._chat(call)
        msg = chat.live(call.params["message_id"])
        if msg is None:
            raise bad_request("message to react not found")
        reactions: list[JSON] = call.params.get("reaction") or []
        if msg.service:
            raise bad_request("REACTION_INVALID")
        if len(reactions) > 1:
            raise bad_request("REACTIONS_TOO_MANY")
        allowed = set(self.spec.enums["reaction_emoji"])
        for reaction in reactions:
            if reaction["type"] != "emoji" or reaction["emoji"] not in allowed:
                raise bad_request("REACTION_INVALID")
        old = msg.reactions.get(call.bot.id, [])
        msg.reactions[call.bot.id] = list(reactions)
        if not reactions:
            msg.reactions.pop(call.bot.id, None)
        if old != reactions and not chat.is_private:
            payload = {
                "chat": self.world.render_chat(chat),
                "message_id": msg.message_id,
                "user": call.bot.user.to_json(),
                "date": self.world.now(),
                "old_reaction": old,
                "new_reaction": list(reactions),
            }
            for other in self.world.bots_in_chat(chat, exclude=call.bot.id):
                self.world.emit(other.id, "message_reaction", payload, chat.id)
        return True

    # ------------------------------------------------------------ chats

    def get_chat(self, call: Call) -> JSON:
        chat = self._chat(call)
        return self.world.render_chat_full(chat, call.bot)

    def get_chat_member(self, call: Call) -> JSON:
        chat = self._chat(call)
        user_id = call.params["user_id"]
        if user_id not in self.world.users:
            raise bad_request("user not found")
        if chat.is_private and user_id not in (chat.id, call.bot.id):
            raise bad_request("user not found")
        member = self.world.render_member(chat, user_id)
        if chat.is_private and user_id == chat.id and chat.blocked:
            member = {"status": "kicked", "user": member["user"], "until_date": 0}
        return member

    def leave_chat(self, call: Call) -> bool:
        """The bot leaves a group or channel: it is told with ``my_chat_member`` (left) and
        sees nothing of that chat from then on; a chat it is not in answers 403."""
        chat = self._chat(call, sending=True)
        if chat.is_private:
            raise bad_request("chat member status can't be changed in private chats")
        bot = call.bot.id
        old = self.world.render_member(chat, bot)
        chat.members[bot] = Member(bot, "left", {})
        payload = {
            "chat": self.world.render_chat(chat),
            "from": self.world.render_user(bot),
            "date": self.world.now(),
            "old_chat_member": old,
            "new_chat_member": self.world.render_member(chat, bot),
        }
        self.world.emit(bot, "my_chat_member", payload, chat.id)
        return True

    def get_chat_administrators(self, call: Call) -> list[JSON]:
        chat = self._chat(call)
        if chat.is_private:
            raise bad_request("there are no administrators in the private chat")
        return [
            self.world.render_member(chat, m.user_id) for m in chat.members.values() if m.is_admin
        ]

    def get_chat_member_count(self, call: Call) -> int:
        chat = self._chat(call)
        if chat.is_private:
            return 2
        return sum(1 for m in chat.members.values() if m.present)

    def get_file(self, call: Call) -> JSON:
        record = self.world.file_by_id(call.params["file_id"])
        if record is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "file_size": record.file_size,
            "file_path": record.path,
        }

    # ------------------------------------------------------------ forum topics

    def _forum(self, call: Call, right: str = "can_manage_topics") -> Chat:
        chat = self._chat(call, sending=True)
        if chat.is_private or not chat.is_forum:
            raise bad_request("the chat is not a forum")
        member = chat.members.get(call.bot.id)
        if member is None or not member.can(right):
            raise bad_request("not enough rights to manage topics")
        return chat

    def _topic(self, chat: Chat, call: Call) -> Topic:
        thread_id = call.params["message_thread_id"]
        topic = chat.topics.get(thread_id)
        if topic is None or topic.deleted:
            raise bad_request(E.TOPIC_ID_INVALID)
        return topic

    def create_forum_topic(self, call: Call) -> JSON:
        chat = self._chat(call, sending=True)
        if chat.is_private or not chat.is_forum:
            raise bad_request("the chat is not a forum")
        member = chat.members.get(call.bot.id)
        if member is None or not member.can("can_manage_topics"):
            raise bad_request("not enough rights to create a topic")
        name = call.params["name"]
        if len(name) > 128:
            raise bad_request("TOPIC_NAME_INVALID")
        color = call.params.get("icon_color", self.spec.enums["forum_topic_icon_colors"][0])
        if color not in self.spec.enums["forum_topic_icon_colors"]:
            raise bad_request("TOPIC_ICON_COLOR_INVALID")
        decision = self._flood_check(call, chat, 1)  # counted only with count_each_message
        topic = create_topic(
            self.world, chat, call.bot.id, name, color, call.params.get("icon_custom_emoji_id")
        )
        self.flood.record(decision)
        return topic.to_json()

    def edit_forum_topic(self, call: Call) -> bool:
        chat = self._forum(call)
        topic = self._topic(chat, call)
        name = call.params.get("name")
        emoji = call.params.get("icon_custom_emoji_id")
        if name is not None and len(name) > 128:
            raise bad_request("TOPIC_NAME_INVALID")
        changed: JSON = {}
        if name is not None and name != topic.name:
            changed["name"] = topic.name = name
        if emoji is not None and emoji != (topic.icon_custom_emoji_id or ""):
            topic.icon_custom_emoji_id = emoji or None
            changed["icon_custom_emoji_id"] = emoji
        if not changed:
            raise bad_request(E.TOPIC_NOT_MODIFIED)
        self.world.add_message(
            chat,
            sender_id=call.bot.id,
            content={"forum_topic_edited": changed},
            topic_id=topic.thread_id,
            service=True,
        )
        return True

    def close_forum_topic(self, call: Call) -> bool:
        chat = self._forum(call)
        topic = self._topic(chat, call)
        if topic.closed:
            raise bad_request(E.TOPIC_NOT_MODIFIED)
        set_topic_closed(self.world, chat, topic, call.bot.id, closed=True)
        return True

    def reopen_forum_topic(self, call: Call) -> bool:
        chat = self._forum(call)
        topic = self._topic(chat, call)
        if not topic.closed:
            raise bad_request(E.TOPIC_NOT_MODIFIED)
        set_topic_closed(self.world, chat, topic, call.bot.id, closed=False)
        return True

    def delete_forum_topic(self, call: Call) -> bool:
        chat = self._forum(call, right="can_delete_messages")
        topic = self._topic(chat, call)
        delete_topic(chat, topic)
        return True

    # ------------------------------------------------------------ pinned messages

    def pin_chat_message(self, call: Call) -> bool:
        """pinChatMessage: outside a private chat the bot needs ``can_pin_messages`` (else
        Telegram's "not enough rights to manage pinned messages in the chat"); the message
        must exist ("message to pin not found"). Telegram then posts a ``pinned_message``
        service message (in a forum: in the pinned message's topic);
        ``disable_notification`` only silences the members' notification."""
        chat = self._chat(call, sending=True)
        if not chat.is_private:
            member = chat.members.get(call.bot.id)
            if member is None or not member.can("can_pin_messages"):
                raise bad_request("not enough rights to manage pinned messages in the chat")
        msg = chat.live(call.params["message_id"])
        if msg is None:
            raise bad_request("message to pin not found")
        msg.pinned = True
        self.world.add_message(
            chat,
            sender_id=call.bot.id,
            content={"pinned_message": self.world.render_message(msg, nested=True)},
            topic_id=msg.thread_id if msg.is_topic_message else None,
            service=True,
        )
        return True

    # ------------------------------------------------------------ commands

    @staticmethod
    def _scope_key(call: Call) -> str:
        scope = call.params.get("scope") or {"type": "default"}
        parts = [scope["type"], str(scope.get("chat_id", "")), str(scope.get("user_id", ""))]
        return "|".join(parts) + "|" + str(call.params.get("language_code", ""))

    def set_my_commands(self, call: Call) -> bool:
        commands: list[JSON] = call.params["commands"]
        if len(commands) > 100:
            raise bad_request("too many commands")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(command["description"]) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        call.bot.commands[self._scope_key(call)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def get_my_commands(self, call: Call) -> list[JSON]:
        return list(call.bot.commands.get(self._scope_key(call), []))

    def delete_my_commands(self, call: Call) -> bool:
        call.bot.commands.pop(self._scope_key(call), None)
        return True


# ------------------------------------------------------------------ topic ops
# (shared by the Bot API and the control API)


def create_topic(
    world: World,
    chat: Chat,
    creator_id: int,
    name: str,
    icon_color: int,
    icon_custom_emoji_id: str | None = None,
) -> Topic:
    thread_id = chat.take_message_id()
    topic = Topic(thread_id, name, icon_color, icon_custom_emoji_id)
    chat.topics[thread_id] = topic
    created: JSON = {"name": name, "icon_color": icon_color}
    if icon_custom_emoji_id:
        created["icon_custom_emoji_id"] = icon_custom_emoji_id
    world.add_message(
        chat,
        sender_id=creator_id,
        content={"forum_topic_created": created},
        topic_id=thread_id,
        service=True,
        message_id=thread_id,
    )
    return topic


def set_topic_closed(
    world: World, chat: Chat, topic: Topic, actor_id: int, *, closed: bool
) -> None:
    topic.closed = closed
    world.add_message(
        chat,
        sender_id=actor_id,
        content={"forum_topic_closed" if closed else "forum_topic_reopened": {}},
        topic_id=topic.thread_id,
        service=True,
    )


def delete_topic(chat: Chat, topic: Topic) -> None:
    topic.deleted = True
    for msg in chat.messages.values():
        if msg.is_topic_message and msg.thread_id == topic.thread_id:
            msg.deleted = True


def _file_attrs(extra: JSON) -> JSON:
    out: JSON = {}
    for key in ("duration", "width", "height", "emoji"):
        if key in extra:
            out[key] = extra[key]
    if "length" in extra:
        out["width"] = extra["length"]
    return out


__all__ = ["SENDING_METHODS", "ApiError", "BotApi", "Call", "create_topic"]


def _forwarded_content(source: Message) -> JSON:
    """A forwarded message's content: the source's, less the emulator's private keys."""
    return {k: v for k, v in source.content.items() if not k.startswith("_")}
