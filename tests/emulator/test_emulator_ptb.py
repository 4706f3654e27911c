"""python-telegram-bot 22.8 drives the emulator: every method round-trips into PTB objects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import telegram
from telegram import (
    BotCommand,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    ReactionTypeEmoji,
    ReplyParameters,
)
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter

from devkit.telegram_emulator.testing import RunningEmulator, ptb_bot

pytestmark = pytest.mark.filterwarnings("ignore:Deprecated since version v22.2")


def test_get_me_and_bot_identity(telegram_emulator: RunningEmulator) -> None:
    async def scenario() -> telegram.User:
        async with ptb_bot(telegram_emulator) as bot:
            return await bot.get_me()

    me = asyncio.run(scenario())
    assert me.id == telegram_emulator.bot_id == 123456
    assert me.is_bot is True
    assert me.username == "topicdesk_test_bot"
    assert me.can_join_groups is True


def test_send_message_round_trip_and_transcript(
    telegram_emulator: RunningEmulator, world: dict[str, Any]
) -> None:
    async def scenario() -> telegram.Message:
        async with ptb_bot(telegram_emulator) as bot:
            return await bot.send_message(world["person"], "<b>Hello</b> there", parse_mode="HTML")

    message = asyncio.run(scenario())
    assert message.text == "Hello there"
    assert message.chat.id == world["person"]
    assert message.chat.type == "private"
    assert message.from_user is not None and message.from_user.id == telegram_emulator.bot_id
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bold", 0, 5)]
    transcript = telegram_emulator.client.transcript(world["person"])
    assert [m["text"] for m in transcript] == ["Hello there"]
    assert telegram_emulator.server.internal_errors == []


def test_forum_topics_lifecycle(telegram_emulator: RunningEmulator, world: dict[str, Any]) -> None:
    group = world["group"]

    async def scenario() -> dict[str, Any]:
        async with ptb_bot(telegram_emulator) as bot:
            topic = await bot.create_forum_topic(group, "Alice Example", icon_color=0xFFD67E)
            thread = topic.message_thread_id
            first = await bot.send_message(group, "card", message_thread_id=thread)
            edited = await bot.edit_forum_topic(group, thread, name="Alice (VIP)")
            closed = await bot.close_forum_topic(group, thread)
            still_writable = await bot.send_message(group, "bot is admin", message_thread_id=thread)
            reopened = await bot.reopen_forum_topic(group, thread)
            with pytest.raises(BadRequest, match=r"(?i)topic_not_modified"):
                await bot.reopen_forum_topic(group, thread)
            deleted = await bot.delete_forum_topic(group, thread)
            with pytest.raises(BadRequest, match="Message thread not found"):
                await bot.send_message(group, "gone", message_thread_id=thread)
            with pytest.raises(BadRequest, match="Message thread not found"):
                await bot.send_message(group, "General is not thread 1", message_thread_id=1)
            return {
                "topic": topic,
                "first": first,
                "flags": (edited, closed, reopened, deleted),
                "still": still_writable,
            }

    out = asyncio.run(scenario())
    topic, first = out["topic"], out["first"]
    assert isinstance(topic, telegram.ForumTopic)
    assert topic.name == "Alice Example" and topic.icon_color == 0xFFD67E
    assert topic.message_thread_id > 1
    assert first.message_thread_id == topic.message_thread_id
    assert first.is_topic_message is True
    # In a topic, a message that replies to nothing carries the topic's creation message.
    assert first.reply_to_message is not None
    assert first.reply_to_message.message_id == topic.message_thread_id
    assert first.reply_to_message.forum_topic_created is not None
    assert out["flags"] == (True, True, True, True)
    assert out["still"].text == "bot is admin"
    # Deleting a topic deletes its messages.
    assert telegram_emulator.client.transcript(group, topic.message_thread_id) == []


def test_copy_forward_and_albums(telegram_emulator: RunningEmulator, world: dict[str, Any]) -> None:
    client = telegram_emulator.client
    person, group = world["person"], world["group"]
    text = client.send_as_user(person, "my question")["message_id"]
    photo = client.send_as_user(person, photo=True, caption="screenshot")
    album = client.send_album(person, [{"type": "photo", "caption": "a"}, {"type": "video"}])

    async def scenario() -> dict[str, Any]:
        async with ptb_bot(telegram_emulator) as bot:
            topic = await bot.create_forum_topic(group, "Alice")
            thread = topic.message_thread_id
            copied = await bot.copy_message(group, person, text, message_thread_id=thread)
            recaptioned = await bot.copy_message(
                group, person, photo["message_id"], message_thread_id=thread, caption="new caption"
            )
            copies = await bot.copy_messages(
                group, person, album["message_ids"], message_thread_id=thread
            )
            forwarded = await bot.forward_message(group, person, text, message_thread_id=thread)
            photo_id = photo["message"]["photo"][-1]["file_id"]
            by_file_id = await bot.send_photo(person, photo_id, caption="back to you")
            sent_album = await bot.send_media_group(
                person,
                [
                    InputMediaPhoto(photo_id, caption="one"),
                    InputMediaVideo(album["messages"][1]["video"]["file_id"]),
                ],
            )
            with pytest.raises(BadRequest, match="Type of file mismatch"):
                await bot.send_document(person, photo_id)
            with pytest.raises(BadRequest, match="Message to copy not found"):
                await bot.copy_message(group, person, 9999, message_thread_id=thread)
            with pytest.raises(BadRequest, match="Message can't be copied"):
                await bot.copy_message(person, group, thread)  # the topic's service message
            return {
                "thread": thread,
                "copied": copied,
                "recaptioned": recaptioned,
                "copies": copies,
                "forwarded": forwarded,
                "by_file_id": by_file_id,
                "sent_album": sent_album,
            }

    out = asyncio.run(scenario())
    assert isinstance(out["copied"], telegram.MessageId)
    assert all(isinstance(m, telegram.MessageId) for m in out["copies"])
    topic_messages = {m["message_id"]: m for m in client.transcript(group, out["thread"])}
    assert topic_messages[out["copied"].message_id]["text"] == "my question"
    assert "forward_origin" not in topic_messages[out["copied"].message_id]
    assert topic_messages[out["recaptioned"].message_id]["caption"] == "new caption"
    album_copies = [topic_messages[c.message_id] for c in out["copies"]]
    assert len({m["media_group_id"] for m in album_copies}) == 1
    assert album_copies[0]["media_group_id"] != album["media_group_id"]
    assert "photo" in album_copies[0] and "video" in album_copies[1]
    forwarded = out["forwarded"]
    assert forwarded.forward_origin is not None
    assert forwarded.forward_origin.type == "user"
    assert forwarded.forward_origin.sender_user.id == world["person"]
    assert (
        out["by_file_id"].photo[-1].file_unique_id
        == photo["message"]["photo"][-1]["file_unique_id"]
    )
    sent_album = out["sent_album"]
    assert len(sent_album) == 2 and sent_album[0].media_group_id == sent_album[1].media_group_id
    assert sent_album[0].caption == "one" and sent_album[1].video is not None


def test_upload_photo_and_document_multipart(
    fast_emulator: RunningEmulator, fast_world: dict[str, Any]
) -> None:
    """Limits off: four messages (the album's two count each) in a private chat at once
    would be over its burst of three."""
    world = fast_world

    async def scenario() -> tuple[
        telegram.Message, telegram.Message, bytes, list[telegram.Message]
    ]:
        async with ptb_bot(fast_emulator) as bot:
            photo = await bot.send_photo(world["person"], b"\x89PNG fake bytes", caption="up")
            document = await bot.send_document(
                world["person"], b"%PDF-1.4 hello", filename="report.pdf"
            )
            file = await bot.get_file(document.document.file_id)
            data = await file.download_as_bytearray()
            album = await bot.send_media_group(
                world["person"],
                [
                    InputMediaDocument(b"one", filename="a.txt"),
                    InputMediaDocument(b"two", filename="b.txt"),
                ],
            )
            return photo, document, bytes(data), album

    photo, document, data, album = asyncio.run(scenario())
    assert photo.caption == "up" and len(photo.photo) >= 2
    assert document.document.file_name == "report.pdf"
    assert data == b"%PDF-1.4 hello"
    assert [m.document.file_name for m in album] == ["a.txt", "b.txt"]


def test_edits_replies_reactions_delete(
    telegram_emulator: RunningEmulator, world: dict[str, Any]
) -> None:
    client = telegram_emulator.client
    person = world["person"]
    incoming = client.send_as_user(person, "hi")["message_id"]

    async def scenario() -> dict[str, Any]:
        async with ptb_bot(telegram_emulator) as bot:
            reply = await bot.send_message(
                person, "answer", reply_parameters=ReplyParameters(incoming)
            )
            edited = await bot.edit_message_text("better answer", person, reply.message_id)
            with pytest.raises(BadRequest, match="Message is not modified"):
                await bot.edit_message_text("better answer", person, reply.message_id)
            with pytest.raises(BadRequest, match="Message to edit not found"):
                await bot.edit_message_text("x", person, 4242)
            with pytest.raises(BadRequest, match="Message can't be edited"):
                await bot.edit_message_text("x", person, incoming)
            photo = await bot.send_photo(
                person,
                client.send_as_user(person, photo=True)["message"]["photo"][0]["file_id"],
                caption="c1",
            )
            recaptioned = await bot.edit_message_caption(person, photo.message_id, caption="c2")
            reacted = await bot.set_message_reaction(person, incoming, [ReactionTypeEmoji("👍")])
            with pytest.raises(BadRequest, match=r"(?i)reaction_invalid"):
                await bot.set_message_reaction(person, incoming, [ReactionTypeEmoji("🦖")])
            with pytest.raises(BadRequest, match="Message to be replied not found"):
                await bot.send_message(person, "x", reply_parameters=ReplyParameters(777))
            without = await bot.send_message(
                person, "x", reply_parameters=ReplyParameters(777, allow_sending_without_reply=True)
            )
            deleted = await bot.delete_message(person, reply.message_id)
            with pytest.raises(BadRequest, match="Message to delete not found"):
                await bot.delete_message(person, reply.message_id)
            return {
                "reply": reply,
                "edited": edited,
                "recaptioned": recaptioned,
                "reacted": reacted,
                "without": without,
                "deleted": deleted,
            }

    out = asyncio.run(scenario())
    assert out["reply"].reply_to_message is not None
    assert out["reply"].reply_to_message.text == "hi"
    assert isinstance(out["edited"], telegram.Message)
    assert out["edited"].text == "better answer" and out["edited"].edit_date is not None
    assert out["recaptioned"].caption == "c2"
    assert out["reacted"] is True
    assert out["without"].reply_to_message is None
    assert out["deleted"] is True
    assert out["reply"].message_id not in [m["message_id"] for m in client.transcript(person)]


def test_chat_info_members_actions_commands(
    telegram_emulator: RunningEmulator, world: dict[str, Any]
) -> None:
    async def scenario() -> dict[str, Any]:
        async with ptb_bot(telegram_emulator) as bot:
            return {
                "group": await bot.get_chat(world["group"]),
                "private": await bot.get_chat(world["person"]),
                "bot_member": await bot.get_chat_member(world["group"], telegram_emulator.bot_id),
                "operator": await bot.get_chat_member(world["group"], world["operators"][0]),
                "action": await bot.send_chat_action(world["person"], "typing"),
                "set": await bot.set_my_commands([BotCommand("start", "Say hello")]),
                "commands": await bot.get_my_commands(),
            }

    out = asyncio.run(scenario())
    assert isinstance(out["group"], telegram.ChatFullInfo)
    assert out["group"].is_forum is True and out["group"].type == "supergroup"
    assert out["private"].first_name == "Alice" and out["private"].username == "alice"
    assert isinstance(out["bot_member"], telegram.ChatMemberAdministrator)
    assert out["bot_member"].can_manage_topics is True
    assert isinstance(out["operator"], telegram.ChatMemberOwner)
    assert out["action"] is True and out["set"] is True
    assert [(c.command, c.description) for c in out["commands"]] == [("start", "Say hello")]


def test_errors_arrive_as_ptb_exceptions(
    telegram_emulator: RunningEmulator, world: dict[str, Any]
) -> None:
    client = telegram_emulator.client
    stranger = client.create_user("Stranger")["user_id"]  # never pressed Start
    basic = client.create_group("Old group", operator_names=["Gus"])["chat_id"]
    client.block_bot(world["person"])
    client.set_limits(group_per_minute=1)

    async def scenario() -> dict[str, BaseException]:
        caught: dict[str, BaseException] = {}
        async with ptb_bot(telegram_emulator) as bot:
            for name, call in {
                "blocked": bot.send_message(world["person"], "hi"),
                "stranger": bot.send_message(stranger, "hi"),
                "no_chat": bot.send_message(-100123, "hi"),
                "empty": bot.send_message(world["group"], "   "),
            }.items():
                try:
                    await call
                except telegram.error.TelegramError as exc:
                    caught[name] = exc
            await bot.send_message(basic, "one per minute")
            try:
                await bot.send_message(basic, "too fast")
            except RetryAfter as exc:
                caught["flood"] = exc
            client.migrate_group(basic)
            try:
                await bot.send_message(basic, "after migration")
            except ChatMigrated as exc:
                caught["migrated"] = exc
        return caught

    caught = asyncio.run(scenario())
    assert isinstance(caught["blocked"], Forbidden)
    assert "bot was blocked by the user" in caught["blocked"].message
    assert isinstance(caught["stranger"], Forbidden)
    assert "can't initiate conversation" in caught["stranger"].message
    assert (
        isinstance(caught["no_chat"], BadRequest) and "Chat not found" in caught["no_chat"].message
    )
    assert isinstance(caught["empty"], BadRequest)
    assert "Message text is empty" in caught["empty"].message
    flood = caught["flood"]
    assert isinstance(flood, RetryAfter)
    refused = [c for c in client.calls("sendMessage") if c["status"] == 429]
    assert refused and refused[0]["parameters"]["retry_after"] >= 1
    migrated = caught["migrated"]
    assert isinstance(migrated, ChatMigrated)
    new_id = migrated.new_chat_id
    assert str(new_id).startswith("-100")
    transcript = client.transcript(new_id)
    assert transcript[-1]["migrate_from_chat_id"] == basic


def test_closed_topic_refuses_a_bot_without_manage_topics(
    telegram_emulator: RunningEmulator,
) -> None:
    client = telegram_emulator.client
    group = client.create_forum_group("Ops", operator_names=["Olga"], bot_can_manage_topics=False)
    topic = client.create_topic(group["chat_id"], "Case 1")["message_thread_id"]
    client.close_topic(group["chat_id"], topic)

    async def scenario() -> BaseException:
        async with ptb_bot(telegram_emulator) as bot:
            with pytest.raises(BadRequest) as info:
                await bot.send_message(group["chat_id"], "x", message_thread_id=topic)
            return info.value

    error = asyncio.run(scenario())
    assert "Topic_closed" in error.message or "TOPIC_CLOSED" in error.message
    # The operator (creator) can still write in the closed topic.
    sent = client.send_as_operator(group["chat_id"], topic, group["operators"][0], "still here")
    assert sent["message"]["message_thread_id"] == topic


def test_webhook_methods_round_trip(telegram_emulator: RunningEmulator) -> None:
    async def scenario() -> dict[str, Any]:
        async with ptb_bot(telegram_emulator) as bot:
            before = await bot.get_webhook_info()
            with pytest.raises(BadRequest, match=r"(?i)an https url must be provided"):
                await bot.set_webhook("http://example.com/hook")
            set_ok = await bot.set_webhook(
                "http://127.0.0.1:9/hook", secret_token="s3cret_", allowed_updates=["message"]
            )
            during = await bot.get_webhook_info()
            deleted = await bot.delete_webhook()
            after = await bot.get_webhook_info()
            return {
                "before": before,
                "set": set_ok,
                "during": during,
                "deleted": deleted,
                "after": after,
            }

    out = asyncio.run(scenario())
    assert out["before"].url == "" and out["before"].pending_update_count == 0
    assert out["set"] is True and out["deleted"] is True
    assert out["during"].url == "http://127.0.0.1:9/hook"
    assert out["during"].max_connections == 40
    assert out["during"].allowed_updates == ("message",)
    assert out["after"].url == ""


def test_ptb_get_updates_round_trip(
    telegram_emulator: RunningEmulator, world: dict[str, Any]
) -> None:
    client = telegram_emulator.client
    client.send_as_user(world["person"], "/start")
    client.edit_as_user(
        world["person"], client.send_as_user(world["person"], "tpyo")["message_id"], "typo"
    )

    async def scenario() -> tuple[telegram.Update, ...]:
        async with ptb_bot(telegram_emulator) as bot:
            return await bot.get_updates(timeout=0)

    updates = asyncio.run(scenario())
    assert [u.effective_message.text for u in updates] == ["/start", "tpyo", "typo"]
    assert updates[0].message.entities[0].type == "bot_command"
    assert updates[2].edited_message is not None and updates[2].edited_message.edit_date
    assert [u.update_id for u in updates] == sorted(u.update_id for u in updates)


def test_what_ptb_actually_sends(telegram_emulator: RunningEmulator, world: dict[str, Any]) -> None:
    """PTB 22.8 posts urlencoded forms (values JSON-encoded), multipart for uploads."""

    async def scenario() -> None:
        async with ptb_bot(telegram_emulator) as bot:
            await bot.send_message(
                world["person"],
                "x",
                reply_parameters=ReplyParameters(1, allow_sending_without_reply=True),
            )
            await bot.send_document(world["person"], b"data", filename="d.txt")

    asyncio.run(scenario())
    send, upload = (
        telegram_emulator.client.calls("sendMessage")[0],
        telegram_emulator.client.calls("sendDocument")[0],
    )
    assert send["content_type"] == "application/x-www-form-urlencoded"
    assert send["params"]["chat_id"] == str(world["person"])  # every value is a string
    assert send["params"]["reply_parameters"].startswith("{")  # JSON-serialized object
    assert upload["content_type"] == "multipart/form-data"
    assert upload["params"]["document"] == {"upload": "d.txt", "size": 4}


def test_ptb_application_polling_echo(
    telegram_emulator: RunningEmulator, world: dict[str, Any]
) -> None:
    from telegram.ext import Application, MessageHandler, filters

    async def scenario() -> None:
        app = (
            Application.builder()
            .token(telegram_emulator.token)
            .base_url(telegram_emulator.ptb_base_url)
            .build()
        )
        answered = asyncio.Event()

        async def echo(update: telegram.Update, context: Any) -> None:
            assert update.effective_message is not None
            await update.effective_message.reply_text(f"echo: {update.effective_message.text}")
            answered.set()

        app.add_handler(MessageHandler(filters.TEXT, echo))
        async with app:
            assert app.updater is not None
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=1)
            await asyncio.to_thread(telegram_emulator.client.send_as_user, world["person"], "ping")
            await asyncio.wait_for(answered.wait(), 10)
            await app.updater.stop()
            await app.stop()

    asyncio.run(scenario())
    transcript = telegram_emulator.client.transcript(world["person"])
    assert [m["text"] for m in transcript] == ["ping", "echo: ping"]
    assert transcript[1]["from"]["id"] == telegram_emulator.bot_id
