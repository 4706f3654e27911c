"""pinChatMessage, editMessageText and editForumTopic in a forum topic, and pressing a button
in a group: as Telegram has them (rights, errors, service messages, the spec's shapes)."""

from __future__ import annotations

from typing import Any

import pytest

from devkit.telegram_emulator.client import BotApiError
from devkit.telegram_emulator.spec import load_spec
from devkit.telegram_emulator.testing import RunningEmulator


def topic_message(emulator: RunningEmulator, world: dict[str, Any]) -> tuple[int, int, int]:
    client, group = emulator.client, world["group"]
    thread = client.bot_api("createForumTopic", chat_id=group, name="Queue")["message_thread_id"]
    sent = client.bot_api("sendMessage", chat_id=group, message_thread_id=thread, text="0 waiting")
    return group, thread, int(sent["message_id"])


def test_pin_posts_a_pinned_message_service_message_in_the_topic(
    fast_emulator: RunningEmulator, fast_world: dict[str, Any]
) -> None:
    client = fast_emulator.client
    group, thread, message_id = topic_message(fast_emulator, fast_world)
    assert client.bot_api(
        "pinChatMessage", chat_id=group, message_id=message_id, disable_notification=True
    )
    last = client.transcript(group, thread)[-1]
    assert last["pinned_message"]["message_id"] == message_id
    assert last["message_thread_id"] == thread
    assert load_spec().check_value(["Message"], last) == []
    with pytest.raises(BotApiError) as missing:
        client.bot_api("pinChatMessage", chat_id=group, message_id=9999)
    assert (
        missing.value.error_code == 400 and "message to pin not found" in missing.value.description
    )


def test_pin_needs_the_right_to_pin(
    fast_emulator: RunningEmulator, fast_world: dict[str, Any]
) -> None:
    client = fast_emulator.client
    group, _, message_id = topic_message(fast_emulator, fast_world)
    bot_id = int(client.bot_api("getMe")["id"])
    client.set_member(group, bot_id, rights={"can_pin_messages": False})
    with pytest.raises(BotApiError) as refused:
        client.bot_api("pinChatMessage", chat_id=group, message_id=message_id)
    assert "not enough rights to manage pinned messages" in refused.value.description


def test_edits_in_a_topic_stay_in_it(
    fast_emulator: RunningEmulator, fast_world: dict[str, Any]
) -> None:
    client = fast_emulator.client
    group, thread, message_id = topic_message(fast_emulator, fast_world)
    edited = client.bot_api("editMessageText", chat_id=group, message_id=message_id, text="1")
    assert edited["text"] == "1" and edited["message_thread_id"] == thread
    assert client.bot_api("editForumTopic", chat_id=group, message_thread_id=thread, name="🔴 Ann")
    assert [t["name"] for t in client.topics(group) if t["message_thread_id"] == thread] == [
        "🔴 Ann"
    ]
    assert client.transcript(group, thread)[-1]["forum_topic_edited"] == {"name": "🔴 Ann"}


def test_an_operator_presses_a_button_in_a_group_topic(
    fast_emulator: RunningEmulator, fast_world: dict[str, Any]
) -> None:
    client, group = fast_emulator.client, fast_world["group"]
    thread = client.bot_api("createForumTopic", chat_id=group, name="Ann")["message_thread_id"]
    keyboard = {"inline_keyboard": [[{"text": "Take it", "callback_data": "take:7"}]]}
    card = client.bot_api(
        "sendMessage", chat_id=group, message_thread_id=thread, text="card", reply_markup=keyboard
    )
    operator = fast_world["operators"][0]
    query = client.press_button(operator, card["message_id"], "take:7", chat_id=group)
    updates = client.bot_api("getUpdates", timeout=0)
    [callback] = [u["callback_query"] for u in updates if "callback_query" in u]
    assert callback["id"] == query["id"] and callback["from"]["id"] == operator
    assert callback["message"]["chat"]["id"] == group
    assert callback["message"]["message_thread_id"] == thread
    assert load_spec().check_value(["CallbackQuery"], callback) == []
    stranger = int(client.create_user("Mallory")["user_id"])
    with pytest.raises(Exception, match="not a member"):
        client.press_button(stranger, card["message_id"], "take:7", chat_id=group)
