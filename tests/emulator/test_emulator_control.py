"""The control API: people and operators act; each action becomes the Update Telegram sends."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from devkit.telegram_emulator import EmulatorClient, EmulatorError, EmulatorServer
from devkit.telegram_emulator.client import BotApiError
from devkit.telegram_emulator.testing import RunningEmulator

ROOT = Path(__file__).resolve().parents[2]


def kinds(updates: list[dict[str, Any]]) -> list[str]:
    return [next(k for k in u if k != "update_id") for u in updates]


def drain(client: EmulatorClient) -> list[dict[str, Any]]:
    updates: list[dict[str, Any]] = client.bot_api("getUpdates")
    if updates:
        client.bot_api("getUpdates", offset=updates[-1]["update_id"] + 1)
    return updates


def test_operator_actions_in_topics_become_updates(
    telegram_emulator: RunningEmulator, world: dict[str, Any]
) -> None:
    client = telegram_emulator.client
    group, olga = world["group"], world["operators"][0]
    topic = client.bot_api("createForumTopic", chat_id=group, name="Alice")["message_thread_id"]
    card = client.bot_api("sendMessage", chat_id=group, message_thread_id=topic, text="card")
    assert drain(client) == []  # the bot's own messages are not echoed back

    answer = client.send_as_operator(group, topic, olga, "Hello Alice", card["message_id"])
    client.edit_as_operator(group, olga, answer["message_id"], "Hello, Alice!")
    client.send_as_operator(group, topic, olga, "/close")
    updates = drain(client)
    assert kinds(updates) == ["message", "edited_message", "message"]
    message = updates[0]["message"]
    assert message["message_thread_id"] == topic and message["is_topic_message"] is True
    assert message["from"]["id"] == olga
    assert message["reply_to_message"]["message_id"] == card["message_id"]
    edited = updates[1]["edited_message"]
    assert edited["text"] == "Hello, Alice!" and edited["edit_date"] >= edited["date"]
    command = updates[2]["message"]
    assert command["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    # Not a reply: the topic's creation message stands in as reply_to_message.
    assert command["reply_to_message"]["forum_topic_created"]["name"] == "Alice"


def test_general_topic_quirks(telegram_emulator: RunningEmulator, world: dict[str, Any]) -> None:
    client = telegram_emulator.client
    group, olga = world["group"], world["operators"][0]
    root = client.send_as_operator(group, None, olga, "in General")["message"]
    reply = client.send_as_operator(group, 1, olga, "reply in General", root["message_id"])
    assert "message_thread_id" not in root and "is_topic_message" not in root
    # A reply in General carries the root message id as thread id, and is no topic message.
    assert reply["message"]["message_thread_id"] == root["message_id"]
    assert "is_topic_message" not in reply["message"]
    general = client.transcript(group, thread_id=1)
    assert [m["text"] for m in general if "text" in m] == ["in General", "reply in General"]


def test_topics_created_closed_deleted_by_operators(
    telegram_emulator: RunningEmulator, world: dict[str, Any]
) -> None:
    client = telegram_emulator.client
    group, olga = world["group"], world["operators"][0]
    topic = client.create_topic(group, "Billing", user_id=olga)["message_thread_id"]
    client.close_topic(group, topic, user_id=olga)
    updates = drain(client)
    assert [
        next(iter(u["message"].keys() & {"forum_topic_created", "forum_topic_closed"}))
        for u in updates
    ] == [
        "forum_topic_created",
        "forum_topic_closed",
    ]
    assert updates[0]["message"]["message_thread_id"] == topic
    assert client.topics(group)[0]["closed"] is True
    client.delete_topic(group, topic)
    with pytest.raises(BotApiError) as info:
        client.bot_api("sendMessage", chat_id=group, message_thread_id=topic, text="x")
    assert info.value.description == "Bad Request: message thread not found"
    with pytest.raises(BotApiError) as info:
        client.bot_api("closeForumTopic", chat_id=group, message_thread_id=topic)
    assert info.value.description == "Bad Request: TOPIC_ID_INVALID"
    with pytest.raises(EmulatorError) as refused:
        client.send_as_operator(group, topic, olga, "into the void")
    assert refused.value.status == 400


def test_people_send_media_albums_edits_and_get_blocked(
    telegram_emulator: RunningEmulator, world: dict[str, Any]
) -> None:
    client = telegram_emulator.client
    alice = world["person"]
    voice = client.send_as_user(alice, voice={"duration": 7})["message"]
    document = client.send_as_user(alice, document={"file_name": "cv.pdf"}, caption="my CV")
    album = client.send_album(alice, [{"type": "photo", "caption": "1"}, {"type": "photo"}])
    client.edit_as_user(alice, document["message_id"], caption="my CV (v2)")
    updates = drain(client)
    assert kinds(updates) == ["message", "message", "message", "message", "edited_message"]
    assert voice["voice"]["duration"] == 7 and voice["voice"]["mime_type"] == "audio/ogg"
    assert updates[1]["message"]["document"]["file_name"] == "cv.pdf"
    assert {u["message"]["media_group_id"] for u in updates[2:4]} == {album["media_group_id"]}
    assert updates[4]["edited_message"]["caption"] == "my CV (v2)"

    client.deactivate_user(alice)
    with pytest.raises(BotApiError) as info:
        client.bot_api("sendMessage", chat_id=alice, text="hi")
    assert (info.value.error_code, info.value.description) == (
        403,
        "Forbidden: user is deactivated",
    )


def test_privacy_mode_for_a_bot_that_is_no_admin(telegram_emulator: RunningEmulator) -> None:
    client = telegram_emulator.client
    group = client.create_forum_group("Chat", operator_names=["Olga"], bot_admin=False)
    olga = group["operators"][0]
    client.send_as_operator(group["chat_id"], None, olga, "small talk")
    client.send_as_operator(group["chat_id"], None, olga, "/help")
    assert [u["message"]["text"] for u in drain(client)] == ["/help"]


def test_second_bot_is_separate(telegram_emulator: RunningEmulator, world: dict[str, Any]) -> None:
    client = telegram_emulator.client
    client.create_bot("654321:OTHER-token", username="other_bot")
    with pytest.raises(BotApiError) as info:
        client.bot_api("sendMessage", token="654321:OTHER-token", chat_id=world["person"], text="x")
    assert info.value.description == "Forbidden: bot can't initiate conversation with a user"
    with pytest.raises(BotApiError) as info:
        client.bot_api("sendMessage", token="654321:OTHER-token", chat_id=world["group"], text="x")
    assert info.value.description == "Forbidden: bot is not a member of the supergroup chat"
    assert client.bot_api("getMe", token="654321:OTHER-token")["username"] == "other_bot"


def test_control_errors_reset_and_stats(telegram_emulator: RunningEmulator) -> None:
    client = telegram_emulator.client
    with pytest.raises(EmulatorError) as info:
        client.send_as_user(42, "who am I")
    assert info.value.status == 404
    alice = client.create_user("Alice", started=True)["user_id"]
    client.send_as_user(alice, "hi")
    client.bot_api("sendMessage", chat_id=alice, text="hello")
    stats = client.stats()
    assert stats["calls_by_method"] == {"sendMessage": 1}
    assert stats["updates"][str(telegram_emulator.bot_id)]["pending"] == 1
    client.reset()
    assert client.stats()["calls"] == 0
    with pytest.raises(BotApiError):
        client.bot_api("sendMessage", chat_id=alice, text="gone")
    assert client.info()["bot"]["id"] == telegram_emulator.bot_id


def test_sync_seeding_helpers_and_in_loop_server() -> None:
    async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        server = EmulatorServer()
        await server.start()
        try:
            person = server.create_person("Dora")
            group = server.create_forum_group("Ops", operator_names=["Olga"])
            client = EmulatorClient(server.base_url)
            sent = await asyncio.to_thread(
                client.bot_api, "sendMessage", chat_id=person["user_id"], text="hi"
            )
            transcript = await asyncio.to_thread(client.transcript, person["user_id"])
            assert group["chat_id"] < 0 and sent["text"] == "hi"
            return person, transcript
        finally:
            await server.stop()

    person, transcript = asyncio.run(scenario())
    assert person["user"]["first_name"] == "Dora"
    assert [m["text"] for m in transcript] == ["hi"]


def test_standalone_main_serves_and_stops_on_ctrl_c() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "devkit.telegram_emulator", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        while not lines or lines[-1] != "}":
            line = process.stdout.readline()
            assert line, "the emulator exited early"
            lines.append(line.rstrip("\n"))
        info = json.loads("\n".join(lines))
        assert info["base_url"].startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{info['api_url']}/getMe", timeout=10) as response:
            me = json.loads(response.read())["result"]
        assert me["id"] == info["bot_id"] and me["username"] == "topicdesk_test_bot"
        client = EmulatorClient(info["base_url"])
        assert len(info["person_user_ids"]) == 2 and len(info["operator_user_ids"]) == 2
        assert client.transcript(info["operators_chat_id"])[0]["supergroup_chat_created"] is True
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_deleted_messages_and_bot_rights_changes(
    telegram_emulator: RunningEmulator, world: dict[str, Any]
) -> None:
    client = telegram_emulator.client
    group, alice = world["group"], world["person"]
    sent = client.send_as_user(alice, "oops")["message_id"]
    client.delete_as_user(alice, sent)
    drain(client)
    with pytest.raises(BotApiError) as info:
        client.bot_api("copyMessage", chat_id=group, from_chat_id=alice, message_id=sent)
    assert info.value.description == "Bad Request: message to copy not found"

    client.set_member(group, telegram_emulator.bot_id, rights={"can_manage_topics": False})
    update = drain(client)[0]["my_chat_member"]
    assert update["old_chat_member"]["can_manage_topics"] is True
    assert update["new_chat_member"]["can_manage_topics"] is False
    with pytest.raises(BotApiError) as info:
        client.bot_api("createForumTopic", chat_id=group, name="x")
    assert info.value.description == "Bad Request: not enough rights to create a topic"
    member = client.bot_api("getChatMember", chat_id=group, user_id=telegram_emulator.bot_id)
    assert member["status"] == "administrator" and member["can_manage_topics"] is False
